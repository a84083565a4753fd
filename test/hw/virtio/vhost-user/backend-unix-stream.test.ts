/**
 * UnixStream and UnixListener: the fd-passing socket both vhost-user sides
 * use. Serial: the tests count this process's fds.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  UnixListener,
  UnixStream,
  VHOST_USER_STREAM_FRAMING,
} from '../../../../src/io/unix-stream.js';
import {
  encodeVhostUserMsg,
  VhostUserRequest as R,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import { OsError } from '../../../../src/native/index.js';
import { os, sleep } from '../../../helpers/guest/scripted-frontend.js';
import { fdCount } from '../../../helpers/native/util.js';

interface Received {
  chunks: Buffer[];
  fds: number[][];
  ended: boolean;
  closed: number;
}

function collect(s: UnixStream): Received {
  const r: Received = { chunks: [], fds: [], ended: false, closed: 0 };
  s.on('data', (c, fds) => {
    r.chunks.push(c);
    r.fds.push(fds);
  });
  s.on('end', () => (r.ended = true));
  s.on('close', () => r.closed++);
  s.resume();
  return r;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (let i = 0; i < ms / 5 && !cond(); i++) await sleep(5);
  if (!cond()) throw new Error('condition not met in time');
}

test.serial('bytes and fds go through; the fds are the same files', async (t) => {
  const before = fdCount();
  const [a, b] = UnixStream.pair();
  const got = collect(b);
  const memfd = os.memfdCreate('tsqom-us', 0);
  t.true(a.send(Buffer.from('hello'), [memfd, memfd]));
  await until(() => got.chunks.length > 0);
  t.is(Buffer.concat(got.chunks).toString(), 'hello');
  t.is(got.fds[0].length, 2);
  for (const fd of got.fds[0]) {
    t.is(os.fstat(fd).ino, os.fstat(memfd).ino);
    os.close(fd);
  }
  os.close(memfd);
  a.close();
  await until(() => got.closed === 1);
  t.true(got.ended);
  t.false(a.send(Buffer.from('x')));
  a.close();
  b.close();
  t.is(got.closed, 1, 'close is emitted once');
  t.is(fdCount(), before);
});

test.serial('a large send is queued, fds of waiting messages are duplicates', async (t) => {
  const before = fdCount();
  const [a, b] = UnixStream.pair();
  const big = Buffer.alloc(4 << 20, 7);
  t.true(a.send(big));
  t.true(a.pendingBytes > 0, 'the socket buffer cannot take 4 MiB at once');
  const memfd = os.memfdCreate('tsqom-us-queued', 0);
  t.true(a.send(Buffer.from('tail'), [memfd]));
  // The caller may close its fd at once: the stream sends its own duplicate.
  const ino = os.fstat(memfd).ino;
  os.close(memfd);
  const got = collect(b);
  await until(() => got.chunks.reduce((n, c) => n + c.length, 0) === big.length + 4, 20_000);
  const all = Buffer.concat(got.chunks);
  t.true(all.subarray(0, big.length).equals(big));
  t.is(all.subarray(big.length).toString(), 'tail');
  const fds = got.fds.flat();
  t.is(fds.length, 1);
  t.is(os.fstat(fds[0]).ino, ino);
  os.close(fds[0]);
  t.is(a.pendingBytes, 0);
  a.close();
  b.close();
  t.is(fdCount(), before);
});

test.serial('with framing, fds come with the chunk of their own message', async (t) => {
  const [a, b] = UnixStream.pair({ framing: VHOST_USER_STREAM_FRAMING });
  const plain = encodeVhostUserMsg({ request: R.VHOST_USER_GET_FEATURES }).data;
  const withFd = encodeVhostUserMsg({
    request: R.VHOST_USER_SET_VRING_KICK,
    body: { kind: 'vringFile', file: { index: 0, noFd: false } },
  }).data;
  const efd = os.eventfd();
  // Three messages queued before the reader looks: the kernel would glue them.
  a.send(plain);
  a.send(plain);
  a.send(withFd, [efd]);
  os.close(efd);
  await sleep(20);
  const got = collect(b);
  await until(
    () => got.chunks.reduce((n, c) => n + c.length, 0) === 2 * plain.length + withFd.length,
  );
  // Every chunk lies inside one message; the fd arrives with the third's header.
  const messages = [
    [0, 12],
    [12, 24],
    [24, 24 + withFd.length],
  ];
  let off = 0;
  got.chunks.forEach((c, i) => {
    t.true(
      messages.some(([s, e]) => s <= off && off + c.length <= e),
      `chunk at ${off}`,
    );
    if (got.fds[i].length > 0) {
      t.is(off, 24, 'the fd is attached where the third message starts');
      for (const fd of got.fds[i]) os.close(fd);
    }
    off += c.length;
  });
  t.is(got.fds.flat().length, 1);
  t.is(b.framing, VHOST_USER_STREAM_FRAMING);
  a.close();
  b.close();
});

test.serial('listen, connect, accept; close unlinks the path', async (t) => {
  const before = fdCount();
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-us-'));
  const path = join(dir, 's');
  const l = UnixListener.listen(path);
  const accepted: UnixStream[] = [];
  l.on('connection', (s) => accepted.push(s));
  const c = await UnixStream.connect(path);
  await until(() => accepted.length === 1);
  const got = collect(accepted[0]);
  c.send(Buffer.from('ping'));
  await until(() => got.chunks.length > 0);
  t.is(got.chunks[0].toString(), 'ping');
  t.is(l.path, path);
  l.close();
  t.false(existsSync(path));
  l.close();
  await t.throwsAsync(UnixStream.connect(path), { instanceOf: OsError });
  c.close();
  await until(() => got.closed === 1);
  await rm(dir, { recursive: true, force: true });
  t.is(fdCount(), before);
});

test.serial('changing the framing inside a message is refused', async (t) => {
  const [a, b] = UnixStream.pair({ framing: VHOST_USER_STREAM_FRAMING });
  collect(b);
  a.send(Buffer.alloc(5));
  await sleep(20);
  t.throws(() => (b.framing = undefined), { instanceOf: RangeError });
  a.close();
  b.close();
});
