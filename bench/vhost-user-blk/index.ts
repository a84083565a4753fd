/**
 * 4 KiB random reads per second at queue depth 16 through
 * qemu-storage-daemon's vhost-user-blk export, with tsqom as the
 * front-end and the guest driver (virtqueue in a memory-backend-memfd),
 * against `qemu-img bench` reading the same image directly with the
 * settings the export uses (raw, aio=threads, cache=writeback: what
 * `--blockdev driver=file` defaults to) and the same request size and
 * depth. qemu-img bench walks the image with a fixed step; a step of 7919
 * blocks scatters its reads the way the random offsets do. Both read the
 * page cache (the image is read once before). Each figure is the median of
 * several runs, interleaved.
 *
 * The driver loop here is lean on purpose (requests are re-queued straight
 * from the used ring, one kick per batch, no copy of the data), as a real
 * guest driver's would be; the example's general read() API costs more per
 * request. Between batches it polls the used ring for up to 300 us before
 * sleeping on the call eventfd (what QEMU's event loop does with
 * poll-max-ns): on a small VM a sleeping CPU costs more to wake than the
 * polling costs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import type { BenchRow } from '../harness.js';
import { median } from '../harness.js';
import { VhostUserBlkClient } from '../../examples/vhost-user-blk-cat.js';
import { startQsd } from '../../test/helpers/vhost-user/qsd.js';

const execFileP = promisify(execFile);
const IMAGE = 256 * 2 ** 20;
const BLOCK = 4096;
const DEPTH = 16;
const SECONDS = 1.5;
const REPS = 3;
const STEP = BLOCK * 7919;
/** How long the driver polls the used ring before it sleeps (ns). */
const POLL_NS = 300_000n;

interface Slot {
  hdr: bigint;
  data: bigint;
  status: bigint;
}

/** tsqom through qemu-storage-daemon: reads per second. */
async function tsqomIops(client: VhostUserBlkClient, slots: Slot[]): Promise<number> {
  const drv = client.driver;
  const q = drv.queues[0] as unknown as {
    add(out: unknown[], inb: unknown[], token: unknown): number;
    getUsed(): { token: Slot } | null;
    kickNeeded(): boolean;
    hasUsed(): boolean;
    numFree: number;
    num: number;
  };
  const mem = drv.mem;
  const blocks = Number(client.capacity / BigInt(BLOCK));
  let seed = 0x1234567;
  const submit = (s: Slot): void => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    mem.writeU64(s.hdr + 8n, BigInt(seed % blocks) * BigInt(BLOCK / 512));
    q.add(
      [{ addr: s.hdr, len: 16 }],
      [
        { addr: s.data, len: BLOCK },
        { addr: s.status, len: 1 },
      ],
      s,
    );
  };
  for (const s of slots) submit(s);
  if (q.kickNeeded()) drv.kick(0);
  let done = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(SECONDS * 1e9);
  let now = t0;
  while (now < end) {
    // Poll the used ring a while before sleeping on the call eventfd, as
    // QEMU's event loop does (poll-max-ns): between batches the CPU stays
    // awake instead of paying a wake-up each time.
    const pollEnd = now + POLL_NS;
    while (!q.hasUsed() && process.hrtime.bigint() < pollEnd) {
      await new Promise((r) => setImmediate(r));
    }
    if (!q.hasUsed()) await client.dev.waitCall(0);
    for (let u = q.getUsed(); u !== null; u = q.getUsed()) {
      if (mem.read(u.token.status, 1)[0] !== 0) throw new Error('a read failed');
      done++;
      submit(u.token);
    }
    if (q.kickNeeded()) drv.kick(0);
    now = process.hrtime.bigint();
  }
  const secs = Number(now - t0) / 1e9;
  // Let the requests in flight finish before the next run.
  while (q.numFree < q.num) {
    await client.dev.waitCall(0);
    while (q.getUsed() !== null);
  }
  return done / secs;
}

/** qemu-img bench on the image: reads per second. */
async function qemuImgIops(image: string): Promise<number> {
  const count = 150000;
  const r = await execFileP('qemu-img', [
    'bench',
    '-f',
    'raw',
    '-t',
    'writeback',
    '-i',
    'threads',
    '-c',
    String(count),
    '-d',
    String(DEPTH),
    '-s',
    String(BLOCK),
    '-S',
    String(STEP),
    image,
  ]);
  const m = /Run completed in ([\d.]+) seconds/.exec(r.stdout);
  if (!m) throw new Error(`unexpected qemu-img output: ${r.stdout}`);
  return count / Number(m[1]);
}

/** The benchmark rows. */
export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-bench-vub-'));
  const image = join(dir, 'disk.img');
  const sock = join(dir, 'blk.sock');
  writeFileSync(image, randomBytes(IMAGE));
  readFileSync(image); // into the page cache
  const qsd = await startQsd(image, sock, true);
  let client: VhostUserBlkClient | null = null;
  try {
    client = await VhostUserBlkClient.open({
      socket: sock,
      memdev: 'memfd',
      depth: 1,
      slotSize: BLOCK,
      queueSize: 64,
      extraMemory: DEPTH * 2 * BLOCK,
    });
    const slots: Slot[] = [];
    for (let i = 0; i < DEPTH; i++) {
      const hdr = client.alloc.alloc(16, 16);
      const status = client.alloc.alloc(1, 1);
      const data = client.alloc.alloc(BLOCK, BLOCK);
      // VIRTIO_BLK_T_IN, ioprio 0; the sector is set per request.
      client.driver.mem.write(hdr, new Uint8Array(16));
      slots.push({ hdr, data, status });
    }
    const ours: number[] = [];
    const ref: number[] = [];
    await tsqomIops(client, slots); // warm-up
    for (let i = 0; i < REPS; i++) {
      ours.push(await tsqomIops(client, slots));
      ref.push(await qemuImgIops(image));
    }
    const value = median(ours);
    const reference = median(ref);
    const ratio = value / reference;
    return [
      {
        bench: 'vhost-user-blk',
        metric: `4 KiB random reads, QD${DEPTH}, qemu-storage-daemon via tsqom front-end`,
        value: Math.round(value),
        unit: 'IOPS',
        reference: Math.round(reference),
        referenceName: 'qemu-img bench, same image, aio=threads, cache=writeback',
        ratio,
        goal: 'ratio >= 0.5',
        met: ratio >= 0.5,
      },
    ];
  } finally {
    await client?.close();
    await qsd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
