/**
 * query-memdev and `info memdev`, differential: the same backends created
 * in QEMU 7.2 and in tsqom, then the replies compared byte for byte.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject, JsonValue } from '../../src/qom/index.js';
import { registerObjectOptions } from '../../src/monitor/qom-qmp-cmds.js';
import { qmpCommands } from '../../src/monitor/qmp-dispatch.js';
import { HmpOutput, hmpInfoCommands } from '../../src/monitor/hmp.js';
import {
  hmpInfoMemdev,
  qmpQueryMemdev,
  registerMachineQmpCommands,
} from '../../src/monitor/machine-qmp-cmds.js';
import { BACKEND_OBJECT_OPTIONS } from '../../src/backends/index.js';
import {
  type QemuInstance,
  type TsqomInstance,
  startQemu,
  startTsqom,
} from '../helpers/qemu/qemu.js';
import { normalizeLine } from '../helpers/qemu/compare.js';
import type { QmpClient } from '../helpers/qemu/qmp-client.js';

registerMachineQmpCommands();
for (const [type, members] of Object.entries(BACKEND_OBJECT_OPTIONS)) {
  registerObjectOptions(type, members);
}

let qemu: QemuInstance;
let tsqom: TsqomInstance;
let cq: QmpClient;
let ct: QmpClient;
const dir = mkdtempSync(join(tmpdir(), 'tsqom-memdev-'));

test.before(async () => {
  [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
  [cq, ct] = await Promise.all([qemu.connect(), tsqom.connect()]);
  await Promise.all([cq.negotiate(), ct.negotiate()]);
});

test.after.always(async () => {
  await Promise.all([cq?.close(), ct?.close()]);
  await Promise.all([qemu?.stop(), tsqom?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Sends the same command to both; returns both raw reply lines. */
async function both(cmd: string, args?: JsonObject): Promise<[string, string]> {
  const [a, b] = await Promise.all([cq.executeRaw(cmd, args), ct.executeRaw(cmd, args)]);
  return [normalizeLine(a), normalizeLine(b)];
}

async function same(
  t: import('ava').ExecutionContext,
  cmd: string,
  args?: JsonObject,
): Promise<string> {
  const [q, s] = await both(cmd, args);
  t.is(s, q, `${cmd} ${JSON.stringify(args ?? {})}`);
  return s;
}

const infoMemdev = { 'command-line': 'info memdev' };

test.serial('no backends: an empty list and an empty line', async (t) => {
  t.is(await same(t, 'query-memdev'), '{"return": []}');
  t.is(await same(t, 'human-monitor-command', infoMemdev), '{"return": "\\r\\n"}');
  t.is(
    await same(t, 'query-memdev', { bogus: 1 }),
    '{"error": {"class": "GenericError", "desc": "Parameter \'bogus\' is unexpected"}}',
  );
});

const SINGLE: [string, JsonObject, [string, JsonValue][]?][] = [
  ['plain ram', { 'qom-type': 'memory-backend-ram', size: 65536 }],
  ['odd size', { 'qom-type': 'memory-backend-ram', size: 1048577 }],
  [
    'memfd, every flag flipped',
    {
      'qom-type': 'memory-backend-memfd',
      size: 1 << 20,
      share: false,
      merge: false,
      dump: false,
      prealloc: true,
    },
  ],
  ['memfd, reserve off', { 'qom-type': 'memory-backend-memfd', size: 1 << 20, reserve: false }],
  [
    'file, shared',
    { 'qom-type': 'memory-backend-file', size: 1 << 20, 'mem-path': dir, share: true },
  ],
  [
    'bound to node 0',
    { 'qom-type': 'memory-backend-ram', size: 1 << 20, 'host-nodes': [0], policy: 'bind' },
  ],
  [
    'nodes added after creation',
    { 'qom-type': 'memory-backend-ram', size: 1 << 20 },
    [
      ['host-nodes', [0, 1, 2, 5, 7, 8, 127]],
      ['policy', 'interleave'],
      ['prealloc', true],
      ['merge', false],
    ],
  ],
];

for (const [title, args, later] of SINGLE) {
  test.serial(`one backend (${title}): identical replies`, async (t) => {
    const id = `m${title.replace(/[^a-z0-9]/g, '')}`;
    t.is(await same(t, 'object-add', { ...args, id }), '{"return": {}}');
    try {
      for (const [property, value] of later ?? []) {
        t.is(
          await same(t, 'qom-set', { path: `/objects/${id}`, property, value }),
          '{"return": {}}',
        );
      }
      const reply = await same(t, 'query-memdev');
      t.true(reply.includes(`"id": "${id}"`));
      const text = await same(t, 'human-monitor-command', infoMemdev);
      t.true(text.startsWith(`{"return": "memory backend: ${id}\\r\\n  size:  `));
    } finally {
      await same(t, 'object-del', { id });
    }
  });
}

test.serial('several backends: the same entries (QEMU orders them by hash)', async (t) => {
  const ids = ['alpha', 'beta', 'gamma', 'delta'];
  for (const [i, id] of ids.entries()) {
    await same(t, 'object-add', {
      'qom-type': i % 2 ? 'memory-backend-memfd' : 'memory-backend-ram',
      id,
      size: (i + 1) * 65536,
    });
  }
  try {
    const [q, s] = await Promise.all([cq.cmd('query-memdev'), ct.cmd('query-memdev')]);
    const byId = (l: JsonValue): JsonObject[] =>
      [...(l as JsonObject[])].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    t.deepEqual(byId(s), byId(q));
    // tsqom's /objects iterates in insertion order, and the list is prepended.
    t.deepEqual(
      (s as JsonObject[]).map((m) => m.id),
      [...ids].reverse(),
    );
    const [hq, hs] = await Promise.all([
      cq.cmd('human-monitor-command', infoMemdev),
      ct.cmd('human-monitor-command', infoMemdev),
    ]);
    const blocks = (x: JsonValue): string[] =>
      String(x)
        .split(/(?=memory backend: )/)
        .map((b) => b.replace(/\r\n\r\n$/, '\r\n'))
        .sort();
    t.deepEqual(blocks(hs), blocks(hq));
  } finally {
    for (const id of ids) await same(t, 'object-del', { id });
  }
});

test.serial('in-process API: the same list, and the HMP text through the info table', async (t) => {
  t.deepEqual(qmpQueryMemdev(), []);
  t.truthy(qmpCommands.find('query-memdev'));
  const cmd = hmpInfoCommands.find('memdev')!;
  t.is(cmd.help, 'show memory backends');
  const out = new HmpOutput();
  hmpInfoMemdev(out);
  t.is(out.collect(), '\r\n');
});
