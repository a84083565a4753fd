// @QomType builds the same TypeInfo as typeRegister and behaves the same.
import test from 'ava';
import {
  ObjectClass,
  QomError,
  QomObject,
  QomType,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  UserCreatableClass,
  objectClassByName,
  objectGetObjectsRoot,
  objectNew,
  typeGetInfo,
  typeRegister,
  userCreatableAddType,
  userCreatableDel,
  objectCheck,
  objectClassCheck,
} from '../../src/qom/index.js';

const log: string[] = [];

class AnimalClass extends ObjectClass {
  sound = '';
  legs = 0;
}

// --- the decorator way -------------------------------------------------

@QomType({ name: 'deco-animal', abstract: true, classType: AnimalClass, classData: 'animal-data' })
class DecoAnimal extends QomObject {
  static override readonly classType = AnimalClass;
  name = '';
  static override classInit(oc: AnimalClass, data?: unknown): void {
    const props = oc.propertiesOf(this);
    log.push(`deco classInit ${oc.typeName} ${String(data)}`);
    oc.legs = 4;
    props.propertyAddStr(
      'name',
      (o) => o.name,
      (o, v) => {
        o.name = v;
      },
    );
  }
  static override classBaseInit(oc: AnimalClass): void {
    log.push(`deco classBaseInit ${oc.typeName} legs=${oc.legs}`);
  }
  override instanceInit(): void {
    log.push(`deco init animal ${this.typeName}`);
  }
  override instancePostInit(): void {
    log.push('deco post animal');
  }
  override instanceFinalize(): void {
    log.push('deco fin animal');
  }
}

@QomType({ name: 'deco-dog' })
class DecoDog extends DecoAnimal {
  static override classInit(oc: AnimalClass): void {
    log.push(`deco classInit ${oc.typeName} legs=${oc.legs}`);
    oc.sound = 'woof';
  }
  override instanceInit(): void {
    log.push('deco init dog');
  }
  override instanceFinalize(): void {
    log.push('deco fin dog');
  }
}

@QomType({ name: 'deco-puppy' })
class DecoPuppy extends DecoDog {
  // no own hooks: the parent's must not run twice
}

// --- the TypeInfo way ----------------------------------------------------

class InfoAnimal extends QomObject {
  name = '';
}
class InfoDog extends InfoAnimal {}
class InfoPuppy extends InfoDog {}
typeRegister<AnimalClass, InfoAnimal>({
  name: 'info-animal',
  parent: TYPE_OBJECT,
  abstract: true,
  classType: AnimalClass,
  classData: 'animal-data',
  instanceType: InfoAnimal,
  classInit(oc, data) {
    const props = oc.propertiesOf(InfoAnimal);
    log.push(`info classInit ${oc.typeName} ${String(data)}`);
    oc.legs = 4;
    props.propertyAddStr(
      'name',
      (o) => o.name,
      (o, v) => {
        o.name = v;
      },
    );
  },
  classBaseInit(oc) {
    log.push(`info classBaseInit ${oc.typeName} legs=${oc.legs}`);
  },
  instanceInit(o) {
    log.push(`info init animal ${o.typeName}`);
  },
  instancePostInit() {
    log.push('info post animal');
  },
  instanceFinalize() {
    log.push('info fin animal');
  },
});
typeRegister<AnimalClass, InfoDog>({
  name: 'info-dog',
  parent: 'info-animal',
  instanceType: InfoDog,
  classInit(oc) {
    log.push(`info classInit ${oc.typeName} legs=${oc.legs}`);
    oc.sound = 'woof';
  },
  instanceInit() {
    log.push('info init dog');
  },
  instanceFinalize() {
    log.push('info fin dog');
  },
});
typeRegister({ name: 'info-puppy', parent: 'info-dog', instanceType: InfoPuppy });

function normalise(lines: string[], prefix: string): string[] {
  return lines.map((l) => l.replace(prefix, 'X').replace(new RegExp(`${prefix}-`, 'g'), 'X-'));
}

test.serial('decorator and TypeInfo registrations are equivalent', (t) => {
  for (const [d, i] of [
    ['deco-animal', 'info-animal'],
    ['deco-dog', 'info-dog'],
    ['deco-puppy', 'info-puppy'],
  ]) {
    const di = typeGetInfo(d)!;
    const ii = typeGetInfo(i)!;
    t.is(di.parent?.replace('deco', 'x'), ii.parent?.replace('info', 'x'));
    t.is(!!di.abstract, !!ii.abstract);
    t.deepEqual(di.interfaces ?? [], ii.interfaces ?? []);
    t.is(di.classType, ii.classType);
    t.is(di.classData, ii.classData);
    t.is(typeof di.classInit, typeof ii.classInit);
    t.is(typeof di.classBaseInit, typeof ii.classBaseInit);
    t.truthy(di.instanceType);
  }
  t.is(typeGetInfo('deco-dog')!.instanceType, DecoDog);
  t.is(typeGetInfo('deco-dog')!.parent, 'deco-animal', 'parent defaults to the class extended');
  t.is(typeGetInfo('deco-animal')!.parent, TYPE_OBJECT);

  const run = (
    prefix: string,
  ): { classLog: string[]; objLog: string[]; klass: AnimalClass; props: string[] } => {
    log.length = 0;
    const klass = objectClassCheck(objectClassByName(`${prefix}-puppy`)!, AnimalClass);
    const classLog = [...log];
    log.length = 0;
    const o = objectNew(`${prefix}-puppy`);
    o.propertySet('name', 'Rex');
    t.is(o.propertyGet('name'), 'Rex');
    o.unref();
    return {
      classLog,
      objLog: [...log],
      klass,
      props: [...klass.properties()].map((p) => `${p.name}:${p.type}`),
    };
  };
  const deco = run('deco');
  const info = run('info');
  t.deepEqual(normalise(deco.classLog, 'deco'), normalise(info.classLog, 'info'));
  t.deepEqual(normalise(deco.objLog, 'deco'), normalise(info.objLog, 'info'));
  t.deepEqual(deco.props, info.props);
  t.deepEqual(normalise(deco.classLog, 'deco'), [
    'X classInit X-animal animal-data',
    'X classBaseInit X-dog legs=4',
    'X classInit X-dog legs=4',
    'X classBaseInit X-puppy legs=4',
  ]);
  t.deepEqual(normalise(deco.objLog, 'deco'), [
    'X init animal X-puppy',
    'X init dog',
    'X post animal',
    'X fin dog',
    'X fin animal',
  ]);
  t.true(deco.klass instanceof AnimalClass);
  t.is(deco.klass.sound, 'woof');
  t.is(info.klass.sound, 'woof');
  t.is(deco.klass.legs, 4);
  const puppy = objectCheck(objectNew('deco-puppy'), DecoPuppy);
  t.true(puppy instanceof DecoPuppy);
  t.true(puppy.isA('deco-animal'));
  puppy.unref();
  t.throws(() => objectNew('deco-animal'), { message: "object type 'deco-animal' is abstract" });
  t.throws(() => new DecoDog(), {
    message: 'QOM objects are created with objectNew(), not with new (DecoDog)',
  });
});

test('a decorated class must extend a registered type (or name its parent)', (t) => {
  class Plain extends QomObject {}
  const e = t.throws<QomError>(() => {
    @QomType({ name: 'deco-orphan' })
    class Orphan extends Plain {}
    void Orphan;
  });
  t.is(e?.message, "@QomType 'deco-orphan': the class it extends is not a registered QOM type");
  @QomType({ name: 'deco-explicit', parent: 'deco-dog' })
  class Explicit extends DecoDog {}
  t.is(objectClassByName('deco-explicit')!.parent, objectClassByName('deco-dog'));
  void Explicit;
  t.throws(
    () => {
      @QomType({ name: 'deco-dog' })
      class Again extends QomObject {}
      void Again;
    },
    { message: "Registering `deco-dog' which already exists" },
  );
});

@QomType({ name: 'deco-backend', interfaces: [TYPE_USER_CREATABLE] })
class DecoBackend extends QomObject {
  busy = false;
  ready = false;
  async complete(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.busy) throw new QomError('cannot complete while busy');
    this.ready = true;
  }
  canBeDeleted(): boolean {
    return !this.busy;
  }
  static override classInit(oc: ObjectClass): void {
    const props = oc.propertiesOf(this);
    props.propertyAddBool(
      'busy',
      (o) => o.busy,
      (o, v) => {
        o.busy = v;
      },
    );
  }
}

@QomType({ name: 'deco-backend-sub' })
class DecoBackendSub extends DecoBackend {
  override canBeDeleted(): boolean {
    return false;
  }
}

test.serial(
  'complete() and canBeDeleted() methods are wired into the user-creatable class',
  async (t) => {
    const ucc = objectClassByName('deco-backend')!.dynamicCast(UserCreatableClass)!;
    t.is(typeof ucc.complete, 'function');
    t.is(typeof ucc.canBeDeleted, 'function');
    const o = (await userCreatableAddType('deco-backend', 'db0', {})) as DecoBackend;
    t.true(o.ready);
    o.busy = true;
    t.throws(() => userCreatableDel('db0'), {
      message: "object 'db0' is in use, can not be deleted",
    });
    o.busy = false;
    userCreatableDel('db0');
    o.unref();
    t.true(o.finalized);

    await t.throwsAsync(userCreatableAddType('deco-backend', 'db1', { busy: true }), {
      message: 'cannot complete while busy',
    });
    t.is(objectGetObjectsRoot().resolvePathComponent('db1'), null);

    const s = (await userCreatableAddType('deco-backend-sub', 'db2', {})) as DecoBackendSub;
    t.true(s.ready, 'inherited complete');
    t.throws(() => userCreatableDel('db2'), {
      message: "object 'db2' is in use, can not be deleted",
    });
    s.unparent();
    s.unref();
  },
);
