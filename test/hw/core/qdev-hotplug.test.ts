/**
 * Hot-plug: once the machine is ready, devices are created hot-plugged
 * (and reset after realize), non-hotpluggable types are refused, and the
 * QMP commands answer as QEMU 7.2 does (compared with a running QEMU).
 */
import test from 'ava';
import {
  DeviceClass,
  DeviceState,
  MachineInitPhase,
  TYPE_DEVICE,
  phaseAdvance,
  phaseCheck,
  phaseGet,
  qdevMachineCreationDone,
  qdevNew,
  qdevRealize,
} from '../../../src/hw/core/qdev.js';
import { registerQdevQmpCommands, type QdevQmpCommand } from '../../../src/hw/core/qdev-monitor.js';
import {
  type JsonObject,
  QomError,
  objectResolvePath,
  typeRegister,
  objectCheck,
} from '../../../src/qom/index.js';
import { QmpCommandRegistry, qmpCommands, qmpDispatch } from '../../../src/monitor/qmp-dispatch.js';
import { startQemu, startTsqom } from '../../helpers/qemu/qemu.js';

class HotDev extends DeviceState {
  resets = 0;
  resetWhileRealized: boolean | null = null;
}

typeRegister<DeviceClass, HotDev>({
  name: 'hot-dev',
  parent: TYPE_DEVICE,
  instanceType: HotDev,
  classInit(dc) {
    dc.reset = (dev) => {
      const d = dev as HotDev;
      d.resets++;
      d.resetWhileRealized = d.realized;
    };
  },
});

typeRegister<DeviceClass, HotDev>({
  name: 'hot-dev-cold',
  parent: 'hot-dev',
  classInit(dc) {
    dc.hotpluggable = false;
  },
});

const events: [string, JsonObject | undefined][] = [];
const ctx = {
  monitor: {
    negotiated: true,
    capabilitiesOffered: [],
    capabilitiesEnabled: new Set<string>(),
    completeNegotiation() {},
    registry: qmpCommands,
    host: {
      version: { qemu: { major: 7, minor: 2, micro: 0 }, package: '' },
      emitEvent: (e: string, d?: JsonObject) => events.push([e, d]),
      requestShutdown() {},
    },
  },
};

const registry = new QmpCommandRegistry();
registerQdevQmpCommands((c) => registry.register(c));

async function qmp(execute: string, args?: JsonObject): Promise<JsonObject | null> {
  const req: JsonObject = { execute };
  if (args) req.arguments = args;
  return await qmpDispatch(registry, req, false, ctx);
}

test.serial('cold-plugged before the machine is ready, hot-plugged after', async (t) => {
  t.is(phaseGet(), MachineInitPhase.NoMachine);
  const cold = objectCheck(qdevNew('hot-dev-cold'), HotDev);
  t.false(cold.hotplugged);
  await qdevRealize(cold);
  t.is(cold.resets, 0); // cold-plugged devices are reset by the machine, not at realize

  qdevMachineCreationDone();
  t.is(phaseGet(), MachineInitPhase.MachineReady);
  qdevMachineCreationDone(); // idempotent
  t.true(phaseCheck(MachineInitPhase.MachineInitialized));
  t.throws(() => phaseAdvance(MachineInitPhase.MachineCreated));

  const hot = objectCheck(qdevNew('hot-dev'), HotDev);
  t.true(hot.hotplugged);
  t.true(hot.propertyGetBool('hotplugged'));
  await qdevRealize(hot);
  t.is(hot.resets, 1);
  t.false(hot.resetWhileRealized); // reset comes before `realized` turns on, as in QEMU
  hot.unparent();
  hot.unref();

  // A non-hotpluggable device made now cannot be realized at all.
  const late = objectCheck(qdevNew('hot-dev-cold'), HotDev);
  t.true(late.hotplugged);
  t.false(late.propertyGetBool('hotpluggable'));
  t.throws(() => late.propertySetBool('realized', true), {
    message: "Device 'hot-dev-cold' does not support hotplugging",
  });
  late.unref();
  cold.unparent();
  cold.unref();
});

test.serial('QMP device_add / device_del through the dispatcher', async (t) => {
  t.deepEqual(await qmp('device_add', { driver: 'hot-dev-cold' }), {
    error: { class: 'GenericError', desc: "Parameter 'driver' expects a pluggable device type" },
  });
  t.deepEqual(await qmp('device_add', { driver: 'hot-dev', id: 'h1' }), { return: {} });
  const dev = objectResolvePath('/machine/peripheral/h1').obj as HotDev;
  t.true(dev.realized && dev.hotplugged);
  t.is(dev.resets, 1);
  t.deepEqual(await qmp('device_add', { driver: 'hot-dev', id: 'h1' }), {
    error: { class: 'GenericError', desc: "Duplicate device ID 'h1'" },
  });
  t.deepEqual(await qmp('device_del', { id: 'h1' }), { return: {} });
  t.true(dev.finalized);
  t.deepEqual(events, [['DEVICE_DELETED', { device: 'h1', path: '/machine/peripheral/h1' }]]);
  t.deepEqual(await qmp('device_del', { id: 'h1' }), {
    error: { class: 'DeviceNotFound', desc: "Device 'h1' not found" },
  });
  t.deepEqual(await qmp('device_del', {}), {
    error: { class: 'GenericError', desc: "Parameter 'id' is missing" },
  });
  t.deepEqual(await qmp('device_del', { id: 'x', extra: 1 }), {
    error: { class: 'GenericError', desc: "Parameter 'extra' is unexpected" },
  });
});

test.serial('the commands fit the monitor registry', (t) => {
  const cmds: QdevQmpCommand[] = [];
  registerQdevQmpCommands((c) => cmds.push(c));
  t.deepEqual(
    cmds.map((c) => [c.name, c.rawArgs === true]),
    [
      ['device_add', true],
      ['device_del', false],
    ],
  );
  const r = new QmpCommandRegistry();
  for (const c of cmds) r.register(c);
  t.truthy(r.find('device_add'));
  t.true(new QomError('x') instanceof Error);
});

// The generic device_add / device_del errors, byte for byte against QEMU 7.2.
const differential: [string, JsonObject][] = [
  ['device_add', { driver: 'nosuch' }],
  ['device_add', {}],
  ['device_add', { driver: 'device' }],
  ['device_add', { driver: 'container' }],
  ['device_add', { driver: 'container', id: '1x' }],
  ['device_add', { driver: 'nosuch', id: 'ok', bus: 'b' }],
  ['device_del', { id: 'nosuch' }],
  ['device_del', {}],
  ['device_del', { id: '/machine/unattached' }],
  ['device_del', { id: '/machine/peripheral' }],
];

test.serial('generic device_add / device_del errors match QEMU 7.2', async (t) => {
  registerQdevQmpCommands((c) => qmpCommands.register(c));
  const qemu = await startQemu();
  const tsqom = await startTsqom();
  try {
    const cq = await qemu.connect();
    const ct = await tsqom.connect();
    await cq.negotiate();
    await ct.negotiate();
    for (const [cmd, args] of differential) {
      const a = await cq.executeRaw(cmd, args);
      const b = await ct.executeRaw(cmd, args);
      t.is(b, a, `${cmd} ${JSON.stringify(args)}`);
    }
    await cq.close();
    await ct.close();
  } finally {
    await qemu.stop();
    await tsqom.stop();
  }
});
