// JSON values as QEMU prints and parses them (qobject/qjson.c, json-writer.c).
import test from 'ava';
import {
  JsonParseError,
  jsonClone,
  jsonCopyFloatMarks,
  jsonEqual,
  jsonIsFloat,
  jsonMarkFloat,
  jsonInt,
  jsonParse,
  jsonStringify,
  formatDouble,
  type JsonObject,
  type JsonValue,
} from '../../src/qom/index.js';

test('jsonStringify prints like QEMU’s JSON writer', (t) => {
  t.is(jsonStringify(null), 'null');
  t.is(jsonStringify(true), 'true');
  t.is(jsonStringify(18446744073709551615n), '18446744073709551615');
  t.is(jsonStringify(-9223372036854775808n), '-9223372036854775808');
  t.is(jsonStringify(42), '42');
  t.is(jsonStringify(1.5), '1.5');
  t.is(jsonStringify(0.1), '0.10000000000000001');
  t.is(jsonStringify(1e300), '1.0000000000000001e+300');
  t.is(jsonStringify({}), '{}');
  t.is(jsonStringify([]), '[]');
  t.is(
    jsonStringify({ a: 1, b: [true, null], c: { d: 'x' } }),
    '{"a": 1, "b": [true, null], "c": {"d": "x"}}',
  );
  t.is(
    jsonStringify('q"\\\b\f\n\r\t\u0001é€😀\u007f'),
    '"q\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u00E9\\u20AC\\uD83D\\uDE00\\u007F"',
  );
  t.is(
    jsonStringify({ a: [1, 2], b: {} }, true),
    '{\n    "a": [\n        1,\n        2\n    ],\n    "b": {\n    }\n}',
  );
});

test('jsonParse keeps 64-bit integers exact', (t) => {
  t.is(jsonParse('18446744073709551615'), 18446744073709551615n);
  t.is(jsonParse('-9223372036854775808'), -9223372036854775808n);
  t.is(jsonParse('9007199254740991'), 9007199254740991);
  t.is(jsonParse('9007199254740993'), 9007199254740993n);
  t.is(jsonParse('18446744073709551616'), 18446744073709551616, 'beyond uint64: a double');
  t.is(jsonParse('1.0'), 1);
  t.deepEqual(jsonParse(' {"a": [1, "x", null, true, false], \'b\': \'c\'} '), {
    a: [1, 'x', null, true, false],
    b: 'c',
  });
  t.is(jsonParse('"\\u00e9\\n"'), 'é\n');
  const proto = jsonParse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
  t.deepEqual(Object.keys(proto), ['__proto__']);
  t.is(Object.getPrototypeOf(proto), Object.prototype);
  for (const bad of ['', '{', '[1,]', '{"a" 1}', '01', 'nul', '"x', '1 2', '{"a":1,"a":2}']) {
    t.throws(() => jsonParse(bad), { instanceOf: JsonParseError }, bad);
  }
});

test('jsonEqual, jsonInt, jsonClone', (t) => {
  t.true(jsonEqual(5, 5n));
  t.true(jsonEqual({ a: 1, b: [2n] }, { b: [2], a: 1 }));
  t.false(jsonEqual({ a: 1 }, { a: 1, b: 2 }));
  t.false(jsonEqual([1], { 0: 1 }));
  t.false(jsonEqual(null, {}));
  t.false(jsonEqual('1', 1));
  t.true(jsonEqual(1.5, 1.5));
  t.is(jsonInt(5n), 5);
  t.is(jsonInt(2n ** 53n), 2n ** 53n);
  t.is(jsonInt(-(2n ** 53n) + 1n), -(2 ** 53) + 1);
  const v = { a: [1, { b: 2n }] };
  const c = jsonClone(v);
  t.deepEqual(c, v);
  t.not(c.a, v.a);
  t.is(formatDouble(-0), '-0');
  t.is(formatDouble(123456789012345680000), '1.2345678901234568e+20');
  t.is(formatDouble(0.0001), '0.0001');
  t.is(formatDouble(0.00001), '1.0000000000000001e-05');
});

test('float marks: set, clear, parse, clone, copy', (t) => {
  const o: JsonObject = { a: 1, b: 2 };
  const l: JsonValue[] = [1, 2];
  t.false(jsonIsFloat(o, 'a'));
  jsonMarkFloat(o, 'a');
  jsonMarkFloat(l, 1);
  t.true(jsonIsFloat(o, 'a'));
  t.false(jsonIsFloat(o, 'b'));
  t.true(jsonIsFloat(l, 1));
  t.false(jsonIsFloat(l, 0));
  jsonMarkFloat(o, 'a', false);
  t.false(jsonIsFloat(o, 'a'));
  jsonMarkFloat(o, 'b', false);
  t.false(jsonIsFloat(o, 'b'), 'clearing an unmarked member is harmless');

  // jsonParse marks integral doubles only, in objects and lists.
  const p = jsonParse(
    '{"f": 1.0, "i": 1, "h": 1.5, "x": 1e400, "big": 18446744073709551616, ' +
      '"s": "1.0", "n": {"g": 2E0}, "l": [3.0, 3]}',
  ) as JsonObject;
  t.true(jsonIsFloat(p, 'f'));
  t.true(jsonIsFloat(p, 'big'));
  t.true(jsonIsFloat(p.n as JsonObject, 'g'));
  t.true(jsonIsFloat(p.l as JsonValue[], 0));
  t.false(jsonIsFloat(p.l as JsonValue[], 1));
  for (const k of ['i', 'h', 'x', 's', 'n', 'l']) t.false(jsonIsFloat(p, k), k);

  // A deep copy keeps the marks; the copy's marks are its own.
  const c = jsonClone(p);
  t.true(jsonIsFloat(c, 'f'));
  t.true(jsonIsFloat(c.n as JsonObject, 'g'));
  t.true(jsonIsFloat(c.l as JsonValue[], 0));
  jsonMarkFloat(c, 'f', false);
  t.true(jsonIsFloat(p, 'f'));

  // Copying members over: marks follow the members that hold the same value.
  const to: JsonObject = { f: p.f, big: 0, i: p.i };
  jsonCopyFloatMarks(p, to);
  t.true(jsonIsFloat(to, 'f'));
  t.false(jsonIsFloat(to, 'big'), 'a different value');
  t.false(jsonIsFloat(to, 'i'));
  t.false(jsonIsFloat(to, 'h'), 'absent');
  t.false('h' in to);
});
