import 'reflect-metadata';
import test from 'ava';
import { container } from 'tsyringe';
import {
  HostOs,
  MADV_DODUMP,
  MADV_DONTDUMP,
  MADV_DONTNEED,
  MADV_MERGEABLE,
  MADV_POPULATE_WRITE,
  MADV_REMOVE,
  MADV_UNMERGEABLE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_CLOEXEC,
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_MF_STRICT,
  MPOL_PREFERRED,
  OsError,
  PROT_READ,
  PROT_WRITE,
} from '../../src/native/index.js';
import { rssOf } from '../helpers/native/util.js';

const os = container.resolve(HostOs);
const MiB = 1 << 20;

test('madvise: DONTDUMP/DODUMP, POPULATE_WRITE and REMOVE act on the memory', (t) => {
  const fd = os.memfdCreate('tsqom-madv', MFD_CLOEXEC);
  try {
    os.ftruncate(fd, 4 * MiB);
    const m = os.mapMemory(4 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    try {
      os.madvise(m, 0, 4 * MiB, MADV_DONTDUMP);
      os.madvise(m, 0, 4 * MiB, MADV_DODUMP);
      os.madvise(m, 0, 4 * MiB, MADV_POPULATE_WRITE);
      t.is(rssOf(m.address), 4 * MiB);
      m.writeU32(0, 42);
      os.madvise(m, 0, 4 * MiB, MADV_REMOVE);
      t.is(rssOf(m.address), 0);
      t.is(os.fstat(fd).blocks, 0); // the file lost the data too
      t.is(m.readU32(0), 0);
    } finally {
      m.unmap();
    }
  } finally {
    os.close(fd);
  }
});

test('madvise: MERGEABLE on anonymous memory is accepted or fails with its errno', (t) => {
  using m = os.mapMemory(MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  for (const advice of [MADV_MERGEABLE, MADV_UNMERGEABLE]) {
    try {
      os.madvise(m, 0, MiB, advice);
      t.pass();
    } catch (e) {
      // Kernels without KSM say EINVAL; the caller decides what that means.
      t.is((e as OsError).code, 'EINVAL');
    }
  }
  os.madvise(m, 0, MiB, MADV_DONTNEED);
});

test('madvise errors surface errno, code and syscall', (t) => {
  using m = os.mapMemory(MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const bogus = t.throws(() => os.madvise(m, 0, MiB, 9999), { instanceOf: OsError });
  t.is(bogus?.code, 'EINVAL');
  t.is(bogus?.errno, 22);
  t.is(bogus?.syscall, 'madvise');
  // Unaligned start.
  const unaligned = t.throws(() => os.madvise(m, 1, 4096, MADV_DONTNEED), { instanceOf: OsError });
  t.is(unaligned?.code, 'EINVAL');
  // MADV_REMOVE on private anonymous memory is not supported.
  const remove = t.throws(() => os.madvise(m, 0, MiB, MADV_REMOVE), { instanceOf: OsError });
  t.is(remove?.code, 'EINVAL');
  t.throws(() => os.madvise(m, 0, 2 * MiB, MADV_DONTNEED), { instanceOf: RangeError });
});

test('mbind: MPOL_DEFAULT works; a node that does not exist fails with errno', (t) => {
  using m = os.mapMemory(MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  os.mbind(m, MPOL_DEFAULT, [], 0, 0);
  t.is(os.getMempolicy(m).mode, MPOL_DEFAULT);
  // Node 0 always exists.
  os.mbind(m, MPOL_PREFERRED, [0], 2, 0);
  const p = os.getMempolicy(m);
  t.is(p.mode, MPOL_PREFERRED);
  t.deepEqual(p.nodes, [0]);
  os.mbind(m, MPOL_DEFAULT, [], 0, 0);
  const e = t.throws(() => os.mbind(m, MPOL_BIND, [100], 128, MPOL_MF_STRICT), {
    instanceOf: OsError,
  });
  t.is(e?.code, 'EINVAL');
  t.is(e?.syscall, 'mbind');
  const nodes = t.throws(() => os.mbind(m, MPOL_DEFAULT, [0], 2, 0), { instanceOf: OsError });
  t.is(nodes?.code, 'EINVAL');
});
