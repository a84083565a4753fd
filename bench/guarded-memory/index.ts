/**
 * The price of fault-guarded access to foreign memory (a peer's memfd, a
 * named shared memory object), against the direct views tsqom keeps for
 * memory it created and sealed itself, on the same mapping in the same
 * run. Scalars (what virtqueue processing does: ring indexes and
 * descriptors) pay one addon call each; 4 KiB copies (buffers) pay it once
 * per copy. Goals: scalars within 8x, 4 KiB copies within 2x.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import { type BenchRow, opsPerSecond } from '../harness.js';
import { HostOs, MAP_SHARED, MFD_CLOEXEC, PROT_READ, PROT_WRITE } from '../../src/native/index.js';

/** Measures guarded against direct access on one memfd mapping. */
export async function run(): Promise<BenchRow[]> {
  const os = container.resolve(HostOs);
  const fd = os.memfdCreate('tsqom-bench-guarded', MFD_CLOEXEC);
  os.ftruncate(fd, 1 << 20);
  const direct = os.mapMemory(1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const guarded = os.mapMemory(1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0).guard();
  let sink = 0;
  let at = 0;
  const scalar = (m: typeof direct) => (): void => {
    sink ^= m.readU32(at);
    m.writeU16(at + 8, sink);
    at = (at + 64) & 0xfffc0;
  };
  let pg = 0;
  const page = (m: typeof direct) => (): void => {
    sink ^= m.read(pg, 4096)[0]!;
    pg = (pg + 4096) & 0xff000;
  };
  const rows: BenchRow[] = [];
  try {
    for (const [metric, make, goal] of [
      ['readU32+writeU16', scalar, 8],
      ['read 4 KiB', page, 2],
    ] as const) {
      opsPerSecond(make(direct), 100);
      opsPerSecond(make(guarded), 100);
      const d = opsPerSecond(make(direct), 500);
      const g = opsPerSecond(make(guarded), 500);
      const ratio = d / g;
      rows.push({
        bench: 'guarded-memory',
        metric: `${metric}, guarded`,
        value: g,
        unit: 'ops/s',
        reference: d,
        referenceName: 'direct view',
        ratio,
        goal: `slowdown <= ${goal}`,
        met: ratio <= goal,
      });
    }
  } finally {
    direct.unmap();
    guarded.unmap();
    os.close(fd);
  }
  if (sink === 0.5) console.log(sink);
  return rows;
}
