import 'reflect-metadata';
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import {
  HostOs,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_CLOEXEC,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  OsError,
  PROT_READ,
  PROT_WRITE,
} from '../../src/native/index.js';
import { fdCount, mappingCount, mapsLineAt } from '../helpers/native/util.js';

const os = container.resolve(HostOs);
const page = os.pageSize();

test('/proc/self/maps shows each mapping with its permissions and name, until unmapped', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-maps-'));
  const fds: number[] = [];
  try {
    const memfd = os.memfdCreate('tsqom-maps', MFD_CLOEXEC);
    fds.push(memfd);
    os.ftruncate(memfd, 16 * page);
    const path = join(dir, 'file');
    writeFileSync(path, Buffer.alloc(8 * page, 1));
    const rofd = os.open(path, O_RDONLY | O_CLOEXEC);
    fds.push(rofd);

    const shared = os.mmap(16 * page, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    const priv = os.mmap(16 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, memfd, 0);
    const ro = os.mmap(8 * page, PROT_READ, MAP_SHARED, rofd, 0);
    const withOffset = os.mmap(4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 4 * page);
    const anon = os.mmap(
      32 * page,
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
    );
    const cases = [
      [shared, 'rw-s', '/memfd:tsqom-maps (deleted)', 16],
      [priv, 'rw-p', '/memfd:tsqom-maps (deleted)', 16],
      [ro, 'r--s', path, 8],
      [withOffset, 'rw-s', '/memfd:tsqom-maps (deleted)', 4],
      [anon, 'rw-p', '', 32],
    ] as const;
    for (const [m, perms, name, pages] of cases) {
      const l = mapsLineAt(m.address);
      t.truthy(l, `${perms} ${name}`);
      t.is(l?.perms, perms);
      t.is(l?.path, name);
      t.is(l!.end - l!.start, BigInt(pages * page));
    }
    // The offset column of the offset mapping.
    const offsetLine = new RegExp(
      `^${withOffset.address.toString(16)}-\\S+ rw-s 0*${(4 * page).toString(16)} `,
      'm',
    );
    t.regex(readFileSync('/proc/self/maps', 'utf8'), offsetLine);
    for (const [m] of cases) {
      t.true(m.unmap());
      t.false(m.unmap(), 'unmap is idempotent');
      t.is(mapsLineAt(m.address), undefined);
    }
  } finally {
    for (const fd of fds) os.close(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('close leaves the descriptor table as it was; EBADF after', (t) => {
  const before = fdCount();
  const fd = os.memfdCreate('tsqom-fd', MFD_CLOEXEC);
  const dup = os.dup(fd);
  t.is(fdCount(), before + 2);
  t.true(os.fstat(fd).ino === os.fstat(dup).ino);
  os.close(fd);
  os.close(dup);
  t.is(fdCount(), before);
  const e = t.throws(() => os.close(fd), { instanceOf: OsError });
  t.is(e?.code, 'EBADF');
  t.is(e?.errno, 9);
  t.is(e?.syscall, 'close');
});

test('10,000 create/map/unmap/close cycles leave descriptors and mappings as they were', (t) => {
  // Warm up whatever the first cycle allocates once (V8, the addon).
  const cycle = (): void => {
    const fd = os.memfdCreate('tsqom-cycle', MFD_CLOEXEC);
    os.ftruncate(fd, page * 4);
    const m = os.mmap(page * 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    new Uint8Array(m.buffer())[0] = 1;
    m.unmap();
    os.close(fd);
  };
  cycle();
  const fds = fdCount();
  const maps = mappingCount();
  for (let i = 0; i < 10_000; i++) cycle();
  t.is(fdCount(), fds);
  // V8's own heap may map or unmap a few regions meanwhile; a leak would be thousands.
  t.true(Math.abs(mappingCount() - maps) < 50, `${maps} -> ${mappingCount()}`);
  t.false(readFileSync('/proc/self/maps', 'utf8').includes('tsqom-cycle'));
});

test('mmap errors carry errno, code and syscall; MAP_FIXED is refused', (t) => {
  const e = t.throws(() => os.mmap(page, PROT_READ, MAP_SHARED, 987654, 0), {
    instanceOf: OsError,
  });
  t.is(e?.errno, 9);
  t.is(e?.code, 'EBADF');
  t.is(e?.syscall, 'mmap');
  t.is(e?.message, 'mmap: Bad file descriptor (EBADF)');
  const z = t.throws(() => os.mmap(0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS), {
    instanceOf: OsError,
  });
  t.is(z?.code, 'EINVAL');
  t.throws(() => os.mmap(page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | 0x10), {
    instanceOf: RangeError,
  });
  // Writable shared mapping of a read-only descriptor.
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-maps-'));
  try {
    writeFileSync(join(dir, 'f'), Buffer.alloc(page));
    const fd = os.open(join(dir, 'f'), O_RDONLY | O_CLOEXEC);
    try {
      const a = t.throws(() => os.mmap(page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), {
        instanceOf: OsError,
      });
      t.is(a?.code, 'EACCES');
    } finally {
      os.close(fd);
    }
    const n = t.throws(() => os.open(join(dir, 'missing'), O_RDWR), { instanceOf: OsError });
    t.is(n?.code, 'ENOENT');
    t.is(n?.syscall, 'open');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
