import 'reflect-metadata';
import test from 'ava';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container, injectable } from 'tsyringe';
import * as C from '../../src/native/constants.js';
import {
  HostOs,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MFD_HUGETLB,
  native,
  OsError,
  PROT_READ,
  PROT_WRITE,
  TMPFS_MAGIC,
  errnoName,
  strerror,
  type NativeMapping,
} from '../../src/native/index.js';

test('HostOs is a container singleton', (t) => {
  const a = container.resolve(HostOs);
  t.is(a, container.resolve(HostOs));
  t.is(a.getpid(), process.pid);
  t.true(a.pageSize() >= 4096 && (a.pageSize() & (a.pageSize() - 1)) === 0);
  t.true(a.onlineCpus() >= 1);
});

test('a substitute HostOs can inject faults (ENOMEM from mmap)', (t) => {
  @injectable()
  class NoMemory extends HostOs {
    override mmap(): NativeMapping {
      throw new OsError(12, 'mmap');
    }
  }
  const child = container.createChildContainer();
  child.registerSingleton(HostOs, NoMemory);
  const os = child.resolve(HostOs);
  t.true(os instanceof NoMemory);
  const e = t.throws(
    () => os.mapMemory(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS),
    {
      instanceOf: OsError,
    },
  );
  t.is(e?.code, 'ENOMEM');
  t.is(e?.errno, 12);
  t.is(e?.syscall, 'mmap');
  t.is(e?.message, 'mmap: Cannot allocate memory (ENOMEM)');
  // The default container is untouched.
  container
    .resolve(HostOs)
    .mapMemory(4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)
    .unmap();
});

test("strerror gives glibc's wording; errnoName the symbol", (t) => {
  t.is(strerror(2), 'No such file or directory');
  t.is(strerror(12), 'Cannot allocate memory');
  t.is(strerror(13), 'Permission denied');
  t.is(strerror(17), 'File exists');
  t.is(strerror(22), 'Invalid argument');
  t.is(strerror(16), 'Device or resource busy');
  t.is(strerror(28), 'No space left on device');
  t.is(strerror(9999), 'Unknown error 9999');
  t.is(errnoName(2), 'ENOENT');
  t.is(errnoName(11), 'EAGAIN');
  t.is(native().errnoName(125), 'ECANCELED');
  const e = new OsError(2, 'open');
  t.is(e.strerror, 'No such file or directory');
  t.is(e.name, 'OsError');
  t.true(e instanceof Error);
});

test('errors thrown by the addon are OsErrors carrying errno, code and syscall', (t) => {
  const e = t.throws(() => native().fstat(-1), { instanceOf: OsError });
  t.is(e?.errno, 9);
  t.is(e?.code, 'EBADF');
  t.is(e?.syscall, 'fstat');
  const s = t.throws(() => native().statfs('/nonexistent/x'), { instanceOf: OsError });
  t.is(s?.code, 'ENOENT');
  t.is(s?.syscall, 'statfs');
  // Argument mistakes are TypeErrors/RangeErrors, not errno errors.
  t.throws(() => native().close('x' as unknown as number), { instanceOf: TypeError });
  t.throws(() => native().ftruncate(0, -1), { instanceOf: RangeError });
});

test('the hard-coded constants match the ones the addon was built with', (t) => {
  const host = native().constants;
  const ours = C as unknown as Record<string, number>;
  let compared = 0;
  for (const [name, value] of Object.entries(host)) {
    const key = name.startsWith('_SC_') ? name.slice(1) : name;
    if (key in ours) {
      t.is(ours[key], value, name);
      compared++;
    }
  }
  t.true(compared > 80, `${compared} compared`);
});

test('statfs tells tmpfs apart; hugetlbFlag encodes page sizes', (t) => {
  const os = container.resolve(HostOs);
  t.is(os.statfs('/dev/shm').type, TMPFS_MAGIC);
  t.is(os.hugetlbFlag(2 << 20), 21 << 26);
  t.is(os.hugetlbFlag(1 << 30), (30 << 26) >>> 0);
  t.throws(() => os.hugetlbFlag(3 << 20), { instanceOf: RangeError });
  // No huge pages are reserved on a default machine: MFD_HUGETLB memfds can
  // be created, but the errno (if any) comes through faithfully.
  try {
    const fd = os.memfdCreate('tsqom-huge', MFD_HUGETLB | os.hugetlbFlag(2 << 20));
    t.is(os.fstat(fd).blksize, 2 << 20);
    os.close(fd);
  } catch (e) {
    t.true(e instanceof OsError);
  }
});

test('flock: exclusive locks exclude other open file descriptions', (t) => {
  const os = container.resolve(HostOs);
  const { fd, path } = os.mkstemp(join(tmpdir(), 'tsqom-lock-XXXXXX'));
  const other = os.open(path, C.O_RDWR | C.O_CLOEXEC);
  try {
    t.true(os.flock(fd, C.LOCK_EX | C.LOCK_NB));
    t.false(os.flock(other, C.LOCK_EX | C.LOCK_NB));
    t.true(os.flock(fd, C.LOCK_UN));
    t.true(os.flock(other, C.LOCK_SH | C.LOCK_NB));
    const e = t.throws(() => os.flock(-1, C.LOCK_EX), { instanceOf: OsError });
    t.is(e?.code, 'EBADF');
  } finally {
    os.close(fd);
    os.close(other);
    os.unlink(path);
  }
});

test('mkstemp, pwrite/pread, fallocate, unlink', (t) => {
  const os = container.resolve(HostOs);
  const { fd, path } = os.mkstemp(join(tmpdir(), 'tsqom-test-XXXXXX'));
  try {
    t.true(path.startsWith(join(tmpdir(), 'tsqom-test-')));
    t.regex(path, /tsqom-test-[A-Za-z0-9]{6}$/);
    t.is(os.pwrite(fd, Buffer.from('hello'), 10), 5);
    const b = Buffer.alloc(5);
    t.is(os.pread(fd, b, 10), 5);
    t.is(b.toString(), 'hello');
    os.fallocate(fd, 0, 0, 8192);
    t.is(os.fstat(fd).size, 8192);
    t.is(os.stat(path).ino, os.fstat(fd).ino);
    t.true((os.getStatusFlags(fd) & C.O_RDWR) !== 0);
  } finally {
    os.close(fd);
    os.unlink(path);
  }
  const e = t.throws(() => os.unlink(path), { instanceOf: OsError });
  t.is(e?.code, 'ENOENT');
});
