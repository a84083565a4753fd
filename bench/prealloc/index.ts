/**
 * Preallocation speed of tsqom's worker-thread prealloc against the kernel's
 * limit on this machine: one synchronous madvise(MADV_POPULATE_WRITE) of the
 * same size, measured in the same run. Also the event loop's longest stall
 * while a 1 GiB preallocation runs.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import type { BenchRow } from '../harness.js';
import { median } from '../harness.js';
import {
  HostOs,
  MAP_SHARED,
  MFD_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_RDWR,
  O_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
} from '../../src/native/index.js';

const GiB = 2 ** 30;
const SIZE = GiB;
// The machine's page-fault speed drifts between runs (hypervisor, caches), so
// each figure is the median of several runs, interleaved with the reference.
const REPS = 5;

type Kind = 'memfd' | 'shm';

function openBacking(os: HostOs, kind: Kind): number {
  let fd: number;
  if (kind === 'memfd') {
    fd = os.memfdCreate('tsqom-bench', MFD_CLOEXEC);
  } else {
    const name = `/tsqom-bench-${process.pid}`;
    fd = os.shmOpen(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    os.shmUnlink(name);
  }
  os.ftruncate(fd, SIZE);
  return fd;
}

/** Maps fresh memory of `kind`, runs `fill` on it, frees everything; returns GiB/s. */
async function measure(
  os: HostOs,
  kind: Kind,
  fill: (m: ReturnType<HostOs['mmap']>) => Promise<void> | void,
): Promise<number> {
  const fd = openBacking(os, kind);
  const m = os.mmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  try {
    const t0 = process.hrtime.bigint();
    await fill(m);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return SIZE / GiB / s;
  } finally {
    m.unmap();
    os.close(fd);
  }
}

/** Watches the event loop with a 1 ms interval; `stop()` returns the longest gap minus the interval, in ms. */
function stallProbe(): { stop(): number } {
  let last = process.hrtime.bigint();
  let worst = 0n;
  const timer = setInterval(() => {
    const now = process.hrtime.bigint();
    if (now - last > worst) worst = now - last;
    last = now;
  }, 1);
  return {
    stop(): number {
      // The gap up to now counts too.
      const now = process.hrtime.bigint();
      if (now - last > worst) worst = now - last;
      clearInterval(timer);
      return Math.max(0, Number(worst) / 1e6 - 1);
    },
  };
}

/**
 * The longest event-loop stall while a 1 GiB preallocation with `threads`
 * threads runs (mapping and unmapping happen outside the window), and the
 * same probe's longest stall over an equally long idle window, which shows
 * how noisy the machine itself is.
 */
async function stalls(
  os: HostOs,
  threads: number,
  pageSize: number,
): Promise<{ busy: number; idle: number }> {
  const fd = openBacking(os, 'memfd');
  const m = os.mmap(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  try {
    await new Promise((r) => setTimeout(r, 5));
    const t0 = process.hrtime.bigint();
    const busyProbe = stallProbe();
    await os.prealloc(m, { threads, pageSize });
    const busy = busyProbe.stop();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const idleProbe = stallProbe();
    await new Promise((r) => setTimeout(r, ms));
    return { busy, idle: idleProbe.stop() };
  } finally {
    m.unmap();
    os.close(fd);
  }
}

/** Runs the benchmark. */
export async function run(): Promise<BenchRow[]> {
  const os = container.resolve(HostOs);
  const rows: BenchRow[] = [];
  const pageSize = os.pageSize();
  // Warm-up: the first touch of host memory can cost more than later ones.
  await measure(os, 'memfd', (m) => os.populateWriteSync(m));

  for (const kind of ['memfd', 'shm'] as const) {
    const ref: number[] = [];
    const t1: number[] = [];
    const t2: number[] = [];
    const runs: [number[], (m: ReturnType<HostOs['mmap']>) => Promise<void> | void][] = [
      [ref, (m) => os.populateWriteSync(m)],
      [t1, (m) => os.prealloc(m, { threads: 1, pageSize })],
      [t2, (m) => os.prealloc(m, { threads: 2, pageSize })],
    ];
    for (let i = 0; i < REPS; i++) {
      // Rotate the order so that no variant always runs first.
      for (let j = 0; j < runs.length; j++) {
        const [out, fill] = runs[(i + j) % runs.length];
        out.push(await measure(os, kind, fill));
      }
    }
    const reference = median(ref);
    for (const [threads, xs] of [
      [1, t1],
      [2, t2],
    ] as const) {
      const value = median(xs);
      const ratio = value / reference;
      rows.push({
        bench: 'prealloc',
        metric: `${kind} 1 GiB, ${threads} thread${threads > 1 ? 's' : ''}`,
        value,
        unit: 'GiB/s',
        reference,
        referenceName: 'one synchronous MADV_POPULATE_WRITE',
        ratio,
        goal: 'ratio >= 0.9',
        met: ratio >= 0.9,
      });
    }
  }

  // Other processes on the machine add their own stalls; the median over a
  // few runs keeps one unlucky time slice from deciding the figure.
  const busy: number[] = [];
  const idle: number[] = [];
  for (let i = 0; i < REPS; i++) {
    for (const threads of [1, 2]) {
      const s = await stalls(os, threads, pageSize);
      busy.push(s.busy);
      idle.push(s.idle);
    }
  }
  const stall = median(busy);
  rows.push({
    bench: 'prealloc',
    metric: 'longest event-loop stall during a 1 GiB prealloc (median of runs)',
    value: stall,
    unit: 'ms',
    reference: median(idle),
    referenceName: 'same probe, nothing running',
    goal: 'stall < 10 ms',
    met: stall < 10,
  });
  return rows;
}
