import test from 'ava';
import {
  JsonMessageParser,
  jsonParseMessages,
  MAX_TOKEN_SIZE,
  qobjectFromJson,
  qobjectFromJsonMarked,
} from '../../src/qobject/json-parser.js';
import { type JsonObject, type JsonValue, jsonIsFloat } from '../../src/qobject/qobject.js';

type Out = Array<{ value?: JsonValue; error?: string }>;

function run(chunks: Uint8Array[]): Out {
  const out: Out = [];
  const p = new JsonMessageParser((value, error) =>
    out.push(error ? { error: error.message } : { value }),
  );
  for (const c of chunks) p.feed(c);
  return out;
}

function parse(s: string | Uint8Array): Out {
  return run([typeof s === 'string' ? Buffer.from(s, 'utf8') : s]);
}

test('values, integers exact, QEMU extensions', (t) => {
  t.deepEqual(parse('{"a": [1, -2, 1.5, true, false, null, "x"]}'), [
    { value: { a: [1, -2, 1.5, true, false, null, 'x'] } },
  ]);
  t.deepEqual(parse("{'single': 'quoted \\' and \"'}"), [{ value: { single: 'quoted \' and "' } }]);
  const [big] = parse(
    '[18446744073709551615, -9223372036854775808, 9007199254740993, 18446744073709551616]',
  );
  t.deepEqual(big.value, [
    18446744073709551615n,
    -9223372036854775808n,
    9007199254740993n,
    18446744073709551616,
  ]);
  t.deepEqual(parse('[-0]'), [{ value: [0] }]);
  t.true(Object.is((parse('[-0.0]')[0].value as number[])[0], -0));
});

test('float literals with integral values are marked', (t) => {
  const v = parse('{"a": 1.0, "b": 1, "c": [2e3, 2]}')[0].value as JsonObject;
  t.true(jsonIsFloat(v, 'a'));
  t.false(jsonIsFloat(v, 'b'));
  t.true(jsonIsFloat(v.c as JsonValue[], 0));
  t.false(jsonIsFloat(v.c as JsonValue[], 1));
});

test('doubles with integral values are marked, other values are not', (t) => {
  const v = parse(
    '{"neg0": -0.0, "exp": 1E2, "big": 18446744073709551616, "small": -9223372036854775809, ' +
      '"half": 0.5, "u64": 18446744073709551615, "s": "1.0", "o": {"x": 3.0}, "l": [4.0]}',
  )[0].value as JsonObject;
  for (const k of ['neg0', 'exp', 'big', 'small']) t.true(jsonIsFloat(v, k), k);
  for (const k of ['half', 'u64', 's', 'o', 'l', 'missing']) t.false(jsonIsFloat(v, k), k);
  t.true(jsonIsFloat(v.o as JsonObject, 'x'));
  t.true(jsonIsFloat(v.l as JsonValue[], 0));
});

test('a top-level double is reported to the callback and by qobjectFromJsonMarked', (t) => {
  const seen: boolean[] = [];
  const p = new JsonMessageParser((_v, _e, isFloat) => seen.push(isFloat));
  p.feed(Buffer.from('1.0 1 {"a": 1.0} 2.5 ]'));
  p.flush();
  t.deepEqual(seen, [true, false, false, false, false]);
  t.deepEqual(qobjectFromJsonMarked(' 7.0 '), { value: 7, isFloat: true });
  t.deepEqual(qobjectFromJsonMarked('7'), { value: 7, isFloat: false });
  t.deepEqual(qobjectFromJsonMarked('[7.0]'), { value: [7], isFloat: false });
  t.deepEqual(jsonParseMessages('3.0 3 '), [{ value: 3, isFloat: true }, { value: 3 }]);
});

test('strings: escapes, surrogates, modified UTF-8', (t) => {
  t.deepEqual(parse('"\\u0041\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t"'), [
    { value: 'Aé😀/\b\f\n\r\t' },
  ]);
  t.deepEqual(parse('"\\u0000"'), [{ value: '\0' }]);
  t.deepEqual(parse(Buffer.from([0x22, 0xc0, 0x80, 0x22])), [{ value: '\0' }]);
  t.deepEqual(parse(Buffer.from([0x22, 0xc3, 0xa9, 0x22])), [{ value: 'é' }]);
  t.deepEqual(parse('"\\ud800"'), [
    { error: 'JSON parse error, \\ud800 is not a valid Unicode character' },
  ]);
  t.deepEqual(parse('"\\ud800\\u0041"'), [
    { error: 'JSON parse error, \\ud800 is not a valid Unicode character' },
  ]);
  t.deepEqual(parse('"\\u12"'), [
    { error: 'JSON parse error, \\u12" is not a valid Unicode character' },
  ]);
  t.deepEqual(parse('"\\u"'), [
    { error: 'JSON parse error, \\u" is not a valid Unicode character' },
  ]);
  t.deepEqual(parse('"\\uFFFE"'), [
    { error: 'JSON parse error, \\uFFFE is not a valid Unicode character' },
  ]);
  t.deepEqual(parse('"\\x"'), [{ error: 'JSON parse error, invalid escape sequence in string' }]);
  for (const bad of [
    [0xc3],
    [0xed, 0xa0, 0x80],
    [0xc1, 0x81],
    [0xef, 0xbf, 0xbe],
    [0xf4, 0x90, 0x80, 0x80],
    [0x80],
  ]) {
    t.deepEqual(parse(Buffer.from([0x22, ...bad, 0x22])), [
      { error: 'JSON parse error, invalid UTF-8 sequence in string' },
    ]);
  }
});

test('syntax errors and recovery', (t) => {
  t.deepEqual(parse('}'), [{ error: 'JSON parse error, expecting value' }]);
  t.deepEqual(parse('{"a" 1}'), [{ error: 'JSON parse error, missing : in object pair' }]);
  t.deepEqual(parse('{1:2}'), [{ error: 'JSON parse error, key is not a string in object' }]);
  t.deepEqual(parse('{"a":1,"a":2}'), [{ error: 'JSON parse error, duplicate key' }]);
  t.deepEqual(parse('{"a":1 "b":2}'), [{ error: 'JSON parse error, expected separator in dict' }]);
  t.deepEqual(parse('[1 2]'), [{ error: 'JSON parse error, expected separator in list' }]);
  t.deepEqual(parse('[1,]'), [{ error: 'JSON parse error, expecting value' }]);
  t.deepEqual(parse('{"a":1]'), [{ error: 'JSON parse error, expected separator in dict' }]);
  t.deepEqual(parse('tru '), [{ error: "JSON parse error, invalid keyword 'tru'" }]);
  // A stray byte discards the message so far, then the lexer skips to a
  // structural character.
  t.deepEqual(parse('{"a":True}'), [
    { error: "JSON parse error, stray 'T'" },
    { error: 'JSON parse error, expecting value' },
  ]);
  t.deepEqual(parse('{"a":-}'), [{ error: "JSON parse error, stray '-}'" }]);
  t.deepEqual(parse('{"a":01}'), [
    { error: "JSON parse error, stray '01'" },
    { error: 'JSON parse error, expecting value' },
  ]);
  t.deepEqual(parse('%d'), [{ error: "JSON parse error, stray '%'" }]);
  t.deepEqual(parse(Buffer.from([0xff])), [{ error: "JSON parse error, stray '\ufffd'" }]);
  // A NUL byte ends QEMU's C string.
  t.deepEqual(parse(Buffer.from([0x22, 0x61, 0x00])), [{ error: `JSON parse error, stray '"a'` }]);
  t.deepEqual(parse('"a\x01b"'), [{ error: `JSON parse error, stray '"a\x01'` }]);
  t.deepEqual(parse('abc{}'), [
    { error: "JSON parse error, invalid keyword 'abc'" },
    { value: {} },
  ]);
});

test('a scalar needing lookahead waits for the next byte', (t) => {
  t.deepEqual(parse('42'), []);
  t.deepEqual(parse('42 '), [{ value: 42 }]);
  t.deepEqual(parse('"s"'), [{ value: 's' }]);
  t.deepEqual(parse('[[]]'), [{ value: [[]] }]);
});

test('any split across reads gives the same messages', (t) => {
  const input = Buffer.concat([
    Buffer.from('{"execute":"x","id":[1.5e3,\'q\',"\\ud83d\\ude00"]} 12 {"a":Tru'),
    Buffer.from([0xc3, 0xa9, 0xff]),
    Buffer.from('["\xc3\xa9",-0.0,{}]'),
  ]);
  const whole = run([input]);
  t.true(whole.length >= 4);
  for (let cut = 0; cut <= input.length; cut++) {
    t.deepEqual(run([input.subarray(0, cut), input.subarray(cut)]), whole, `cut at ${cut}`);
  }
  t.deepEqual(run([...input].map((b) => Uint8Array.of(b))), whole);
});

test('nesting limit: 1024 deep is fine, 1025 is not', (t) => {
  t.deepEqual(parse('['.repeat(1024) + ']'.repeat(1024)), [
    { value: parse('['.repeat(1024) + ']'.repeat(1024))[0].value },
  ]);
  const out = parse('['.repeat(1025) + ']'.repeat(1025));
  t.is(out.length, 1026);
  t.is(out[0].error, 'JSON nesting depth limit exceeded');
  t.true(out.slice(1).every((o) => o.error === 'JSON parse error, expecting value'));
});

test('token count limit', (t) => {
  const n = 2 * 1024 * 1024;
  // '[' plus n/2 pairs '1' ','; the pair that crosses the limit fails.
  const out = parse('[' + '1,'.repeat(n / 2) + '1]');
  t.deepEqual(
    out.map((o) => o.error ?? o.value),
    ['JSON token count limit exceeded', 1, 'JSON parse error, expecting value'],
  );
});

test('one token beyond 64 MiB is cut off and the rest lexed afresh', (t) => {
  const body = Buffer.alloc(MAX_TOKEN_SIZE + 10, 0x61);
  body[0] = 0x22; // a string, never closed within the limit
  const out = run([body.subarray(0, 1000), body.subarray(1000), Buffer.from(' ')]);
  t.is(out[0].error, 'JSON token size limit exceeded');
  // The 9 'a's after the cut are an invalid keyword.
  t.deepEqual(out.slice(1), [{ error: "JSON parse error, invalid keyword 'aaaaaaaaa'" }]);
});

test('invalid keyword messages are cut at QEMU buffer size', (t) => {
  const out = parse('a'.repeat(5000) + ' ');
  t.is(
    out[0].error,
    'JSON parse error, ' + ("invalid keyword '" + 'a'.repeat(5000)).slice(0, 1023),
  );
});

test('reset forgets a partial message', (t) => {
  const out: Out = [];
  const p = new JsonMessageParser((value, error) =>
    out.push(error ? { error: error.message } : { value }),
  );
  p.feed(Buffer.from('{"a": "unterminated'));
  p.reset();
  p.feed(Buffer.from('{}'));
  t.deepEqual(out, [{ value: {} }]);
  t.deepEqual(
    jsonParseMessages('[1]["x"]').map((m) => m.value),
    [[1], ['x']],
  );
});

test('qobjectFromJson: one value, flushed at the end of the string', (t) => {
  const err = (s: string): string => {
    try {
      qobjectFromJson(s);
      return 'no error';
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.is(qobjectFromJson('42'), 42);
  t.is(qobjectFromJson(' true'), true);
  t.deepEqual(qobjectFromJson("{'a': [1.5]}"), { a: [1.5] });
  t.is(err(''), 'Expecting a JSON value');
  t.is(err('   '), 'Expecting a JSON value');
  t.is(err('1 2'), 'Expecting at most one JSON value');
  t.is(err('{'), 'JSON parse error, premature EOI');
  t.is(err('[1,'), 'JSON parse error, premature EOI');
  t.is(err('"abc'), `JSON parse error, stray '"abc'`);
  t.is(err('1e'), "JSON parse error, stray '1e'");
  t.is(err('nul'), "JSON parse error, invalid keyword 'nul'");
});
