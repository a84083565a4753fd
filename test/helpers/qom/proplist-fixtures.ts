/**
 * The fixture types of QEMU's tests/unit/check-qom-proplist.c: `qemu-dummy`
 * (user-creatable; instance property bv, class properties sv and av) and
 * the dev/bus/backend trio whose unparent hooks delete each other's
 * properties, mimicking qdev's destruction order.
 */
import {
  type ObjectClass,
  type QEnumLookup,
  QomObject,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  objectNew,
  typeRegister,
} from '../../../src/qom/index.js';

export const TYPE_DUMMY = 'qemu-dummy';
export const TYPE_DUMMY_DEV = 'qemu-dummy-dev';
export const TYPE_DUMMY_BUS = 'qemu-dummy-bus';
export const TYPE_DUMMY_BACKEND = 'qemu-dummy-backend';

export const DUMMY_FROG = 0;
export const DUMMY_ALLIGATOR = 1;
export const DUMMY_PLATYPUS = 2;

export const dummyAnimalMap: QEnumLookup = {
  name: 'DummyAnimal',
  values: ['frog', 'alligator', 'platypus'],
};

export class DummyObject extends QomObject {
  bv = false;
  av = DUMMY_FROG;
  sv: string | null = null;
}

export class DummyBackend extends QomObject {}
export class DummyBus extends QomObject {
  backend: DummyBackend | null = null;
}
export class DummyDev extends QomObject {
  bus: DummyBus | null = null;
}

/** Finalize counts per type, to check that delchild frees each object once. */
export const finalized: Record<string, number> = {};

function countFinalize(obj: QomObject): void {
  finalized[obj.typeName] = (finalized[obj.typeName] ?? 0) + 1;
}

let registered = false;

export function registerProplistTypes(): void {
  if (registered) return;
  registered = true;
  typeRegister<ObjectClass, DummyObject>({
    name: TYPE_DUMMY,
    parent: TYPE_OBJECT,
    instanceType: DummyObject,
    instanceInit(obj) {
      obj.propertyAddBool(
        'bv',
        () => obj.bv,
        (v) => {
          obj.bv = v;
        },
      );
    },
    instanceFinalize(obj) {
      obj.sv = null;
      countFinalize(obj);
    },
    classInit(cls) {
      const props = cls.propertiesOf(DummyObject);
      props.propertyAddStr(
        'sv',
        (obj) => obj.sv ?? '',
        (obj, value) => {
          obj.sv = value;
        },
      );
      props.propertyAddEnum(
        'av',
        dummyAnimalMap,
        (obj) => obj.av,
        (obj, value) => {
          obj.av = value;
        },
      );
    },
    interfaces: [TYPE_USER_CREATABLE],
  });

  typeRegister<ObjectClass, DummyDev>({
    name: TYPE_DUMMY_DEV,
    parent: TYPE_OBJECT,
    instanceType: DummyDev,
    instanceInit(dev) {
      const bus = objectNew(DummyBus);
      const backend = objectNew(DummyBackend);
      dev.propertyAddChild('bus', bus);
      dev.bus = bus;
      bus.propertyAddChild('backend', backend);
      bus.backend = backend;
      // Read-only (no check), weak link to the bus's backend.
      dev.propertyAddLink('backend', TYPE_DUMMY_BACKEND, () => bus.backend, null);
    },
    instanceFinalize(dev) {
      countFinalize(dev);
      dev.bus!.unref();
    },
    classInit(klass) {
      klass.unparent = (obj) => (obj as DummyDev).bus!.unparent();
    },
  });

  typeRegister<ObjectClass, DummyBus>({
    name: TYPE_DUMMY_BUS,
    parent: TYPE_OBJECT,
    instanceType: DummyBus,
    instanceInit() {},
    instanceFinalize(bus) {
      countFinalize(bus);
      bus.backend!.unref();
    },
    classInit(klass) {
      klass.unparent = (obj) => {
        const bus = obj as DummyBus;
        obj.parent!.propertyDel('backend');
        bus.backend!.unparent();
      };
    },
  });

  typeRegister<ObjectClass, DummyBackend>({
    name: TYPE_DUMMY_BACKEND,
    parent: TYPE_OBJECT,
    instanceType: DummyBackend,
    instanceInit() {},
    instanceFinalize: countFinalize,
  });
}
