/**
 * Hostile peers of vdev-shmem regions, each tsqom a separate process
 * driven over qtest and QMP: a peer holding a region's lock (stopped in
 * its critical section) never delays the monitor, and detaches complete
 * once it lets go; shutdown exits 0 however long it holds on; a process
 * truncating the region's object turns guest accesses into errors, never
 * a dead tsqom.
 */
import test, { type ExecutionContext } from 'ava';
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  truncateSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestShmStatus } from '../../src/hw/misc/guest-shm.js';
import { vdevShmemSweep } from '../../src/hw/misc/vdev-shmem-host.js';
import { QmpClient } from '../helpers/qemu/qmp-client.js';
import { GUEST_COMMAND, ShmGuest } from '../helpers/vdev-shmem/guest.js';
import { QtestClient } from '../helpers/vdev-shmem/qtest-client.js';

const here = dirname(fileURLToPath(import.meta.url));
const HOLDER = join(here, '..', 'helpers', 'hostile', 'lock-holder.js');
const LOC = 0x1000_0000n;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const shmPath = (host: string): string => `/dev/shm/tsqom-shmem-${host}`;

interface Tsqom {
  child: ChildProcess;
  qtest: QtestClient;
  qmp: QmpClient;
  guest: ShmGuest;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function retry<T>(fn: () => Promise<T>, done: () => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (done() || Date.now() > deadline) throw e;
      await sleep(20);
    }
  }
}

async function startTsqom(t: ExecutionContext, prefix: string): Promise<Tsqom> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-'));
  const dev = `vdev-shmem,id=s0,loc=0x${LOC.toString(16)},intr=5,subst.prefix=${prefix}`;
  const child = spawn(
    process.execPath,
    [
      ...GUEST_COMMAND,
      '-M',
      'none',
      '-device',
      dev,
      '-qtest',
      `unix:${join(dir, 'qtest.sock')},server=on,wait=off`,
      '-qmp',
      `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  t.teardown(() => {
    if (!gone) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  // A start that fails says why: its exit status and what it printed.
  const why = async (e: unknown): Promise<never> => {
    const r = gone ? await exited : null;
    throw new Error(
      `tsqom did not start (${r ? JSON.stringify(r) : 'running'}): ${String(e)}\n${err}`,
    );
  };
  const qtest = await retry(
    () => QtestClient.connect(join(dir, 'qtest.sock')),
    () => gone,
  ).catch(why);
  const qmp = await retry(
    () => QmpClient.connect(join(dir, 'qmp.sock')),
    () => gone,
  ).catch(why);
  await qmp.negotiate();
  return { child, qtest, qmp, guest: new ShmGuest(qtest, LOC), stderr: () => err, exited };
}

/** A process holding the region's header lock on command. */
async function startHolder(t: ExecutionContext, host: string) {
  const child = spawn(process.execPath, [HOLDER, host], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const say = async (line: string, expect: string): Promise<void> => {
    const before = out.length;
    child.stdin!.write(`${line}\n`);
    const deadline = Date.now() + 10_000;
    while (!out.slice(before).includes(expect)) {
      if (Date.now() > deadline) throw new Error(`holder did not say ${expect}`);
      await sleep(5);
    }
  };
  return {
    pid: child.pid!,
    lock: () => say('lock', 'locked'),
    unlock: () => say('unlock', 'unlocked'),
    kill: async () => {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** The slowest of back-to-back QMP round trips over `ms` milliseconds. */
async function worstQmpLatency(qmp: QmpClient, ms: number): Promise<number> {
  let worst = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t0 = performance.now();
    await qmp.cmd('query-version');
    worst = Math.max(worst, performance.now() - t0);
    await sleep(10);
  }
  return worst;
}

function shmLinks(pid: number): { fds: number; maps: number } {
  let fds = 0;
  for (const f of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${f}`).includes('tsqom-shmem-')) fds++;
    } catch {
      /* closed meanwhile */
    }
  }
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((l) => l.includes('tsqom-shmem-')).length;
  return { fds, maps };
}

/**
 * The region's descriptors and mappings in process `pid` once it has let
 * go: the name goes first, the descriptor and mapping a moment later.
 */
async function shmLinksSettled(pid: number, ms = 2000): Promise<{ fds: number; maps: number }> {
  const end = Date.now() + ms;
  for (;;) {
    const l = shmLinks(pid);
    if ((l.fds === 0 && l.maps === 0) || Date.now() > end) return l;
    await sleep(10);
  }
}

async function waitGone(path: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (existsSync(path)) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

test('a held lock never delays QMP; the deferred detach releases the region once the lock is', async (t) => {
  const prefix = `hl${process.pid}_`;
  const host = `${prefix}lk`;
  const q = await startTsqom(t, prefix);
  const made = await q.guest.create('lk', 2);
  t.is(made.status, GuestShmStatus.GSS_OK);
  t.true(existsSync(shmPath(host)));
  const holder = await startHolder(t, host);
  // What this (shared, loaded) machine gives without contention, for comparison.
  const baseline = await worstQmpLatency(q.qmp, 1000);
  await holder.lock();
  // Detach, then try to attach again, while the lock is held; QMP is sampled all along.
  const sampling = worstQmpLatency(q.qmp, 1500);
  await q.guest.detach(made.shmem);
  const again = await q.guest.create('lk', 2);
  const worst = await sampling;
  t.true(
    worst - baseline < 50,
    `QMP took ${worst.toFixed(1)} ms with the lock held, ${baseline.toFixed(1)} ms without`,
  );
  t.is(again.status, GuestShmStatus.GSS_UNKNOWN_FAILURE);
  // The detach waits: the slot (and the object) stay until the holder lets go.
  t.true(existsSync(shmPath(host)));
  t.regex(q.stderr(), new RegExp(`region '${host}' has been locked by process ${holder.pid}`));
  await holder.unlock();
  t.true(await waitGone(shmPath(host), 3000));
  t.deepEqual(await shmLinksSettled(q.child.pid!), { fds: 0, maps: 0 });
  t.truthy(await q.qmp.cmd('query-version'));
  q.child.kill('SIGTERM');
  t.is((await q.exited).code, 0);
});

test('SIGTERM with the lock held exits 0, and releases the region once the lock is', async (t) => {
  const prefix = `hs${process.pid}_`;
  const host = `${prefix}st`;
  const q = await startTsqom(t, prefix);
  t.is((await q.guest.create('st', 2)).status, GuestShmStatus.GSS_OK);
  const holder = await startHolder(t, host);
  await holder.lock();
  q.child.kill('SIGTERM');
  await sleep(200);
  await holder.unlock();
  const r = await q.exited;
  t.is(r.code, 0);
  t.notRegex(q.stderr(), /Error|\n\s+at /);
  t.true(await waitGone(shmPath(host), 1000));
});

test('SIGTERM with the lock held for good still exits 0; the leftover is swept later', async (t) => {
  const prefix = `hf${process.pid}_`;
  const host = `${prefix}fg`;
  const q = await startTsqom(t, prefix);
  t.is((await q.guest.create('fg', 2)).status, GuestShmStatus.GSS_OK);
  const holder = await startHolder(t, host);
  await holder.lock();
  const t0 = Date.now();
  q.child.kill('SIGTERM');
  const r = await q.exited;
  t.is(r.code, 0);
  t.true(Date.now() - t0 < 5000);
  t.notRegex(q.stderr(), /Error|\n\s+at /);
  // Our slot is left to whoever comes next; with the holder gone too, a sweep removes the region.
  t.true(existsSync(shmPath(host)));
  await holder.kill();
  t.true(vdevShmemSweep(host));
  t.false(existsSync(shmPath(host)));
});

test('truncating the region under an attached tsqom: guest accesses fail, tsqom runs on, nothing leaks', async (t) => {
  const prefix = `ht${process.pid}_`;
  const host = `${prefix}tr`;
  const q = await startTsqom(t, prefix);
  const made = await q.guest.create('tr', 4);
  t.is(made.status, GuestShmStatus.GSS_OK);
  await q.guest.writeData(made.shmem, 0, Buffer.from('hello'));
  t.is(Buffer.from(await q.guest.readData(made.shmem, 0, 5)).toString(), 'hello');
  // Any process that may open the object can do this.
  truncateSync(shmPath(host), 0);
  t.deepEqual([...(await q.guest.readData(made.shmem, 0, 16))], new Array(16).fill(0));
  await q.guest.writeData(made.shmem, 0x2000, Buffer.from('x'));
  t.deepEqual(await q.guest.status(made.shmem), { pending: 0, active: 0 });
  t.truthy(await q.qmp.cmd('query-version'));
  t.regex(
    q.stderr(),
    /memory region 'vdev-shmem\.tr\.data': access to \[0x0, \+0x10\) failed: Bad address/,
  );
  t.regex(q.stderr(), new RegExp(`vdev-shmem: region '${host}' was truncated by another process`));
  await q.guest.detach(made.shmem);
  t.deepEqual(await shmLinksSettled(q.child.pid!), { fds: 0, maps: 0 });
  t.false(existsSync(shmPath(host)));
  q.child.kill('SIGTERM');
  t.is((await q.exited).code, 0);
});
