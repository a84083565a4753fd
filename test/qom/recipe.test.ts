// The recipe of the qom module overview (src/qom/index.ts), compiled and run.
import test from 'ava';
import {
  QomError,
  QomType,
  objectCheck,
  objectDynamicCast,
  objectGetClass,
  objectNew,
  typeGetInfo,
  userCreatableAddType,
  userCreatableAddTypeSync,
  userCreatableDel,
} from '../../src/qom/index.js';
import { DeviceClass, DeviceState, TYPE_DEVICE, qdevRealize } from '../../src/hw/core/qdev.js';
import { HostMemoryBackend } from '../../src/backends/hostmem.js';
import { HostMemoryBackendRam } from '../../src/backends/hostmem-ram.js';
import { ThreadContext } from '../../src/backends/thread-context.js';

class UartClass extends DeviceClass {
  fifoSize = 16;
  transmit: ((uart: DemoUart, byte: number) => void) | null = null;
  static override readonly instanceMethods = ['transmit'];
}

@QomType({ name: 'demo-uart' })
class DemoUart extends DeviceState {
  static override readonly classType = UartClass;
  baud = 115200;
  readonly sent: number[] = [];

  static override classInit(uc: UartClass): void {
    const props = uc.propertiesOf(this);
    uc.desc = 'demo UART';
    props.propertyAddUint32(
      'baud',
      (u) => u.baud,
      (u, v) => {
        u.baud = v;
      },
    );
  }
  override instanceInit(): void {
    this.sent.length = 0;
  }
  realize(): void {
    if (this.baud === 0) throw new QomError("Property 'baud' must not be 0");
  }
  transmit(byte: number): void {
    this.sent.push(byte);
  }
}

test('the device recipe: class struct, property, typed hooks, creation and casts', async (t) => {
  const info = typeGetInfo('demo-uart')!;
  t.is(info.parent, TYPE_DEVICE);
  t.is(info.classType, undefined, 'the class struct comes from the static classType');
  const uart = objectNew(DemoUart);
  uart.propertyParse('baud', '9600');
  t.is(uart.baud, 9600);
  uart.propertySet('baud', 19200);
  await qdevRealize(uart);
  t.true(uart.realized);
  const uc = objectGetClass(uart, UartClass);
  t.is(uc.desc, 'demo UART');
  t.is(uc.fifoSize, 16);
  uc.transmit!(uart, 0x41);
  t.deepEqual(uart.sent, [0x41]);
  const obj = objectNew('demo-uart');
  const u2 = objectCheck(obj, DemoUart);
  t.is(objectDynamicCast(obj, HostMemoryBackend), null);
  u2.propertySet('baud', 0);
  await t.throwsAsync(qdevRealize(u2), { message: "Property 'baud' must not be 0" });
  uart.unparent();
  uart.unref();
  u2.unref();
});

test('the creation recipe: async by class, sync where complete is', async (t) => {
  const ram = await userCreatableAddType(HostMemoryBackendRam, 'recipe-mem0', { size: 1 << 20 });
  t.is(ram.size, 1n << 20n);
  ram.unref();
  userCreatableDel('recipe-mem0');
  const ram1 = await userCreatableAddType(
    HostMemoryBackendRam,
    'recipe-mem1',
    { size: '1M' },
    { keyval: true },
  );
  t.is(ram1.size, 1n << 20n);
  ram1.unref();
  userCreatableDel('recipe-mem1');
  const tc = userCreatableAddTypeSync(ThreadContext, 'recipe-tc0', {});
  t.not(tc.threadId, -1);
  tc.unref();
  userCreatableDel('recipe-tc0');
});
