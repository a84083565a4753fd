/**
 * SHMEM_MAP + SHMEM_UNMAP round trips per second between two processes:
 * tsqom's vhost-user back-end library (this process, `shmemMap` /
 * `shmemUnmap` with REPLY_ACK, each awaiting its ack) and a minimal
 * front-end responder built on the codec (frontend.ts, a child process).
 * The limit is pingpong.c, compiled here with cc: the same messages
 * (52 bytes with an fd, 20-byte acks) exchanged by two C processes over a
 * socketpair with blocking sendmsg/recvmsg.
 */
import 'reflect-metadata';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { container } from 'tsyringe';
import type { BenchRow } from '../harness.js';
import { median } from '../harness.js';
import { AF_UNIX, HostOs, MFD_CLOEXEC, SOCK_CLOEXEC, SOCK_STREAM } from '../../src/native/index.js';
import { VhostUserBackend } from '../../src/hw/virtio/vhost-user/backend/backend.js';
import { VHOST_USER_FLAG_MAP_RW } from '../../src/hw/virtio/vhost-user/protocol/protocol.js';

const run_ = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const REPS = 3;
const MS = 1000;
const GOAL = 0.3;

function sourceDir(): string {
  // Compiled to dist/bench/vhost-user-shmem; the C source stays beside index.ts.
  let dir = here;
  for (;;) {
    const c = join(dir, 'bench', 'vhost-user-shmem', 'pingpong.c');
    if (existsSync(c)) return dirname(c);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find bench/vhost-user-shmem/pingpong.c');
    dir = up;
  }
}

async function cLimit(bin: string): Promise<number> {
  const { stdout } = await run_(bin, [String(MS)]);
  return Number(stdout.trim());
}

interface Pair {
  backend: VhostUserBackend;
  done: Promise<void>;
}

async function startPair(os: HostOs): Promise<Pair> {
  const [mine, theirs] = os.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
  const child = spawn(process.execPath, [join(here, 'frontend.js')], {
    stdio: ['ignore', 'pipe', 'inherit', theirs],
  });
  os.close(theirs);
  const backend = VhostUserBackend.fromFd(
    mine,
    { numQueues: 1, shmemSizes: [1n << 20n] },
    { os, onError: (m) => process.stderr.write(`vhost-user-shmem bench: ${m}\n`) },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the front-end exited (${code})`)));
  });
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { backend, done };
}

async function rounds(backend: VhostUserBackend, fd: number, ms: number): Promise<number> {
  const end = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) {
      await backend.shmemMap(0, fd, 0n, 0n, 0x1000n, VHOST_USER_FLAG_MAP_RW);
      await backend.shmemUnmap(0, 0n, 0x1000n);
    }
    n += 50;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

/** Runs the benchmark; one row. */
export async function run(): Promise<BenchRow[]> {
  const os = container.resolve(HostOs);
  const tmp = await mkdtemp(join(tmpdir(), 'tsqom-bench-shmem-'));
  const bin = join(tmp, 'pingpong');
  try {
    await run_('cc', ['-O2', '-o', bin, join(sourceDir(), 'pingpong.c')]);
    const pair = await startPair(os);
    const memfd = os.memfdCreate('tsqom-bench-shmem', MFD_CLOEXEC);
    os.ftruncate(memfd, 0x1000);
    const ours: number[] = [];
    const limit: number[] = [];
    try {
      await rounds(pair.backend, memfd, 200);
      for (let i = 0; i < REPS; i++) {
        ours.push(await rounds(pair.backend, memfd, MS));
        limit.push(await cLimit(bin));
      }
    } finally {
      pair.backend.close();
      await pair.done;
      os.close(memfd);
    }
    const value = median(ours);
    const reference = median(limit);
    const ratio = value / reference;
    return [
      {
        bench: 'vhost-user-shmem',
        metric: 'SHMEM_MAP+UNMAP round trips (REPLY_ACK, 2 processes)',
        value,
        unit: 'pairs/s',
        reference,
        referenceName: 'C SCM_RIGHTS ping-pong',
        ratio,
        goal: `ratio >= ${GOAL}`,
        met: ratio >= GOAL,
      },
    ];
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
