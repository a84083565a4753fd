import test from 'ava';
import { type QapiArgsSchema, qapiInputVisit } from '../../src/qapi/qapi.js';
import { jsonParseMessages } from '../../src/qobject/json-parser.js';
import type { JsonObject } from '../../src/qobject/qobject.js';

function visit(schema: QapiArgsSchema, json: string, keyval = false): JsonObject | string {
  const [m] = jsonParseMessages(json);
  try {
    return qapiInputVisit(schema, m.value as JsonObject, { keyval });
  } catch (e) {
    return (e as Error).message;
  }
}

const MEMBERS = {
  '*dump': 'bool',
  '*host-nodes': ['uint16'],
  '*policy': { enum: ['default', 'preferred', 'bind', 'interleave'] },
  '*prealloc-threads': 'uint32',
  size: 'size',
} as const;

test('errors in schema order, as QEMU reports them', (t) => {
  t.is(visit({ path: 'str' }, '{}'), "Parameter 'path' is missing");
  t.is(
    visit({ path: 'str' }, '{"path": 1}'),
    "Invalid parameter type for 'path', expected: string",
  );
  t.is(visit({ path: 'str' }, '{"path": "/", "bogus": 1}'), "Parameter 'bogus' is unexpected");
  t.is(
    visit({ path: 'str' }, '{"bogus": 1, "path": 2}'),
    "Invalid parameter type for 'path', expected: string",
  );
  t.is(
    visit({ '*abstract': 'bool' }, '{"abstract": 1}'),
    "Invalid parameter type for 'abstract', expected: boolean",
  );
  t.is(
    visit({ '*implements': 'str' }, '{"implements": null}'),
    "Invalid parameter type for 'implements', expected: string",
  );
  t.is(visit(MEMBERS, '{}'), "Parameter 'size' is missing");
  t.is(visit(MEMBERS, '{"size": "1"}'), "Parameter 'size' expects uint64");
  t.is(visit(MEMBERS, '{"size": 1.0}'), "Parameter 'size' expects uint64");
  t.is(
    visit(MEMBERS, '{"size": 1, "prealloc-threads": -1}'),
    "Parameter 'prealloc-threads' expects uint32_t",
  );
  t.is(
    visit(MEMBERS, '{"size": 1, "host-nodes": [1, "a"]}'),
    "Parameter 'host-nodes[1]' expects uint64",
  );
  t.is(visit(MEMBERS, '{"size": 1, "host-nodes": [70000]}'), "Parameter 'null' expects uint16_t");
  t.is(
    visit(MEMBERS, '{"size": 1, "host-nodes": 1}'),
    "Invalid parameter type for 'host-nodes', expected: array",
  );
  t.is(
    visit(MEMBERS, '{"size": 1, "policy": "x"}'),
    "Parameter 'policy' does not accept value 'x'",
  );
  t.is(
    visit(MEMBERS, '{"size": 1, "policy": 2}'),
    "Invalid parameter type for 'policy', expected: string",
  );
  t.is(
    visit({ '*enable': [{ enum: ['oob'] }] }, '{"enable": ["foo"]}'),
    "Parameter 'null' does not accept value 'foo'",
  );
  t.is(
    visit({ '*enable': [{ enum: ['oob'] }] }, '{"enable": [1]}'),
    "Invalid parameter type for 'enable[0]', expected: string",
  );
  t.is(visit({ n: 'int' }, '{"n": 1.0}'), "Invalid parameter type for 'n', expected: integer");
  t.is(
    visit({ n: 'int' }, '{"n": 9223372036854775808}'),
    "Invalid parameter type for 'n', expected: integer",
  );
  t.is(visit({ n: 'int8' }, '{"n": 128}'), "Parameter 'n' expects int8_t");
  t.is(visit({ n: 'number' }, '{"n": "1"}'), "Invalid parameter type for 'n', expected: number");
  t.is(visit({ n: 'null' }, '{"n": 0}'), "Invalid parameter type for 'n', expected: null");
  t.is(
    visit({ s: { struct: { a: 'int' } } }, '{"s": {"a": "x"}}'),
    "Invalid parameter type for 's.a', expected: integer",
  );
  t.is(
    visit({ s: { struct: { a: 'int' } } }, '{"s": {"a": 1, "b": 2}}'),
    "Parameter 's.b' is unexpected",
  );
  t.is(
    visit({ s: { struct: { a: 'int' } } }, '{"s": []}'),
    "Invalid parameter type for 's', expected: object",
  );
  // Several leftovers: the first in GLib hash order (as QEMU 7.2 reports).
  t.is(visit({}, '{"x": 1, "y": 2, "z": 3}'), "Parameter 'z' is unexpected");
  t.is(
    visit({}, '{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}'),
    "Parameter 'b' is unexpected",
  );
});

test('values are normalised', (t) => {
  t.deepEqual(
    visit(MEMBERS, '{"size": -1, "dump": true, "host-nodes": [0, 3], "policy": "bind"}'),
    {
      dump: true,
      'host-nodes': [0, 3],
      policy: 'bind',
      size: 18446744073709551615n,
    },
  );
  t.deepEqual(visit({ n: 'number' }, '{"n": 3}'), { n: 3 });
  t.deepEqual(visit({ a: 'any' }, '{"a": {"x": [1]}}'), { a: { x: [1] } });
});

test('flat unions', (t) => {
  const schema: QapiArgsSchema = {
    base: { 'qom-type': { enum: ['memory-backend-ram', 'loose'] }, id: 'str' },
    discriminator: 'qom-type',
    branches: (tag) =>
      tag === 'memory-backend-ram' ? MEMBERS : tag === 'loose' ? 'passthrough' : undefined,
  };
  t.is(visit(schema, '{}'), "Parameter 'qom-type' is missing");
  t.is(
    visit(schema, '{"qom-type": "nosuch", "id": "x"}'),
    "Parameter 'qom-type' does not accept value 'nosuch'",
  );
  t.is(visit(schema, '{"qom-type": "memory-backend-ram"}'), "Parameter 'id' is missing");
  t.is(
    visit(schema, '{"qom-type": "memory-backend-ram", "id": "m"}'),
    "Parameter 'size' is missing",
  );
  t.is(
    visit(
      schema,
      '{"qom-type": "memory-backend-ram", "id": "m", "size": 4096, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5}',
    ),
    "Parameter 'b' is unexpected",
  );
  t.deepEqual(visit(schema, '{"qom-type": "loose", "id": "m", "anything": [1]}'), {
    'qom-type': 'loose',
    id: 'm',
    anything: [1],
  });
});

test('keyval input converts strings as the command line does', (t) => {
  t.deepEqual(visit(MEMBERS, '{"size": "1M", "dump": "on", "prealloc-threads": "0x10"}', true), {
    dump: true,
    'prealloc-threads': 16,
    size: 1048576,
  });
  t.is(visit(MEMBERS, '{"size": "1Q"}', true), "Parameter 'size' expects size");
  t.is(
    visit(MEMBERS, '{"size": "1", "dump": "maybe"}', true),
    "Parameter 'dump' expects 'on' or 'off'",
  );
  t.is(
    visit(MEMBERS, '{"size": "1", "prealloc-threads": "x"}', true),
    "Parameter 'prealloc-threads' expects integer",
  );
  t.is(visit(MEMBERS, '{"size": {"a": "1"}}', true), "Parameters 'size.*' are unexpected");
});
