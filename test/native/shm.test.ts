import 'reflect-metadata';
import test from 'ava';
import { existsSync } from 'node:fs';
import { container } from 'tsyringe';
import {
  HostOs,
  MAP_SHARED,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_RDWR,
  OsError,
  PROT_READ,
  PROT_WRITE,
} from '../../src/native/index.js';
import { mapsLineAt, runChild } from '../helpers/native/util.js';

const os = container.resolve(HostOs);
const SIZE = 2 << 20;

test('shm: O_EXCL mode 0, unlinked at once, the descriptor still works', async (t) => {
  const name = `/tsqom-test-${process.pid}-shm`;
  const fd = os.shmOpen(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  try {
    t.true(existsSync(`/dev/shm${name}`));
    t.is(os.fstat(fd).mode & 0o777, 0);
    // O_EXCL: a second creation of the same name fails.
    const again = t.throws(() => os.shmOpen(name, O_RDWR | O_CREAT | O_EXCL, 0), {
      instanceOf: OsError,
    });
    t.is(again?.code, 'EEXIST');
    t.is(again?.syscall, 'shm_open');
    os.shmUnlink(name);
    t.false(existsSync(`/dev/shm${name}`));
    const gone = t.throws(() => os.shmUnlink(name), { instanceOf: OsError });
    t.is(gone?.code, 'ENOENT');

    os.ftruncate(fd, SIZE);
    t.is(os.fstat(fd).size, SIZE);
    const m = os.mapMemory(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    try {
      const line = mapsLineAt(m.address);
      t.is(line?.path, `/dev/shm${name} (deleted)`);
      t.is(line?.perms, 'rw-s');
      t.is(line!.end - line!.start, BigInt(SIZE));
      m.writeU32(8, 0xdeadbeef);
      const r = await runChild(['check', String(SIZE), '8', '4', '239'], fd);
      t.deepEqual(r.lines, ['matching 1'], r.stderr);
      await runChild(['fill', String(SIZE), '100', '4', '17'], fd);
      t.is(m.readU32(100), 0x11111111);
    } finally {
      m.unmap();
    }
  } finally {
    os.close(fd);
    if (existsSync(`/dev/shm${name}`)) os.shmUnlink(name);
  }
});
