/**
 * Hostile back-ends on the front-end's back-end channel, and hostile
 * peers of a vdev-shmem doorbell: a back-end that floods requests and
 * never reads the replies, one that vanishes mid-message, a peer that
 * opens connections without end or floods bytes.
 */
import 'reflect-metadata';
import test from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { HostOs } from '../../src/native/host.js';
import {
  AF_UNIX,
  MFD_CLOEXEC,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from '../../src/native/constants.js';
import { UNIX_STREAM_MAX_PENDING_BYTES, UnixStream } from '../../src/io/unix-stream.js';
import { VhostUserBackendChannel } from '../../src/hw/virtio/vhost-user/frontend/frontend-channel.js';
import {
  VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS,
  VdevShmemDoorbell,
} from '../../src/hw/misc/vdev-shmem-doorbell.js';

const os = container.resolve(HostOs);

/** A back-end request header with NEED_REPLY (version 1 | NEED_REPLY). */
function request(req: number, size = 0): Buffer {
  const b = Buffer.alloc(12 + size);
  b.writeUInt32LE(req, 0);
  b.writeUInt32LE(0x1 | 0x8, 4);
  b.writeUInt32LE(size, 8);
  return b;
}

const CONFIG_CHANGE_MSG = 2;
const SHMEM_MAP = 9;

const fdCount = (): number => readdirSync('/proc/self/fd').length;

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test.serial(
  'a back-end that floods requests and never reads: the channel stops reading, memory bounded, released on hang-up',
  async (t) => {
    const [a, b] = UnixStream.pair();
    const reports: string[] = [];
    const ch = new VhostUserBackendChannel(a, {
      handler: { configChange: () => undefined },
      report: (m) => reports.push(m),
    });
    const closed = new Promise<void>((r) => ch.once('close', () => r()));
    // b never reads; it writes as long as its socket takes it.
    const unit = Buffer.concat(Array.from({ length: 1024 }, () => request(CONFIG_CHANGE_MSG)));
    let stalledSince = 0;
    const start = Date.now();
    let lastHandled = -1;
    while (Date.now() - start < 4000) {
      if (b.pendingBytes < 256 * 1024) b.send(unit);
      await new Promise((r) => setImmediate(r));
      if (ch.handled !== lastHandled) {
        lastHandled = ch.handled;
        stalledSince = Date.now();
      } else if (Date.now() - stalledSince > 300) break;
    }
    t.true(a.throttled, 'the channel stopped reading');
    t.true(a.pendingBytes <= UNIX_STREAM_MAX_PENDING_BYTES + 64, `${a.pendingBytes}`);
    t.true(ch.handled > 1000 && ch.handled < 200_000, `${ch.handled}`);
    b.close();
    await closed;
    t.true(a.closed);
    t.is(a.pendingBytes, 0);
    t.deepEqual(reports, []);
  },
);

test.serial(
  'a back-end vanishing in the middle of a SHMEM_MAP with its fd leaves no descriptor behind',
  async (t) => {
    const before = fdCount();
    for (let i = 0; i < 20; i++) {
      const [a, b] = UnixStream.pair();
      const ch = new VhostUserBackendChannel(a, { report: () => undefined });
      const closed = new Promise<void>((r) => ch.once('close', () => r()));
      const memfd = os.memfdCreate('hostile', MFD_CLOEXEC);
      const msg = request(SHMEM_MAP, 40);
      b.send(msg.subarray(0, 30), [memfd]);
      os.close(memfd);
      await new Promise((r) => setTimeout(r, 5));
      b.close();
      await closed;
    }
    await until(() => fdCount() === before);
    t.is(fdCount(), before);
  },
);

test.serial(
  'a doorbell keeps a bounded number of connections and survives byte floods',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-bell-'));
    let rings = 0;
    const bell = new VdevShmemDoorbell(
      { pid: process.pid, token: 0x5eed },
      { onRing: () => rings++, onPeerGone: () => undefined },
      dir,
    );
    bell.start();
    const socks: number[] = [];
    try {
      const n0 = fdCount();
      const extra = 40;
      for (let i = 0; i < VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS + extra; i++) {
        const s = os.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        try {
          os.connect(s, bell.path);
        } catch {
          os.close(s);
          await new Promise((r) => setTimeout(r, 20));
          i--;
          continue;
        }
        socks.push(s);
        if (i % 32 === 0) await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 300));
      // Our ends, plus at most the doorbell's limit of accepted ends.
      const accepted = fdCount() - n0 - socks.length;
      t.true(accepted <= VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS, `${accepted}`);
      t.true(accepted >= VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS - 8, `${accepted}`);
      // A flood of bytes on one connection does not starve the event loop.
      const junk = Buffer.alloc(65536, 1);
      const t0 = performance.now();
      let timerLate = 0;
      const timer = setInterval(() => {
        timerLate = Math.max(timerLate, performance.now() - t0);
      }, 10);
      for (let i = 0; i < 20; i++) {
        try {
          os.sendmsg(socks[0]!, junk);
        } catch {
          // Full (EAGAIN) for now: the doorbell drains it a bite per wake-up.
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      clearInterval(timer);
      t.true(timerLate < 2000);
      bell.ringSelf();
      await until(() => rings > 0);
      t.true(rings > 0);
    } finally {
      for (const s of socks) os.close(s);
      bell.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
