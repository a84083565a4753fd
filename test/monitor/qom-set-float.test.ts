/**
 * A JSON number written as a float literal (`1.0`) is a double QNum in
 * QEMU, and integer properties refuse it even though its value is
 * integral: over QMP (qom-set, object-add) and HMP (`qom-set -j`), on a
 * tsqom test type in-process, and differentially against QEMU 7.2 on
 * memory-backend-ram's `prealloc-threads` and `host-nodes`.
 */
import test from 'ava';
import {
  type QemuInstance,
  type TsqomInstance,
  startQemu,
  startTsqom,
} from '../helpers/qemu/qemu.js';
import { exchange, onBoth } from '../helpers/qemu/compare.js';
import type { QmpClient } from '../helpers/qemu/qmp-client.js';
import { registerPropTest, TYPE_PROP_TEST } from '../helpers/qom/prop-fixtures.js';
import type { JsonObject } from '../../src/qobject/qobject.js';

registerPropTest();

async function tsqomClient(t: {
  teardown(fn: () => Promise<void>): void;
}): Promise<[QmpClient, TsqomInstance]> {
  const peer = await startTsqom();
  const c = await peer.connect();
  t.teardown(async () => {
    await c.close();
    await peer.stop();
  });
  await c.negotiate();
  return [c, peer];
}

// Sends one raw request (so the number keeps its spelling) and returns the reply.
async function raw(c: QmpClient, request: string): Promise<JsonObject> {
  c.sendRaw(request);
  return c.readReply();
}

function qomSet(path: string, property: string, value: string): string {
  return `{"execute": "qom-set", "arguments": {"path": "${path}", "property": "${property}", "value": ${value}}}`;
}

const genericError = (desc: string): JsonObject => ({ error: { class: 'GenericError', desc } });

test('qom-set: a float literal is no integer, whatever its value', async (t) => {
  const [c] = await tsqomClient(t);
  t.deepEqual(await c.execute('object-add', { 'qom-type': TYPE_PROP_TEST, id: 'pf' }), {
    return: {},
  });
  const rows: Array<[string, string, JsonObject]> = [
    ['u64', '1.0', genericError("Parameter 'u64' expects uint64")],
    ['u64', '1e2', genericError("Parameter 'u64' expects uint64")],
    ['u64', '-0.0', genericError("Parameter 'u64' expects uint64")],
    ['u64', '18446744073709551616', genericError("Parameter 'u64' expects uint64")],
    ['sz', '4096.0', genericError("Parameter 'sz' expects uint64")],
    ['u8', '1.0', genericError("Parameter 'u8' expects uint64")],
    ['u32', '2E0', genericError("Parameter 'u32' expects uint64")],
    ['i64', '1.0', genericError("Invalid parameter type for 'i64', expected: integer")],
    ['i64', '-1e3', genericError("Invalid parameter type for 'i64', expected: integer")],
    [
      'i64',
      '-9223372036854775809',
      genericError("Invalid parameter type for 'i64', expected: integer"),
    ],
    ['list', '[1, 2.0]', genericError("Parameter 'list[1]' expects uint64")],
  ];
  for (const [prop, value, reply] of rows) {
    t.deepEqual(await raw(c, qomSet('/objects/pf', prop, value)), reply, `${prop} <- ${value}`);
  }
  // Nothing was stored by the refused sets.
  for (const [prop, zero] of [
    ['u64', 0],
    ['sz', 0],
    ['u8', 0],
    ['i64', 0],
  ] as const) {
    t.is(await c.cmd('qom-get', { path: '/objects/pf', property: prop }), zero, prop);
  }
  t.deepEqual(await c.cmd('qom-get', { path: '/objects/pf', property: 'list' }), []);

  // The same values written as integers are fine; doubles are fine for numbers.
  t.deepEqual(await raw(c, qomSet('/objects/pf', 'u64', '1')), { return: {} });
  t.deepEqual(await raw(c, qomSet('/objects/pf', 'i64', '-1000')), { return: {} });
  t.deepEqual(await raw(c, qomSet('/objects/pf', 'list', '[1, 2]')), { return: {} });
  t.deepEqual(await raw(c, qomSet('/objects/pf', 'num', '3.0')), { return: {} });
  t.is(await c.cmd('qom-get', { path: '/objects/pf', property: 'u64' }), 1);
  t.is(await c.cmd('qom-get', { path: '/objects/pf', property: 'i64' }), -1000);
  t.deepEqual(await c.cmd('qom-get', { path: '/objects/pf', property: 'list' }), [1, 2]);
  t.is(await c.cmd('qom-get', { path: '/objects/pf', property: 'num' }), 3);
});

test('object-add and HMP qom-set -j refuse float literals for integers too', async (t) => {
  const [c] = await tsqomClient(t);
  const add = (extra: string): string =>
    `{"execute": "object-add", "arguments": {"qom-type": "${TYPE_PROP_TEST}", "id": "pa", ${extra}}}`;
  t.deepEqual(await raw(c, add('"u64": 5.0')), genericError("Parameter 'u64' expects uint64"));
  t.deepEqual(
    await raw(c, add('"i64": 5.0')),
    genericError("Invalid parameter type for 'i64', expected: integer"),
  );
  t.deepEqual(
    await raw(c, add('"list": [7, 8.0]')),
    genericError("Parameter 'list[1]' expects uint64"),
  );
  t.deepEqual(await raw(c, add('"u64": 5, "num": 5.0')), { return: {} });
  t.is(await c.cmd('qom-get', { path: '/objects/pa', property: 'u64' }), 5);

  const hmp = (line: string): Promise<JsonObject> =>
    c.execute('human-monitor-command', { 'command-line': line });
  t.deepEqual(await hmp('qom-set -j /objects/pa u64 6.0'), {
    return: "Error: Parameter 'u64' expects uint64\r\n",
  });
  t.deepEqual(await hmp('qom-set -j /objects/pa list [6.0]'), {
    return: "Error: Parameter 'list[0]' expects uint64\r\n",
  });
  t.deepEqual(await hmp('qom-set -j /objects/pa u64 6'), { return: '' });
  t.is(await c.cmd('qom-get', { path: '/objects/pa', property: 'u64' }), 6);
});

let qemu: QemuInstance;
let tsqom: TsqomInstance;

test.before(async () => {
  [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
});

test.after.always(async () => {
  await Promise.all([qemu?.stop(), tsqom?.stop()]);
});

test('same replies as QEMU 7.2 for float literals on memory-backend-ram', async (t) => {
  const input = [
    '{"execute": "qmp_capabilities"}',
    '{"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram", "id": "mf", "size": 1048576}}',
    '{"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram", "id": "mg", "size": 1048576.0}}',
    '{"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram", "id": "mh", "size": 1048576, "prealloc-threads": 1.0}}',
    qomSet('/objects/mf', 'prealloc-threads', '1.0'),
    qomSet('/objects/mf', 'prealloc-threads', '-0.0'),
    qomSet('/objects/mf', 'prealloc-threads', '1e2'),
    qomSet('/objects/mf', 'prealloc-threads', '18446744073709551616'),
    qomSet('/objects/mf', 'host-nodes', '[0.0]'),
    qomSet('/objects/mf', 'prealloc-threads', '2'),
    '{"execute": "qom-get", "arguments": {"path": "/objects/mf", "property": "prealloc-threads"}}',
    '{"execute": "human-monitor-command", "arguments": {"command-line": "qom-set -j /objects/mf prealloc-threads 3.0"}}',
    '{"execute": "human-monitor-command", "arguments": {"command-line": "qom-set -j /objects/mf prealloc-threads 3"}}',
    '{"execute": "qom-get", "arguments": {"path": "/objects/mf", "property": "prealloc-threads"}}',
    '{"execute": "object-del", "arguments": {"id": "mf"}}',
  ].join('\n');
  const [q, s] = await onBoth(qemu, tsqom, (c) => exchange(c, input));
  t.deepEqual(s, q);
  t.true(q.some((l) => l.includes("Parameter 'prealloc-threads' expects uint64")));
  t.true(q.some((l) => l.includes("Parameter 'host-nodes[0]' expects uint64")));
  t.true(q.some((l) => l.includes("Parameter 'size' expects uint64")));
});
