/**
 * A hostile back-end against the real `tsqom` command's vhost-user
 * front-end, watched from outside (/proc/PID): it floods the back-end
 * channel with requests that ask for a reply (SHMEM_MAP with an fd,
 * SHMEM_UNMAP, CONFIG_CHANGE_MSG) and never reads one. The front-end must
 * stay bounded, keep answering its QMP client, and give back what it took
 * once the back-end is gone.
 */
import 'reflect-metadata';
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { HostOs } from '../../src/native/host.js';
import { MFD_CLOEXEC } from '../../src/native/constants.js';
import { UnixListener, type UnixStream } from '../../src/io/unix-stream.js';
import {
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_VERSION,
  VhostUserBackendRequest as B,
  encodeVhostUserMsg,
} from '../../src/hw/virtio/vhost-user/index.js';
import { FAKE_PROTOCOL_FEATURES, FakeBackend } from '../helpers/vhost-user/fake-backend.js';
import {
  TSQOM_CLI,
  DONE_WHEN,
  watchUnder,
  startWatched,
  type WatchedChild,
  waitListening,
} from '../helpers/hostile/child.js';
import { QmpClient } from '../helpers/qemu/qmp-client.js';

const MiB = 1024 * 1024;
const os = container.resolve(HostOs);
const REGION = 0x400000n;
const FLAGS = VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dir: string;
let listener: UnixListener;
let tsq: WatchedChild;
let qmp: QmpClient;
let memfd: number;

/** A back-end channel request that asks for a reply. */
function request(req: number, body: Parameters<typeof encodeVhostUserMsg>[0]['body']): Buffer {
  return Buffer.from(encodeVhostUserMsg({ request: req, flags: FLAGS, body, fds: [] }).data);
}

const mmap = { shmid: 0, fdOffset: 0n, shmOffset: 0x10000n, len: 0x10000n, flags: 1n };
const MAP = request(B.VHOST_USER_BACKEND_SHMEM_MAP, { kind: 'mmap', mmap });
const UNMAP = request(B.VHOST_USER_BACKEND_SHMEM_UNMAP, { kind: 'mmap', mmap });
const CONFIG = Buffer.concat(
  Array.from({ length: 512 }, () =>
    request(B.VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, { kind: 'none' }),
  ),
);

const arrivals: FakeBackend[] = [];

/** Waits for the next back-end connection (in arrival order) to hand over its channel. */
async function nextBackend(): Promise<FakeBackend> {
  const deadline = Date.now() + 20_000;
  while (arrivals.length === 0 || !arrivals[0]!.channel) {
    if (Date.now() > deadline) throw new Error('no back-end channel');
    await sleep(10);
  }
  return arrivals.shift()!;
}

/**
 * Floods `ch` for `ms` with MAP(fd)/UNMAP pairs and CONFIG_CHANGE_MSGs,
 * all asking for a reply, without ever reading; returns the bytes the
 * front-end took (what left this process's own queue).
 */
async function flood(ch: UnixStream, ms: number): Promise<number> {
  ch.pause();
  let sent = 0;
  const end = Date.now() + ms;
  while (Date.now() < end && !ch.closed) {
    // Our own queue stays short, and holds no fds: a stream with too much
    // (or too many fds) queued stops reading (the same backpressure), and
    // the test reads the replies afterwards.
    if (ch.pendingBytes === 0) {
      for (let i = 0; i < 32 && ch.pendingBytes === 0; i++) {
        ch.send(MAP, [memfd]);
        ch.send(UNMAP);
        sent += MAP.length + UNMAP.length;
      }
      ch.send(CONFIG);
      sent += CONFIG.length;
      await new Promise((r) => setImmediate(r));
    } else {
      await sleep(5);
    }
  }
  return sent - ch.pendingBytes;
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-fe-'));
  memfd = os.memfdCreate('hostile-backend', MFD_CLOEXEC);
  os.ftruncate(memfd, 0x10000);
  listener = UnixListener.listen(join(dir, 'be.sock'));
  listener.on('connection', (s) =>
    arrivals.push(
      new FakeBackend(s, {
        shmemSizes: [REGION],
        // No config space: the device would warn about CONFIG otherwise.
        protocolFeatures: FAKE_PROTOCOL_FEATURES & ~(1n << 9n),
      }),
    ),
  );
  // Two devices, each with its own back-end: the first one's is a
  // rehearsal (what the first flood makes the process load and size, code,
  // caches, allocator arenas, is not what a back-end leaves behind).
  const dev = (n: number): string[] => [
    '-chardev',
    `socket,id=c${n},path=${join(dir, 'be.sock')}`,
    '-device',
    `vhost-user-device,id=vu${n},chardev=c${n},virtio-id=2,shmem-base=0x${(4 + n).toString(16)}0000000`,
  ];
  tsq = startWatched(TSQOM_CLI, [
    '-M',
    'none',
    ...dev(0),
    ...dev(1),
    '-qmp',
    `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
  ]);
  await waitListening([join(dir, 'qmp.sock')]);
  qmp = await QmpClient.connect(join(dir, 'qmp.sock'));
  await qmp.negotiate();
  const rehearsal = await nextBackend();
  await flood(rehearsal.channel!, 1500);
  rehearsal.close();
});

test.after.always(async () => {
  await qmp?.close().catch(() => undefined);
  await tsq?.stop();
  listener?.close();
  if (memfd >= 0) os.close(memfd);
  rmSync(dir, { recursive: true, force: true });
});

test.serial(
  'a back-end flooding its channel without reading replies: bounded, QMP answered, memory returned when it leaves',
  async (t) => {
    const be = await nextBackend();
    await qmp.execute('query-version');
    await sleep(300);
    const fds = tsq.fdCount();
    const base = await tsq.quietRss();
    const watch = watchUnder(tsq, base, () => qmp.execute('query-version'));
    const took = await flood(be.channel!, 3000);
    const { peak, latencies: l } = await watch.stop();
    const fdsUnderFlood = tsq.fdCount();
    // What was answered (and not read) is there to read: the front-end
    // served the flood until its replies backed up.
    let replyBytes = 0;
    be.channel!.on('data', (d) => (replyBytes += d.length));
    be.channel!.resume();
    await sleep(500);
    // The back-end leaves.
    be.close();
    await sleep(300);
    const after = await tsq.rssReturnsBelow(base * 1.1);
    t.log(
      `base ${(base / MiB).toFixed(1)} MiB, peak +${((peak - base) / MiB).toFixed(1)} MiB, ` +
        `after ${(after / MiB).toFixed(1)} MiB, took ${(took / MiB).toFixed(2)} MiB, ` +
        `replies ${replyBytes / 20}, fds ${fds} -> ${fdsUnderFlood} -> ${tsq.fdCount()}, ` +
        `latency max ${Math.max(...l).toFixed(1)} ms`,
    );
    t.true(peak - base < 64 * MiB, `peak +${peak - base}`);
    // It stopped reading once its replies were not drained.
    t.true(took < 16 * MiB, `took ${took}`);
    t.true(replyBytes >= 20 * 1000, `${replyBytes / 20} replies`);
    t.true(l.length >= 10, `${l.length} samples`);
    t.true(
      l.every((x) => x < DONE_WHEN.latencyMs),
      l.map((x) => x.toFixed(0)).join(' '),
    );
    t.true(after <= base * 1.1, `${after} vs ${base}`);
    // The fds that came with the maps are not hoarded while the flood lasts.
    t.true(fdsUnderFlood - fds < 80, `${fds} -> ${fdsUnderFlood}`);
    // Its sockets (and anything that came with its messages) are closed.
    t.true(tsq.fdCount() <= fds - 2, `${fds} -> ${tsq.fdCount()}: ${tsq.fdList()}`);
    t.truthy(await qmp.execute('query-version'));
    t.notRegex(tsq.stderr(), /uv_poll|Bad file descriptor|heap out of memory|\n\s+at /);
  },
);
