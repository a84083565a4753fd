/**
 * A type with one property of every kind, as class properties, for the
 * property parsing tables: bool b, string s, enum e (TestEnum), uint8 u8,
 * uint16 u16, uint32 u32, uint64 u64, size sz, int64 i64 (custom
 * accessor), uint16 list `list` (custom), double num (custom).
 */
import {
  type ObjectClass,
  type QEnumLookup,
  QomObject,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  typeRegister,
} from '../../../src/qom/index.js';

export const TYPE_PROP_TEST = 'prop-test';
export const testEnum: QEnumLookup = { name: 'TestEnum', values: ['zero', 'one', 'two'] };

export class PropTest extends QomObject {
  b = false;
  s = '';
  e = 0;
  u8 = 0;
  u16 = 0;
  u32 = 0;
  u64 = 0n;
  sz = 0n;
  i64 = 0n;
  list: number[] = [];
  num = 0;
}

let registered = false;

export function registerPropTest(): void {
  if (registered) return;
  registered = true;
  typeRegister<ObjectClass, PropTest>({
    name: TYPE_PROP_TEST,
    parent: TYPE_OBJECT,
    instanceType: PropTest,
    interfaces: [TYPE_USER_CREATABLE],
    classInit(oc) {
      const props = oc.propertiesOf(PropTest);
      props.propertyAddBool(
        'b',
        (o) => o.b,
        (o, v) => {
          o.b = v;
        },
      );
      props.propertyAddStr(
        's',
        (o) => o.s,
        (o, v) => {
          o.s = v;
        },
      );
      props.propertyAddEnum(
        'e',
        testEnum,
        (o) => o.e,
        (o, v) => {
          o.e = v;
        },
      );
      props.propertyAddUint8(
        'u8',
        (o) => o.u8,
        (o, v) => {
          o.u8 = v;
        },
      );
      props.propertyAddUint16(
        'u16',
        (o) => o.u16,
        (o, v) => {
          o.u16 = v;
        },
      );
      props.propertyAddUint32(
        'u32',
        (o) => o.u32,
        (o, v) => {
          o.u32 = v;
        },
      );
      props.propertyAddUint64(
        'u64',
        (o) => o.u64,
        (o, v) => {
          o.u64 = v;
        },
      );
      props.propertyAddSize(
        'sz',
        (o) => o.sz,
        (o, v) => {
          o.sz = v;
        },
      );
      props.propertyAdd(
        'i64',
        'int',
        (o, v, name) => v.typeInt64(name, o.i64),
        (o, v, name) => {
          o.i64 = v.typeInt64(name);
        },
      );
      props.propertyAdd(
        'list',
        'int',
        (o, v, name) => v.typeUint16List(name, o.list),
        (o, v, name) => {
          o.list = v.typeUint16List(name);
        },
      );
      props.propertyAdd(
        'num',
        'number',
        (o, v, name) => v.typeNumber(name, o.num),
        (o, v, name) => {
          o.num = v.typeNumber(name);
        },
      );
      props.propertyAddBool('ro', (o) => o.b, null);
      props.propertyAddBool('wo', null, (o, v) => {
        o.b = v;
      });
    },
  });
}
