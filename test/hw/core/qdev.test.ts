import test from 'ava';
import {
  DeviceClass,
  DeviceState,
  TYPE_DEVICE,
  deviceClassSetParentRealize,
  deviceColdReset,
  deviceListenerRegister,
  deviceListenerUnregister,
  deviceSetRealized,
  phaseCheck,
  MachineInitPhase,
  qdevGetMachine,
  qdevNew,
  qdevRealize,
  qdevUnrealize,
  qemuDevicesReset,
} from '../../../src/hw/core/qdev.js';
import {
  definePropBit64,
  definePropBool,
  definePropChr,
  definePropInt32,
  definePropSize,
  definePropString,
  definePropUint16,
  definePropUint32,
  definePropUint64,
  definePropUint8,
  deviceClassSetProps,
} from '../../../src/hw/core/qdev-properties.js';
import { qdevSetId } from '../../../src/hw/core/qdev-monitor.js';
import {
  QomError,
  objectGetRoot,
  objectNew,
  objectResolvePath,
  typeRegister,
  objectCheck,
} from '../../../src/qom/index.js';

const log: string[] = [];

class TestDev extends DeviceState {
  fail: string | null = null;
  num = 0;
  small = 0;
  u8 = 0;
  i32 = 0;
  big = 0n;
  size = 0n;
  flag = false;
  bits = 0n;
  chardev: string | null = null;
  resets = 0;
  override instanceFinalize(): void {
    log.push(`finalize ${this.id ?? 'anon'}`);
  }
}

typeRegister<DeviceClass, TestDev>({
  name: 'qdev-test-dev',
  parent: TYPE_DEVICE,
  instanceType: TestDev,
  classInit(dc) {
    dc.realize = (dev) => {
      const d = dev as TestDev;
      log.push(`realize ${d.canonicalPath()}`);
      if (d.fail) throw new QomError(d.fail);
    };
    dc.unrealize = (dev) => log.push(`unrealize ${dev.canonicalPath()}`);
    dc.reset = (dev) => {
      (dev as TestDev).resets++;
    };
    deviceClassSetProps(dc.propertiesOf(TestDev), [
      definePropString('fail', 'fail'),
      definePropUint32('num', 'num', 7),
      definePropUint16('small', 'small'),
      definePropUint8('u8', 'u8', 1),
      definePropInt32('i32', 'i32', -2),
      definePropUint64('big', 'big', 0xffffffffffffffffn),
      definePropSize('size', 'size', 4096),
      definePropBool('flag', 'flag', true),
      definePropBit64('bit3', 'bits', 3, true),
      definePropBit64('bit40', 'bits', 40, false),
      definePropChr('chardev', 'chardev'),
    ]);
  },
});

class AsyncDev extends DeviceState {
  release: (() => void) | null = null;
  reject: ((e: Error) => void) | null = null;
}
typeRegister<DeviceClass, AsyncDev>({
  name: 'qdev-test-async',
  parent: TYPE_DEVICE,
  instanceType: AsyncDev,
  classInit(dc) {
    dc.realize = (dev) =>
      new Promise<void>((resolve, reject) => {
        (dev as AsyncDev).release = resolve;
        (dev as AsyncDev).reject = reject;
      });
  },
});

// A subclass chaining to its parent's realize, as QEMU devices do.
const parentRealize: { fn: ((dev: DeviceState) => void | Promise<void>) | null } = { fn: null };
typeRegister<DeviceClass, TestDev>({
  name: 'qdev-test-child',
  parent: 'qdev-test-dev',
  classInit(dc) {
    parentRealize.fn = deviceClassSetParentRealize(dc, (dev) => {
      log.push('child realize');
      return parentRealize.fn?.(dev);
    });
  },
});

function unattachedChildren(): string[] {
  const c = objectResolvePath('/machine/unattached').obj;
  if (!c) return [];
  return [...c.instanceProperties()].filter((p) => p.isChild).map((p) => p.name);
}

test.serial('device is abstract and has the qdev properties', (t) => {
  t.throws(() => objectNew(TYPE_DEVICE), { message: "object type 'device' is abstract" });
  const dev = objectCheck(qdevNew('qdev-test-dev'), TestDev);
  const names = [...dev.properties()].map((p) => `${p.name}:${p.type}`);
  for (const p of [
    'type:string',
    'realized:bool',
    'hotpluggable:bool',
    'hotplugged:bool',
    'parent_bus:link<bus>',
    'num:uint32',
    'small:uint16',
    'u8:uint8',
    'i32:int32',
    'big:uint64',
    'size:size',
    'fail:str',
    'bit3:bool',
    'chardev:str',
  ]) {
    t.true(names.includes(p), p);
  }
  t.false(dev.propertyGetBool('realized'));
  t.true(dev.propertyGetBool('hotpluggable'));
  t.false(dev.propertyGetBool('hotplugged'));
  t.is(dev.propertyGet('parent_bus'), '');
  t.false(phaseCheck(MachineInitPhase.MachineReady));
  dev.unref();
});

test.serial('qdev property defaults, descriptions and parsing', (t) => {
  const dev = objectCheck(qdevNew('qdev-test-dev'), TestDev);
  t.is(dev.num, 7);
  t.is(dev.u8, 1);
  t.is(dev.i32, -2);
  t.is(dev.big, 0xffffffffffffffffn);
  t.is(dev.size, 4096n);
  t.true(dev.flag);
  t.is(dev.bits, 8n);
  t.is(dev.propertyGet('fail'), '');
  t.is(dev.klass.propertyFind('bit3')?.description, 'on/off');
  t.is(dev.klass.propertyFind('chardev')?.description, 'ID of a chardev to use as a backend');
  t.is(dev.klass.propertyFind('num')?.defval, 7);
  dev.propertyParse('size', '2M');
  t.is(dev.size, 2n * 1024n * 1024n);
  dev.propertyParse('bit40', 'on');
  dev.propertyParse('bit3', 'off');
  t.is(dev.bits, 1n << 40n);
  t.false(dev.propertyGetBool('bit3'));
  dev.propertySet('big', 12345678901234567890n);
  t.is(dev.propertyGet('big'), 12345678901234567890n);
  t.throws(() => dev.propertySet('u8', 256), { message: "Parameter 'u8' expects uint8_t" });
  t.throws(() => dev.propertySet('small', 65536), {
    message: "Parameter 'small' expects uint16_t",
  });
  dev.unref();
});

test.serial('realize without a parent: /machine/unattached/device[N], then unrealize', (t) => {
  log.length = 0;
  const before = unattachedChildren();
  const dev = objectCheck(qdevNew('qdev-test-dev'), TestDev);
  dev.propertySetBool('realized', true);
  t.true(dev.realized);
  const added = unattachedChildren().filter((n) => !before.includes(n));
  t.is(added.length, 1);
  t.regex(added[0], /^device\[\d+\]$/);
  t.is(dev.canonicalPath(), `/machine/unattached/${added[0]}`);
  t.deepEqual(log, [`realize /machine/unattached/${added[0]}`]);
  t.is(dev.canonicalPathAtRealize, `/machine/unattached/${added[0]}`);
  // Realizing again is a no-op, as in QEMU.
  dev.propertySetBool('realized', true);
  t.is(log.length, 1);
  dev.propertySetBool('realized', false);
  t.false(dev.realized);
  t.true(dev.pendingDeletedEvent);
  t.is(log[1], `unrealize /machine/unattached/${added[0]}`);
  // Properties can change again once unrealized.
  dev.propertySet('num', 3);
  t.is(dev.num, 3);
  dev.unparent();
  dev.unref();
  t.true(dev.finalized);
  t.deepEqual(unattachedChildren(), before);
});

test.serial('a failing realize leaves the device out of the tree, unrealized', async (t) => {
  log.length = 0;
  const before = unattachedChildren();
  const dev = objectCheck(qdevNew('qdev-test-dev'), TestDev);
  dev.propertySetStr('fail', 'no backend for you');
  t.throws(() => dev.propertySetBool('realized', true), { message: 'no backend for you' });
  t.false(dev.realized);
  t.is(dev.parent, null);
  t.deepEqual(unattachedChildren(), before);
  // The unattached counter was given back: the next device reuses the name.
  await t.throwsAsync(qdevRealize(dev), { message: 'no backend for you' });
  t.is(log.filter((l) => l.startsWith('unrealize')).length, 0);
  dev.unref();
  t.true(dev.finalized);
});

test.serial('a device already in the tree is realized where it is', async (t) => {
  log.length = 0;
  const dev = objectCheck(qdevNew('qdev-test-dev'), TestDev);
  qdevSetId(dev, 'inplace');
  await qdevRealize(dev);
  t.deepEqual(log, ['realize /machine/peripheral/inplace']);
  await t.throwsAsync(qdevRealize(dev), { message: "Device 'inplace' is already realized" });
  dev.unparent();
  t.deepEqual(log.slice(1), ['unrealize /machine/peripheral/inplace']);
  dev.unref();
  t.true(dev.finalized);
  t.is(log[2], 'finalize inplace');
});

test.serial('setting a qdev property after realize fails with QEMU text', async (t) => {
  const anon = objectCheck(qdevNew('qdev-test-dev'), TestDev);
  await qdevRealize(anon);
  t.throws(() => anon.propertySet('num', 1), {
    message:
      "Attempt to set property 'num' on anonymous device (type 'qdev-test-dev') after it was realized",
  });
  anon.unparent();
  anon.unref();
  const named = objectCheck(qdevNew('qdev-test-dev'), TestDev);
  qdevSetId(named, 'named0');
  await qdevRealize(named);
  t.throws(() => named.propertyParse('flag', 'off'), {
    message:
      "Attempt to set property 'flag' on device 'named0' (type 'qdev-test-dev') after it was realized",
  });
  t.true(named.flag);
  named.unparent();
  named.unref();
});

test.serial('asynchronous realize: qdevRealize awaits, the property does not', async (t) => {
  const a = objectCheck(qdevNew('qdev-test-async'), AsyncDev);
  const p = qdevRealize(a);
  t.false(a.realized);
  t.throws(() => deviceSetRealized(a, true), {
    message: "Device 'qdev-test-async' is being realized",
  });
  a.release!();
  await p;
  t.true(a.realized);
  a.unparent();
  a.unref();

  const b = objectCheck(qdevNew('qdev-test-async'), AsyncDev);
  b.propertySetBool('realized', true);
  t.false(b.propertyGetBool('realized'));
  b.release!();
  await b.realizing;
  t.true(b.propertyGetBool('realized'));
  b.unparent();
  b.unref();

  const c = objectCheck(qdevNew('qdev-test-async'), AsyncDev);
  const before = unattachedChildren();
  const pc = qdevRealize(c);
  t.is(unattachedChildren().length, before.length + 1);
  c.reject!(new QomError('backend went away'));
  await t.throwsAsync(pc, { message: 'backend went away' });
  t.false(c.realized);
  t.is(c.parent, null);
  t.deepEqual(unattachedChildren(), before);
  c.unref();
  t.true(c.finalized);
});

test.serial('a subclass chains to its parent realize', async (t) => {
  log.length = 0;
  const dev = objectCheck(qdevNew('qdev-test-child'), TestDev);
  await qdevRealize(dev);
  t.is(log[0], 'child realize');
  t.true(log[1].startsWith('realize /machine/unattached/device['));
  dev.unparent();
  dev.unref();
});

test.serial(
  'cold reset runs the class reset hook; qemuDevicesReset resets realized devices',
  async (t) => {
    const a = objectCheck(qdevNew('qdev-test-dev'), TestDev);
    const b = objectCheck(qdevNew('qdev-test-dev'), TestDev);
    deviceColdReset(a);
    t.is(a.resets, 1);
    await qdevRealize(a);
    qemuDevicesReset();
    t.is(a.resets, 2);
    t.is(b.resets, 0); // never realized, not in the tree
    a.unparent();
    a.unref();
    b.unref();
  },
);

test.serial('device listeners see realize and unrealize, and replay at registration', async (t) => {
  const a = objectCheck(qdevNew('qdev-test-dev'), TestDev);
  qdevSetId(a, 'listened');
  await qdevRealize(a);
  const seen: string[] = [];
  const l = {
    realize: (d: DeviceState) => seen.push(`+${d.id ?? '?'}`),
    unrealize: (d: DeviceState) => seen.push(`-${d.id ?? '?'}`),
  };
  deviceListenerRegister(l);
  t.deepEqual(seen, ['+listened']);
  qdevUnrealize(a);
  t.deepEqual(seen, ['+listened', '-listened']);
  deviceListenerUnregister(l);
  await qdevRealize(a);
  t.is(seen.length, 2);
  a.unparent();
  a.unref();
});

test.serial('/machine is a container under the root', (t) => {
  const m = qdevGetMachine();
  t.is(m.canonicalPath(), '/machine');
  t.is(objectGetRoot().resolvePathComponent('machine'), m);
  t.is(m.typeName, 'container');
});
