/**
 * `info mtree` compared with QEMU 7.2 for layouts `-M none` can build from
 * its command line. QEMU prints address spaces and flat views in hash
 * order, which changes from run to run, so blocks are compared as sets.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeSync, openSync, ftruncateSync } from 'node:fs';
import {
  RAM_READONLY,
  RAM_READONLY_FD,
  getSystemMemory,
  memoryRegionAddSubregion,
  memoryRegionDelSubregion,
  memoryRegionInitRam,
  memoryRegionInitRamFromFile,
  memoryRegionNew,
  mtreeInfo,
  type MemoryRegion,
} from '../../src/system/index.js';
import { objectGetObjectsRoot, objectPropertyAddNewContainer } from '../../src/qom/index.js';
import { flatviewNumbers, mtreeBlocks, qemuHmp } from '../helpers/system/qemu-hmp.js';

const COMMANDS = [
  'info mtree',
  'info mtree -f',
  'info mtree -o',
  'info mtree -f -o',
  'info mtree -D',
];
const FLAGS = [
  {},
  { flatview: true },
  { owner: true },
  { flatview: true, owner: true },
  { disabled: true },
] as const;

function compare(t: import('ava').ExecutionContext, ours: string[], theirs: string[]): void {
  for (let i = 0; i < COMMANDS.length; i++) {
    t.deepEqual(mtreeBlocks(ours[i]), mtreeBlocks(theirs[i]), COMMANDS[i]);
    t.false(ours[i].includes('\r'));
    t.true(ours[i].endsWith('\n\n'), COMMANDS[i]);
  }
  // tsqom numbers its views 0, 1, ... in order.
  const n = flatviewNumbers(ours[1]);
  t.deepEqual(
    n,
    n.map((_v, i) => i),
  );
}

/** Maps a RAM region owned by `/objects/<id>` at 0 in system memory, runs `fn`, then removes it all. */
function withRam(
  id: string,
  make: (mr: MemoryRegion, owner: ReturnType<typeof objectGetObjectsRoot>) => void,
  fn: () => void,
): void {
  const owner = objectPropertyAddNewContainer(objectGetObjectsRoot(), id);
  const mr = memoryRegionNew();
  make(mr, owner);
  memoryRegionAddSubregion(getSystemMemory(), 0n, mr);
  try {
    fn();
  } finally {
    memoryRegionDelSubregion(getSystemMemory(), mr);
    owner.unparent();
  }
}

const ours = (): string[] => FLAGS.map((f) => mtreeInfo(f));

test.serial('-M none without RAM: an empty system memory and the I/O space', async (t) => {
  const theirs = await qemuHmp([], COMMANDS);
  const mine = ours();
  compare(t, mine, theirs);
  t.true(mine[1].includes(' Root memory region: (none)\n  No rendered FlatView\n'));
});

test.serial('-m 16M: RAM owned by /objects/ram', async (t) => {
  const theirs = await qemuHmp(['-m', '16M'], COMMANDS);
  withRam(
    'ram',
    (mr, owner) => memoryRegionInitRam(mr, owner, 'ram', 16n << 20n),
    () => compare(t, ours(), theirs),
  );
});

test.serial('memory-backend-ram as machine memory', async (t) => {
  const theirs = await qemuHmp(
    ['-object', 'memory-backend-ram,id=m,size=16M', '-machine', 'memory-backend=m'],
    COMMANDS,
  );
  withRam(
    'm',
    (mr, owner) => memoryRegionInitRam(mr, owner, 'm', 16n << 20n),
    () => compare(t, ours(), theirs),
  );
});

test.serial('read-only memory-backend-file: a ROM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-mtree-'));
  try {
    const img = join(dir, 'rom.img');
    const fd = openSync(img, 'w');
    ftruncateSync(fd, 16 << 20);
    closeSync(fd);
    const theirs = await qemuHmp(
      [
        '-object',
        `memory-backend-file,id=m,size=16M,mem-path=${img},readonly=on`,
        '-machine',
        'memory-backend=m',
      ],
      COMMANDS,
    );
    withRam(
      'm',
      (mr, owner) =>
        memoryRegionInitRamFromFile(
          mr,
          owner,
          'm',
          16n << 20n,
          0n,
          RAM_READONLY | RAM_READONLY_FD,
          img,
          0n,
        ),
      () => {
        const mine = ours();
        compare(t, mine, theirs);
        t.true(mine[0].includes('(prio 0, rom): m\n'));
      },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
