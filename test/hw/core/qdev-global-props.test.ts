/**
 * `-global` properties (QEMU's tests/unit/test-qdev-global-props.c): applied
 * to devices and their subclasses in registration order, an error for a
 * cold-plugged device and a warning for a hot-plugged one, and the check
 * that reports globals nothing used.
 */
import test from 'ava';
import {
  DeviceClass,
  DeviceState,
  TYPE_DEVICE,
  qdevMachineCreationDone,
  qdevNew,
} from '../../../src/hw/core/qdev.js';
import {
  definePropUint32,
  deviceClassSetProps,
  qdevGlobalProps,
  qdevPropCheckGlobals,
  qdevPropClearGlobals,
  qdevPropRegisterGlobal,
} from '../../../src/hw/core/qdev-properties.js';
import { TYPE_OBJECT, QomObject, objectNew, typeRegister } from '../../../src/qom/index.js';
import {
  CapturingErrorReportSink,
  errorReportInMonitor,
  setErrorReportSink,
} from '../../../src/util/error-report.js';

class GDev extends DeviceState {
  prop1 = 0;
  prop2 = 0;
}

typeRegister<DeviceClass, GDev>({
  name: 'gp-static',
  parent: TYPE_DEVICE,
  instanceType: GDev,
  classInit(dc) {
    deviceClassSetProps(dc.propertiesOf(GDev), [
      definePropUint32('prop1', 'prop1', 100),
      definePropUint32('prop2', 'prop2', 100),
    ]);
  },
});
typeRegister({ name: 'gp-subtype', parent: 'gp-static' });
typeRegister<DeviceClass>({
  name: 'gp-nohotplug',
  parent: 'gp-static',
  classInit(dc) {
    dc.hotpluggable = false;
  },
});
typeRegister({ name: 'gp-nondevice', parent: TYPE_OBJECT });

function withCapture<T>(fn: (cap: CapturingErrorReportSink) => T): T {
  const cap = new CapturingErrorReportSink();
  const prev = setErrorReportSink(cap.sink);
  try {
    return fn(cap);
  } finally {
    setErrorReportSink(prev);
    qdevPropClearGlobals();
  }
}

function make(type: string): GDev {
  const d = qdevNew(type);
  if (!(d instanceof GDev)) throw new Error('not a GDev');
  return d;
}

test.serial('globals apply to the type and its subclasses, in order; the last wins', (t) => {
  withCapture((cap) => {
    qdevPropRegisterGlobal({ driver: 'gp-static', property: 'prop1', value: '101' });
    qdevPropRegisterGlobal({ driver: 'gp-subtype', property: 'prop1', value: '102' });
    qdevPropRegisterGlobal({ driver: 'gp-subtype', property: 'prop2', value: '103' });
    qdevPropRegisterGlobal({ driver: 'gp-static', property: 'prop2', value: '104' });
    const d = make('gp-subtype');
    t.is(d.prop1, 102);
    t.is(d.prop2, 104);
    const s = make('gp-static');
    t.is(s.prop1, 101);
    t.is(s.prop2, 104);
    d.unref();
    s.unref();
    t.deepEqual(cap.lines, []);
  });
});

test.serial('a global a cold-plugged device refuses is an error', (t) => {
  withCapture((cap) => {
    qdevPropRegisterGlobal({ driver: 'gp-static', property: 'nope', value: '1' });
    t.throws(() => make('gp-static'), {
      message: "can't apply global gp-static.nope=1: Property 'gp-static.nope' not found",
    });
    qdevPropClearGlobals();
    qdevPropRegisterGlobal({ driver: 'gp-static', property: 'prop1', value: 'x' });
    t.throws(() => make('gp-static'), {
      message: "can't apply global gp-static.prop1=x: Parameter 'prop1' expects uint64",
    });
    t.deepEqual(cap.lines, []);
  });
});

test.serial(
  'the check reports unused globals of unknown, non-device and non-hotpluggable types',
  (t) => {
    withCapture((cap) => {
      qdevPropRegisterGlobal({ driver: 'gp-static', property: 'prop1', value: '101' });
      qdevPropRegisterGlobal({ driver: 'gp-static', property: 'prop2', value: '102' });
      qdevPropRegisterGlobal({ driver: 'gp-static-bad', property: 'prop3', value: '103' });
      qdevPropRegisterGlobal({ driver: 'gp-subtype', property: 'prop4', value: '104' });
      qdevPropRegisterGlobal({ driver: 'gp-nohotplug', property: 'prop5', value: '105' });
      qdevPropRegisterGlobal({ driver: 'gp-nondevice', property: 'prop6', value: '106' });
      const d = make('gp-static');
      d.unref();
      const n = objectNew('gp-nondevice');
      t.true(n instanceof QomObject);
      n.unref();
      t.true(qdevPropCheckGlobals());
      t.deepEqual(
        qdevGlobalProps().map((g) => g.used),
        [true, true, false, false, false, false],
      );
      t.deepEqual(cap.messages, [
        'global gp-static-bad.prop3 has invalid class name',
        'global gp-nohotplug.prop5=105 not used',
        'global gp-nondevice.prop6 has invalid class name',
      ]);
    });
  },
);

// Last: it makes the machine ready for the rest of this process.
test.serial(
  'a global a hot-plugged device refuses is a warning; the other globals still apply',
  (t) => {
    withCapture((cap) => {
      qdevPropRegisterGlobal({ driver: 'gp-static', property: 'nope', value: '1' });
      qdevPropRegisterGlobal({ driver: 'gp-static', property: 'prop2', value: '7' });
      // The machine is ready: devices created from now on are hot-plugged.
      qdevMachineCreationDone();
      const d = errorReportInMonitor(() => make('gp-static'));
      t.true(d.hotplugged);
      t.is(d.prop2, 7);
      d.unref();
      t.deepEqual(cap.lines, [
        {
          message: "can't apply global gp-static.nope=1: Property 'gp-static.nope' not found",
          level: 'warning',
        },
      ]);
    });
  },
);
