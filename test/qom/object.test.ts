// Types, classes and object lifecycle (qom/object.c).
import test from 'ava';
import {
  InterfaceClass,
  ObjectClass,
  Owned,
  QomError,
  QomObject,
  TYPE_CONTAINER,
  TYPE_INTERFACE,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  objectClassByName,
  objectClassForeach,
  objectClassGetList,
  objectClassGetListSorted,
  objectNew,
  objectNewOwned,
  objectNewWithClass,
  typeGetInfo,
  typeRegister,
  objectCheck,
  objectClassCheck,
} from '../../src/qom/index.js';
import {
  DummyDev,
  TYPE_DUMMY_BACKEND,
  TYPE_DUMMY_BUS,
  TYPE_DUMMY_DEV,
  finalized,
  registerProplistTypes,
} from '../helpers/qom/proplist-fixtures.js';

registerProplistTypes();

const events: string[] = [];

function msg(t: import('ava').ExecutionContext, fn: () => unknown): string | undefined {
  const e = t.throws(fn);
  t.true(e instanceof QomError, 'a QomError');
  return e?.message;
}

test('type names are validated with QEMU’s rule and text', (t) => {
  for (const bad of ['', 'a', '0abc', 'a b', '-ab', 'ab!', 'é-type', 'a/b', 'a:b']) {
    t.is(
      msg(t, () => typeRegister({ name: bad, parent: TYPE_OBJECT })),
      `Registering '${bad}' with illegal type name`,
      bad,
    );
  }
  for (const good of ['ab', '1ab', 'A.b_c-d', 'x86_64-cpu']) {
    t.notThrows(() => typeRegister({ name: `valid-${good}`, parent: TYPE_OBJECT }));
    t.notThrows(() => typeRegister({ name: good, parent: TYPE_OBJECT }));
  }
  t.is(objectNew('1ab').typeName, '1ab');
});

test('duplicate registration uses QEMU’s backtick text', (t) => {
  typeRegister({ name: 'dup-type', parent: TYPE_OBJECT });
  t.is(
    msg(t, () => typeRegister({ name: 'dup-type', parent: TYPE_OBJECT })),
    "Registering `dup-type' which already exists",
  );
  t.is(
    msg(t, () => typeRegister({ name: TYPE_OBJECT, parent: TYPE_OBJECT })),
    "Registering `object' which already exists",
  );
});

class BaseClass extends ObjectClass {
  vm: string = 'unset';
  counter = 0;
}
class SubClass extends BaseClass {
  extra = 0;
}

test('lazy class initialisation: parent first, classBaseInit of ancestors, then classInit', (t) => {
  const log: string[] = [];
  typeRegister<BaseClass>({
    name: 'ci-a',
    parent: TYPE_OBJECT,
    classType: BaseClass,
    classInit(oc, data) {
      log.push(`init a ${oc.typeName} ${String(data)}`);
      oc.vm = 'a';
    },
    classBaseInit(oc, data) {
      log.push(`base a ${oc.typeName} ${String(data)} vm=${oc.vm}`);
      oc.counter++;
    },
    classData: 'da',
  });
  typeRegister<SubClass>({
    name: 'ci-b',
    parent: 'ci-a',
    classType: SubClass,
    classInit(oc) {
      log.push(`init b ${oc.typeName} vm=${oc.vm}`);
      oc.vm = 'b';
    },
    classBaseInit(oc, data) {
      log.push(`base b ${oc.typeName} ${String(data)}`);
    },
    classData: 'db',
  });
  typeRegister<SubClass>({
    name: 'ci-c',
    parent: 'ci-b',
    classInit(oc) {
      log.push(`init c vm=${oc.vm} counter=${oc.counter}`);
    },
    classData: 'dc',
  });
  t.deepEqual(log, [], 'registration initialises nothing');
  const c = objectClassCheck(objectClassByName('ci-c')!, SubClass);
  t.deepEqual(log, [
    'init a ci-a da',
    'base a ci-b db vm=a',
    'init b ci-b vm=a',
    'base b ci-c dc',
    'base a ci-c dc vm=b',
    'init c vm=b counter=2',
  ]);
  t.true(c instanceof SubClass);
  t.is(c.vm, 'b', 'the parent class struct was copied');
  const a = objectClassCheck(objectClassByName('ci-a')!, BaseClass);
  const b = objectClassCheck(objectClassByName('ci-b')!, SubClass);
  t.is(a.vm, 'a');
  t.is(a.counter, 0);
  t.is(b.counter, 1);
  c.vm = 'changed';
  t.is(b.vm, 'b', 'a copy, not a reference');
  t.is(objectClassByName('ci-c'), c, 'initialised once');
  t.is(log.length, 6);
  t.is(c.parent, b);
  t.is(b.parent, a);
});

class L1 extends QomObject {
  trail: string[] = [];
}
class L2 extends L1 {}
class L3 extends L2 {
  child: QomObject | null = null;
}

typeRegister<ObjectClass, L1>({
  name: 'lvl1',
  parent: TYPE_OBJECT,
  instanceType: L1,
  instanceInit: (o) => events.push(`init1 ${o.typeName}`),
  instancePostInit: (o) => events.push(`post1 ${o.typeName}`),
  instanceFinalize: () => events.push('fin1'),
});
typeRegister<ObjectClass, L2>({
  name: 'lvl2',
  parent: 'lvl1',
  instanceType: L2,
  instanceInit: () => events.push('init2'),
  instancePostInit: () => events.push('post2'),
  instanceFinalize: () => events.push('fin2'),
});
typeRegister<ObjectClass, L3>({
  name: 'lvl3',
  parent: 'lvl2',
  instanceType: L3,
  instanceInit: (o) => {
    events.push('init3');
    const c = objectNew('lvl-leafchild');
    o.propertyAddChild('kid', c);
    c.unref();
  },
  instancePostInit: () => events.push('post3'),
  instanceFinalize: (o) =>
    events.push(`fin3 kid=${o.resolvePathComponent('kid') ? 'present' : 'gone'}`),
});
typeRegister({
  name: 'lvl-leafchild',
  parent: TYPE_OBJECT,
  instanceFinalize: () => events.push('kid finalized'),
});

test.serial(
  'init and post-init run root to leaf, finalize releases properties then runs leaf to root',
  (t) => {
    events.length = 0;
    const o = objectCheck(objectNew('lvl3'), L3);
    t.true(o instanceof L3);
    t.deepEqual(events, ['init1 lvl3', 'init2', 'init3', 'post1 lvl3', 'post2', 'post3']);
    events.length = 0;
    o.unref();
    t.deepEqual(events, ['kid finalized', 'fin3 kid=gone', 'fin2', 'fin1']);
    t.true(o.finalized);
  },
);

test.serial('the instance type defaults to the parent’s', (t) => {
  typeRegister({ name: 'lvl4', parent: 'lvl3' });
  events.length = 0;
  const o = objectNew('lvl4');
  t.true(o instanceof L3);
  t.is(o.typeName, 'lvl4');
  t.is(events.length, 6);
  o.unref();
  t.true(typeGetInfo('lvl4')!.instanceType === undefined);
});

test('reference counting', (t) => {
  const parent = objectNew(TYPE_CONTAINER);
  const o = objectNew(TYPE_CONTAINER);
  t.is(o.refcount, 1);
  t.is(o.ref(), o);
  t.is(o.refcount, 2);
  o.unref();
  t.is(o.refcount, 1);
  parent.propertyAddChild('c', o);
  t.is(o.refcount, 2, 'adding a child takes a reference');
  t.is(o.parent, parent);
  o.unref();
  t.is(o.refcount, 1);
  t.false(o.finalized);
  t.throws(() => o.unref(), {
    instanceOf: QomError,
    message: "object of type 'container' unreferenced while its parent still holds it",
  });
  t.is(o.refcount, 1, 'the over-release was refused');
  t.is(parent.resolvePathComponent('c'), o);
  o.unparent();
  t.true(o.finalized, 'unparent dropped the last reference');
  t.is(o.parent, null);
  parent.unparent(); // no parent: nothing happens
  t.false(parent.finalized);
  parent.unref();
  t.true(parent.finalized);
});

test('a finalized object refuses use with a QomError', (t) => {
  const o = objectNew(TYPE_CONTAINER);
  o.unref();
  const text = "object of type 'container' used after it was finalized";
  t.is(
    msg(t, () => o.ref()),
    text,
  );
  t.is(
    msg(t, () => o.unref()),
    text,
  );
  t.is(
    msg(t, () => o.propertyGet('type')),
    text,
  );
  t.is(
    msg(t, () => o.propertySet('type', 'x')),
    text,
  );
  t.is(
    msg(t, () => o.propertyParse('type', 'x')),
    text,
  );
  t.is(
    msg(t, () => o.propertyFind('type')),
    text,
  );
  t.is(
    msg(t, () => o.propertyAddBool('b', () => true)),
    text,
  );
  t.is(
    msg(t, () => o.propertyDel('b')),
    text,
  );
  t.is(
    msg(t, () => [...o.properties()]),
    text,
  );
  t.is(
    msg(t, () => o.unparent()),
    text,
  );
  t.is(
    msg(t, () => o.childForeach(() => 0)),
    text,
  );
  t.is(
    msg(t, () => o.resolvePathComponent('x')),
    text,
  );
  const p = objectNew(TYPE_CONTAINER);
  t.is(
    msg(t, () => p.propertyAddChild('dead', o)),
    text,
  );
  p.unref();
  t.is(o.typeName, 'container', 'identity stays readable');
});

test('referencing an object from its own finalizer is an error', (t) => {
  let err: unknown;
  typeRegister({
    name: 'self-ref',
    parent: TYPE_OBJECT,
    instanceFinalize(o) {
      try {
        o.ref();
      } catch (e) {
        err = e;
      }
    },
  });
  const o = objectNew('self-ref');
  o.unref();
  t.true(err instanceof QomError);
  t.is((err as Error).message, "object of type 'self-ref' referenced while being finalized");
  t.true(o.finalized);
});

test('new on a QOM class outside objectNew throws', (t) => {
  t.is(
    msg(t, () => new L1()),
    'QOM objects are created with objectNew(), not with new (L1)',
  );
  t.is(
    msg(t, () => new QomObject()),
    'QOM objects are created with objectNew(), not with new (QomObject)',
  );
});

test('an instanceInit that throws releases what it built', (t) => {
  let kid: QomObject | null = null;
  typeRegister({
    name: 'init-fails',
    parent: TYPE_OBJECT,
    instanceInit(o) {
      kid = objectNew(TYPE_CONTAINER);
      o.propertyAddChild('kid', kid);
      kid.unref();
      throw new QomError('boom');
    },
  });
  t.is(
    msg(t, () => objectNew('init-fails')),
    'boom',
  );
  t.true(kid!.finalized);
});

test('dynamicCast and isA for objects and classes', (t) => {
  const o = objectCheck(objectNew('lvl3'), L3);
  t.is(o.dynamicCast(L2), o);
  t.is(o.dynamicCast('lvl1'), o);
  t.is(o.dynamicCast(TYPE_OBJECT), o);
  t.is(o.dynamicCast(TYPE_CONTAINER), null);
  t.is(o.dynamicCast('no-such-type'), null);
  t.true(o.isA('lvl2'));
  t.false(o.isA(TYPE_USER_CREATABLE));
  const k = objectClassByName('lvl2')!;
  t.is(k.dynamicCast('lvl1'), k);
  t.is(k.dynamicCast('lvl3'), null);
  t.true(k.isA(TYPE_OBJECT));
  o.unref();
});

class IfBaseClass extends InterfaceClass {
  tag = '';
}

test('interfaces: inherited, not duplicated, and ambiguous casts fail', (t) => {
  typeRegister<IfBaseClass>({ name: 'if-base', parent: TYPE_INTERFACE, classType: IfBaseClass });
  typeRegister({ name: 'if-sub1', parent: 'if-base' });
  typeRegister({ name: 'if-sub2', parent: 'if-base' });
  typeRegister<ObjectClass>({
    name: 'impl-one',
    parent: TYPE_OBJECT,
    interfaces: ['if-sub1'],
    classInit(oc) {
      oc.dynamicCast(IfBaseClass)!.tag = 'one';
    },
  });
  // Listing an interface the parent already implements adds nothing.
  typeRegister({ name: 'impl-one-again', parent: 'impl-one', interfaces: ['if-sub1', 'if-base'] });
  // A second interface under the same base makes casts to the base ambiguous.
  typeRegister({ name: 'impl-two', parent: 'impl-one', interfaces: ['if-sub2'] });

  const one = objectClassByName('impl-one')!;
  t.is(one.interfaces.length, 1);
  t.is(one.dynamicCast(IfBaseClass)!.tag, 'one');
  t.is(one.dynamicCast('if-sub1'), one.interfaces[0]);
  t.is(one.dynamicCast('if-sub2'), null);

  const again = objectClassByName('impl-one-again')!;
  t.is(again.interfaces.length, 1);
  t.is(again.dynamicCast(IfBaseClass)!.tag, 'one', 'interface class data inherited');

  const two = objectClassByName('impl-two')!;
  t.is(two.interfaces.length, 2);
  t.truthy(two.dynamicCast('if-sub1'));
  t.truthy(two.dynamicCast('if-sub2'));
  t.is(two.dynamicCast('if-base'), null, 'ambiguous');
  t.is(two.dynamicCast(TYPE_INTERFACE), null, 'ambiguous');
  const o = objectNew('impl-two');
  t.is(o.dynamicCast('if-base'), null);
  t.is(o.dynamicCast('if-sub2'), o);
  t.true(o.isA('impl-one'));
  o.unref();
});

test('objectClassGetList, sorted and foreach', (t) => {
  typeRegister({ name: 'List-B', parent: TYPE_OBJECT, interfaces: [TYPE_USER_CREATABLE] });
  typeRegister({ name: 'list-a', parent: TYPE_OBJECT, interfaces: [TYPE_USER_CREATABLE] });
  typeRegister({ name: 'list-c', parent: 'list-a', abstract: true });
  const names = (ks: ObjectClass[]): string[] => ks.map((k) => k.typeName);
  const uc = names(objectClassGetList(TYPE_USER_CREATABLE, false));
  t.true(uc.includes('List-B') && uc.includes('list-a'));
  t.false(uc.includes('list-c'));
  t.deepEqual(
    uc.indexOf('list-a') < uc.indexOf('List-B'),
    true,
    'QEMU prepends: reverse registration order',
  );
  t.true(names(objectClassGetList(TYPE_USER_CREATABLE, true)).includes('list-c'));
  const sorted = names(objectClassGetListSorted(TYPE_USER_CREATABLE, true)).filter(
    (n) => n.startsWith('l') || n.startsWith('L'),
  );
  t.deepEqual(sorted, ['list-a', 'List-B', 'list-c'], 'case-insensitive');
  const all = names(objectClassGetList(null, true));
  t.true(
    all.includes(TYPE_OBJECT) && all.includes(TYPE_INTERFACE) && all.includes(TYPE_USER_CREATABLE),
  );
  t.false(names(objectClassGetList(null, false)).includes(TYPE_OBJECT));
  let seen = 0;
  objectClassForeach(
    (k) => {
      seen++;
      t.true(k.isA(TYPE_USER_CREATABLE));
      t.throws(() => typeRegister({ name: 'during-foreach', parent: TYPE_OBJECT }), {
        message: "Registering 'during-foreach' while enumerating types",
      });
    },
    TYPE_USER_CREATABLE,
    false,
  );
  t.true(seen >= 2);
  t.is(typeGetInfo('during-foreach'), null);
});

test('ObjectClass.unparent runs when the child property is released', (t) => {
  const log: string[] = [];
  typeRegister({
    name: 'with-unparent',
    parent: TYPE_OBJECT,
    classInit(oc) {
      oc.unparent = (o) => log.push(`unparent ${o.typeName} parent=${o.parent ? 'yes' : 'no'}`);
    },
  });
  typeRegister({ name: 'with-unparent-sub', parent: 'with-unparent' });
  const p = objectNew(TYPE_CONTAINER);
  const c = objectNew('with-unparent-sub');
  p.propertyAddChild('c', c);
  c.unref();
  p.propertyDel('c');
  t.deepEqual(log, ['unparent with-unparent-sub parent=yes'], 'inherited through the class copy');
  t.true(c.finalized);
  p.unref();
});

test('class property defaults are applied before instanceInit', (t) => {
  class D extends QomObject {
    n = 0;
    s = '';
    seenInInit = -1;
  }
  typeRegister<ObjectClass, D>({
    name: 'with-defaults',
    parent: TYPE_OBJECT,
    instanceType: D,
    classInit(oc) {
      const props = oc.propertiesOf(D);
      props.propertyAddUint32(
        'n',
        (o) => o.n,
        (o, v) => {
          o.n = v;
        },
      );
      oc.propertySetDefault('n', 42);
      props
        .propertyAddStr(
          's',
          (o) => o.s,
          (o, v) => {
            o.s = v;
          },
        )
        .setDefault('dflt');
    },
    instanceInit(o) {
      o.seenInInit = o.n;
    },
  });
  const o = objectCheck(objectNew('with-defaults'), D);
  t.is(o.seenInInit, 42);
  t.is(o.s, 'dflt');
  t.is(o.propertyFind('n')!.defval, 42);
  t.is(
    msg(t, () => o.klass.propertySetDefault('n', 1)),
    "property 'n' already has a default value",
  );
  t.is(
    msg(t, () => o.klass.propertySetDefault('type', 'x')),
    "property 'type' has a default value but no setter",
  );
  t.is(
    msg(t, () => o.klass.propertySetDefault('zz', 1)),
    "Property '.zz' not found",
  );
  o.unref();
});

test('Owned references and using', (t) => {
  let kept: QomObject;
  {
    using owned = objectNewOwned(TYPE_CONTAINER);
    kept = owned.value;
    t.is(kept.refcount, 1);
    const second = owned.clone();
    t.is(kept.refcount, 2);
    second[Symbol.dispose]();
    second[Symbol.dispose]();
    t.is(kept.refcount, 1, 'dispose is idempotent');
    t.throws(() => second.value, { message: 'Owned reference used after it was released' });
  }
  t.true(kept.finalized);
  const o = objectNew(TYPE_CONTAINER);
  {
    using _o = o;
    t.is(o.refcount, 1);
  }
  t.true(o.finalized, 'QomObject is Disposable too');
  const x = objectNew(TYPE_CONTAINER);
  const ow = Owned.from(x);
  t.is(x.refcount, 2);
  t.is(ow.release(), x);
  t.false(ow.held);
  x.unref();
  x.unref();
  t.true(x.finalized);
});

test('objectNewWithClass', (t) => {
  const o = objectNewWithClass(objectClassByName(TYPE_CONTAINER)!);
  t.is(o.typeName, TYPE_CONTAINER);
  o.unref();
});

test('finalizing a parentless dev tears down the bus and backend once each', (t) => {
  const dev = objectNew(DummyDev);
  const bus = dev.bus!;
  const backend = bus.backend!;
  t.is(bus.refcount, 2);
  t.is(backend.refcount, 2);
  const before = { ...finalized };
  dev.unref();
  for (const ty of [TYPE_DUMMY_DEV, TYPE_DUMMY_BUS, TYPE_DUMMY_BACKEND]) {
    t.is(finalized[ty], (before[ty] ?? 0) + 1, ty);
  }
  t.true(dev.finalized && bus.finalized && backend.finalized);
});
