/**
 * VIRTIO Shared Memory map+unmap pairs per second with 1,000, 10,000 and
 * 100,000 live mappings in one region, against QEMU's algorithm (a list
 * scanned for every overlap check and every unmap lookup), implemented
 * here as the reference on top of the same objects. Every pair is real:
 * dup, mmap, a RAM MemoryRegion added to the region's container, then
 * taken out, munmap and close. Goal: the cost of a pair with 100,000 live
 * mappings is within 1.5x of its cost with 1,000.
 *
 * The live mappings are page-sized mappings of one memfd at every other
 * page of the region; measured pairs go into the gaps, at pseudo-random
 * places. 100,000 live mappings need as many memory mappings and
 * descriptors: vm.max_map_count is 65530 by default and RLIMIT_NOFILE is
 * often lower still. When running as root the benchmark raises both for
 * its own run (and puts them back); otherwise the live mappings that do
 * not fit are simulated, present in the region's ordered index (what the
 * overlap check and lookups search) but not mapped, and the row says so.
 * The region is not mapped into an address space, so commits do not
 * re-render it (that cost is the same for both algorithms and grows with
 * the number of mappings in QEMU too).
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { container } from 'tsyringe';
import { type BenchRow, median } from '../harness.js';
import { HostOs, MFD_CLOEXEC } from '../../src/native/index.js';
import { qdevNew, qdevRealize } from '../../src/hw/core/qdev.js';
import {
  TYPE_VIRTIO_DEVICE,
  VirtIODevice,
  type VirtioDeviceClass,
  virtioInit,
} from '../../src/hw/virtio/virtio.js';
import {
  type VirtioSharedMemory,
  type VirtioSharedMemoryMapping,
  virtioAddShmemMap,
  virtioDelShmemMap,
  virtioNewShmemRegion,
  virtioSharedMemoryMappingNew,
  virtioShmemDropAll,
  virtioShmemMap,
  virtioShmemUnmap,
} from '../../src/hw/virtio/virtio-shmem.js';
import { OffsetIndex } from '../../src/hw/virtio/virtio-shmem-index.js';
import {
  type MemoryRegion,
  memoryRegionAddSubregion,
  memoryRegionDelSubregion,
  memoryRegionInit,
  memoryRegionNew,
  memoryRegionTransactionBegin,
  memoryRegionTransactionCommit,
} from '../../src/system/memory.js';
import { objectCheck, typeRegister } from '../../src/qom/index.js';

const TIERS = [1_000, 10_000, 100_000];
const PAGE = 4096;
const REGION_SIZE = 1 << 30;
const RUN_MS = 200;
const REPS = 3;

class BenchVirtio extends VirtIODevice {}
typeRegister<VirtioDeviceClass, BenchVirtio>({
  name: 'bench-shmem-virtio',
  parent: TYPE_VIRTIO_DEVICE,
  instanceType: BenchVirtio,
  classInit(vdc) {
    vdc.vdevRealize = (vdev) => {
      virtioInit(vdev, 16, 0);
      virtioNewShmemRegion(vdev, 0, REGION_SIZE);
    };
  },
});

interface Limits {
  /** How many live mappings fit for real. */
  budget: number;
  restore(): void;
}

function openFiles(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const m = line ? /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line) : null;
  const n = (s: string | undefined): number =>
    s === undefined || s === 'unlimited' ? Infinity : Number(s);
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/**
 * Raises RLIMIT_NOFILE, then vm.max_map_count, as far as allowed and
 * needed for `need` live mappings (each holds a descriptor and a memory
 * mapping); says how many fit.
 */
function raiseLimits(need: number): Limits {
  const undo: (() => void)[] = [];
  const restore = (): void => {
    for (const f of undo.reverse()) {
      try {
        f();
      } catch {
        // Best effort: nothing else to do.
      }
    }
  };
  const usedFds = readdirSync('/proc/self/fd').length;
  const wantFiles = usedFds + need + 1_000;
  let files = openFiles();
  if (files.soft < wantFiles) {
    const old = files;
    try {
      const hard = Math.max(files.hard, wantFiles);
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${wantFiles}:${hard}`], {
        stdio: 'ignore',
      });
      undo.push(() =>
        execFileSync(
          'prlimit',
          [
            '--pid',
            String(process.pid),
            `--nofile=${old.soft}:${Number.isFinite(old.hard) ? old.hard : 'unlimited'}`,
          ],
          { stdio: 'ignore' },
        ),
      );
    } catch {
      // Not allowed (no CAP_SYS_RESOURCE): use what there is.
    }
    files = openFiles();
  }
  const fdBudget = Math.max(0, Math.min(need, files.soft - usedFds - 1_000));
  const mapsPath = '/proc/sys/vm/max_map_count';
  const usedMaps = readFileSync('/proc/self/maps', 'utf8').split('\n').length;
  let maxMaps = Number(readFileSync(mapsPath, 'utf8'));
  if (maxMaps - usedMaps - 10_000 < fdBudget) {
    const want = usedMaps + fdBudget + 20_000;
    try {
      const old = maxMaps;
      writeFileSync(mapsPath, String(want));
      undo.push(() => writeFileSync(mapsPath, String(old)));
      maxMaps = want;
    } catch {
      // Not root: use what there is.
    }
  }
  const budget = Math.max(0, Math.min(fdBudget, maxMaps - usedMaps - 10_000));
  return { budget, restore };
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** QEMU's list of a region's mappings, for the reference algorithm. */
interface QemuList {
  starts: number[];
  lens: number[];
}

// QEMU's ranges_overlap over the whole list, as its SHMEM_MAP handler does.
function linearOverlap(list: QemuList, off: number, len: number): boolean {
  const last2 = off + len - 1;
  const { starts, lens } = list;
  for (let i = 0; i < starts.length; i++) {
    const last1 = starts[i] + lens[i] - 1;
    if (!(last2 < starts[i] || last1 < off)) return true;
  }
  return false;
}

// QEMU's virtio_find_shmem_map: the first exact match in list order.
function linearFind(list: QemuList, off: number, len: number): number {
  const { starts, lens } = list;
  for (let i = 0; i < starts.length; i++) if (starts[i] === off && lens[i] === len) return i;
  return -1;
}

/** Times `pairs(n)` over about RUN_MS; returns nanoseconds per pair. */
function timePairs(pair: (i: number) => void): number {
  const deadline = process.hrtime.bigint() + BigInt(RUN_MS) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  let now = start;
  while (now < deadline) {
    for (let k = 0; k < 64; k++) pair(n++);
    now = process.hrtime.bigint();
  }
  return Number(now - start) / n;
}

interface Placeholder {
  offset: bigint;
  mr: MemoryRegion;
}

/** Runs the benchmark. */
export async function run(): Promise<BenchRow[]> {
  const os = container.resolve(HostOs);
  const max = TIERS[TIERS.length - 1];
  const limits = raiseLimits(max);
  const rows: BenchRow[] = [];
  const dev = objectCheck(qdevNew('bench-shmem-virtio'), BenchVirtio);
  const fd = os.memfdCreate('bench-shmem', MFD_CLOEXEC);
  os.ftruncate(fd, PAGE);
  const placeholders: Placeholder[] = [];
  let shmem: VirtioSharedMemory | null = null;
  try {
    await qdevRealize(dev);
    const region = dev.shmemList[0];
    shmem = region;
    const list: QemuList = { starts: [], lens: [] };
    const rnd = prng(7);
    let live = 0;
    const ours: number[] = [];
    const qemus: number[] = [];
    const index: number[] = [];
    const core: number[] = [];
    const probe = memoryRegionInit(memoryRegionNew(), null, null, PAGE);

    for (const tier of TIERS) {
      // Grow the live set to `tier`: mappings at even pages.
      const grown = Date.now();
      memoryRegionTransactionBegin();
      try {
        for (; live < tier; live++) {
          const off = 2 * live * PAGE;
          if (live < limits.budget) {
            virtioShmemMap(dev, fd, { shmid: 0, fdOffset: 0, shmOffset: off, len: PAGE });
          } else {
            // Past the descriptor/mapping limits: a subregion of the same
            // container and an entry of the same index, without mmap or fd.
            const mr = memoryRegionInit(memoryRegionNew(), null, null, PAGE);
            memoryRegionAddSubregion(region.mr, off, mr);
            const fake = { offset: BigInt(off), len: BigInt(PAGE), mr } as unknown;
            region.index.insert(BigInt(off), fake as VirtioSharedMemoryMapping);
            placeholders.push({ offset: BigInt(off), mr });
          }
          list.starts.push(off);
          list.lens.push(PAGE);
        }
      } finally {
        memoryRegionTransactionCommit();
      }
      process.stderr.write(`  ${tier} live mappings set up in ${Date.now() - grown} ms\n`);
      const gaps = Array.from({ length: 4096 }, () => (2 * Math.floor(rnd() * tier) + 1) * PAGE);

      const oursPair = (i: number): void => {
        const off = gaps[i & 4095];
        virtioShmemMap(dev, fd, { shmid: 0, fdOffset: 0, shmOffset: off, len: PAGE });
        virtioShmemUnmap(dev, { shmid: 0, shmOffset: off, len: PAGE });
      };
      const qemuPair = (i: number): void => {
        const off = gaps[i & 4095];
        if (linearOverlap(list, off, PAGE)) throw new Error('unexpected overlap');
        memoryRegionTransactionBegin();
        try {
          const m = virtioSharedMemoryMappingNew(0, fd, 0, off, PAGE, false);
          virtioAddShmemMap(region, m);
        } finally {
          memoryRegionTransactionCommit();
        }
        list.starts.push(off);
        list.lens.push(PAGE);
        const at = linearFind(list, off, PAGE);
        virtioDelShmemMap(region, off, PAGE);
        list.starts.splice(at, 1);
        list.lens.splice(at, 1);
      };
      // The ordered structure on its own: overlap check, insert, exact lookup, delete.
      const idx = new OffsetIndex<{ offset: bigint; len: bigint }>();
      for (let k = 0; k < tier; k++) {
        idx.insert(BigInt(2 * k * PAGE), { offset: BigInt(2 * k * PAGE), len: BigInt(PAGE) });
      }
      const indexPair = (i: number): void => {
        const off = BigInt(gaps[i & 4095]);
        const f = idx.floor(off);
        if (f && f.offset + f.len > off) throw new Error('unexpected overlap');
        const h = idx.higher(off);
        if (h && h.offset < off + BigInt(PAGE)) throw new Error('unexpected overlap');
        idx.insert(off, { offset: off, len: BigInt(PAGE) });
        if (!idx.get(off)) throw new Error('lost');
        idx.delete(off);
      };
      // The memory core's part: one subregion in and out of the container.
      const corePair = (i: number): void => {
        memoryRegionAddSubregion(region.mr, gaps[i & 4095], probe);
        memoryRegionDelSubregion(region.mr, probe);
      };
      // Warm up, then alternate.
      for (let i = 0; i < 300; i++) {
        oursPair(i);
        qemuPair(i);
        indexPair(i);
        corePair(i);
      }
      const o: number[] = [];
      const q: number[] = [];
      const x: number[] = [];
      const c: number[] = [];
      for (let r = 0; r < REPS; r++) {
        o.push(timePairs(oursPair));
        q.push(timePairs(qemuPair));
        x.push(timePairs(indexPair));
        c.push(timePairs(corePair));
      }
      ours.push(median(o));
      qemus.push(median(q));
      index.push(median(x));
      core.push(median(c));
    }

    const note = (tier: number): string =>
      tier > limits.budget
        ? ` (${(tier - limits.budget).toLocaleString('en-US')} live ones without mmap/fd: RLIMIT_NOFILE/vm.max_map_count)`
        : '';
    const n = (k: number): string => k.toLocaleString('en-US');
    TIERS.forEach((tier, i) => {
      rows.push({
        bench: 'shmem-map',
        metric: `map+unmap pairs, ${n(tier)} live mappings${note(tier)}`,
        value: 1e9 / ours[i],
        unit: 'pairs/s',
        reference: 1e9 / qemus[i],
        referenceName: "QEMU's list scan",
        ratio: qemus[i] / ours[i],
      });
    });
    const last = TIERS.length - 1;
    const growth = ours[last] / ours[0];
    rows.push({
      bench: 'shmem-map',
      metric: `cost per pair, ${n(TIERS[last])} vs ${n(TIERS[0])} live`,
      value: ours[last] / 1000,
      unit: 'us/pair',
      reference: ours[0] / 1000,
      referenceName: `${n(TIERS[0])} live`,
      ratio: growth,
      goal: 'ratio <= 1.5',
      met: growth <= 1.5,
    });
    rows.push({
      bench: 'shmem-map',
      metric: "  same growth with QEMU's list scan",
      value: qemus[last] / 1000,
      unit: 'us/pair',
      reference: qemus[0] / 1000,
      referenceName: `${n(TIERS[0])} live`,
      ratio: qemus[last] / qemus[0],
    });
    rows.push({
      bench: 'shmem-map',
      metric: '  of which the ordered index (check+insert+lookup+delete)',
      value: index[last],
      unit: 'ns/pair',
      reference: index[0],
      referenceName: `${n(TIERS[0])} live`,
      ratio: index[last] / index[0],
    });
    rows.push({
      bench: 'shmem-map',
      metric: '  of which the memory core (add+del subregion in the container)',
      value: core[last],
      unit: 'ns/pair',
      reference: core[0],
      referenceName: `${n(TIERS[0])} live`,
      ratio: core[last] / core[0],
    });
    probe.unref();
  } finally {
    const teardown = Date.now();
    if (shmem) {
      // The real mappings first (the oldest sit at the container's end),
      // then the placeholders, from the end too: the cheapest order.
      for (const p of placeholders) shmem.index.delete(p.offset);
      virtioShmemDropAll(dev);
      for (let i = placeholders.length - 1; i >= 0; i--) {
        memoryRegionDelSubregion(shmem.mr, placeholders[i].mr);
        placeholders[i].mr.unref();
      }
    }
    os.close(fd);
    dev.unparent();
    dev.unref();
    limits.restore();
    process.stderr.write(`  torn down in ${Date.now() - teardown} ms\n`);
  }
  return rows;
}
