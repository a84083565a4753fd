/**
 * VIRTIO Shared Memory map+unmap pairs through the real device, with the
 * region mapped into the system address space, at 1,000, 10,000 and
 * 100,000 live mappings.
 *
 * A `vhost-user-device` with `shmem-base` set (its 1 TiB region is a
 * subregion of system memory, so every map and unmap changes the `memory`
 * address space's flat view and goes to the device's vhost memory
 * listener) is connected over a unix socket to tsqom's vhost-user back-end
 * library in this process. A pair is SHMEM_MAP then SHMEM_UNMAP of one
 * 4 KiB page sent by the back-end on its channel, each awaiting its
 * REPLY_ACK; the front-end checks, dups, mmaps, adds a RAM region, commits,
 * and takes it all down again. The live mappings are made the same way
 * (the same handler, called directly inside one transaction to save time)
 * at every other page; measured pairs go into the gaps at pseudo-random
 * places.
 *
 * Goal: the cost of a pair with 100,000 live mappings is at most 2x its
 * cost with 1,000. References, measured in the same run on the same
 * objects: QEMU's list scan (its overlap check and unmap lookup walk every
 * mapping) and a full render of the system memory flat view (QEMU renders
 * every flat view whole at each commit, two per pair); the reference pair
 * costs our pair plus those. The in-process part of a pair (the handlers
 * without the socket) is shown too.
 *
 * 100,000 live mappings need as many memory mappings and descriptors:
 * vm.max_map_count is 65530 by default and RLIMIT_NOFILE is often lower
 * still. The benchmark raises both for its own run where it may (and puts
 * them back); the live mappings that still do not fit are placeholders:
 * page-sized I/O regions in the same container (ranges of the same flat
 * view, but not in the vhost memory table) and entries in the same index,
 * and the row says how many.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { type BenchRow, median } from '../harness.js';
import { HostOs, MFD_CLOEXEC } from '../../src/native/index.js';
import { qemuChrDelete, qemuChrNewFromString } from '../../src/chardev/index.js';
import { qdevDeviceAdd, qdevUnplug, qemuDeviceOpts } from '../../src/hw/core/index.js';
import type { VHostUserBase } from '../../src/hw/virtio/vhost-user-base.js';
import '../../src/hw/virtio/vhost-user-base.js';
import { UnixListener } from '../../src/io/unix-stream.js';
import { VhostUserBackend } from '../../src/hw/virtio/vhost-user/backend/backend.js';
import { VHOST_USER_FLAG_MAP_RW } from '../../src/hw/virtio/vhost-user/protocol/protocol.js';
import {
  type VirtioSharedMemoryMapping,
  virtioShmemDropAll,
  virtioShmemMap,
  virtioShmemUnmap,
} from '../../src/hw/virtio/virtio-shmem.js';
import {
  type MemoryRegion,
  addressSpaceMemory,
  getSystemMemory,
  memoryRegionAddSubregion,
  memoryRegionDelSubregion,
  memoryRegionInitIo,
  memoryRegionNew,
  memoryRegionTransactionBegin,
  memoryRegionTransactionCommit,
} from '../../src/system/memory.js';
import { generateMemoryTopology, memoryRegionGetFlatviewRoot } from '../../src/system/flatview.js';

const TIERS = [1_000, 10_000, 100_000];
const PAGE = 4096;
const REGION_SIZE = 1n << 40n;
const SHMEM_BASE = 1n << 40n;
const RUN_MS = 300;
const REPS = 3;
const GOAL = 2;

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

/** Times `pair(i)` over about RUN_MS; returns nanoseconds per pair. */
async function timePairs(pair: (i: number) => Promise<void> | void): Promise<number> {
  const deadline = process.hrtime.bigint() + BigInt(RUN_MS) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  let now = start;
  while (now < deadline) {
    for (let k = 0; k < 16; k++) await pair(n++);
    now = process.hrtime.bigint();
  }
  return Number(now - start) / n;
}

function timeSync(fn: () => void, times: number): number {
  const t: number[] = [];
  for (let i = 0; i < times; i++) {
    const a = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - a));
  }
  return median(t);
}

interface Placeholder {
  offset: bigint;
  mr: MemoryRegion;
}

interface Rig {
  dev: VHostUserBase;
  be: VhostUserBackend;
  close(): Promise<void>;
}

/** The device (shmem-base set) against tsqom's back-end library over a unix socket. */
async function rig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-bench-shmem-map-'));
  const path = join(dir, 'be.sock');
  const listener = UnixListener.listen(path);
  const beP = new Promise<VhostUserBackend>((resolve) =>
    listener.once('connection', (s) =>
      resolve(
        VhostUserBackend.fromStream(
          s,
          { numQueues: 1, shmemSizes: [REGION_SIZE] },
          { onError: (m) => process.stderr.write(`shmem-map bench: ${m}\n`) },
        ),
      ),
    ),
  );
  const chr = `bench-shmem-map-chr${process.pid}`;
  let dev: VHostUserBase | null = null;
  let be: VhostUserBackend | null = null;
  const close = async (): Promise<void> => {
    if (dev && !dev.finalized && dev.parent) qdevUnplug(dev);
    await new Promise((r) => setImmediate(r));
    try {
      qemuChrDelete(chr);
    } catch {
      // Released with the device.
    }
    be?.close();
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await qemuChrNewFromString(`socket,id=${chr},path=${path}`);
    be = await beP;
    dev = (await qdevDeviceAdd(
      qemuDeviceOpts.parse(
        `vhost-user-device,id=bench-shmem-map${process.pid},chardev=${chr},virtio-id=26,shmem-base=${SHMEM_BASE}`,
      ),
    )) as VHostUserBase;
    return { dev, be, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Runs the benchmark. */
export async function run(): Promise<BenchRow[]> {
  const os = container.resolve(HostOs);
  const max = TIERS[TIERS.length - 1];
  const limits = raiseLimits(max);
  const rows: BenchRow[] = [];
  const fd = os.memfdCreate('bench-shmem', MFD_CLOEXEC);
  os.ftruncate(fd, PAGE);
  const placeholders: Placeholder[] = [];
  let r: Rig | null = null;
  try {
    r = await rig();
    const { dev, be } = r;
    const region = dev.shmemRegion(0);
    if (!region || !region.mr.container) throw new Error('the shared memory region is not mapped');
    const system = getSystemMemory();
    if (memoryRegionGetFlatviewRoot(system) !== addressSpaceMemory().currentMap.root) {
      throw new Error('unexpected flat view root');
    }
    const list: QemuList = { starts: [], lens: [] };
    const rnd = prng(7);
    let live = 0;
    const ours: number[] = [];
    const inproc: number[] = [];
    const scans: number[] = [];
    const renders: number[] = [];
    const rw = BigInt(VHOST_USER_FLAG_MAP_RW);

    for (const tier of TIERS) {
      // Grow the live set to `tier`: mappings at even pages.
      const grown = Date.now();
      memoryRegionTransactionBegin();
      try {
        for (; live < tier; live++) {
          const off = 2 * live * PAGE;
          if (live < limits.budget) {
            virtioShmemMap(dev, fd, {
              shmid: 0,
              fdOffset: 0,
              shmOffset: off,
              len: PAGE,
              flags: rw,
            });
          } else {
            const mr = memoryRegionInitIo(memoryRegionNew(), null, null, null, PAGE);
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

      const devicePair = async (i: number): Promise<void> => {
        const off = gaps[i & 4095];
        // Each rejects with the front-end's answer if it fails.
        await be.shmemMap(0, fd, 0n, off, PAGE, rw);
        await be.shmemUnmap(0, off, PAGE);
      };
      const handlerPair = (i: number): void => {
        const off = gaps[i & 4095];
        virtioShmemMap(dev, fd, { shmid: 0, fdOffset: 0, shmOffset: off, len: PAGE, flags: rw });
        virtioShmemUnmap(dev, { shmid: 0, shmOffset: off, len: PAGE });
      };
      const scanPair = (i: number): void => {
        const off = gaps[i & 4095];
        if (linearOverlap(list, off, PAGE)) throw new Error('unexpected overlap');
        list.starts.push(off);
        list.lens.push(PAGE);
        const at = linearFind(list, off, PAGE);
        list.starts.splice(at, 1);
        list.lens.splice(at, 1);
      };
      // Warm up (longer before the first tier, which runs on a cold JIT), then alternate.
      for (let i = 0; i < (tier === TIERS[0] ? 1000 : 200); i++) {
        await devicePair(i);
        handlerPair(i);
        scanPair(i);
      }
      const o: number[] = [];
      const h: number[] = [];
      const q: number[] = [];
      for (let k = 0; k < REPS; k++) {
        o.push(await timePairs(devicePair));
        h.push(await timePairs(handlerPair));
        q.push(await timePairs(scanPair));
      }
      ours.push(median(o));
      inproc.push(median(h));
      scans.push(median(q));
      renders.push(timeSync(() => generateMemoryTopology(system), tier >= 100_000 ? 1 : 3));
      if (addressSpaceMemory().currentMap.nr < tier) {
        throw new Error(
          `mappings missing from the view: ${addressSpaceMemory().currentMap.nr} < ${tier}`,
        );
      }
    }

    const note = (tier: number): string =>
      tier > limits.budget
        ? ` (${(tier - limits.budget).toLocaleString('en-US')} of them I/O placeholders: RLIMIT_NOFILE/vm.max_map_count)`
        : '';
    const n = (k: number): string => k.toLocaleString('en-US');
    const qemu = (i: number): number => ours[i] + scans[i] + 2 * renders[i];
    TIERS.forEach((tier, i) => {
      rows.push({
        bench: 'shmem-map',
        metric: `SHMEM_MAP+UNMAP pairs via the device, ${n(tier)} live mappings${note(tier)}`,
        value: 1e9 / ours[i],
        unit: 'pairs/s',
        reference: 1e9 / qemu(i),
        referenceName: "+ QEMU's list scan and 2 full renders",
        ratio: qemu(i) / ours[i],
      });
    });
    const last = TIERS.length - 1;
    const growth = ours[last] / ours[0];
    rows.push({
      bench: 'shmem-map',
      metric: `cost per pair via the device, ${n(TIERS[last])} vs ${n(TIERS[0])} live`,
      value: ours[last] / 1000,
      unit: 'us/pair',
      reference: ours[0] / 1000,
      referenceName: `${n(TIERS[0])} live`,
      ratio: growth,
      goal: `ratio <= ${GOAL}`,
      met: growth <= GOAL,
    });
    rows.push({
      bench: 'shmem-map',
      metric: '  same growth in-process (handlers, commit, listener; no socket)',
      value: inproc[last] / 1000,
      unit: 'us/pair',
      reference: inproc[0] / 1000,
      referenceName: `${n(TIERS[0])} live`,
      ratio: inproc[last] / inproc[0],
    });
    rows.push({
      bench: 'shmem-map',
      metric: "  same growth with QEMU's list scan + 2 full renders per pair",
      value: qemu(last) / 1000,
      unit: 'us/pair',
      reference: qemu(0) / 1000,
      referenceName: `${n(TIERS[0])} live`,
      ratio: qemu(last) / qemu(0),
    });
    rows.push({
      bench: 'shmem-map',
      metric: '  full render of the system memory flat view (QEMU: every commit)',
      value: renders[last] / 1000,
      unit: 'us',
      reference: renders[0] / 1000,
      referenceName: `${n(TIERS[0])} live`,
      ratio: renders[last] / renders[0],
    });
    rows.push({
      bench: 'shmem-map',
      metric: "  QEMU's list scan (overlap check + unmap lookup)",
      value: scans[last] / 1000,
      unit: 'us/pair',
      reference: scans[0] / 1000,
      referenceName: `${n(TIERS[0])} live`,
      ratio: scans[last] / scans[0],
    });
  } finally {
    const teardown = Date.now();
    if (r) {
      const shmem = r.dev.shmemRegion(0);
      if (shmem) {
        for (const p of placeholders) shmem.index.delete(p.offset);
        memoryRegionTransactionBegin();
        try {
          virtioShmemDropAll(r.dev);
          for (let i = placeholders.length - 1; i >= 0; i--) {
            memoryRegionDelSubregion(shmem.mr, placeholders[i].mr);
            placeholders[i].mr.unref();
          }
        } finally {
          memoryRegionTransactionCommit();
        }
      }
      await r.close();
    }
    os.close(fd);
    limits.restore();
    process.stderr.write(`  torn down in ${Date.now() - teardown} ms\n`);
  }
  return rows;
}
