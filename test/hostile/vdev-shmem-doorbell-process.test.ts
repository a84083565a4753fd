/**
 * A hostile member of a vdev-shmem region against a `tsqom` process that
 * holds the region through its guest (driven over qtest), watched from
 * outside (/proc/PID): the member rings tsqom's doorbell without pause,
 * through the header and the eventfd, and floods bytes on hundreds of
 * connections to tsqom's doorbell socket, never reading anything (tsqom's
 * guest rings it back all the while). tsqom
 * must stay bounded, keep answering its QMP client, notice the member's
 * death at once and give back what it took.
 */
import 'reflect-metadata';
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestShmStatus } from '../../src/hw/misc/guest-shm.js';
import { VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS } from '../../src/hw/misc/vdev-shmem-doorbell.js';
import {
  DONE_WHEN,
  watchUnder,
  startWatched,
  type WatchedChild,
  waitListening,
} from '../helpers/hostile/child.js';
import { QmpClient } from '../helpers/qemu/qmp-client.js';
import { GUEST_COMMAND, ShmGuest, doorbellSockets } from '../helpers/vdev-shmem/guest.js';
import { QtestClient } from '../helpers/vdev-shmem/qtest-client.js';

const MiB = 1024 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const ATTACKER = join(here, '..', 'helpers', 'hostile', 'doorbell-attacker.js');
const LOC = 0x1000_0000n;
const PREFIX = `hd${process.pid}_`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dir: string;
let tsq: WatchedChild;
let qmp: QmpClient;
let guest: ShmGuest;
let ctl: bigint;

/** A hostile member: started, attached, then flooding on `go`. */
async function startAttacker(host: string, ms: number) {
  const child = spawn(process.execPath, [ATTACKER, host, String(tsq.pid), String(ms)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const line = async (re: RegExp): Promise<RegExpExecArray> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const m = re.exec(out);
      if (m) return m;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`attacker: ${out}`);
      await sleep(10);
    }
  };
  const idx = Number((await line(/ready (\d+)\n/))[1]);
  return {
    idx,
    pid: child.pid!,
    go: async (): Promise<number> => {
      child.stdin!.write('go\n');
      return Number((await line(/done (\d+)\n/))[1]);
    },
    kill: async (): Promise<void> => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-bell-'));
  const dev = `vdev-shmem,id=s0,loc=0x${LOC.toString(16)},intr=5,subst.prefix=${PREFIX}`;
  tsq = startWatched(
    GUEST_COMMAND[2]!,
    [
      '-M',
      'none',
      '-device',
      dev,
      '-qtest',
      `unix:${join(dir, 'qtest.sock')},server=on,wait=off`,
      '-qmp',
      `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
    ],
    GUEST_COMMAND.slice(0, 2),
  );
  await waitListening([join(dir, 'qtest.sock'), join(dir, 'qmp.sock')]);
  guest = new ShmGuest(await QtestClient.connect(join(dir, 'qtest.sock')), LOC);
  qmp = await QmpClient.connect(join(dir, 'qmp.sock'));
  await qmp.negotiate();
  const made = await guest.create('bell', 2);
  if (made.status !== GuestShmStatus.GSS_OK) throw new Error(`create: ${made.status}`);
  ctl = made.shmem;
  // A rehearsal: what the first flood makes the process load and size
  // (code, caches, allocator arenas) is not what a member leaves behind.
  const a = await startAttacker(`${PREFIX}bell`, 1000);
  await a.go();
  await a.kill();
  const deadline = Date.now() + 5000;
  while ((await guest.status(ctl)).active !== 1 && Date.now() < deadline) await sleep(20);
});

test.after.always(async () => {
  await qmp?.close().catch(() => undefined);
  await tsq?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial(
  'a member ringing without pause and never reading: bounded, QMP answered, death noticed, memory returned',
  async (t) => {
    await qmp.execute('query-version');
    await sleep(300);
    const fds = tsq.fdCount();
    const base = await tsq.quietRss();
    const a = await startAttacker(`${PREFIX}bell`, 3000);
    t.is(a.idx, 1);
    t.is((await guest.status(ctl)).active, 0b11);
    await sleep(200);
    const fdsConnected = tsq.fdCount();
    const watch = watchUnder(tsq, base, () => qmp.execute('query-version'));
    // tsqom's guest rings the member back all along: its doorbell is never
    // read meanwhile, and ringing it must cost tsqom nothing either.
    let ringsBack = 0;
    let ringing = true;
    const back = (async () => {
      while (ringing) {
        await guest.notify(ctl, 1 << a.idx);
        ringsBack++;
      }
    })();
    const rings = await a.go();
    ringing = false;
    const { peak, latencies: l } = await watch.stop();
    await back;
    // The rings arrived: the guest sees the member's notification.
    const seen = await guest.status(ctl);
    t.is(seen.pending & 0b10, 0b10, 'the member rang');
    // The member dies; tsqom notices by itself (no attach, detach or access
    // of its guest needed), reclaims the slot and removes the dead socket.
    t.is(doorbellSockets(a.pid).length, 1);
    await a.kill();
    const t0 = Date.now();
    let noticed = -1;
    while (Date.now() - t0 < 2000) {
      if ((await guest.status(ctl)).active === 1) {
        noticed = Date.now() - t0;
        break;
      }
      await sleep(10);
    }
    t.true(noticed >= 0, 'the dead member was reclaimed');
    t.deepEqual(doorbellSockets(a.pid), [], 'its socket file is removed');
    const after = await tsq.rssReturnsBelow(base * 1.1);
    t.log(
      `base ${(base / MiB).toFixed(1)} MiB, peak +${((peak - base) / MiB).toFixed(1)} MiB, ` +
        `after ${(after / MiB).toFixed(1)} MiB, ${rings} rings, ${ringsBack} back, reclaimed after ${noticed} ms, ` +
        `fds ${fds} -> ${fdsConnected} -> ${tsq.fdCount()}, latency max ${Math.max(...l).toFixed(1)} ms`,
    );
    t.true(peak - base < 64 * MiB, `peak +${peak - base}`);
    t.true(rings > 10_000, `${rings} rings`);
    t.true(ringsBack > 100, `${ringsBack} rings back`);
    t.true(l.length >= 10, `${l.length} samples`);
    t.true(
      l.every((x) => x < DONE_WHEN.latencyMs),
      l.map((x) => x.toFixed(0)).join(' '),
    );
    t.true(after <= base * 1.1, `${after} vs ${base}`);
    // The connections it held are bounded, and all closed once it is gone.
    t.true(
      fdsConnected - fds <= VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS + 4,
      `${fds} -> ${fdsConnected}`,
    );
    const deadline = Date.now() + 3000;
    while (tsq.fdCount() !== fds && Date.now() < deadline) await sleep(50);
    t.is(tsq.fdCount(), fds, tsq.fdList());
    t.truthy(await qmp.execute('query-version'));
    t.notRegex(tsq.stderr(), /uv_poll|Bad file descriptor|heap out of memory|\n\s+at /);
  },
);
