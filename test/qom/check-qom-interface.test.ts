// A port of QEMU's tests/unit/check-qom-interface.c, plus the properties of
// per-type interface classes that the intermediate_impl case relies on.
import test from 'ava';
import {
  InterfaceClass,
  type ObjectClass,
  TYPE_INTERFACE,
  TYPE_OBJECT,
  objectClassByName,
  objectNew,
  typeRegister,
  objectClassCheck,
} from '../../src/qom/index.js';

const TYPE_TEST_IF = 'test-interface';
const PATTERN = 0xfafbfcfd;

class TestIfClass extends InterfaceClass {
  test = 0;
}

function testClassInit(oc: ObjectClass): void {
  // The implementing type reaches its own interface vtable by casting.
  const tc = oc.dynamicCast(TestIfClass);
  if (!tc) throw new Error('TEST_IF_CLASS failed');
  tc.test = PATTERN;
}

const TYPE_DIRECT_IMPL = 'direct-impl';
const TYPE_INTERMEDIATE_IMPL = 'intermediate-impl';

typeRegister({ name: TYPE_TEST_IF, parent: TYPE_INTERFACE, classType: TestIfClass });
typeRegister({
  name: TYPE_DIRECT_IMPL,
  parent: TYPE_OBJECT,
  classInit: testClassInit,
  interfaces: [TYPE_TEST_IF],
});
typeRegister({ name: TYPE_INTERMEDIATE_IMPL, parent: TYPE_DIRECT_IMPL });

function testInterfaceImpl(t: import('ava').ExecutionContext, type: string): void {
  const obj = objectNew(type);
  const iobj = obj.dynamicCast(TYPE_TEST_IF);
  t.is(iobj, obj);
  const ioc = iobj!.klass.dynamicCast(TestIfClass);
  t.truthy(ioc);
  t.true(ioc instanceof TestIfClass);
  t.is(ioc!.test, PATTERN);
  obj.unref();
  t.true(obj.finalized);
}

test('/qom/interface/direct_impl', (t) => {
  testInterfaceImpl(t, TYPE_DIRECT_IMPL);
});

test('/qom/interface/intermediate_impl', (t) => {
  testInterfaceImpl(t, TYPE_INTERMEDIATE_IMPL);
});

test('each type has its own interface class, a copy of its parent type’s', (t) => {
  const direct = objectClassByName(TYPE_DIRECT_IMPL)!;
  const inter = objectClassByName(TYPE_INTERMEDIATE_IMPL)!;
  const dic = direct.dynamicCast(TestIfClass)!;
  const iic = inter.dynamicCast(TestIfClass)!;
  t.not(dic, iic);
  t.is(dic.typeName, 'direct-impl::test-interface');
  t.is(iic.typeName, 'intermediate-impl::test-interface');
  t.is(iic.parent, dic);
  t.is(dic.parent, objectClassByName(TYPE_TEST_IF));
  t.is(dic.interfaceTypeName, TYPE_TEST_IF);
  t.is(iic.interfaceType, objectClassByName(TYPE_TEST_IF)!);
  t.true(dic.isAbstract);
  // Interface impl classes are not registered types.
  t.is(objectClassByName('direct-impl::test-interface'), null);
  // The interface class of the type itself is the interface's class.
  const ifc = objectClassCheck(objectClassByName(TYPE_TEST_IF)!, TestIfClass);
  t.is(ifc.test, 0);
  t.is(ifc.dynamicCast(TYPE_TEST_IF), ifc);
  t.is(ifc.dynamicCast(TYPE_INTERFACE), ifc);
  // Interfaces have no instances.
  t.true(ifc.isAbstract);
  t.is(
    t.throws(() => objectNew(TYPE_TEST_IF))?.message,
    "object type 'test-interface' is abstract",
  );
  // The interface class casts to its own interface and ancestors only.
  t.is(dic.dynamicCast(TYPE_TEST_IF), dic);
  t.is(dic.dynamicCast(TYPE_DIRECT_IMPL), null);
  // An object class casts to itself, its ancestors and its interface.
  t.is(inter.dynamicCast(TYPE_DIRECT_IMPL), inter);
  t.is(inter.dynamicCast(TYPE_OBJECT), inter);
  t.is(direct.dynamicCast(TYPE_INTERMEDIATE_IMPL), null);
  t.is(direct.interfaces.length, 1);
  t.is(inter.interfaces.length, 1);
});
