import test from 'ava';
import { objectGetObjectsRoot } from '../../../src/qom/index.js';
import {
  DeviceClass,
  DeviceState,
  TYPE_DEVICE,
  qdevAddUnplugBlocker,
  qdevDelUnplugBlocker,
  qdevSetEventEmitter,
} from '../../../src/hw/core/qdev.js';
import {
  definePropBool,
  definePropString,
  definePropUint32,
  deviceClassSetProps,
} from '../../../src/hw/core/qdev-properties.js';
import {
  findDeviceState,
  qdevDeviceAdd,
  qdevDeviceAddFromQdict,
  qemuDeviceOpts,
  qemuOptsToQdict,
  qmpDeviceAdd,
  qmpDeviceDel,
} from '../../../src/hw/core/qdev-monitor.js';
import {
  type JsonObject,
  QomError,
  objectResolvePath,
  typeRegister,
} from '../../../src/qom/index.js';

const finalized: string[] = [];
const realized: string[] = [];

class MonDev extends DeviceState {
  num = 0;
  flag = false;
  fail: string | null = null;
  override instanceFinalize(): void {
    finalized.push(this.id ?? 'anon');
  }
}

typeRegister<DeviceClass, MonDev>({
  name: 'mon-dev',
  parent: TYPE_DEVICE,
  instanceType: MonDev,
  classInit(dc) {
    dc.realize = (dev) => {
      const d = dev as MonDev;
      if (d.fail) throw new QomError(d.fail);
      realized.push(d.canonicalPath() ?? '?');
    };
    deviceClassSetProps(dc.propertiesOf(MonDev), [
      definePropUint32('num', 'num'),
      definePropBool('flag', 'flag'),
      definePropString('fail', 'fail'),
    ]);
  },
});

typeRegister<DeviceClass, MonDev>({
  name: 'mon-dev-fixed',
  parent: 'mon-dev',
  classInit(dc) {
    dc.userCreatable = false;
  },
});

typeRegister<DeviceClass, MonDev>({
  name: 'mon-dev-cold',
  parent: 'mon-dev',
  classInit(dc) {
    dc.hotpluggable = false;
  },
});

typeRegister({ name: 'mon-dev-abstract', parent: TYPE_DEVICE, abstract: true });

function children(path: string): string[] {
  const c = objectResolvePath(path).obj;
  if (!c) return [];
  return [...c.instanceProperties()].filter((p) => p.isChild).map((p) => p.name);
}

test.serial('-device with an id: /machine/peripheral/<id>, properties from strings', async (t) => {
  const opts = qemuDeviceOpts.parse('mon-dev,id=d1,num=42,flag=on');
  t.deepEqual(qemuOptsToQdict(opts), { id: 'd1', driver: 'mon-dev', num: '42', flag: 'on' });
  const dev = (await qdevDeviceAdd(opts)) as MonDev;
  t.is(dev.canonicalPath(), '/machine/peripheral/d1');
  t.is(dev.id, 'd1');
  t.true(dev.realized);
  t.false(dev.hotplugged);
  t.is(dev.num, 42);
  t.true(dev.flag);
  t.deepEqual(dev.opts, { num: '42', flag: 'on' });
  t.is(dev.refcount, 1); // only the tree holds it
  t.deepEqual(realized.slice(-1), ['/machine/peripheral/d1']);
  // The option group was forgotten: the id is refused by the tree, not the list.
  t.is(qemuDeviceOpts.find('d1'), undefined);
  await t.throwsAsync(qdevDeviceAdd(qemuDeviceOpts.parse('mon-dev,id=d1')), {
    message: "Duplicate device ID 'd1'",
  });
  t.deepEqual(children('/machine/peripheral'), ['d1']);
  qmpDeviceDel('d1');
  t.true(dev.finalized);
});

test.serial('-device without an id: /machine/peripheral-anon/device[N], counting up', async (t) => {
  const a = await qdevDeviceAdd(qemuDeviceOpts.parse('mon-dev'));
  const b = await qdevDeviceAdd(qemuDeviceOpts.parse('driver=mon-dev,num=1'));
  const pa = a.canonicalPath()!;
  const pb = b.canonicalPath()!;
  t.regex(pa, /^\/machine\/peripheral-anon\/device\[\d+\]$/);
  const na = Number(/\[(\d+)\]/.exec(pa)![1]);
  t.is(pb, `/machine/peripheral-anon/device[${na + 1}]`);
  t.is(a.id, null);
  // device_del reaches them by path.
  qmpDeviceDel(pa);
  qmpDeviceDel(pb);
  t.true(a.finalized && b.finalized);
  // The anonymous counter never goes back.
  const c = await qdevDeviceAdd(qemuDeviceOpts.parse('mon-dev'));
  t.is(c.canonicalPath(), `/machine/peripheral-anon/device[${na + 2}]`);
  qmpDeviceDel(c.canonicalPath()!);
});

const rejections: [string, JsonObject, string][] = [
  ['unknown type', { driver: 'nosuch' }, "'nosuch' is not a valid device model name"],
  ['not a device', { driver: 'container' }, "'container' is not a valid device model name"],
  ['no driver', { id: 'x' }, "Parameter 'driver' is missing"],
  ['driver not a string', { driver: 5 }, "Parameter 'driver' is missing"],
  [
    'abstract device',
    { driver: TYPE_DEVICE },
    "Parameter 'driver' expects a non-abstract device type",
  ],
  [
    'abstract subtype',
    { driver: 'mon-dev-abstract' },
    "Parameter 'driver' expects a non-abstract device type",
  ],
  [
    'not user-creatable',
    { driver: 'mon-dev-fixed' },
    "Parameter 'driver' expects a pluggable device type",
  ],
  ['a bus', { driver: 'mon-dev', bus: 'pci.0' }, "Bus 'pci.0' not found"],
  ['a bus path', { driver: 'mon-dev', bus: '/i440fx/pci.0' }, "Bus 'i440fx' not found"],
  ['bad id', { driver: 'mon-dev', id: '1x' }, "Parameter 'id' expects an identifier"],
  ['id taken by a property', { driver: 'mon-dev', id: 'type' }, "Duplicate device ID 'type'"],
  [
    'unknown property',
    { driver: 'mon-dev', id: 'p1', foo: 'x' },
    "Property 'mon-dev.foo' not found",
  ],
  ['bad value', { driver: 'mon-dev', id: 'p2', num: 'zz' }, "Parameter 'num' expects integer"],
  ['bad bool', { driver: 'mon-dev', flag: 'maybe' }, "Parameter 'flag' expects 'on' or 'off'"],
  ['realize fails', { driver: 'mon-dev', id: 'p3', fail: 'no way' }, 'no way'],
];

for (const [what, opts, msg] of rejections) {
  test.serial(`device creation refused: ${what}`, async (t) => {
    const periph = children('/machine/peripheral');
    const anon = children('/machine/peripheral-anon');
    const unatt = children('/machine/unattached');
    const nFinal = finalized.length;
    const nReal = realized.length;
    await t.throwsAsync(qdevDeviceAddFromQdict(opts, false), {
      message: msg,
      instanceOf: QomError,
    });
    // Nothing remains: not in the tree, and any device made was finalized.
    t.deepEqual(children('/machine/peripheral'), periph);
    t.deepEqual(children('/machine/peripheral-anon'), anon);
    t.deepEqual(children('/machine/unattached'), unatt);
    t.is(realized.length, nReal);
    if (finalized.length !== nFinal) t.is(finalized.length, nFinal + 1);
  });
}

test.serial('a failed creation frees the id for the next try', async (t) => {
  await t.throwsAsync(qdevDeviceAddFromQdict({ driver: 'mon-dev', id: 'again', fail: 'x' }, false));
  t.is(finalized[finalized.length - 1], 'again');
  const dev = await qdevDeviceAddFromQdict({ driver: 'mon-dev', id: 'again' }, false);
  t.is(dev.canonicalPath(), '/machine/peripheral/again');
  qmpDeviceDel('again');
});

test.serial('JSON properties (fromJson) are typed, strings are parsed', async (t) => {
  const a = (await qdevDeviceAddFromQdict(
    { driver: 'mon-dev', id: 'j1', num: 9, flag: true },
    true,
  )) as MonDev;
  t.is(a.num, 9);
  t.true(a.flag);
  await t.throwsAsync(qdevDeviceAddFromQdict({ driver: 'mon-dev', id: 'j2', num: '9' }, true), {
    message: "Parameter 'num' expects uint64",
  });
  qmpDeviceDel('j1');
});

test.serial('QMP device_add: options first (id check, value conversion)', async (t) => {
  const err = await t.throwsAsync(qmpDeviceAdd({ driver: 'mon-dev', id: '1x' }), {
    message: "Parameter 'id' expects an identifier",
  });
  t.is(
    (err as QomError).hint,
    "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n",
  );
  // Numbers and booleans become strings, other values are dropped.
  const dev = (await qmpDeviceAdd({
    driver: 'mon-dev',
    id: 'q1',
    num: 12,
    flag: true,
    fail: { a: 1 },
  })) as MonDev;
  t.is(dev.num, 12);
  t.true(dev.flag);
  t.is(dev.fail, null);
  // true became 'on', as QEMU 7.2 answers ("Parameter 'period' expects integer").
  await t.throwsAsync(qmpDeviceAdd({ driver: 'mon-dev', id: 'q2', num: true }), {
    message: "Parameter 'num' expects integer",
  });
  await t.throwsAsync(qmpDeviceAdd({ driver: 'mon-dev', id: 'q1' }), {
    message: "Duplicate device ID 'q1'",
  });
  // An id still held by an unconsumed -device group is a duplicate option group.
  const pending = qemuDeviceOpts.parse('mon-dev,id=pending');
  await t.throwsAsync(qmpDeviceAdd({ driver: 'mon-dev', id: 'pending' }), {
    message: "Duplicate ID 'pending' for device",
  });
  await qdevDeviceAdd(pending);
  // A non-string id is no id (qdict_get_try_str): the device is anonymous.
  const anon = await qmpDeviceAdd({ driver: 'mon-dev', id: 7 });
  t.regex(anon.canonicalPath()!, /^\/machine\/peripheral-anon\//);
  qmpDeviceDel(anon.canonicalPath()!);
  qmpDeviceDel('q1');
  qmpDeviceDel('pending');
});

test.serial('device_del: lookups and refusals with QEMU texts', async (t) => {
  t.throws(() => qmpDeviceDel('nosuch'), { message: "Device 'nosuch' not found" });
  t.is((t.throws(() => findDeviceState('nosuch')) as QomError).errorClass, 'DeviceNotFound');
  // /objects comes into being on first use, as in QEMU 7.2.
  objectGetObjectsRoot();
  t.throws(() => qmpDeviceDel('/objects'), { message: '/objects is not a hotpluggable device' });
  t.throws(() => qmpDeviceDel('/machine/peripheral-anon'), {
    message: '/machine/peripheral-anon is not a hotpluggable device',
  });
  const cold = await qdevDeviceAdd(qemuDeviceOpts.parse('mon-dev-cold,id=cold'));
  t.throws(() => qmpDeviceDel('cold'), {
    message: "Device 'mon-dev-cold' does not support hotplugging",
  });
  t.true(cold.realized);
  const blocked = await qdevDeviceAdd(qemuDeviceOpts.parse('mon-dev,id=blocked'));
  const reason = new QomError('blocked by the test');
  qdevAddUnplugBlocker(blocked, reason);
  t.throws(() => qmpDeviceDel('blocked'), { message: 'blocked by the test' });
  qdevDelUnplugBlocker(blocked, reason);
  qmpDeviceDel('blocked');
  t.true(blocked.finalized);
  // The cold-plugged, non-hotpluggable device goes with its container.
  cold.unparent();
  t.true(cold.finalized);
});

test.serial(
  'device_del unrealizes, removes, and DEVICE_DELETED follows finalization',
  async (t) => {
    const events: [string, JsonObject][] = [];
    qdevSetEventEmitter((e, d) => events.push([e, d]));
    try {
      const dev = await qdevDeviceAdd(qemuDeviceOpts.parse('mon-dev,id=ev'));
      dev.ref(); // someone else holds it: deletion is deferred
      qmpDeviceDel('ev');
      t.false(dev.realized);
      t.is(dev.parent, null);
      t.deepEqual(events, []);
      t.throws(() => qmpDeviceDel('ev'), { message: "Device 'ev' not found" });
      dev.unref();
      t.deepEqual(events, [['DEVICE_DELETED', { device: 'ev', path: '/machine/peripheral/ev' }]]);
      const anon = await qdevDeviceAdd(qemuDeviceOpts.parse('mon-dev'));
      const path = anon.canonicalPath()!;
      qmpDeviceDel(path);
      t.deepEqual(events[1], ['DEVICE_DELETED', { path }]);
      // A device that was never realized sends nothing.
      await t.throwsAsync(
        qdevDeviceAddFromQdict({ driver: 'mon-dev', id: 'never', fail: 'x' }, false),
      );
      t.is(events.length, 2);
    } finally {
      qdevSetEventEmitter(null);
    }
  },
);
