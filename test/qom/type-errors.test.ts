// Registration errors that leave broken types behind (kept apart: a broken
// type makes whole-registry enumeration throw, as QEMU aborts there).
import test from 'ava';
import {
  ObjectClass,
  QomError,
  TYPE_CONTAINER,
  TYPE_INTERFACE,
  TYPE_OBJECT,
  objectClassByName,
  objectClassGetList,
  objectNew,
  typeRegister,
} from '../../src/qom/index.js';

function msg(t: import('ava').ExecutionContext, fn: () => unknown): string | undefined {
  const e = t.throws(fn);
  t.true(e instanceof QomError, 'a QomError');
  return e?.message;
}

class BaseClass extends ObjectClass {
  vm = '';
}

test('unknown, abstract, parentless and broken types', (t) => {
  t.is(
    msg(t, () => objectNew('no-such-type')),
    "unknown type 'no-such-type'",
  );
  t.is(
    msg(t, () => objectNew(TYPE_OBJECT)),
    "object type 'object' is abstract",
  );
  t.is(
    msg(t, () => objectNew(TYPE_INTERFACE)),
    "object type 'interface' is abstract",
  );
  t.is(
    msg(t, () => typeRegister({ name: 'no-parent' })),
    "Registering 'no-parent' without a parent type",
  );
  typeRegister({ name: 'orphan', parent: 'missing-parent' });
  t.is(
    msg(t, () => objectNew('orphan')),
    "Type 'orphan' is missing its parent 'missing-parent'",
  );
  t.is(objectClassByName('orphan-nope'), null);
  typeRegister({ name: 'lacks-iface', parent: TYPE_OBJECT, interfaces: ['missing-if'] });
  // QEMU prints the parent's name here.
  t.is(
    msg(t, () => objectNew('lacks-iface')),
    "missing interface 'missing-if' for object 'object'",
  );
  typeRegister({ name: 'abstract-one', parent: TYPE_OBJECT, abstract: true });
  t.true(objectClassByName('abstract-one')!.isAbstract);
  t.is(
    msg(t, () => objectNew('abstract-one')),
    "object type 'abstract-one' is abstract",
  );
  const c = objectNew(TYPE_CONTAINER);
  t.is(c.typeName, TYPE_CONTAINER);
  t.is(c.klass.parent, objectClassByName(TYPE_OBJECT));
  c.unref();
});

test('a class type must extend its parent’s; interfaces must not have instances', (t) => {
  typeRegister<BaseClass>({ name: 'ct-parent', parent: TYPE_OBJECT, classType: BaseClass });
  typeRegister({ name: 'ct-bad', parent: 'ct-parent', classType: ObjectClass });
  t.is(
    msg(t, () => objectClassByName('ct-bad')),
    "class type of 'ct-bad' must extend the class type of 'ct-parent'",
  );
  typeRegister({ name: 'bad-if', parent: TYPE_INTERFACE, instanceInit() {} });
  t.is(
    msg(t, () => objectClassByName('bad-if')),
    "interface type 'bad-if' may not have instances or interfaces",
  );
  t.is(
    msg(t, () => new ObjectClass()),
    'QOM classes are created by the type system, not with new',
  );
});

test('enumerating the registry reports a broken type', (t) => {
  typeRegister({ name: 'orphan2', parent: 'missing-parent2' });
  t.regex(
    msg(t, () => objectClassGetList(null, true)) ?? '',
    /^Type '\w+' is missing its parent '[\w-]+'$/,
  );
});
