// user-creatable objects: object-add / object-del semantics and
// object_new_with_props (qom/object_interfaces.c, qom/object.c).
import test from 'ava';
import {
  type ObjectClass,
  QomError,
  QomObject,
  TYPE_CONTAINER,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  UserCreatableClass,
  objectGetObjectsRoot,
  objectInitializeChild,
  objectNew,
  objectNewWithProps,
  objectNewWithPropsAsync,
  objectPropertyHelp,
  typeClassPropertiesHelp,
  typeRegister,
  userCreatableAddQapi,
  userCreatableAddType,
  userCreatableCanBeDeleted,
  userCreatableComplete,
  userCreatableDel,
  userCreatableTypesHelp,
} from '../../src/qom/index.js';
import { objectCheck } from '../../src/qom/index.js';

const ID_HINT = "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n";

class Uc extends QomObject {
  size = 0n;
  inUse = false;
  failComplete = false;
  completed = 0;
}
let finalizedCount = 0;
let pending: { resolve(): void; reject(e: Error): void } | null = null;

typeRegister<ObjectClass, Uc>({
  name: 'uc-sync',
  parent: TYPE_OBJECT,
  instanceType: Uc,
  interfaces: [TYPE_USER_CREATABLE],
  classInit(oc) {
    const props = oc.propertiesOf(Uc);
    props.propertyAddSize(
      'size',
      (o) => o.size,
      (o, v) => {
        if (v === 0n) throw new QomError(`property 'size' of ${o.typeName} doesn't take value '0'`);
        o.size = v;
      },
    );
    oc.propertySetDescription('size', 'Size of the thing');
    props.propertyAddBool(
      'fail',
      (o) => o.failComplete,
      (o, v) => {
        o.failComplete = v;
      },
    );
    props.propertyAddBool(
      'in-use',
      (o) => o.inUse,
      (o, v) => void (o.inUse = v),
    );
    const ucc = oc.dynamicCast(UserCreatableClass)!;
    ucc.complete = (obj) => {
      const o = obj as Uc;
      if (o.failComplete) throw new QomError('complete failed');
      o.completed++;
    };
    ucc.canBeDeleted = (obj) => !(obj as Uc).inUse;
  },
  instanceFinalize() {
    finalizedCount++;
  },
});

typeRegister({
  name: 'uc-async',
  parent: 'uc-sync',
  classInit(oc) {
    const ucc = oc.dynamicCast(UserCreatableClass)!;
    ucc.complete = (obj) =>
      new Promise<void>((resolve, reject) => {
        pending = {
          resolve: () => {
            (obj as Uc).completed++;
            resolve();
          },
          reject,
        };
      });
  },
});
typeRegister({
  name: 'uc-abstract',
  parent: TYPE_OBJECT,
  abstract: true,
  interfaces: [TYPE_USER_CREATABLE],
});
typeRegister({ name: 'not-uc-abstract', parent: TYPE_OBJECT, abstract: true });

const objects = objectGetObjectsRoot();

test.serial('object-add: the order of checks and their texts', async (t) => {
  const cases: [type: string, id: string | null, message: string][] = [
    ['no-such-type', '0bad', "Parameter 'id' expects an identifier"],
    ['uc-sync', 'a b', "Parameter 'id' expects an identifier"],
    ['uc-sync', '', "Parameter 'id' expects an identifier"],
    ['no-such-type', 'ok', 'invalid object type: no-such-type'],
    [TYPE_CONTAINER, 'ok', "object type 'container' isn't supported by object-add"],
    ['not-uc-abstract', 'ok', "object type 'not-uc-abstract' isn't supported by object-add"],
    ['uc-abstract', 'ok', "object type 'uc-abstract' is abstract"],
    [TYPE_USER_CREATABLE, 'ok', "object type 'user-creatable' is abstract"],
  ];
  for (const [type, id, message] of cases) {
    const e = await t.throwsAsync<QomError>(userCreatableAddType(type, id, {}));
    t.is(e?.message, message, `${type} ${id}`);
    t.is(e?.errorClass, 'GenericError');
    t.is(e?.hint, message.startsWith('Parameter') ? ID_HINT : undefined);
  }
  t.is(objects.resolvePathComponent('ok'), null);
});

test.serial(
  'object-add: properties are set in key order before the object enters /objects',
  async (t) => {
    const before = finalizedCount;
    let e = await t.throwsAsync<QomError>(userCreatableAddType('uc-sync', 'u1', { size: 0 }));
    t.is(e?.message, "property 'size' of uc-sync doesn't take value '0'");
    t.is(objects.resolvePathComponent('u1'), null);
    t.is(finalizedCount, before + 1, 'the object was released');

    e = await t.throwsAsync<QomError>(
      userCreatableAddType('uc-sync', 'u1', { size: 1, nope: true, fail: 1 }),
    );
    t.is(e?.message, "Property 'uc-sync.nope' not found", 'stops at the first bad key');
    e = await t.throwsAsync<QomError>(
      userCreatableAddType('uc-sync', 'u1', { fail: 1, nope: true }),
    );
    t.is(e?.message, "Invalid parameter type for 'fail', expected: boolean");
    t.is(objects.resolvePathComponent('u1'), null);
    t.is(finalizedCount, before + 3);
  },
);

test.serial('object-add: success, duplicate id, failed complete, object-del', async (t) => {
  const o = (await userCreatableAddType('uc-sync', 'u2', { size: 4096 })) as Uc;
  t.is(o.refcount, 2, 'the caller’s reference and the tree’s');
  t.is(o.completed, 1);
  t.is(o.size, 4096n);
  t.is(objects.resolvePathComponent('u2'), o);
  t.is(o.canonicalPath(), '/objects/u2');
  o.unref();

  const e = await t.throwsAsync<QomError>(userCreatableAddType('uc-sync', 'u2', { size: 1 }));
  t.is(e?.message, "attempt to add duplicate property 'u2' to object (type 'container')");
  t.is(objects.resolvePathComponent('u2'), o);

  const before = finalizedCount;
  const e2 = await t.throwsAsync<QomError>(userCreatableAddType('uc-sync', 'u3', { fail: true }));
  t.is(e2?.message, 'complete failed');
  t.is(objects.resolvePathComponent('u3'), null, 'removed from /objects again');
  t.is(finalizedCount, before + 1);

  o.inUse = true;
  t.false(userCreatableCanBeDeleted(o));
  t.throws(() => userCreatableDel('u2'), { message: "object 'u2' is in use, can not be deleted" });
  t.is(objects.resolvePathComponent('u2'), o);
  o.inUse = false;
  userCreatableDel('u2');
  t.true(o.finalized);
  t.throws(() => userCreatableDel('u2'), { message: "object 'u2' not found" });

  // Without an id, the caller owns the only reference.
  const anon = await userCreatableAddType('uc-sync', null, { size: 1 });
  t.is(anon.refcount, 1);
  t.is(anon.parent, null);
  anon.unref();
  t.true(anon.finalized);

  // JSON object-add arguments.
  await userCreatableAddQapi({ 'qom-type': 'uc-sync', id: 'u4', size: 8 });
  const u4 = objects.resolvePathComponent('u4') as Uc;
  t.is(u4.size, 8n);
  t.is(u4.refcount, 1);
  userCreatableDel('u4');
  await t.throwsAsync(userCreatableAddQapi({ id: 'u5' }), {
    message: "Parameter 'qom-type' is missing",
  });
  await t.throwsAsync(userCreatableAddQapi({ 'qom-type': 1 }), {
    message: "Invalid parameter type for 'qom-type', expected: string",
  });
});

test.serial('object-add with an asynchronous complete', async (t) => {
  const p = userCreatableAddType('uc-async', 'a1', { size: 1 });
  await Promise.resolve();
  const o = objects.resolvePathComponent('a1') as Uc;
  t.truthy(o, 'in /objects while completing, as in QEMU');
  t.is(o.completed, 0);
  pending!.resolve();
  t.is(await p, o);
  t.is(o.completed, 1);
  o.unref();

  const before = finalizedCount;
  const p2 = userCreatableAddType('uc-async', 'a2', { size: 1 });
  await Promise.resolve();
  pending!.reject(new QomError('async complete failed'));
  await t.throwsAsync(p2, { message: 'async complete failed' });
  t.is(objects.resolvePathComponent('a2'), null);
  t.is(finalizedCount, before + 1);
  userCreatableDel('a1');
});

test.serial('object_new_with_props', async (t) => {
  let e = t.throws<QomError>(() => objectNewWithProps('no-such-type', objects, 'x', {}));
  t.is(e?.message, 'invalid object type: no-such-type');
  e = t.throws<QomError>(() => objectNewWithProps('uc-abstract', objects, 'x', {}));
  t.is(e?.message, "object type 'uc-abstract' is abstract");

  const o = objectCheck(objectNewWithProps('uc-sync', objects, 'w1', { size: '2M' }), Uc);
  t.is(o.size, 2n ** 21n);
  t.is(o.completed, 1);
  t.is(o.refcount, 1, 'kept alive by its parent');
  t.throws(() => objectNewWithProps('uc-sync', objects, 'w1', {}), {
    message: "attempt to add duplicate property 'w1' to object (type 'container')",
  });
  o.unparent();

  const before = finalizedCount;
  t.throws(() => objectNewWithProps('uc-sync', objects, 'w2', { fail: 'on' }), {
    message: 'complete failed',
  });
  t.is(objects.resolvePathComponent('w2'), null);
  t.is(finalizedCount, before + 1);

  // A non-user-creatable type is just created.
  const c = objectNewWithProps(TYPE_CONTAINER, objects, 'w3');
  t.is(objects.resolvePathComponent('w3'), c);
  c.unparent();

  // Without an id the caller owns the object.
  const anon = objectCheck(objectNewWithProps('uc-sync', null, null, { size: '1' }), Uc);
  t.is(anon.refcount, 1);
  anon.unref();

  // Asynchronous complete: the sync entry point refuses, pointing to the async one.
  e = t.throws<QomError>(() => objectNewWithProps('uc-async', objects, 'w4', { size: '1' }));
  t.is(
    e?.message,
    "object type 'uc-async' completes asynchronously; use objectNewWithPropsAsync() to create it",
  );
  const w4 = objects.resolvePathComponent('w4');
  t.truthy(w4, 'still completing');
  pending!.resolve();
  await new Promise((r) => setImmediate(r));
  t.true(w4!.finalized, 'dropped once the completion settled');
  t.is(objects.resolvePathComponent('w4'), null);

  const p = objectNewWithPropsAsync('uc-async', objects, 'w5', { size: '1k' });
  await Promise.resolve();
  pending!.resolve();
  const w5 = objectCheck(await p, Uc);
  t.is(w5.size, 1024n);
  t.is(w5.refcount, 1);
  w5.unparent();
});

test('object_initialize_child', (t) => {
  const parent = objectNew(TYPE_CONTAINER);
  const kid = objectCheck(objectInitializeChild(parent, 'kid', 'uc-sync', { size: '1' }), Uc);
  t.is(kid.refcount, 1);
  t.is(kid.parent, parent);
  t.is(kid.completed, 1);
  t.throws(() => objectInitializeChild(parent, 'bad', 'uc-sync', { fail: 'on' }), {
    message: 'complete failed',
  });
  t.is(parent.resolvePathComponent('bad'), null);
  t.throws(() => objectInitializeChild(parent, 'x', 'no-such-type'), {
    message: "unknown type 'no-such-type'",
  });
  parent.unref();
  t.true(kid.finalized);
});

test('complete and can_be_deleted on a non-user-creatable object', (t) => {
  const c = objectNew(TYPE_CONTAINER);
  t.throws(() => userCreatableComplete(c), {
    message: "object type 'container' is not user-creatable",
  });
  t.true(userCreatableCanBeDeleted(c));
  c.unref();
});

test('help texts', (t) => {
  t.is(
    objectPropertyHelp('size', 'size', undefined, 'Size of the thing'),
    '  size=<size>            - Size of the thing',
  );
  t.is(
    objectPropertyHelp('merge', 'bool', true, 'Mark as mergeable'),
    '  merge=<bool>           - Mark as mergeable (default: on)',
  );
  t.is(
    objectPropertyHelp('policy', 'HostMemPolicy', 'default', undefined),
    '  policy=<HostMemPolicy> -  (default: default)',
  );
  t.is(
    objectPropertyHelp('prealloc-threads', 'uint32', 1, undefined),
    '  prealloc-threads=<uint32> -  (default: 1)',
  );
  t.is(objectPropertyHelp('x', 'int', undefined, undefined), '  x=<int>');
  t.is(
    typeClassPropertiesHelp('uc-sync'),
    'uc-sync options:\n  fail=<bool>\n  in-use=<bool>\n  size=<size>            - Size of the thing\n',
  );
  t.is(typeClassPropertiesHelp(TYPE_CONTAINER), 'There are no options for container.\n');
  t.is(typeClassPropertiesHelp('no-such-type'), null);
  const list = userCreatableTypesHelp();
  t.true(list.startsWith('List of user creatable objects:\n'));
  t.true(list.includes('  uc-async\n  uc-sync\n'));
  t.false(list.includes('uc-abstract'));
});
