/**
 * Memory backends, differential: the same object-add / qom-set / qom-get
 * requests to QEMU 7.2 and to tsqom, replies compared byte for byte, on
 * what QEMU 7.2 has (ram, file, memfd; no rom/offset, no shm).
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../../src/qom/index.js';
import { registerObjectOptions } from '../../src/monitor/qom-qmp-cmds.js';
import { BACKEND_OBJECT_OPTIONS } from '../../src/backends/index.js';
import {
  type QemuInstance,
  type TsqomInstance,
  startQemu,
  startTsqom,
} from '../helpers/qemu/qemu.js';
import { normalizeLine } from '../helpers/qemu/compare.js';
import type { QmpClient } from '../helpers/qemu/qmp-client.js';

for (const [type, members] of Object.entries(BACKEND_OBJECT_OPTIONS)) {
  registerObjectOptions(type, members);
}

let qemu: QemuInstance;
let tsqom: TsqomInstance;
let cq: QmpClient;
let ct: QmpClient;
const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostmem-qemu-'));
const small = join(dir, 'small');

test.before(async () => {
  writeFileSync(small, Buffer.alloc(1 << 20));
  [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
  [cq, ct] = await Promise.all([qemu.connect(), tsqom.connect()]);
  await Promise.all([cq.negotiate(), ct.negotiate()]);
});

test.after.always(async () => {
  await Promise.all([cq?.close(), ct?.close()]);
  await Promise.all([qemu?.stop(), tsqom?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

type Step = [string, JsonObject];

const add = (props: JsonObject): Step => ['object-add', props];
const get = (id: string, property: string): Step => [
  'qom-get',
  { path: `/objects/${id}`, property },
];
const set = (id: string, property: string, value: JsonObject[string]): Step => [
  'qom-set',
  { path: `/objects/${id}`, property, value },
];
const del = (id: string): Step => ['object-del', { id }];

const RAM = 'memory-backend-ram';
const MEMFD = 'memory-backend-memfd';
const FILE = 'memory-backend-file';
const MiB = 1 << 20;

const SCENARIOS: [string, Step[]][] = [
  [
    'ram: defaults, frozen and live properties',
    [
      add({ 'qom-type': RAM, id: 'r0', size: MiB }),
      ...[
        'size',
        'merge',
        'dump',
        'prealloc',
        'prealloc-threads',
        'prealloc-context',
        'host-nodes',
        'policy',
        'share',
        'reserve',
        'x-use-canonical-path-for-ramblock-id',
        'type',
      ].map((p) => get('r0', p)),
      get('r0', 'r0[0]'),
      ['qom-get', { path: '/objects/r0/r0[0]', property: 'size' }],
      set('r0', 'size', 2 * MiB),
      set('r0', 'share', true),
      set('r0', 'reserve', false),
      set('r0', 'merge', false),
      set('r0', 'dump', false),
      set('r0', 'prealloc-threads', 0),
      set('r0', 'prealloc-threads', 4),
      set('r0', 'prealloc-threads', -1),
      set('r0', 'prealloc-threads', 4294967296),
      set('r0', 'prealloc', true),
      set('r0', 'prealloc', false),
      get('r0', 'prealloc'),
      set('r0', 'host-nodes', [0]),
      set('r0', 'host-nodes', [128]),
      set('r0', 'host-nodes', [65536]),
      set('r0', 'policy', 'bind'),
      set('r0', 'policy', 'bogus'),
      set('r0', 'prealloc-context', ''),
      set('r0', 'prealloc-context', '/objects'),
      set('r0', 'prealloc-context', 'nothere'),
      set('r0', 'type', 'x'),
      set('r0', 'merge', 1),
      get('r0', 'nosuch'),
      del('r0'),
      del('r0'),
    ],
  ],
  [
    'ram: object-add errors',
    [
      add({ 'qom-type': RAM, id: 'r1', size: 0 }),
      add({ 'qom-type': RAM, id: 'r1', size: '1M' }),
      add({ 'qom-type': RAM, id: 'r1' }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, bogus: 1 }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, prealloc: true, reserve: false }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, reserve: false, prealloc: true }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, policy: 'bind' }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, policy: 'preferred' }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, 'host-nodes': [0] }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, 'host-nodes': [200] }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, 'prealloc-threads': 0 }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, 'prealloc-context': 'nothere' }),
      add({ 'qom-type': 'memory-backend', id: 'r1', size: MiB }),
      add({ 'qom-type': RAM, id: '1r', size: MiB }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB, prealloc: true, 'prealloc-threads': 2 }),
      add({ 'qom-type': RAM, id: 'r1', size: MiB }),
      get('r1', 'prealloc'),
      del('r1'),
    ],
  ],
  [
    'thread-context as prealloc-context',
    [
      add({ 'qom-type': 'thread-context', id: 'tc0' }),
      add({ 'qom-type': 'thread-context', id: 'tc1', 'cpu-affinity': [0], 'node-affinity': [0] }),
      add({ 'qom-type': 'thread-context', id: 'tc1', 'node-affinity': [] }),
      add({ 'qom-type': 'thread-context', id: 'tc1', 'cpu-affinity': [] }),
      set('tc0', 'cpu-affinity', []),
      get('tc0', 'node-affinity'),
      add({ 'qom-type': RAM, id: 'r2', size: MiB, prealloc: true, 'prealloc-context': 'tc0' }),
      get('r2', 'prealloc-context'),
      del('tc0'),
      get('r2', 'prealloc-context'),
      del('r2'),
    ],
  ],
  [
    'file backend',
    [
      add({ 'qom-type': FILE, id: 'f0', size: MiB }),
      add({ 'qom-type': FILE, id: 'f0', size: MiB, 'mem-path': '/nonexistent/dir/x' }),
      add({ 'qom-type': FILE, id: 'f0', size: MiB, 'mem-path': dir, align: 3 }),
      add({ 'qom-type': FILE, id: 'f0', size: MiB, 'mem-path': dir, align: 12288 }),
      add({ 'qom-type': FILE, id: 'f0', size: MiB, 'mem-path': dir, align: 2 * MiB }),
      ...['mem-path', 'align', 'discard-data', 'readonly', 'pmem', 'share'].map((p) =>
        get('f0', p),
      ),
      set('f0', 'mem-path', '/tmp'),
      set('f0', 'align', 4096),
      set('f0', 'readonly', true),
      set('f0', 'pmem', true),
      set('f0', 'discard-data', true),
      get('f0', 'discard-data'),
      del('f0'),
      add({ 'qom-type': FILE, id: 'f1', size: MiB, 'mem-path': small, readonly: true }),
      get('f1', 'readonly'),
      del('f1'),
    ],
  ],
  [
    'memfd backend',
    [
      add({ 'qom-type': MEMFD, id: 'd0', size: MiB }),
      ...['share', 'seal', 'hugetlb', 'hugetlbsize'].map((p) => get('d0', p)),
      set('d0', 'hugetlbsize', 0),
      set('d0', 'hugetlb', true),
      set('d0', 'seal', false),
      set('d0', 'share', false),
      del('d0'),
      add({ 'qom-type': MEMFD, id: 'd1', size: MiB, hugetlbsize: 0 }),
      add({ 'qom-type': MEMFD, id: 'd1', size: MiB, hugetlb: true, hugetlbsize: 3000 }),
      add({ 'qom-type': MEMFD, id: 'd1', size: 2n ** 63n }),
      add({ 'qom-type': MEMFD, id: 'd1', size: MiB, share: false, seal: false }),
      del('d1'),
      // A memfd is sized to the unaligned size, the block to whole pages.
      add({ 'qom-type': MEMFD, id: 'd2', size: 1000 }),
      add({ 'qom-type': MEMFD, id: 'd2', size: 5000 }),
    ],
  ],
  [
    'file backend shorter than size',
    [
      add({ 'qom-type': FILE, id: 'f2', size: 2 * MiB, 'mem-path': small, readonly: true }),
      add({ 'qom-type': FILE, id: 'f2', size: 2 * MiB, 'mem-path': small, share: true }),
      add({ 'qom-type': FILE, id: 'f2', size: 2 * MiB, 'mem-path': small }),
    ],
  ],
];

for (const [title, steps] of SCENARIOS) {
  test.serial(title, async (t) => {
    for (const [cmd, args] of steps) {
      const [q, s] = await Promise.all([cq.executeRaw(cmd, args), ct.executeRaw(cmd, args)]);
      t.is(
        normalizeLine(s),
        normalizeLine(q),
        `${cmd} ${JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
    }
  });
}

/** The affinity of thread `tid` of process `pid`, from /proc. */
function taskCpuList(pid: number, tid: number): string {
  const m = /^Cpus_allowed_list:\s*(\S*)$/m.exec(
    readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'),
  );
  return m ? m[1] : '';
}

/** The highest CPU this process may run on (the last of Cpus_allowed_list). */
const LAST_CPU = Number(/(\d+)$/.exec(taskCpuList(process.pid, process.pid))![1]);

test.serial(
  'thread-context: a real thread whose affinity follows cpu-affinity and node-affinity',
  async (t) => {
    const steps: Step[] = [
      add({ 'qom-type': 'thread-context', id: 'tca', 'cpu-affinity': [0] }),
      add({ 'qom-type': 'thread-context', id: 'tcn', 'node-affinity': [0] }),
      add({ 'qom-type': 'thread-context', id: 'tcx', 'cpu-affinity': [4000] }),
      add({ 'qom-type': 'thread-context', id: 'tcx', 'node-affinity': [5] }),
      get('tca', 'cpu-affinity'),
      get('tcn', 'cpu-affinity'),
      get('tca', 'node-affinity'),
      set('tca', 'cpu-affinity', [4000]),
      set('tca', 'cpu-affinity', [LAST_CPU]),
      get('tca', 'cpu-affinity'),
      set('tca', 'node-affinity', [0]),
      get('tca', 'cpu-affinity'),
      set('tca', 'node-affinity', [7]),
      set('tca', 'cpu-affinity', [0]),
      add({ 'qom-type': RAM, id: 'rtc', size: MiB, prealloc: true, 'prealloc-context': 'tca' }),
      get('rtc', 'prealloc'),
      del('rtc'),
    ];
    for (const [cmd, args] of steps) {
      const [q, s] = await Promise.all([cq.executeRaw(cmd, args), ct.executeRaw(cmd, args)]);
      t.is(s, q, `${cmd} ${JSON.stringify(args)}`);
    }
    // thread-id differs between processes; each names a thread of its
    // process pinned as asked.
    for (const [c, pid] of [
      [cq, qemu.process.pid!],
      [ct, process.pid],
    ] as const) {
      const tid = (await c.cmd('qom-get', {
        path: '/objects/tca',
        property: 'thread-id',
      })) as number;
      t.true(tid > 0 && tid < 2 ** 32, `${pid}: ${tid}`);
      t.not(tid, pid);
      t.is(taskCpuList(pid, tid), '0');
      await c.cmd('qom-set', {
        path: '/objects/tca',
        property: 'cpu-affinity',
        value: [LAST_CPU],
      });
      t.is(taskCpuList(pid, tid), String(LAST_CPU));
      await c.cmd('object-del', { id: 'tca' });
      await c.cmd('object-del', { id: 'tcn' });
      t.false(existsSync(`/proc/${pid}/task/${tid}`), 'the context thread ends with its object');
    }
  },
);
