// Property kinds, their JSON and string forms, errors (QEMU's texts) and
// the typed accessors (qom/object.c, qom/qom-qobject.c).
import test from 'ava';
import {
  type JsonObject,
  type JsonValue,
  QomError,
  TYPE_CONTAINER,
  TYPE_OBJECT,
  objectClassByName,
  objectGetObjectsRoot,
  objectNew,
  jsonMarkFloat,
  jsonParse,
  typeRegister,
  userCreatableAddQapi,
  userCreatableAddType,
  type KeyvalProps,
} from '../../src/qom/index.js';
import { PropTest, TYPE_PROP_TEST, registerPropTest } from '../helpers/qom/prop-fixtures.js';

registerPropTest();

const U64_MAX = 2n ** 64n - 1n;

type Field = 'b' | 's' | 'e' | 'u8' | 'u16' | 'u32' | 'u64' | 'sz' | 'i64' | 'list' | 'num';
type Row<V> = [prop: Field, input: V, expected: unknown];
const err = (message: string): { error: string } => ({ error: message });

function check<V>(
  t: import('ava').ExecutionContext,
  rows: Row<V>[],
  set: (o: PropTest, prop: string, v: V) => void,
): void {
  for (const [prop, input, expected] of rows) {
    const o = objectNew(PropTest);
    const label = `${prop} <- ${typeof input === 'bigint' ? `${input}n` : JSON.stringify(input)}`;
    if (expected !== null && typeof expected === 'object' && 'error' in expected) {
      const e = t.throws(() => set(o, prop, input), undefined, label);
      t.true(e instanceof QomError, label);
      t.is(e?.message, (expected as { error: string }).error, label);
    } else {
      set(o, prop, input);
      t.deepEqual(o[prop as Field], expected, label);
    }
    o.unref();
  }
}

test('JSON input (qom-set): every kind, with QEMU’s error texts', (t) => {
  const rows: Row<JsonValue>[] = [
    ['b', true, true],
    ['b', false, false],
    ['b', 'yes', err("Invalid parameter type for 'b', expected: boolean")],
    ['b', 1, err("Invalid parameter type for 'b', expected: boolean")],
    ['b', null, err("Invalid parameter type for 'b', expected: boolean")],
    ['s', 'Hiss', 'Hiss'],
    ['s', '', ''],
    ['s', 1, err("Invalid parameter type for 's', expected: string")],
    ['s', true, err("Invalid parameter type for 's', expected: string")],
    ['s', ['a'], err("Invalid parameter type for 's', expected: string")],
    ['e', 'two', 2],
    ['e', 'zero', 0],
    ['e', 'yeti', err("Parameter 'e' does not accept value 'yeti'")],
    ['e', 'TWO', err("Parameter 'e' does not accept value 'TWO'")],
    ['e', 2, err("Invalid parameter type for 'e', expected: string")],
    ['u8', 0, 0],
    ['u8', 255, 255],
    ['u8', -0, 0],
    ['u8', 256, err("Parameter 'u8' expects uint8_t")],
    ['u8', -1, err("Parameter 'u8' expects uint8_t")],
    ['u8', 1.5, err("Parameter 'u8' expects uint64")],
    ['u8', '1', err("Parameter 'u8' expects uint64")],
    ['u8', true, err("Parameter 'u8' expects uint64")],
    ['u16', 65535, 65535],
    ['u16', 65536, err("Parameter 'u16' expects uint16_t")],
    ['u32', 4294967295, 4294967295],
    ['u32', 4294967296, err("Parameter 'u32' expects uint32_t")],
    ['u32', -1, err("Parameter 'u32' expects uint32_t")],
    ['u64', 0, 0n],
    ['u64', 2n ** 53n + 1n, 2n ** 53n + 1n],
    ['u64', U64_MAX, U64_MAX],
    ['u64', 2n ** 64n, err("Parameter 'u64' expects uint64")],
    // QEMU wraps negative int64 values into uint64 "for backward compatibility"
    // (which is how size=-1 reaches QEMU 7.2's allocator and aborts it);
    // tsqom refuses them, as the narrower unsigned types already do.
    ['u64', -1, err("Parameter 'u64' expects uint64")],
    ['u64', -(2n ** 63n), err("Parameter 'u64' expects uint64")],
    ['sz', -1, err("Parameter 'sz' expects uint64")],
    ['u64', -(2n ** 63n) - 1n, err("Parameter 'u64' expects uint64")],
    ['u64', 2 ** 60, 2n ** 60n],
    ['u64', 2 ** 64, err("Parameter 'u64' expects uint64")],
    ['u64', 1.5, err("Parameter 'u64' expects uint64")],
    ['u64', '5', err("Parameter 'u64' expects uint64")],
    ['sz', 1073741824, 1073741824n],
    ['sz', U64_MAX, U64_MAX],
    ['sz', '1G', err("Parameter 'sz' expects uint64")],
    ['i64', -5, -5n],
    ['i64', 2n ** 63n - 1n, 2n ** 63n - 1n],
    ['i64', -(2n ** 63n), -(2n ** 63n)],
    ['i64', 2n ** 63n, err("Invalid parameter type for 'i64', expected: integer")],
    ['i64', 1.5, err("Invalid parameter type for 'i64', expected: integer")],
    ['i64', 'x', err("Invalid parameter type for 'i64', expected: integer")],
    ['list', [1, 2, 65535], [1, 2, 65535]],
    ['list', [], []],
    ['list', [70000], err("Parameter 'null' expects uint16_t")],
    ['list', ['x'], err("Parameter 'list[0]' expects uint64")],
    ['list', [1, 'x'], err("Parameter 'list[1]' expects uint64")],
    ['list', 5, err("Invalid parameter type for 'list', expected: array")],
    ['num', 1.5, 1.5],
    ['num', 2, 2],
    ['num', 2n ** 70n, 2 ** 70],
    ['num', 'x', err("Invalid parameter type for 'num', expected: number")],
  ];
  check(t, rows, (o, p, v) => o.propertySet(p, v));
});

test('JSON input: a double with an integral value (1.0) is refused where QEMU wants an integer', (t) => {
  const rows: Row<JsonValue>[] = [
    ['u8', 1, err("Parameter 'u8' expects uint64")],
    ['u16', 1, err("Parameter 'u16' expects uint64")],
    ['u32', 1, err("Parameter 'u32' expects uint64")],
    ['u64', 1, err("Parameter 'u64' expects uint64")],
    ['u64', 0, err("Parameter 'u64' expects uint64")],
    ['sz', 4096, err("Parameter 'sz' expects uint64")],
    ['i64', -5, err("Invalid parameter type for 'i64', expected: integer")],
    ['num', 2, 2],
    ['b', 1, err("Invalid parameter type for 'b', expected: boolean")],
    ['s', 1, err("Invalid parameter type for 's', expected: string")],
  ];
  check(t, rows, (o, p, v) => o.propertySet(p, v, true));
  // Unmarked, the same numbers are integers.
  check(
    t,
    [
      ['u8', 1, 1],
      ['u64', 1, 1n],
      ['sz', 4096, 4096n],
      ['i64', -5, -5n],
    ],
    (o, p, v) => o.propertySet(p, v),
  );
  // Values inside a list carry their own marks.
  const list: JsonValue[] = [1, 2];
  jsonMarkFloat(list, 1);
  check(t, [['list', list, err("Parameter 'list[1]' expects uint64")]], (o, p, v) =>
    o.propertySet(p, v),
  );
});

test('object-add properties: marks survive splitting off qom-type and id', async (t) => {
  const args = jsonParse(
    `{"qom-type": "${TYPE_PROP_TEST}", "id": "pfloat", "u64": 3.0}`,
  ) as JsonObject;
  await t.throwsAsync(userCreatableAddQapi(args), { message: "Parameter 'u64' expects uint64" });
  t.is(objectGetObjectsRoot().resolvePathComponent('pfloat'), null);
  await userCreatableAddQapi(
    jsonParse(
      `{"qom-type": "${TYPE_PROP_TEST}", "id": "pfloat", "u64": 3, "num": 3.0}`,
    ) as JsonObject,
  );
  const o = objectGetObjectsRoot().resolvePathComponent('pfloat') as PropTest;
  t.is(o.u64, 3n);
  t.is(o.num, 3);
  o.unparent();
});

test('string input (object_property_parse): every kind, with QEMU’s error texts', (t) => {
  const rows: Row<string>[] = [
    ...['on', 'yes', 'true', 'y'].map((s): Row<string> => ['b', s, true]),
    ...['off', 'no', 'false', 'n'].map((s): Row<string> => ['b', s, false]),
    ['b', 'maybe', err("Parameter 'b' expects 'on' or 'off'")],
    ['b', 'ON', err("Parameter 'b' expects 'on' or 'off'")],
    ['b', '', err("Parameter 'b' expects 'on' or 'off'")],
    ['s', 'Hiss hiss hiss', 'Hiss hiss hiss'],
    ['s', '', ''],
    ['e', 'one', 1],
    ['e', 'ONE', err("Parameter 'e' does not accept value 'ONE'")],
    ['u8', '255', 255],
    ['u8', '0xff', 255],
    ['u8', '010', 8],
    ['u8', ' 5', 5],
    ['u8', '+5', 5],
    ['u8', '256', err("Parameter 'u8' expects uint8_t")],
    ['u8', '-1', err("Parameter 'u8' expects uint8_t")],
    ['u8', 'x', err("Parameter 'u8' expects uint64")],
    ['u8', '', err("Parameter 'u8' expects uint64")],
    ['u8', '1k', err("Parameter 'u8' expects uint64")],
    ['u8', '5 ', err("Parameter 'u8' expects uint64")],
    ['u8', '0x', err("Parameter 'u8' expects uint64")],
    ['u8', '08', err("Parameter 'u8' expects uint64")],
    ['u16', '65535', 65535],
    ['u16', '65536', err("Parameter 'u16' expects uint16_t")],
    ['u32', '4294967295', 4294967295],
    ['u32', '0xffffffff', 4294967295],
    ['u32', '4294967296', err("Parameter 'u32' expects uint32_t")],
    ['u64', '0', 0n],
    ['u64', '9007199254740993', 2n ** 53n + 1n],
    ['u64', '18446744073709551615', U64_MAX],
    ['u64', '0xffffffffffffffff', U64_MAX],
    ['u64', '18446744073709551616', err("Parameter 'u64' expects uint64")],
    // QEMU wraps -1 to 2^64-1 here; tsqom refuses negative uint64 input.
    ['u64', '-1', err("Parameter 'u64' expects uint64")],
    ['u64', '-18446744073709551616', err("Parameter 'u64' expects uint64")],
    ['sz', '1G', 2n ** 30n],
    ['sz', '1g', 2n ** 30n],
    ['sz', '1k', 1024n],
    ['sz', '1K', 1024n],
    ['sz', '2M', 2n * 2n ** 20n],
    ['sz', '1T', 2n ** 40n],
    ['sz', '1P', 2n ** 50n],
    ['sz', '1E', 2n ** 60n],
    ['sz', '1.5k', 1536n],
    ['sz', '4096', 4096n],
    ['sz', '1B', 1n],
    ['sz', '0x10', 16n],
    ['sz', '18446744073709551615', U64_MAX],
    ['sz', '-1', err("Value '-1' is out of range for parameter 'sz'")],
    ['sz', '16E', err("Value '16E' is out of range for parameter 'sz'")],
    [
      'sz',
      '18446744073709551616',
      err("Value '18446744073709551616' is out of range for parameter 'sz'"),
    ],
    ['sz', 'x', err("Parameter 'sz' expects a non-negative number below 2^64")],
    ['sz', '1.5', err("Parameter 'sz' expects a non-negative number below 2^64")],
    ['sz', '1KiB', err("Parameter 'sz' expects a non-negative number below 2^64")],
    ['sz', '', err("Parameter 'sz' expects a non-negative number below 2^64")],
    ['i64', '-42', -42n],
    ['i64', '0x7fffffffffffffff', 2n ** 63n - 1n],
    ['i64', '-9223372036854775808', -(2n ** 63n)],
    ['i64', '9223372036854775808', err("Parameter 'i64' expects int64")],
    ['i64', 'x', err("Parameter 'i64' expects int64")],
    ['list', '0-2,5', [0, 1, 2, 5]],
    ['list', '5', [5]],
    ['list', '', []],
    ['list', '1,1', [1, 1]],
    ['list', '70000', err("Parameter 'null' expects uint16_t")],
    ['list', '0-70000', err("Parameter 'null' expects list of uint64 values or ranges")],
    ['list', '3-1', err("Parameter 'null' expects list of uint64 values or ranges")],
    ['list', 'x', err("Parameter 'null' expects list of uint64 values or ranges")],
    ['list', '1,', [1]],
    ['list', '1,,2', err("Parameter 'null' expects list of uint64 values or ranges")],
    ['num', '3.14', 3.14],
    ['num', '-1e3', -1000],
    ['num', 'NaN', err("Invalid parameter type for 'num', expected: number")],
    ['num', 'inf', err("Invalid parameter type for 'num', expected: number")],
    ['num', '1x', err("Invalid parameter type for 'num', expected: number")],
  ];
  check(t, rows, (o, p, v) => o.propertyParse(p, v));
});

test('size parse errors carry QEMU’s hint', (t) => {
  const o = objectNew(PropTest);
  const e = t.throws<QomError>(() => o.propertyParse('sz', 'lots'));
  t.is(
    e?.hint,
    'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.\n',
  );
  o.unref();
});

test.serial(
  'keyval input (-object): strings converted per type, with the keyval texts',
  async (t) => {
    const rows: [JsonValue, unknown][] = [
      [{ b: 'on', u8: '0x10', sz: '2M', i64: '-3', e: 'one', num: '2.5', list: ['1', '2'] }, null],
      [{ b: 'maybe' }, "Parameter 'b' expects 'on' or 'off'"],
      [{ u8: 'x' }, "Parameter 'u8' expects integer"],
      [{ u8: '256' }, "Parameter 'u8' expects uint8_t"],
      [{ u64: '18446744073709551616' }, "Parameter 'u64' expects integer"],
      [{ sz: 'x' }, "Parameter 'sz' expects size"],
      [{ sz: '-1' }, "Parameter 'sz' expects size"],
      [{ i64: 'x' }, "Parameter 'i64' expects integer"],
      [{ num: 'x' }, "Invalid parameter type for 'num', expected: number"],
      [{ e: 'yeti' }, "Parameter 'e' does not accept value 'yeti'"],
      [{ list: ['x'] }, "Parameter 'list.0' expects integer"],
      [{ list: ['1', '70000'] }, "Parameter 'null' expects uint16_t"],
      [{ u8: 5 }, "Invalid parameter type for 'u8', expected: string"],
      [{ u8: { a: '1' } }, "Parameters 'u8.*' are unexpected"],
      [{ zz: '1' }, "Property 'prop-test.zz' not found"],
    ];
    for (const [props, expected] of rows) {
      const label = JSON.stringify(props);
      if (expected === null) {
        const o = await userCreatableAddType(PropTest, 'kv', props as KeyvalProps, {
          keyval: true,
        });
        t.true(o.b, label);
        t.is(o.u8, 16);
        t.is(o.sz, 2n * 2n ** 20n);
        t.is(o.i64, -3n);
        t.is(o.e, 1);
        t.is(o.num, 2.5);
        t.deepEqual(o.list, [1, 2]);
        o.unparent();
        o.unref();
        t.true(o.finalized);
        continue;
      }
      const e = await t.throwsAsync<QomError>(
        userCreatableAddType(TYPE_PROP_TEST, 'kv', props as KeyvalProps, {
          keyval: true,
        }),
      );
      t.is(e?.message, expected as string, label);
      t.is(objectGetObjectsRoot().resolvePathComponent('kv'), null, label);
    }
  },
);

test('getters: JSON values, bigints beyond 2^53, and printed strings', (t) => {
  const o = objectNew(PropTest);
  o.propertySet('u64', U64_MAX);
  t.is(o.propertyGet('u64'), U64_MAX);
  o.propertySet('u64', 2n ** 53n + 1n);
  t.is(o.propertyGet('u64'), 2n ** 53n + 1n);
  o.propertySet('u64', 2 ** 53 - 1);
  t.is(o.propertyGet('u64'), 2 ** 53 - 1, 'a safe integer comes back as number');
  o.propertyParse('sz', '1G');
  t.is(o.propertyGet('sz'), 1073741824);
  t.is(o.propertyPrint('sz'), '1073741824');
  t.is(o.propertyPrint('sz', true), '1073741824 (1 GiB)');
  o.propertyParse('u8', '255');
  t.is(o.propertyGet('u8'), 255);
  t.is(o.propertyPrint('u8'), '255');
  t.is(o.propertyPrint('u8', true), '255 (0xff)');
  o.propertySet('u64', U64_MAX);
  t.is(o.propertyPrint('u64'), '-1', 'QEMU prints uint64 through int64');
  o.propertyParse('list', '5,0-2');
  t.deepEqual(o.propertyGet('list'), [5, 0, 1, 2]);
  t.is(o.propertyPrint('list'), '0-2,5');
  t.is(o.propertyPrint('list', true), '0-2,5 (0x0-0x2,0x5)');
  o.propertySet('e', 'two');
  t.is(o.propertyGet('e'), 'two');
  t.is(o.propertyPrint('e'), 'two');
  t.is(o.propertyPrint('e', true), '"two"');
  o.propertySet('b', true);
  t.is(o.propertyGet('b'), true);
  t.is(o.propertyPrint('b'), 'true');
  t.is(o.propertyGet('type'), TYPE_PROP_TEST);
  o.propertySet('i64', -7);
  t.is(o.propertyGet('i64'), -7);
  t.is(o.propertyPrint('i64', true), '-7 (0xfffffffffffffff9)');
  o.propertySet('num', 0.1);
  t.is(o.propertyPrint('num'), '0.10000000000000001');
  o.unref();
});

test('typed getters and setters', (t) => {
  const o = objectNew(PropTest);
  o.propertySetBool('b', true);
  t.true(o.propertyGetBool('b'));
  o.propertySetStr('s', 'x');
  t.is(o.propertyGetStr('s'), 'x');
  o.propertySetUint('u64', U64_MAX);
  t.is(o.propertyGetUint('u64'), U64_MAX);
  o.propertySetInt('i64', -(2n ** 63n));
  t.is(o.propertyGetInt('i64'), -(2n ** 63n));
  o.propertySetInt('i64', 12n);
  t.is(o.propertyGetInt('i64'), 12n, 'int64 reads back as a bigint, even when small');
  t.is(o.propertyGet('i64'), 12, 'the JSON value stays a number');
  o.propertySetUint('u32', 7n);
  t.is(o.propertyGetUint('u32'), 7n);
  t.is(o.propertyGetEnum('e', 'TestEnum'), 0);
  t.throws(() => o.propertyGetBool('s'), {
    message: "Invalid parameter type for 's', expected: boolean",
  });
  t.throws(() => o.propertyGetStr('b'), {
    message: "Invalid parameter type for 'b', expected: string",
  });
  t.throws(() => o.propertyGetInt('s'), {
    message: "Invalid parameter type for 's', expected: int",
  });
  t.throws(() => o.propertyGetUint('s'), {
    message: "Invalid parameter type for 's', expected: uint",
  });
  o.propertySetInt('i64', -1n);
  t.throws(() => o.propertyGetUint('i64'), {
    message: "Invalid parameter type for 'i64', expected: uint",
  });
  o.propertySetUint('u64', 2n ** 63n);
  t.throws(() => o.propertyGetInt('u64'), {
    message: "Invalid parameter type for 'u64', expected: int",
  });
  t.throws(() => o.propertySetBool('s', true), {
    message: "Invalid parameter type for 's', expected: string",
  });
  t.throws(() => o.propertyGetEnum('b', 'TestEnum'), {
    message: "Property b on prop-test is not 'TestEnum' enum type",
  });
  o.unref();
});

test('not found, not readable, not writable, duplicates, deletion', (t) => {
  const o = objectNew(PropTest);
  t.throws(() => o.propertyGet('zz'), { message: "Property 'prop-test.zz' not found" });
  t.throws(() => o.propertySet('zz', 1), { message: "Property 'prop-test.zz' not found" });
  t.throws(() => o.propertyParse('zz', '1'), { message: "Property 'prop-test.zz' not found" });
  t.throws(() => o.propertyGetType('zz'), { message: "Property 'prop-test.zz' not found" });
  t.throws(() => o.propertyGet('wo'), { message: "Property 'prop-test.wo' is not readable" });
  t.throws(() => o.propertySet('ro', true), { message: "Property 'prop-test.ro' is not writable" });
  t.throws(() => o.propertySet('type', 'x'), {
    message: "Property 'prop-test.type' is not writable",
  });
  t.throws(() => o.propertyAddBool('b', () => true), {
    message: "attempt to add duplicate property 'b' to object (type 'prop-test')",
  });
  t.throws(() => o.propertyAddStr('type', () => ''), {
    message: "attempt to add duplicate property 'type' to object (type 'prop-test')",
  });
  t.throws(() => o.klass.propertyAddBool('b'), {
    message: "attempt to add duplicate property 'b' to class (type 'prop-test')",
  });
  t.throws(() => o.propertyDel('zz'), { message: "Property 'prop-test.zz' not found" });
  t.throws(
    () => o.propertyDel('b'),
    { message: "Property 'prop-test.b' not found" },
    'class properties cannot be deleted',
  );
  t.is(objectClassByName(TYPE_PROP_TEST)!.propertyFind('zz'), null);
  t.throws(() => objectClassByName(TYPE_PROP_TEST)!.propertyFindErr('zz'), {
    message: "Property '.zz' not found",
  });
  let released = 0;
  o.propertyAdd('tmp', 'bool', null, null, () => released++);
  t.is(o.propertyGetType('tmp'), 'bool');
  o.propertyDel('tmp');
  t.is(released, 1);
  t.is(o.propertyFind('tmp'), null);
  for (const [name, type] of [
    ['b', 'bool'],
    ['s', 'string'],
    ['e', 'TestEnum'],
    ['u8', 'uint8'],
    ['u16', 'uint16'],
    ['u32', 'uint32'],
    ['u64', 'uint64'],
    ['sz', 'size'],
    ['type', 'string'],
  ]) {
    t.is(o.propertyGetType(name), type);
  }
  o.unref();
});

test('descriptions and instance properties', (t) => {
  const o = objectNew(PropTest);
  o.klass.propertySetDescription('b', 'A boolean');
  t.is(o.propertyFind('b')!.description, 'A boolean');
  let v = 3;
  o.propertyAddUint16(
    'iu',
    () => v,
    (x) => {
      v = x;
    },
  );
  o.propertySetDescription('iu', 'instance');
  t.is(o.propertyFind('iu')!.description, 'instance');
  o.propertyParse('iu', '0x20');
  t.is(v, 32);
  t.throws(() => o.propertySetDescription('nope', 'x'), {
    message: "Property 'prop-test.nope' not found",
  });
  t.throws(() => o.klass.propertySetDescription('nope', 'x'), {
    message: "Property '.nope' not found",
  });
  const names = [...o.properties()].map((p) => p.name);
  t.is(names[0], 'iu', 'instance properties come first');
  t.is(names[names.length - 1], 'type', 'then the class chain, ancestors last');
  t.deepEqual(
    [...o.instanceProperties()].map((p) => p.name),
    ['iu'],
  );
  o.unref();
});

test('instance typed helpers: all kinds with closures', (t) => {
  const o = objectNew(TYPE_CONTAINER);
  const st = { b: false, s: '', e: 0, u8: 0, u16: 0, u32: 0, u64: 0n, sz: 0n };
  o.propertyAddBool(
    'b',
    () => st.b,
    (v) => void (st.b = v),
  );
  o.propertyAddStr(
    's',
    () => st.s,
    (v) => void (st.s = v),
  );
  o.propertyAddEnum(
    'e',
    { name: 'E2', values: ['a', 'b'] },
    () => st.e,
    (v) => void (st.e = v),
  );
  o.propertyAddUint8(
    'u8',
    () => st.u8,
    (v) => void (st.u8 = v),
  );
  o.propertyAddUint16(
    'u16',
    () => st.u16,
    (v) => void (st.u16 = v),
  );
  o.propertyAddUint32(
    'u32',
    () => st.u32,
    (v) => void (st.u32 = v),
  );
  o.propertyAddUint64(
    'u64',
    () => st.u64,
    (v) => void (st.u64 = v),
  );
  o.propertyAddSize(
    'sz',
    () => st.sz,
    (v) => void (st.sz = v),
    'int',
  );
  o.propertyParse('b', 'on');
  o.propertyParse('s', 'str');
  o.propertyParse('e', 'b');
  o.propertyParse('u8', '1');
  o.propertyParse('u16', '2');
  o.propertyParse('u32', '3');
  o.propertyParse('u64', '18446744073709551615');
  o.propertyParse('sz', '1M');
  t.deepEqual(st, { b: true, s: 'str', e: 1, u8: 1, u16: 2, u32: 3, u64: U64_MAX, sz: 1048576n });
  t.is(o.propertyGetType('e'), 'E2');
  t.is(o.propertyGetType('sz'), 'int');
  t.is(o.propertyGetEnum('e', 'E2'), 1);
  t.throws(() => o.propertySet('u8', 256), { message: "Parameter 'u8' expects uint8_t" });
  // Read-only variants
  o.propertyAddUint64('ro64', () => 5n);
  t.is(o.propertyGet('ro64'), 5);
  t.throws(() => o.propertySet('ro64', 1), {
    message: "Property 'container.ro64' is not writable",
  });
  o.unref();
});

test('auto-indexed names ending in [*]', (t) => {
  typeRegister({
    name: 'with-indexed-class-prop',
    parent: TYPE_OBJECT,
    classInit(oc) {
      oc.propertyAddBool('mr[0]', () => true);
    },
  });
  const o = objectNew('with-indexed-class-prop');
  const names: string[] = [];
  for (let i = 0; i < 3; i++) {
    const c = objectNew(TYPE_CONTAINER);
    names.push(o.propertyAddChild('mr[*]', c).name);
    c.unref();
  }
  t.deepEqual(names, ['mr[1]', 'mr[2]', 'mr[3]'], 'class property mr[0] is taken');
  o.propertyDel('mr[2]');
  t.is(o.propertyAddBool('mr[*]', () => false).name, 'mr[2]', 'the first free index is reused');
  t.is(o.propertyAddBool('x[*]', () => false).name, 'x[0]');
  t.is(o.resolvePathComponent('mr[1]')!.typeName, TYPE_CONTAINER);
  o.unref();
});
