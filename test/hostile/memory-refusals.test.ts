/**
 * Memory tsqom creates itself: memory-backend-file honours `align` as QEMU
 * 7.2 does (the mapping is aligned; an alignment no address space can
 * give is refused with QEMU's text), refused creations leave no file
 * behind, and memfd memory is sealed against shrinking (QEMU's seal=on).
 */
import test from 'ava';
import 'reflect-metadata';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { userCreatableAddType, userCreatableDel } from '../../src/qom/index.js';
import {
  type HostMemoryBackend,
  TYPE_MEMORY_BACKEND_FILE,
  TYPE_MEMORY_BACKEND_MEMFD,
} from '../../src/backends/index.js';
import { HostOs } from '../../src/native/host.js';
import { F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK } from '../../src/native/constants.js';
import { memoryRegionGetRamBlock } from '../../src/system/index.js';
import { backendAddress } from '../helpers/backends/util.js';

const os = container.resolve(HostOs);
const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-refusals-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

for (const [align, bytes] of [
  ['1G', 2n ** 30n],
  ['1T', 2n ** 40n],
] as const) {
  test.serial(`memory-backend-file align=${align} maps at a multiple of ${align}`, async (t) => {
    const path = join(dir, `align-${align}`);
    const b = await userCreatableAddType(TYPE_MEMORY_BACKEND_FILE, 'al', {
      size: 4 * 2 ** 20,
      'mem-path': path,
      align: Number(bytes),
    });
    try {
      t.is(backendAddress(b as HostMemoryBackend) % bytes, 0n);
    } finally {
      b.unref();
      userCreatableDel('al');
      rmSync(path, { force: true });
    }
  });
}

test.serial("align=2^63 is refused with QEMU's text and leaves no file", async (t) => {
  const path = join(dir, 'huge-align');
  await t.throwsAsync(
    userCreatableAddType(TYPE_MEMORY_BACKEND_FILE, 'al', {
      size: 4 * 2 ** 20,
      'mem-path': path,
      align: 2n ** 63n,
    }),
    { message: 'unable to map backing store for guest RAM: Cannot allocate memory' },
  );
  t.false(existsSync(path));
});

test.serial("align that is not a power of two is refused with QEMU's text", async (t) => {
  await t.throwsAsync(
    userCreatableAddType(TYPE_MEMORY_BACKEND_FILE, 'al', {
      size: 4 * 2 ** 20,
      'mem-path': join(dir, 'odd-align'),
      align: 12288,
    }),
    { message: 'alignment 0x3000 must be a power of two' },
  );
  t.false(existsSync(join(dir, 'odd-align')));
});

test.serial('a refused size deletes the file it created', async (t) => {
  const path = join(dir, 'too-big');
  await t.throwsAsync(
    userCreatableAddType(TYPE_MEMORY_BACKEND_FILE, 'big', { size: 2 ** 50, 'mem-path': path }),
    { message: /^unable to map backing store for guest RAM: / },
  );
  t.false(existsSync(path));
});

test.serial('memfd memory is sealed against shrinking and growing, as QEMU seal=on', async (t) => {
  const b = await userCreatableAddType(TYPE_MEMORY_BACKEND_MEMFD, 'sealed', { size: 2 ** 20 });
  try {
    const fd = memoryRegionGetRamBlock((b as HostMemoryBackend).mr!)!.fd;
    t.is(
      os.getSeals(fd) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
      F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL,
    );
    t.throws(() => os.ftruncate(fd, 0), { code: 'EPERM' });
  } finally {
    b.unref();
    userCreatableDel('sealed');
  }
});
