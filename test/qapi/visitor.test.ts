// The visitors on their own (qapi/qobject-input-visitor.c,
// string-input-visitor.c, string-output-visitor.c, qapi-visit-core.c),
// with cases from QEMU's tests/unit/test-string-input-visitor.c.
import test from 'ava';
import {
  ForwardFieldInputVisitor,
  type JsonObject,
  type JsonValue,
  QObjectInputVisitor,
  QObjectOutputVisitor,
  StringInputVisitor,
  StringOutputVisitor,
  jsonMarkFloat,
  jsonParse,
  qapiBoolParse,
  qapiEnumLookup,
  qapiEnumParse,
} from '../../src/qom/index.js';

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;

test('string input: int lists and ranges', (t) => {
  const ilist = (s: string): bigint[] => new StringInputVisitor(s).typeInt64List(null);
  const ulist = (s: string): bigint[] =>
    new StringInputVisitor(s).typeList(null, (v) => v.typeUint64(null));
  t.deepEqual(ilist('1,2,0,2-4,20,5-9,1-8'), [
    1n,
    2n,
    0n,
    2n,
    3n,
    4n,
    20n,
    5n,
    6n,
    7n,
    8n,
    9n,
    1n,
    2n,
    3n,
    4n,
    5n,
    6n,
    7n,
    8n,
  ]);
  t.deepEqual(ilist('32767,-32768--32767'), [32767n, -32768n, -32767n]);
  t.deepEqual(ilist('-9223372036854775808,9223372036854775807'), [I64_MIN, I64_MAX]);
  t.deepEqual(ilist('1-1'), [1n]);
  t.deepEqual(ilist('9223372036854775805-9223372036854775807'), [
    I64_MAX - 2n,
    I64_MAX - 1n,
    I64_MAX,
  ]);
  t.deepEqual(ilist(''), []);
  for (const bad of [
    '9223372036854775808',
    '-9223372036854775809',
    '3-1',
    '9223372036854775807-0',
    '0-65536',
    'not an int list',
  ]) {
    t.throws(
      () => ilist(bad),
      { message: "Parameter 'null' expects list of int64 values or ranges" },
      bad,
    );
  }
  t.deepEqual(ulist('32767,-32768--32767'), [32767n, U64_MAX - 32767n, U64_MAX - 32766n]);
  t.deepEqual(ulist('-9223372036854775808,9223372036854775807'), [2n ** 63n, I64_MAX]);
  t.deepEqual(ulist('18446744073709551615'), [U64_MAX]);
  t.deepEqual(ulist('18446744073709551613-18446744073709551615'), [
    U64_MAX - 2n,
    U64_MAX - 1n,
    U64_MAX,
  ]);
  t.deepEqual(ulist('0-65535').length, 65536);
  for (const bad of [
    '18446744073709551616',
    '-18446744073709551616',
    '3-1',
    '18446744073709551615-0',
    '0-65536',
    'x',
  ]) {
    t.throws(
      () => ulist(bad),
      { message: "Parameter 'null' expects list of uint64 values or ranges" },
      bad,
    );
  }
  // Unvisited list tail
  let v = new StringInputVisitor('0,2-3');
  t.true(v.startList(null));
  t.is(v.typeInt64(null), 0n);
  t.is(v.typeInt64(null), 2n);
  t.throws(() => v.checkList(), { message: 'Fewer list elements expected' });
  v.endList();
  // Visit beyond end of list
  v = new StringInputVisitor('0');
  v.startList(null);
  t.is(v.typeInt64(null), 0n);
  t.throws(() => v.typeInt64(null), { message: 'Fewer list elements expected' });
  t.notThrows(() => v.checkList());
  v.endList();
});

test('string input: scalars', (t) => {
  t.is(new StringInputVisitor('-42').typeInt64(null), -42n);
  t.throws(() => new StringInputVisitor('not an int').typeInt64(null), {
    message: "Parameter 'null' expects int64",
  });
  t.throws(() => new StringInputVisitor('').typeInt64('n'), {
    message: "Parameter 'n' expects int64",
  });
  for (const s of ['true', 'yes', 'on', 'y']) t.true(new StringInputVisitor(s).typeBool(null));
  for (const s of ['false', 'no', 'off', 'n']) t.false(new StringInputVisitor(s).typeBool(null));
  t.is(new StringInputVisitor('3.14').typeNumber(null), 3.14);
  t.throws(() => new StringInputVisitor('NaN').typeNumber(null));
  t.throws(() => new StringInputVisitor('inf').typeNumber(null));
  t.is(new StringInputVisitor('Q E M U').typeStr(null), 'Q E M U');
  const lookup = { name: 'EnumOne', values: ['value1', 'value2', 'value3'] };
  lookup.values.forEach((s, i) => t.is(new StringInputVisitor(s).typeEnum(null, lookup), i));
  t.is(new StringInputVisitor('').typeNull(null), null);
  t.throws(() => new StringInputVisitor('x').typeNull('z'), {
    message: "Invalid parameter type for 'z', expected: null",
  });
  t.is(new StringInputVisitor('-128').typeInt8('i'), -128);
  t.throws(() => new StringInputVisitor('128').typeInt8('i'), {
    message: "Parameter 'i' expects int8_t",
  });
  t.throws(() => new StringInputVisitor('-32769').typeInt16('i'), {
    message: "Parameter 'i' expects int16_t",
  });
  t.throws(() => new StringInputVisitor('2147483648').typeInt32('i'), {
    message: "Parameter 'i' expects int32_t",
  });
  t.throws(() => new StringInputVisitor('x').typeAny('a'));
  t.throws(() => new StringInputVisitor('x').startStruct('a'));
  // Fuzz: arbitrary bytes never crash, they throw QomErrors or parse.
  let seed = 1;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 200; i++) {
    const len = Math.floor(rnd() * 40);
    let s = '';
    for (let k = 0; k < len; k++) s += String.fromCharCode(Math.floor(rnd() * 128));
    for (const f of [
      (v: StringInputVisitor) => v.typeInt64(null),
      (v: StringInputVisitor) => v.typeInt64List(null),
      (v: StringInputVisitor) => v.typeBool(null),
      (v: StringInputVisitor) => v.typeNumber(null),
      (v: StringInputVisitor) => v.typeSize(null),
      (v: StringInputVisitor) => v.typeEnum(null, lookup),
    ]) {
      try {
        f(new StringInputVisitor(s));
      } catch (e) {
        t.is((e as Error).name, 'QomError');
      }
    }
  }
});

test('QObject input: structs, lists, names in messages', (t) => {
  const root: JsonValue = { a: 1, s: 'x', sub: { b: true, l: [1, 'x', { c: 2 }] }, extra: null };
  const v = new QObjectInputVisitor(root);
  v.startStruct(null);
  t.is(v.typeInt64('a'), 1n);
  t.is(v.typeStr('s'), 'x');
  t.true(v.optional('extra'));
  t.false(v.optional('missing'));
  t.throws(() => v.typeInt64('missing'), { message: "Parameter 'missing' is missing" });
  t.throws(() => v.typeBool('a'), { message: "Invalid parameter type for 'a', expected: boolean" });
  v.startStruct('sub');
  t.throws(() => v.typeStr('b'), {
    message: "Invalid parameter type for 'sub.b', expected: string",
  });
  t.true(v.startList('l'));
  t.is(v.typeInt64(null), 1n);
  t.true(v.nextList());
  t.throws(() => v.typeInt64(null), {
    message: "Invalid parameter type for 'sub.l[1]', expected: integer",
  });
  t.throws(() => v.checkList(), { message: 'Only 2 list elements expected in sub.l' });
  v.startStruct(null);
  t.throws(() => v.typeStr('c'), {
    message: "Invalid parameter type for 'sub.l[2].c', expected: string",
  });
  v.endStruct();
  t.false(v.nextList());
  t.notThrows(() => v.checkList());
  v.endList();
  t.notThrows(() => v.checkStruct(), 'b and l were consumed');
  v.endStruct();
  t.throws(() => v.checkStruct(), { message: "Parameter 'extra' is unexpected" });
  t.is(v.typeNull('extra'), null);
  t.notThrows(() => v.checkStruct());
  v.endStruct();
  t.throws(() => new QObjectInputVisitor(5).startStruct(null), {
    message: "Invalid parameter type for '<anonymous>', expected: object",
  });
  // At the root the value is the whole input; the name only labels errors.
  t.throws(() => new QObjectInputVisitor({ l: 1 }).typeList('l', (x) => x.typeInt64(null)), {
    message: "Invalid parameter type for 'l', expected: array",
  });
  t.deepEqual(new QObjectInputVisitor({ a: [1] }).typeAny('x'), { a: [1] });
  t.is(new QObjectInputVisitor(5n).typeNumber('n'), 5);
});

test('QObject input: doubles with integral values are no integers (QEMU refuses a double QNum)', (t) => {
  const intErr = (n: string): { message: string } => ({
    message: `Invalid parameter type for '${n}', expected: integer`,
  });
  const uintErr = (n: string): { message: string } => ({
    message: `Parameter '${n}' expects uint64`,
  });

  // At the root the caller says so: the number has no container to carry a mark.
  const root = (): QObjectInputVisitor => new QObjectInputVisitor(1, { rootIsFloat: true });
  t.throws(() => root().typeInt64('x'), intErr('x'));
  t.throws(() => root().typeInt32('x'), intErr('x'));
  t.throws(() => root().typeUint64('x'), uintErr('x'));
  t.throws(() => root().typeUint8('x'), uintErr('x'));
  t.throws(() => root().typeSize('x'), uintErr('x'));
  t.is(root().typeNumber('x'), 1);
  t.is(root().typeAny('x'), 1);
  t.is(new QObjectInputVisitor(1).typeUint64('x'), 1n, 'unmarked: an integer');
  t.is(new QObjectInputVisitor(1n, { rootIsFloat: true }).typeInt64('x'), 1n, 'bigints are ints');

  // Inside containers the mark is per member and per list index.
  const d: JsonObject = { a: 1, b: 1, l: [1, 2, 3] };
  jsonMarkFloat(d, 'b');
  jsonMarkFloat(d.l as JsonValue[], 1);
  const v = new QObjectInputVisitor(d);
  v.startStruct(null);
  t.is(v.typeInt64('a'), 1n);
  t.throws(() => v.typeInt64('b'), intErr('b'));
  t.throws(() => v.typeUint64('b'), uintErr('b'));
  t.is(v.typeNumber('b'), 1);
  v.startList('l');
  t.is(v.typeUint64(null), 1n);
  t.throws(() => v.typeUint64(null), uintErr('l[1]'));
  t.is(v.typeUint64(null), 3n);
  v.checkList();
  v.endList();
  v.checkStruct();
  v.endStruct();

  // Marks set by the parser, including integer literals too big for 64 bits.
  const p = jsonParse(
    '{"f": 2.0, "e": 2e1, "z": -0.0, "i": 2, "big": -9223372036854775809, "l": [5.0, 5]}',
  );
  const w = new QObjectInputVisitor(p);
  w.startStruct(null);
  t.throws(() => w.typeUint16('f'), uintErr('f'));
  t.throws(() => w.typeInt64('e'), intErr('e'));
  t.throws(() => w.typeUint64('z'), uintErr('z'));
  t.is(w.typeInt64('i'), 2n);
  t.throws(() => w.typeInt64('big'), intErr('big'));
  t.throws(() => w.typeList('l', (x) => x.typeUint64(null)), uintErr('l[0]'));
  w.endStruct();

  // The keyval variant reads strings; marks play no part there.
  t.is(new QObjectInputVisitor('7', { keyval: true, rootIsFloat: true }).typeUint64('k'), 7n);
});

test('keyval input: names with dots, conversions', (t) => {
  const v = new QObjectInputVisitor({ n: { l: ['1', 'x'] }, b: 'on', sz: '1k' }, { keyval: true });
  t.true(v.keyval);
  v.startStruct(null);
  v.startStruct('n');
  v.startList('l');
  t.is(v.typeUint64(null), 1n);
  t.throws(() => v.typeUint64(null), { message: "Parameter 'n.l.1' expects integer" });
  v.endList();
  v.endStruct();
  t.true(v.typeBool('b'));
  t.is(v.typeSize('sz'), 1024n);
  v.checkStruct();
  v.endStruct();
});

test('output visitors', (t) => {
  const q = new QObjectOutputVisitor();
  t.false(q.hasResult);
  q.startStruct(null);
  q.typeUint64('big', U64_MAX);
  q.typeInt64('small', -5n);
  q.typeEnum('e', 1, { name: 'E', values: ['a', 'b'] });
  q.typeUint16List('l', [1, 2]);
  q.typeNull('nul');
  q.typeAny('any', { x: [1] });
  q.startStruct('s');
  q.typeBool('t', true);
  q.endStruct();
  q.endStruct();
  t.deepEqual(q.result, {
    big: U64_MAX,
    small: -5,
    e: 'b',
    l: [1, 2],
    nul: null,
    any: { x: [1] },
    s: { t: true },
  });
  t.throws(() => new QObjectOutputVisitor().result, {
    message: 'property getter produced no value',
  });

  const s = new StringOutputVisitor(false);
  s.typeUint16List(null, [3, 1, 2, 7]);
  t.is(s.result, '1-3,7');
  const h = new StringOutputVisitor(true);
  h.typeInt64List(null, [-1n]);
  t.is(h.result, '-1 (0xffffffffffffffff)');
  const st = new StringOutputVisitor(true);
  st.startStruct(null);
  st.typeInt32('x', 1);
  st.endStruct();
  t.is(st.result, '<omitted>');
  const n = new StringOutputVisitor(true);
  n.typeNull(null);
  t.is(n.result, '<null>');
  const e = new StringOutputVisitor();
  e.typeUint16List(null, []);
  t.is(e.result, '');
});

test('forward-field visitor renames the top-level member', (t) => {
  const inner = new QObjectInputVisitor({ alias: true });
  inner.startStruct(null);
  const v = new ForwardFieldInputVisitor(inner, 'target', 'alias');
  t.true(v.typeBool('target'));
  t.throws(() => v.typeBool('other'), { message: "Parameter 'other' is missing" });
});

test('qapi_bool_parse, enum helpers', (t) => {
  t.true(qapiBoolParse('x', 'y'));
  t.throws(() => qapiBoolParse('x', 'Y'), { message: "Parameter 'x' expects 'on' or 'off'" });
  const l = { name: 'L', values: ['a', 'b'] };
  t.is(qapiEnumLookup(l, 1), 'b');
  t.throws(() => qapiEnumLookup(l, 2));
  t.is(qapiEnumParse(l, 'b'), 1);
  t.is(qapiEnumParse(l, 'c', -1), -1);
  t.throws(() => qapiEnumParse(l, 'c'), { message: 'invalid parameter value: c' });
});
