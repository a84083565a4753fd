/**
 * vdev-shmem notification round trip between two processes: guest A
 * notifies guest B, B's interrupt handler reads its status and notifies A
 * back, at the device level (MMIO through each process's address space,
 * interrupts through the device's IRQ handler; no qtest). The limit is
 * the same ping-pong in C over eventfds, tsqom's wake mechanism
 * (pingpong.c, compiled with `cc` into a temporary directory), measured in
 * the same run. Goal: p50 within 3x of the limit.
 *
 * A third figure, for orientation: the Node.js floor, two Node processes
 * ping-ponging over eventfds on their event loops with no device at all
 * (floor.ts). What tsqom adds is the distance from there.
 */
import 'reflect-metadata';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { container } from 'tsyringe';
import { HostOs } from '../../src/native/index.js';
import type { BenchRow } from '../harness.js';

const here = dirname(fileURLToPath(import.meta.url));
// The C source stays in the source tree; this file runs from dist/bench/.
const cSource = join(here, '..', '..', '..', 'bench', 'vdev-shmem-notify', 'pingpong.c');
const peerScript = join(here, 'peer.js');
const floorScript = join(here, 'floor.js');
const ITERATIONS = 10000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function runPeer(role: string, region: string): { out: Promise<string>; exited: Promise<number> } {
  const child = spawn(process.execPath, [peerScript, role, region, String(ITERATIONS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return { out: exited.then(() => out), exited };
}

async function tsqomRoundTrips(): Promise<number[]> {
  const region = `bench-${process.pid}-${Date.now()}`;
  const pong = runPeer('pong', region);
  const ping = runPeer('ping', region);
  const [out, pingCode, pongCode] = await Promise.all([ping.out, ping.exited, pong.exited]);
  if (pingCode !== 0 || pongCode !== 0)
    throw new Error(`peers exited with ${pingCode}/${pongCode}`);
  return (JSON.parse(out) as number[]).sort((a, b) => a - b);
}

async function nodeFloorRoundTrips(): Promise<number[]> {
  const os = container.resolve(HostOs);
  const toPing = os.eventfd();
  const toPong = os.eventfd();
  try {
    const start = (role: string, mine: number, theirs: number) => {
      const child = spawn(process.execPath, [floorScript, role, String(ITERATIONS)], {
        stdio: ['ignore', 'pipe', 'inherit', mine, theirs],
      });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      return new Promise<{ code: number; out: string }>((resolve) =>
        child.on('close', (code) => resolve({ code: code ?? 1, out })),
      );
    };
    const [ping, pong] = await Promise.all([
      start('ping', toPing, toPong),
      start('pong', toPong, toPing),
    ]);
    if (ping.code !== 0 || pong.code !== 0) throw new Error('floor peers failed');
    return (JSON.parse(ping.out) as number[]).sort((a, b) => a - b);
  } finally {
    os.close(toPing);
    os.close(toPong);
  }
}

function cRoundTrips(): { p50: number; p99: number } {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-bench-'));
  try {
    const exe = join(dir, 'pingpong');
    execFileSync('cc', ['-O2', '-o', exe, cSource]);
    const [p50, p99] = execFileSync(exe, [String(ITERATIONS)], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .map(Number);
    return { p50: p50!, p99: p99! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs the benchmark: each side twice, alternating, best run of each (the
 * machine's other load only ever makes a run slower).
 */
export async function run(): Promise<BenchRow[]> {
  const limits = [cRoundTrips()];
  const runs = [await tsqomRoundTrips()];
  limits.push(cRoundTrips());
  runs.push(await tsqomRoundTrips());
  const limit = {
    p50: Math.min(...limits.map((l) => l.p50)),
    p99: Math.min(...limits.map((l) => l.p99)),
  };
  const p50 = Math.min(...runs.map((r) => percentile(r, 0.5)));
  const p99 = Math.min(...runs.map((r) => percentile(r, 0.99)));
  const floor = percentile(await nodeFloorRoundTrips(), 0.5);
  return [
    {
      bench: 'vdev-shmem-notify',
      metric: 'round trip p50',
      value: p50,
      unit: 'us',
      reference: limit.p50,
      referenceName: 'C eventfd ping-pong',
      ratio: p50 / limit.p50,
      goal: 'ratio <= 3',
      met: p50 / limit.p50 <= 3,
    },
    {
      bench: 'vdev-shmem-notify',
      metric: 'round trip p99',
      value: p99,
      unit: 'us',
      reference: limit.p99,
      referenceName: 'C eventfd ping-pong',
      ratio: p99 / limit.p99,
    },
    {
      bench: 'vdev-shmem-notify',
      metric: 'round trip p50 vs Node floor',
      value: p50,
      unit: 'us',
      reference: floor,
      referenceName: 'Node eventfd ping-pong',
      ratio: p50 / floor,
    },
  ];
}
