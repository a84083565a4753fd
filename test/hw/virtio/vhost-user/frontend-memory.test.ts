/**
 * The vhost memory listener keeps its table by redoing QEMU's merging only
 * around what changed. After every one of many random changes to a map of
 * shared RAM regions and aliases (adjacent windows of one block merge,
 * others do not), its table must equal the one a new listener builds from
 * the whole map.
 */
import 'reflect-metadata';
import test from 'ava';
import { existsSync } from 'node:fs';
import { MFD_CLOEXEC } from '../../../../src/native/constants.js';
import { hostOs } from '../../../../src/util/machine-context.js';
import {
  RAM_SHARED,
  addressSpaceDestroy,
  addressSpaceInit,
  memoryListenerRegister,
  memoryListenerUnregister,
  memoryRegionAddSubregion,
  memoryRegionDelSubregion,
  memoryRegionInitAlias,
  memoryRegionNew,
  memoryRegionTransactionBegin,
  memoryRegionTransactionCommit,
  type MemoryRegion,
} from '../../../../src/system/memory.js';
import { memoryRegionInitRamFromFd } from '../../../../src/system/physmem.js';
import { VhostMemoryListener } from '../../../../src/hw/virtio/vhost-user/frontend/frontend-memory.js';
import { containerRegion, newOwner } from '../../../helpers/system/regions.js';

const PAGE = 0x1000;

test.serial('the incremental vhost memory table equals a full rebuild after each change', (t) => {
  const os = hostOs();
  let seed = 99;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed % n;
  };
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x100000n);
  const fds: number[] = [];
  const blocks: MemoryRegion[] = [];
  for (let i = 0; i < 3; i++) {
    const fd = os.memfdCreate('tsqom-vhost-table', MFD_CLOEXEC);
    fds.push(fd);
    blocks.push(
      memoryRegionInitRamFromFd(memoryRegionNew(), owner, `b${i}`, 16 * PAGE, RAM_SHARED, fd, 0),
    );
  }
  // Windows of one page or two onto the blocks: placed next to each other
  // with the right offsets, they continue one another and merge.
  const windows = Array.from({ length: 24 }, (_, i) =>
    memoryRegionInitAlias(
      memoryRegionNew(),
      owner,
      `w${i}`,
      blocks[i % 3],
      BigInt(PAGE * (i % 8)),
      BigInt(PAGE * (1 + (i % 2))),
    ),
  );
  const as = addressSpaceInit(root, 'vhost-table');
  const inc = new VhostMemoryListener();
  memoryListenerRegister(inc, as);
  const show = (l: VhostMemoryListener): string =>
    l.table
      .map((e) => `${e.guestPhysAddr.toString(16)}+${e.memorySize.toString(16)}@${e.mmapOffset}`)
      .join(' ');
  let failures = 0;
  let nonEmpty = 0;
  for (let step = 0; step < 3000; step++) {
    const n = rand(8) === 0 ? 2 + rand(3) : 1;
    memoryRegionTransactionBegin();
    try {
      for (let k = 0; k < n; k++) {
        const w = windows[rand(windows.length)];
        if (w.container) {
          memoryRegionDelSubregion(root, w);
        } else {
          // Pages 0..31, so neighbours and merges are frequent.
          memoryRegionAddSubregion(root, BigInt(PAGE * rand(32)), w);
        }
      }
    } finally {
      memoryRegionTransactionCommit();
    }
    const full = new VhostMemoryListener();
    memoryListenerRegister(full, as);
    if (show(full) !== show(inc) && failures++ < 3) {
      t.fail(`step ${step}: incremental ${show(inc)} full ${show(full)}`);
    }
    if (full.table.length > 1) nonEmpty++;
    memoryListenerUnregister(full);
  }
  t.is(failures, 0);
  t.true(nonEmpty > 1000, 'the maps had several entries');
  memoryListenerUnregister(inc);
  for (const w of windows) if (w.container) memoryRegionDelSubregion(root, w);
  addressSpaceDestroy(as);
  // The RAM blocks own their descriptors: finalizing the owner closes them.
  owner.unref();
  t.false(fds.some((fd) => existsSync(`/proc/self/fd/${fd}`)));
});
