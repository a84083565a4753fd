/**
 * Hostile front-ends against a back-end process written with tsqom's
 * back-end library, watched from outside: one that never reads its
 * replies, floods of malformed messages, too many fds on one message,
 * front-ends vanishing in the middle of a message.
 */
import 'reflect-metadata';
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { container } from 'tsyringe';
import { HostOs } from '../../src/native/host.js';
import { MFD_CLOEXEC } from '../../src/native/constants.js';
import { UnixStream } from '../../src/io/unix-stream.js';
import {
  connectUnix,
  proveNonReaderBounds,
  startWatched,
  underNonReader,
  type WatchedChild,
  waitListening,
} from '../helpers/hostile/child.js';

const MiB = 1024 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const os = container.resolve(HostOs);

let dir: string;
/** Resident size after the warm-up, before the first hostile client of a test. */
let reference: number;
let path: string;
let child: WatchedChild;

/** A vhost-user header: request, flags (version 1, plus extra bits), payload size. */
function header(request: number, size = 0, flags = 0x1): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(request, 0);
  b.writeUInt32LE(flags, 4);
  b.writeUInt32LE(size, 8);
  return b;
}

const GET_FEATURES = 1;
const SET_MEM_TABLE = 5;

/** One GET_FEATURES round trip on `s`. */
function getFeatures(s: UnixStream): Promise<void> {
  return new Promise((resolve) => {
    let n = 0;
    const onData = (d: Buffer): void => {
      n += d.length;
      if (n >= 20) {
        s.off('data', onData);
        resolve();
      }
    };
    s.on('data', onData);
    s.send(header(GET_FEATURES));
  });
}

/** Waits (up to 3 s) for the child's descriptor count to reach `n`. */
async function fdsSettle(n: number): Promise<void> {
  const deadline = Date.now() + 3000;
  while (child.fdCount() !== n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-vu-'));
  path = join(dir, 'backend.sock');
  child = startWatched(join(here, '..', 'helpers', 'hostile', 'backend-child.js'), [path]);
  await waitListening([path]);
  const s = await UnixStream.connect(path);
  s.resume();
  for (let i = 0; i < 100; i++) await getFeatures(s);
  s.close();
  // Warm up: the first flood sizes what the process keeps for good (code, caches, arenas).
  await measure(1000);
  reference = await child.quietRss();
});

/** Connects a front-end that sends but never reads. */
async function nonReader(): Promise<import('node:net').Socket> {
  const bad = await connectUnix(path);
  bad.pause();
  return bad;
}

/** Floods GET_FEATURES from a non-reading front-end while another asks every 50 ms. */
async function measure(ms: number): ReturnType<typeof underNonReader> {
  const other = await UnixStream.connect(path);
  other.resume();
  await getFeatures(other);
  try {
    return await underNonReader(child, nonReader, header(GET_FEATURES), ms, () =>
      getFeatures(other),
    );
  } finally {
    other.close();
  }
}

test.after.always(async () => {
  await child?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial(
  'a front-end that never reads GET_FEATURES replies: bounded, others answered, memory returned, no bogus error',
  async (t) => {
    await settle();
    const fds = child.fdCount();
    const r = await proveNonReaderBounds(t, () => measure(3000), reference);
    // It stopped reading once about 1 MiB of replies was queued.
    t.true(r.took < 8 * MiB, `took ${r.took}`);
    await fdsSettle(fds);
    t.is(child.fdCount(), fds, child.fdList());
    t.notRegex(child.stderr(), /uv_poll|Bad file descriptor|Broken pipe|reset by peer/);
  },
);

test.serial(
  'floods of malformed messages: each connection is dropped, nothing leaks',
  async (t) => {
    await settle();
    const fds = child.fdCount();
    for (let i = 0; i < 50; i++) {
      const s = await connectUnix(path);
      s.on('error', () => undefined);
      // Bad version bits, then an oversized payload announcement.
      s.write(i % 2 ? header(GET_FEATURES, 0, 0x7) : header(GET_FEATURES, 0x7fffffff));
      await new Promise<void>((r) => s.once('close', () => r()));
    }
    await settle();
    t.is(child.fdCount(), fds);
    t.regex(child.stderr(), /Failed to read msg header\. Flags 0x7 instead of 0x5\./);
    t.regex(child.stderr(), /Failed to read msg header\. Size 2147483647 exceeds the maximum/);
  },
);

test.serial('more than 8 fds on one message are refused and closed', async (t) => {
  await settle();
  const fds = child.fdCount();
  const s = await UnixStream.connect(path);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.resume();
  const memfds = Array.from({ length: 9 }, () => os.memfdCreate('hostile', MFD_CLOEXEC));
  s.send(Buffer.concat([header(SET_MEM_TABLE, 8), Buffer.alloc(8)]), memfds);
  for (const fd of memfds) os.close(fd);
  await closed;
  await settle();
  t.is(child.fdCount(), fds);
  t.regex(child.stderr(), /Too many file descriptors for one message: 9, at most 8/);
});

test.serial(
  'front-ends vanishing in the middle of a message with fds leave nothing behind',
  async (t) => {
    await settle();
    const fds = child.fdCount();
    for (let i = 0; i < 30; i++) {
      const s = await UnixStream.connect(path);
      const memfds = [
        os.memfdCreate('hostile', MFD_CLOEXEC),
        os.memfdCreate('hostile', MFD_CLOEXEC),
      ];
      // A SET_MEM_TABLE that announces 8 + 2 * 32 bytes and sends half.
      s.send(Buffer.concat([header(SET_MEM_TABLE, 72), Buffer.alloc(36)]), memfds);
      for (const fd of memfds) os.close(fd);
      s.close();
    }
    await settle();
    t.is(child.fdCount(), fds);
    // The back-end still serves.
    const s = await UnixStream.connect(path);
    s.resume();
    await getFeatures(s);
    s.close();
    t.pass();
  },
);
