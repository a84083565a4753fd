import 'reflect-metadata';
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import {
  AF_UNIX,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EFD_SEMAPHORE,
  HostOs,
  MFD_CLOEXEC,
  OsError,
  SHUT_WR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ERROR,
  UV_READABLE,
  UV_WRITABLE,
  type NativeFdWatcher,
} from '../../src/native/index.js';
import { fdCount } from '../helpers/native/util.js';

const os = container.resolve(HostOs);
const STREAM = SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK;

test('eventfd: counter, semaphore mode, EAGAIN as null/false', (t) => {
  const fd = os.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const sem = os.eventfd(2, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
  try {
    t.is(os.eventfdRead(fd), null);
    t.true(os.eventfdWrite(fd, 3n));
    t.true(os.eventfdWrite(fd, 4n));
    t.is(os.eventfdRead(fd), 7n);
    t.is(os.eventfdRead(fd), null);
    t.true(os.eventfdWrite(fd, 0xfffffffffffffffen));
    t.false(os.eventfdWrite(fd, 1n)); // would overflow
    t.is(os.eventfdRead(fd), 0xfffffffffffffffen);
    t.is(os.eventfdRead(sem), 1n);
    t.is(os.eventfdRead(sem), 1n);
    t.is(os.eventfdRead(sem), null);
    const e = t.throws(() => os.eventfdWrite(fd, 0xffffffffffffffffn), { instanceOf: OsError });
    t.is(e?.code, 'EINVAL');
  } finally {
    os.close(fd);
    os.close(sem);
  }
});

for (const n of [0, 1, 8]) {
  test(`socketpair: sendmsg/recvmsg with ${n} descriptor(s); they are real`, (t) => {
    const before = fdCount();
    const [a, b] = os.socketpair(AF_UNIX, STREAM);
    const sent: number[] = [];
    for (let i = 0; i < n; i++) {
      const fd = os.memfdCreate(`tsqom-pass-${i}`, MFD_CLOEXEC);
      os.ftruncate(fd, 4096 * (i + 1));
      sent.push(fd);
    }
    try {
      t.is(os.recvmsg(b, 100, 8), null);
      t.is(os.sendmsg(a, Buffer.from('payload'), sent), 7);
      const r = os.recvmsg(b, 100, 8);
      t.truthy(r);
      t.is(r!.data.toString(), 'payload');
      t.false(r!.truncatedFds);
      t.is(r!.fds.length, n);
      for (let i = 0; i < n; i++) {
        const got = os.fstat(r!.fds[i]);
        const orig = os.fstat(sent[i]);
        t.is(got.ino, orig.ino);
        t.is(got.dev, orig.dev);
        t.is(got.size, 4096 * (i + 1));
        t.not(r!.fds[i], sent[i]);
        t.is(os.getSeals(r!.fds[i]), os.getSeals(sent[i]));
      }
      for (const fd of r!.fds) os.close(fd);
    } finally {
      for (const fd of sent) os.close(fd);
      os.close(a);
      os.close(b);
    }
    t.is(fdCount(), before);
  });
}

test('recvmsg closes descriptors beyond maxFds and says so', (t) => {
  const [a, b] = os.socketpair(AF_UNIX, STREAM);
  const e = os.eventfd();
  try {
    const before = fdCount();
    os.sendmsg(a, Buffer.from('x'), [e, e, e, e, e]);
    const r = os.recvmsg(b, 10, 2);
    t.is(r!.fds.length, 2);
    t.true(r!.truncatedFds);
    t.is(fdCount(), before + 2);
    for (const fd of r!.fds) os.close(fd);
    t.is(fdCount(), before);
    // maxBytes smaller than the message: the rest stays queued.
    os.sendmsg(a, Buffer.from('abcdef'));
    t.is(os.recvmsg(b, 4, 0)!.data.toString(), 'abcd');
    t.is(os.recvmsg(b, 4, 0)!.data.toString(), 'ef');
    // End of stream: empty data, not null.
    os.shutdown(a, SHUT_WR);
    t.is(os.recvmsg(b, 4, 0)!.data.length, 0);
  } finally {
    os.close(a);
    os.close(b);
    os.close(e);
  }
});

test('sendmsg errors: EAGAIN when full, EPIPE (no SIGPIPE) when the peer is gone, EBADF', (t) => {
  const [a, b] = os.socketpair(AF_UNIX, STREAM);
  try {
    const chunk = Buffer.alloc(65536);
    let err: OsError | undefined;
    for (let i = 0; i < 10_000 && !err; i++) {
      try {
        os.sendmsg(a, chunk);
      } catch (e) {
        err = e as OsError;
      }
    }
    t.is(err?.code, 'EAGAIN');
    t.is(err?.syscall, 'sendmsg');
    os.close(b);
    const pipe = t.throws(() => os.sendmsg(a, Buffer.from('x')), { instanceOf: OsError });
    t.true(pipe?.code === 'EPIPE' || pipe?.code === 'ECONNRESET', pipe?.code);
  } finally {
    os.close(a);
  }
  const bad = t.throws(() => os.sendmsg(a, Buffer.from('x')), { instanceOf: OsError });
  t.is(bad?.code, 'EBADF');
});

test('FdWatcher fires on readability, stops, and closes from inside its callback', async (t) => {
  const [a, b] = os.socketpair(AF_UNIX, STREAM);
  const efd = os.eventfd();
  try {
    let got = '';
    let calls = 0;
    let watcher: NativeFdWatcher | undefined;
    const done = new Promise<void>((resolve) => {
      watcher = os.watch(b, UV_READABLE, (err, events) => {
        calls++;
        t.is(err, null);
        t.true((events & UV_READABLE) !== 0);
        const r = os.recvmsg(b, 100, 0);
        if (r) got += r.data.toString();
        // A stream: the two messages may arrive in one read.
        if (got === 'onetwo') {
          watcher!.close();
          t.true(watcher!.closed);
          resolve();
        }
      });
    });
    watcher!.start();
    t.true(watcher!.active);
    os.sendmsg(a, Buffer.from('one'));
    await new Promise((r) => setTimeout(r, 20));
    os.sendmsg(a, Buffer.from('two'));
    await done;
    t.true(calls >= 1 && calls <= 2);
    t.false(watcher!.active);
    watcher!.close(); // idempotent
    t.throws(() => watcher!.start(), { instanceOf: OsError });

    // eventfd readiness; a stopped watcher stays silent.
    let fired = 0;
    const w = os.watch(efd, UV_READABLE, () => {
      fired++;
      os.eventfdRead(efd);
    });
    w.start();
    os.eventfdWrite(efd, 1n);
    for (let i = 0; i < 100 && fired === 0; i++) await new Promise((r) => setTimeout(r, 5));
    t.is(fired, 1);
    w.stop();
    t.false(w.active);
    os.eventfdWrite(efd, 1n);
    await new Promise((r) => setTimeout(r, 30));
    t.is(fired, 1);
    w.start();
    for (let i = 0; i < 100 && fired === 1; i++) await new Promise((r) => setTimeout(r, 5));
    t.is(fired, 2);
    w.close();
  } finally {
    os.close(a);
    os.close(b);
    os.close(efd);
  }
});

test('unix socket: bind, listen, nonblocking connect, accept, SO_ERROR, names and credentials', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-sock-'));
  const path = join(dir, 'sock');
  const fds: number[] = [];
  try {
    const srv = os.socket(AF_UNIX, STREAM);
    fds.push(srv);
    os.bind(srv, path);
    os.listen(srv, 4);
    t.is(os.accept(srv, SOCK_CLOEXEC | SOCK_NONBLOCK), null);
    t.is(os.getsockname(srv), path);
    const cli = os.socket(AF_UNIX, STREAM);
    fds.push(cli);
    os.connect(cli, path);
    // Writable once connected; SO_ERROR then says 0.
    await new Promise<void>((resolve) => {
      const w = os.watch(cli, UV_WRITABLE, () => {
        w.close();
        resolve();
      });
      w.start();
    });
    t.is(os.getsockoptInt(cli, SOL_SOCKET, SO_ERROR), 0);
    const conn = os.accept(srv, SOCK_CLOEXEC | SOCK_NONBLOCK);
    t.not(conn, null);
    fds.push(conn!);
    t.is(os.getpeername(cli), path);
    t.is(os.getPeerCred(conn!).pid, process.pid);
    os.sendmsg(cli, Buffer.from('hi'));
    t.is(os.recvmsg(conn!, 10, 0)!.data.toString(), 'hi');

    const missing = os.socket(AF_UNIX, STREAM);
    fds.push(missing);
    const e = t.throws(() => os.connect(missing, join(dir, 'nothing')), { instanceOf: OsError });
    t.is(e?.code, 'ENOENT');
    t.is(e?.syscall, 'connect');
    const long = t.throws(() => os.bind(missing, `/${'x'.repeat(200)}`), { instanceOf: OsError });
    t.is(long?.code, 'ENAMETOOLONG');
    const inUse = os.socket(AF_UNIX, STREAM);
    fds.push(inUse);
    const addr = t.throws(() => os.bind(inUse, path), { instanceOf: OsError });
    t.is(addr?.code, 'EADDRINUSE');
  } finally {
    for (const fd of fds) os.close(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pidfdOpen: polls readable once the process exits; ESRCH for no such process', async (t) => {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  const fd = os.pidfdOpen(child.pid!);
  try {
    let fired = 0;
    const w = os.watch(fd, UV_READABLE, () => {
      fired++;
      w.stop();
    });
    w.start();
    await new Promise((r) => setTimeout(r, 100));
    t.is(fired, 0, 'alive');
    child.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (fired === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    t.is(fired, 1);
    w.close();
  } finally {
    os.close(fd);
  }
  const err = t.throws(() => os.pidfdOpen(0x3ffffff), { instanceOf: OsError });
  t.is(err?.code, 'ESRCH');
});
