/**
 * qtest line handling scales linearly: a `write` of 32 MiB (a 64 MiB line,
 * sent in 64 KiB pieces over a unix socket) against a `write` of 1 MiB, in
 * seconds per MiB, same run, same server. Goal: the large write costs at
 * most twice as much per MiB as the small one (before, the buffered input
 * was rescanned at every read: 34-40 s for 32 MiB).
 */
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchRow } from '../harness.js';
import { QtestServer } from '../../src/monitor/qtest.js';

const MiB = 1024 * 1024;
const GOAL = 2;

async function timeWrite(path: string, mib: number): Promise<number> {
  const sock = net.createConnection(path);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const line = Buffer.concat([
    Buffer.from(`write 0 ${mib * MiB} 0x`),
    Buffer.alloc(mib * MiB * 2, '5a'),
    Buffer.from('\n'),
  ]);
  const t0 = performance.now();
  const done = new Promise<void>((r) => sock.once('data', () => r()));
  for (let off = 0; off < line.length; off += 65536) sock.write(line.subarray(off, off + 65536));
  await done;
  const s = (performance.now() - t0) / 1000;
  sock.destroy();
  await new Promise((r) => setTimeout(r, 50));
  return s / mib;
}

/** Runs the benchmark. */
export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-bench-qtest-'));
  const path = join(dir, 'qtest.sock');
  const server = new QtestServer({ read: (_a, len) => new Uint8Array(len), write: () => {} });
  await server.listen(`unix:${path},server=on,wait=off`);
  try {
    await timeWrite(path, 1); // warm-up
    const small = await timeWrite(path, 1);
    const large = await timeWrite(path, 32);
    const ratio = large / small;
    return [
      {
        bench: 'qtest-lines',
        metric: 'write of 32 MiB, per MiB',
        value: large,
        unit: 's/MiB',
        reference: small,
        referenceName: 'write of 1 MiB, per MiB',
        ratio,
        goal: `ratio <= ${GOAL}`,
        met: ratio <= GOAL,
      },
    ];
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
