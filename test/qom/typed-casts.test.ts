// Types by class: creation and casts give the class's own type, hooks see
// their own class and instance, and the wrong uses do not compile (each
// `@ts-expect-error` below fails `tsc` if the line ever compiles).
import test from 'ava';
import {
  ClassProperties,
  InterfaceClass,
  ObjectClass,
  QomError,
  QomObject,
  QomType,
  TYPE_USER_CREATABLE,
  UserCreatableClass,
  objectCheck,
  objectClassByName,
  objectClassCheck,
  objectClassDynamicCast,
  objectDynamicCast,
  objectGetClass,
  objectGetInterface,
  objectNew,
  objectNewOwned,
  objectNewWithProps,
  objectPropertyAllowSetLink,
  userCreatableAddType,
  userCreatableAddTypeSync,
  userCreatableDel,
} from '../../src/qom/index.js';
import { HostMemoryBackend, HostMemoryBackendClass } from '../../src/backends/hostmem.js';
import { HostMemoryBackendRam } from '../../src/backends/hostmem-ram.js';
import { DeviceClass, DeviceState } from '../../src/hw/core/qdev.js';

class LampClass extends ObjectClass {
  watts = 0;
  /** A "virtual method" slot filled by the instance class's `switchOn()`. */
  switchOn: ((lamp: TcLamp, level: number) => string) | null = null;
  static override readonly instanceMethods: readonly string[] = ['switchOn'];
}

@QomType({ name: 'tc-lamp', interfaces: [TYPE_USER_CREATABLE] })
class TcLamp extends QomObject {
  static override readonly classType = LampClass;
  on = false;
  bulb: TcBulb | null = null;
  static override classInit(oc: LampClass): void {
    const props = oc.propertiesOf(this);
    oc.watts = 40; // the own class struct, no cast
    props.propertyAddBool(
      'on',
      (l) => l.on,
      (l, v) => void (l.on = v),
    );
    props.propertyAddLink(
      'bulb',
      TcBulb,
      (l) => l.bulb,
      (l, b) => {
        l.bulb = b; // typed by the link's target class
      },
      { check: objectPropertyAllowSetLink },
    );
  }
  switchOn(level: number): string {
    this.on = true; // `this` is the own instance type
    return `${this.typeName} at ${level}`;
  }
  complete(): void {}
}

@QomType({ name: 'tc-desk-lamp' })
class TcDeskLamp extends TcLamp {
  static override classInit(oc: LampClass): void {
    oc.watts = 25;
  }
}

@QomType({ name: 'tc-bulb', parent: 'object' })
class TcBulb extends QomObject {}

test('objectNew(Ctor) returns the class; the string form returns QomObject', (t) => {
  const lamp = objectNew(TcLamp);
  const on: boolean = lamp.on;
  t.false(on);
  t.is(lamp.typeName, 'tc-lamp');
  const byName = objectNew('tc-desk-lamp');
  // @ts-expect-error a string creates a QomObject, not a TcLamp
  const notTyped: TcLamp = byName;
  void notTyped;
  // @ts-expect-error no free generic: objectNew<X>('name') does not compile
  objectNew<TcLamp>('tc-lamp');
  const desk = objectCheck(byName, TcDeskLamp);
  t.is(desk.on, false);
  t.is(objectGetClass(desk, LampClass).watts, 25);
  t.is(objectGetClass(lamp, LampClass).watts, 40);
  lamp.unref();
  desk.unref();
});

test('casts by class: dynamicCast gives T | null, objectCheck T or QEMU text', (t) => {
  const lamp: QomObject = objectNew(TcDeskLamp);
  const asLamp: TcLamp | null = objectDynamicCast(lamp, TcLamp);
  t.true(asLamp === lamp);
  t.is(lamp.dynamicCast(TcBulb), null);
  t.is(objectDynamicCast(lamp, TcBulb), null);
  t.is(objectDynamicCast(lamp, 'tc-lamp'), lamp);
  const e = t.throws<QomError>(() => objectCheck(lamp, TcBulb));
  t.is(e?.message, 'Object tc-desk-lamp is not an instance of type tc-bulb');
  t.throws(() => objectCheck(lamp, 'device'), {
    message: 'Object tc-desk-lamp is not an instance of type device',
  });
  // @ts-expect-error a failed cast is null: the result is not a TcLamp
  const notNull: TcLamp = objectDynamicCast(lamp, TcLamp);
  void notNull;
  t.throws(() => {
    // @ts-expect-error a wrong cast keeps its type: a TcBulb is not a TcLamp
    const wrong: TcLamp = objectCheck(lamp, TcBulb);
    void wrong;
  });
  lamp.unref();
});

test('class and interface casts by class struct', (t) => {
  const k = objectClassByName('tc-desk-lamp')!;
  const lc: LampClass = objectClassCheck(k, LampClass);
  t.is(lc.watts, 25);
  t.is(objectClassDynamicCast(k, DeviceClass), null);
  t.throws(() => objectClassCheck(k, DeviceClass), {
    message: 'Object tc-desk-lamp is not an instance of type device',
  });
  // An interface is a class too: the type's own interface class.
  const ucc = objectClassDynamicCast(k, UserCreatableClass);
  t.true(ucc instanceof UserCreatableClass);
  t.is(ucc!.interfaceTypeName, TYPE_USER_CREATABLE);
  // Cast to the interface root: its one interface class (QEMU: null when ambiguous).
  const ic: InterfaceClass | null = objectClassDynamicCast(k, InterfaceClass);
  t.is(ic, ucc);
  const o = objectNew(TcBulb);
  t.is(objectGetInterface(o, UserCreatableClass), null);
  o.unref();
});

test('instance methods fill class slots, with their own type', (t) => {
  const lamp = objectNew(TcLamp);
  const slot = objectGetClass(lamp, LampClass).switchOn!;
  t.is(slot(lamp, 3), 'tc-lamp at 3');
  t.true(lamp.on);
  lamp.unref();
});

test('links are typed by their target class', (t) => {
  const lamp = objectNew(TcLamp);
  const bulb = objectNew(TcBulb);
  lamp.propertyAddLink('lamp', TcLamp, () => lamp, null);
  t.is(lamp.propertyGetType('lamp'), 'link<tc-lamp>');
  const setLamp = (b: TcLamp | null): void => void b;
  // @ts-expect-error the setter receives a TcBulb, not a TcLamp
  lamp.propertyAddLink('spare', TcBulb, () => bulb, setLamp);
  lamp.unref();
  bulb.unref();
});

test('Owned<T> by class', (t) => {
  {
    using o = objectNewOwned(TcLamp);
    const l: TcLamp = o.value;
    t.false(l.on);
  }
  using s = objectNewOwned('tc-lamp');
  // @ts-expect-error by name the reference holds a QomObject
  const l2: TcLamp = s.value;
  void l2;
  t.pass();
});

test('creation paths: async by class, sync only for synchronous completes', async (t) => {
  const lamp = await userCreatableAddType(TcLamp, 'tc-l1', { on: true });
  t.true(lamp.on);
  lamp.unref();
  userCreatableDel('tc-l1');
  const sync = userCreatableAddTypeSync(TcLamp, 'tc-l2', { on: 'on' }, { keyval: true });
  t.true(sync.on);
  sync.unref();
  userCreatableDel('tc-l2');
  const kv = objectNewWithProps(TcLamp, null, null, { on: 'yes' });
  t.true(kv.on);
  kv.unref();
  // @ts-expect-error keyval properties are strings
  await t.throwsAsync(userCreatableAddType(TcLamp, 'tc-l3', { on: true }, { keyval: true }), {
    message: "Invalid parameter type for 'on', expected: string",
  });
  // A memory backend may complete asynchronously (prealloc=on): no sync path by class.
  const neverCalled = (): void => {
    // @ts-expect-error HostMemoryBackendRam's complete() may return a Promise
    userCreatableAddTypeSync(HostMemoryBackendRam, 'tc-m', { size: 4096 });
  };
  void neverCalled;
  const m = await userCreatableAddType(HostMemoryBackendRam, 'tc-m2', { size: 4096 });
  const mb: HostMemoryBackend = m;
  t.is(mb.size, 4096n);
  m.unref();
  userCreatableDel('tc-m2');
  // By name, an asynchronous completion is refused at run time and leaves nothing.
  t.throws(
    () => userCreatableAddTypeSync('memory-backend-ram', 'tc-m3', { size: 4096, prealloc: true }),
    {
      message:
        "object type 'memory-backend-ram' completes asynchronously; use userCreatableAddType()",
    },
  );
  t.throws(() => userCreatableDel('tc-m3'), { message: "object 'tc-m3' not found" });
});

test('hooks are checked against the own class struct at compile time', (t) => {
  // @ts-expect-error classInit takes the type's own class struct (LampClass), not DeviceClass
  @QomType({ name: 'tc-wrong-class' })
  class WrongClass extends QomObject {
    static override readonly classType = LampClass;
    static override classInit(oc: DeviceClass): void {
      void oc;
    }
  }
  void WrongClass;
  // @ts-expect-error a slot method must match its slot: switchOn(level: number): string
  @QomType({ name: 'tc-wrong-slot' })
  class WrongSlot extends QomObject {
    static override readonly classType = LampClass;
    switchOn(level: string): string {
      return level;
    }
  }
  void WrongSlot;
  // @ts-expect-error realize() of a device has no parameters it could be given
  @QomType({ name: 'tc-wrong-realize' })
  class WrongRealize extends DeviceState {
    realize(when: number): void {
      void when;
    }
  }
  void WrongRealize;
  // The memory backends' alloc() is typed too.
  @QomType({ name: 'tc-right-alloc' })
  class RightAlloc extends HostMemoryBackend {
    static override classInit(oc: HostMemoryBackendClass): void {
      void oc.alloc;
    }
    alloc(): void {
      this.aligned = true;
    }
  }
  void RightAlloc;
  t.pass();
});

@QomType({ name: 'tc-shade', parent: 'object' })
class TcShade extends QomObject {
  open = false;
}

test('class property accessors are typed by class, not by a free type parameter', (t) => {
  const shadeClass = objectClassByName('tc-shade')!;
  // @ts-expect-error no free generic: the ObjectClass adders take no instance type
  shadeClass.propertyAddBool<TcLamp>('tc-free', (l) => l.on);
  // Without the typed route, accessors only see a QomObject.
  // @ts-expect-error a QomObject has no `open`
  shadeClass.propertyAddBool('tc-untyped', (s) => s.open);
  const props = shadeClass.propertiesOf(TcShade);
  props.propertyAddBool(
    'tc-open',
    (s) => s.open,
    (s, v) => void (s.open = v),
  );
  // @ts-expect-error propertiesOf(TcShade) accessors receive a TcShade, not a TcLamp
  props.propertyAddBool('tc-lamp-on', (l: TcLamp) => l.on);
  // @ts-expect-error the instance a TcShade accessor gets has no `on`
  props.propertyAddStr('tc-lamp-name', (s) => String(s.on));
  const shade = objectNew(TcShade);
  shade.propertySet('tc-open', true);
  t.true(shade.open);
  t.true(shade.propertyGet('tc-open'));
  // An object's own adders are typed by the object, with no free parameter either.
  // @ts-expect-error obj.propertyAdd<T> does not compile
  shade.propertyAdd<TcLamp>('tc-own', 'bool');
  shade.unref();
});

test('propertiesOf checks the class at run time (object_class_dynamic_cast)', (t) => {
  const lampClass = objectClassByName('tc-lamp')!;
  const deskClass = objectClassByName('tc-desk-lamp')!;
  // A subtype's class takes its ancestors' accessors.
  t.is(deskClass.propertiesOf(TcLamp).klass, deskClass);
  t.is(lampClass.propertiesOf(TcLamp).klass, lampClass);
  t.throws(() => objectClassByName('tc-bulb')!.propertiesOf(TcLamp), {
    instanceOf: QomError,
    message:
      "class of type 'tc-bulb' is not a class of type 'tc-lamp': " +
      'its property accessors cannot take TcLamp instances',
  });
  // A parent's class is not its subtype's.
  t.throws(() => lampClass.propertiesOf(TcDeskLamp), {
    instanceOf: QomError,
    message:
      "class of type 'tc-lamp' is not a class of type 'tc-desk-lamp': " +
      'its property accessors cannot take TcDeskLamp instances',
  });
  // An interface's class is refused too: interfaces have no instances.
  const ucClass = objectClassByName(TYPE_USER_CREATABLE)!;
  t.throws(() => ucClass.propertiesOf(TcLamp), { instanceOf: QomError });
  const before = [...objectClassByName('tc-bulb')!.ownProperties()].length;
  t.throws(() => objectClassByName('tc-bulb')!.propertiesOf(TcShade));
  t.is([...objectClassByName('tc-bulb')!.ownProperties()].length, before);
});

test('the typed facade is only made by propertiesOf', (t) => {
  const props = objectClassByName('tc-shade')!.propertiesOf(TcShade);
  // @ts-expect-error its constructor is private: no facade without the class check
  const forged = new ClassProperties<TcLamp>(objectClassByName('tc-bulb')!);
  void forged;
  t.true(props instanceof ClassProperties);
});
