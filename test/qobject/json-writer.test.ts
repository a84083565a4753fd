import test from 'ava';
import {
  jsonWriterDouble,
  formatNumber,
  qobjectToJson,
  quoteString,
} from '../../src/qobject/qjson.js';

test('%.17g as glibc prints it', (t) => {
  const cases: Array<[number, string]> = [
    [0.1, '0.10000000000000001'],
    [1.5, '1.5'],
    [1, '1'],
    [-0, '-0'],
    [0, '0'],
    [1e17, '1e+17'],
    [1e16, '10000000000000000'],
    [1.8446744073709552e19, '1.8446744073709552e+19'],
    [-9223372036854775808, '-9.2233720368547758e+18'],
    [1e-5, '1.0000000000000001e-05'],
    [0.0001, '0.0001'],
    [123.456, '123.456'],
    [5e-324, '4.9406564584124654e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, 'nan'],
    // Exact ties at the 18th digit round to even, as glibc does.
    [1234567890123456.25, '1234567890123456.2'],
    [1234567890123456.75, '1234567890123456.8'],
  ];
  for (const [d, s] of cases) t.is(jsonWriterDouble(d), s, String(d));
});

test('numbers: integers plain, doubles %.17g', (t) => {
  t.is(formatNumber(42), '42');
  t.is(formatNumber(-42), '-42');
  t.is(formatNumber(18446744073709551615n), '18446744073709551615');
  t.is(formatNumber(2 ** 60), '1.152921504606847e+18');
  t.is(formatNumber(0.5), '0.5');
});

test('strings are escaped as QEMU escapes them', (t) => {
  t.is(quoteString('plain'), '"plain"');
  t.is(quoteString('a"b\\c'), '"a\\"b\\\\c"');
  t.is(quoteString('\b\f\n\r\t'), '"\\b\\f\\n\\r\\t"');
  t.is(quoteString('\0\x01\x7f'), '"\\u0000\\u0001\\u007F"');
  t.is(quoteString('é€'), '"\\u00E9\\u20AC"');
  t.is(quoteString('😀'), '"\\uD83D\\uDE00"');
  // Lone surrogates and noncharacters are not valid: U+FFFD.
  t.is(quoteString('\ud800x'), '"\\uFFFDx"');
  t.is(quoteString('\ufffe'), '"\\uFFFD"');
});

test('compact and pretty layouts', (t) => {
  t.is(qobjectToJson({ return: {} }), '{"return": {}}');
  t.is(qobjectToJson({ return: [1, 'a', null, true] }), '{"return": [1, "a", null, true]}');
  t.is(qobjectToJson({ return: {}, id: 1 }), '{"return": {}, "id": 1}');
  t.is(
    qobjectToJson({ error: { class: 'X', desc: 'y' }, id: 'x' }),
    '{"id": "x", "error": {"class": "X", "desc": "y"}}',
  );
  t.is(qobjectToJson({ return: {} }, true), '{\n    "return": {\n    }\n}');
  t.is(qobjectToJson([1, []], true), '[\n    1,\n    [\n    ]\n]');
  t.is(qobjectToJson('s', true), '"s"');
});
