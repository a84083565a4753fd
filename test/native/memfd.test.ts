import 'reflect-metadata';
import test from 'ava';
import { container } from 'tsyringe';
import {
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  HostOs,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  OsError,
  PROT_READ,
  PROT_WRITE,
} from '../../src/native/index.js';
import { mapsLineAt, runChild } from '../helpers/native/util.js';

const os = container.resolve(HostOs);
const SIZE = 1 << 20;

test('memfd: create, size, seals refuse growing and shrinking', (t) => {
  const fd = os.memfdCreate('tsqom-seal', MFD_CLOEXEC | MFD_ALLOW_SEALING);
  try {
    os.ftruncate(fd, SIZE);
    t.is(os.fstat(fd).size, SIZE);
    t.is(os.fstat(fd).mode & 0o170000, 0o100000); // S_IFREG
    t.is(os.getSeals(fd), 0);
    os.addSeals(fd, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    t.is(os.getSeals(fd), F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    const grow = t.throws(() => os.ftruncate(fd, SIZE * 2), { instanceOf: OsError });
    t.is(grow?.code, 'EPERM');
    t.is(grow?.syscall, 'ftruncate');
    const shrink = t.throws(() => os.ftruncate(fd, SIZE / 2), { instanceOf: OsError });
    t.is(shrink?.code, 'EPERM');
    const more = t.throws(() => os.addSeals(fd, F_SEAL_GROW), { instanceOf: OsError });
    t.is(more?.code, 'EPERM');
    t.is(os.fstat(fd).size, SIZE);
  } finally {
    os.close(fd);
  }
});

test('memfd: sealing needs MFD_ALLOW_SEALING', (t) => {
  const fd = os.memfdCreate('tsqom-noseal', MFD_CLOEXEC);
  try {
    const e = t.throws(() => os.addSeals(fd, F_SEAL_GROW), { instanceOf: OsError });
    t.is(e?.code, 'EPERM');
    t.is(e?.syscall, 'fcntl');
  } finally {
    os.close(fd);
  }
});

test('memfd: shared mapping is seen by a child process, both ways', async (t) => {
  const fd = os.memfdCreate('tsqom-share', MFD_CLOEXEC);
  os.ftruncate(fd, SIZE);
  const m = os.mapMemory(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  try {
    const line = mapsLineAt(m.address);
    t.truthy(line);
    t.is(line?.path, '/memfd:tsqom-share (deleted)');
    t.is(line?.perms, 'rw-s');

    // The child writes, the parent sees it.
    const w = await runChild(['fill', String(SIZE), '4096', '8192', '165'], fd);
    t.deepEqual(w.lines, ['filled'], w.stderr);
    t.is(w.code, 0);
    t.is(m.readU8(4095), 0);
    t.is(m.readU8(4096), 165);
    t.is(m.readU8(4096 + 8191), 165);
    t.is(m.readU8(4096 + 8192), 0);

    // The parent writes, the child sees it.
    m.write(65536, new Uint8Array(1000).fill(90));
    const r = await runChild(['check', String(SIZE), '65536', '1001', '90'], fd);
    t.deepEqual(r.lines, ['matching 1000'], r.stderr);
  } finally {
    m.unmap();
    os.close(fd);
  }
});
