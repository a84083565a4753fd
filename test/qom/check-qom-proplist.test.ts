// A port of QEMU's tests/unit/check-qom-proplist.c, test for test, with the
// same fixtures and assertions.
import test from 'ava';
import {
  type QomError,
  TYPE_CONTAINER,
  objectClassByName,
  objectGetObjectsRoot,
  objectNew,
  objectNewWithProps,
  objectPropertyAddNewContainer,
  objectResolvePath,
  objectResolvePathType,
  userCreatableAddType,
  userCreatableDel,
  type KeyvalProps,
} from '../../src/qom/index.js';
import {
  DUMMY_PLATYPUS,
  DummyDev,
  DummyObject,
  TYPE_DUMMY,
  TYPE_DUMMY_BACKEND,
  TYPE_DUMMY_BUS,
  TYPE_DUMMY_DEV,
  finalized,
  registerProplistTypes,
} from '../helpers/qom/proplist-fixtures.js';
import { objectCheck } from '../../src/qom/index.js';

registerProplistTypes();

// QEMU's keyval_parse("bv=yes,sv=Hiss hiss hiss,av=platypus", "qom-type"):
// every value is a string.
const params: KeyvalProps = { bv: 'yes', sv: 'Hiss hiss hiss', av: 'platypus' };

test.serial('/qom/proplist/createlist', (t) => {
  const parent = objectGetObjectsRoot();
  const dobj = objectCheck(
    objectNewWithProps(TYPE_DUMMY, parent, 'dummy0', {
      bv: 'yes',
      sv: 'Hiss hiss hiss',
      av: 'platypus',
    }),
    DummyObject,
  );
  t.is(dobj.sv, 'Hiss hiss hiss');
  t.true(dobj.bv);
  t.is(dobj.av, DUMMY_PLATYPUS);
  t.is(parent.resolvePathComponent('dummy0'), dobj);
  dobj.unparent();
  t.true(dobj.finalized);
  t.is(parent.resolvePathComponent('dummy0'), null);
});

test.serial('/qom/proplist/createv', (t) => {
  // QEMU's variadic and va_list entry points are one function here.
  const parent = objectGetObjectsRoot();
  const dobj = objectCheck(
    objectNewWithProps(TYPE_DUMMY, parent, 'dummy0', {
      bv: 'yes',
      sv: 'Hiss hiss hiss',
      av: 'platypus',
    }),
    DummyObject,
  );
  t.is(dobj.sv, 'Hiss hiss hiss');
  t.true(dobj.bv);
  t.is(dobj.av, DUMMY_PLATYPUS);
  t.is(dobj.refcount, 1, 'the parent holds the only reference');
  t.is(parent.resolvePathComponent('dummy0'), dobj);
  dobj.unparent();
});

async function testCreateObj(qdict: KeyvalProps): Promise<boolean> {
  const obj = await userCreatableAddType(TYPE_DUMMY, 'dev0', qdict, { keyval: true });
  obj.unref();
  return true;
}

test.serial('/qom/proplist/createcmdline', async (t) => {
  const objects = objectGetObjectsRoot();
  t.true(await testCreateObj({ ...params }));

  let dobj = objects.resolvePathComponent('dev0') as DummyObject;
  t.truthy(dobj);
  t.is(dobj.sv, 'Hiss hiss hiss');
  t.true(dobj.bv);
  t.is(dobj.av, DUMMY_PLATYPUS);

  const err = await t.throwsAsync<QomError>(testCreateObj({ ...params }));
  t.is(err?.message, "attempt to add duplicate property 'dev0' to object (type 'container')");
  t.is(objects.resolvePathComponent('dev0'), dobj);

  userCreatableDel('dev0');
  t.is(objects.resolvePathComponent('dev0'), null);
  t.true(dobj.finalized);

  t.true(await testCreateObj({ ...params }));
  dobj = objects.resolvePathComponent('dev0') as DummyObject;
  t.truthy(dobj);
  t.is(dobj.sv, 'Hiss hiss hiss');
  t.true(dobj.bv);
  t.is(dobj.av, DUMMY_PLATYPUS);
  t.is(objects.resolvePathComponent('dev0'), dobj);
  dobj.unparent();
  t.is(objects.resolvePathComponent('dev0'), null);
});

test.serial('/qom/proplist/badenum', (t) => {
  const parent = objectGetObjectsRoot();
  const before = finalized[TYPE_DUMMY] ?? 0;
  const err = t.throws<QomError>(() =>
    objectNewWithProps(TYPE_DUMMY, parent, 'dummy0', {
      bv: 'yes',
      sv: 'Hiss hiss hiss',
      av: 'yeti',
    }),
  );
  t.is(err?.message, "Parameter 'av' does not accept value 'yeti'");
  t.is(err?.errorClass, 'GenericError');
  t.is(parent.resolvePathComponent('dummy0'), null);
  t.is(finalized[TYPE_DUMMY], before + 1, 'the half-built object was released');
});

test.serial('/qom/proplist/getenum', (t) => {
  const parent = objectGetObjectsRoot();
  const dobj = objectCheck(
    objectNewWithProps(TYPE_DUMMY, parent, 'dummy0', { av: 'platypus' }),
    DummyObject,
  );
  t.is(dobj.av, DUMMY_PLATYPUS);

  t.is(dobj.propertyGetEnum('av', 'DummyAnimal'), DUMMY_PLATYPUS);

  // A bad enum type name
  t.is(
    t.throws<QomError>(() => dobj.propertyGetEnum('av', 'BadAnimal'))?.message,
    "Property av on qemu-dummy is not 'BadAnimal' enum type",
  );
  // A non-enum property name
  t.is(
    t.throws<QomError>(() => dobj.propertyGetEnum('iv', 'DummyAnimal'))?.message,
    "Property 'qemu-dummy.iv' not found",
  );
  dobj.unparent();
});

function checkPropNames(
  t: import('ava').ExecutionContext,
  names: string[],
  expected: string[],
): void {
  // Each expected name exactly once, nothing else.
  const remaining = [...expected];
  for (const n of names) {
    const i = remaining.indexOf(n);
    t.true(i >= 0, `unexpected property ${n}`);
    remaining.splice(i, 1);
  }
  t.deepEqual(remaining, []);
}

test.serial('/qom/proplist/iterator', (t) => {
  const parent = objectGetObjectsRoot();
  const dobj = objectCheck(
    objectNewWithProps(TYPE_DUMMY, parent, 'dummy0', {
      bv: 'yes',
      sv: 'Hiss hiss hiss',
      av: 'platypus',
    }),
    DummyObject,
  );
  checkPropNames(
    t,
    [...dobj.properties()].map((p) => p.name),
    ['type', 'sv', 'av', 'bv'],
  );
  dobj.unparent();
});

test.serial('/qom/proplist/class_iterator', (t) => {
  const klass = objectClassByName(TYPE_DUMMY)!;
  checkPropNames(
    t,
    [...klass.properties()].map((p) => p.name),
    ['type', 'av', 'sv'],
  );
});

test.serial('/qom/proplist/delchild', (t) => {
  const parent = objectGetObjectsRoot();
  const before = { ...finalized };
  const dev = objectCheck(objectNewWithProps(TYPE_DUMMY_DEV, parent, 'dev0', {}), DummyDev);
  const bus = dev.bus!;
  const backend = bus.backend!;
  t.is(objectResolvePath('/objects/dev0/bus/backend').obj, backend);
  t.is(dev.resolvePathComponent('backend'), backend, 'the link resolves');

  dev.unparent();

  for (const ty of [TYPE_DUMMY_DEV, TYPE_DUMMY_BUS, TYPE_DUMMY_BACKEND]) {
    t.is(finalized[ty], (before[ty] ?? 0) + 1, `${ty} finalized exactly once`);
  }
  t.true(dev.finalized && bus.finalized && backend.finalized);
  t.is(parent.resolvePathComponent('dev0'), null);
});

test.serial('/qom/resolve/partial', (t) => {
  const root = objectGetObjectsRoot();
  const cont1 = objectPropertyAddNewContainer(root, 'cont1');
  const obj1 = objectNew(TYPE_DUMMY);
  const obj2a = objectNew(TYPE_DUMMY);
  const obj2b = objectNew(TYPE_DUMMY);

  // /cont1, /cont1/obj1, /cont1/obj2 (obj2a), /obj2 (obj2b)
  cont1.propertyAddChild('obj1', obj1);
  obj1.unref();
  cont1.propertyAddChild('obj2', obj2a);
  obj2a.unref();
  root.propertyAddChild('obj2', obj2b);
  obj2b.unref();
  t.true(cont1.isA(TYPE_CONTAINER));

  t.deepEqual(objectResolvePathType('', TYPE_DUMMY), { obj: null, ambiguous: true });
  t.is(objectResolvePathType('', TYPE_DUMMY).obj, null);

  t.deepEqual(objectResolvePath('obj2'), { obj: null, ambiguous: true });
  t.is(objectResolvePath('obj2').obj, null);

  const r = objectResolvePath('obj1');
  t.is(r.obj, obj1);
  t.false(r.ambiguous);

  obj2b.unparent();
  cont1.unparent();
  t.true(obj1.finalized && obj2a.finalized && obj2b.finalized && cont1.finalized);
});
