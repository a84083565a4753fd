/**
 * A tsqom process under attack, watched from outside: its resident memory
 * and descriptors from /proc/PID, and its stderr. It runs exactly as
 * shipped (`node SCRIPT ARGS`, no V8 flags, no forced collections), so
 * what it gives back after a hostile client is what tsqom gives back.
 */
import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const MiB = 1024 * 1024;

/** The built `tsqom` command. */
export const TSQOM_CLI = join(here, '..', '..', '..', 'src', 'cli', 'main.js');

/** A watched child process. */
export interface WatchedChild {
  /** The process. */
  child: ChildProcess;
  /** Its pid. */
  pid: number;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Resident set size in bytes, from /proc/PID/status. */
  rss(): number;
  /** Open descriptors, from /proc/PID/fd (but /dev/null, which Node opens when it pleases). */
  fdCount(): number;
  /** What the open descriptors are (for diagnostics). */
  fdList(): string;
  /** The lowest resident size over `ms` of idleness (readings every 100 ms). */
  quietRss(ms?: number): Promise<number>;
  /**
   * Reads the resident size every 100 ms until it is at most `limit` bytes
   * or `timeoutMs` passed; returns the last reading.
   */
  rssReturnsBelow(limit: number, timeoutMs?: number): Promise<number>;
  /** Where its memory is (/proc/PID/smaps_rollup, MiB), for diagnostics. */
  memoryDetail(): string;
  /** Kills it and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `node NODE_ARGS SCRIPT ARGS` with pipes. */
export function startWatched(
  script: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): WatchedChild {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  child.stdout!.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  const rss = (): number => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m![1]) * 1024;
  };
  return {
    child,
    pid,
    stderr: () => err,
    rss,
    fdCount: () =>
      readdirSync(`/proc/${pid}/fd`).filter((f) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${f}`) !== '/dev/null';
        } catch {
          return false;
        }
      }).length,
    fdList: () =>
      readdirSync(`/proc/${pid}/fd`)
        .map((f) => {
          try {
            return `${f}:${readlinkSync(`/proc/${pid}/fd/${f}`)}`;
          } catch {
            return `${f}:?`;
          }
        })
        .join(' '),
    async quietRss(ms = 1000) {
      let low = Infinity;
      for (let waited = 0; waited < ms; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        low = Math.min(low, rss());
      }
      return low;
    },
    async rssReturnsBelow(limit, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = rss();
        if (now <= limit || Date.now() > deadline) return now;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    memoryDetail() {
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      return ['Rss', 'Anonymous', 'Private_Dirty', 'Shared_Clean']
        .map((k) => {
          const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text);
          return `${k} ${m ? (Number(m[1]) / 1024).toFixed(1) : '?'}`;
        })
        .join(', ');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Waits until every path exists and answers a connection. */
export async function waitListening(paths: readonly string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const p of paths) {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`nothing listens at ${p}`);
      if (existsSync(p)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Connects a plain socket. */
export function connectUnix(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** What {@link flood} achieved. */
export interface FloodResult {
  /** Bytes the peer (its kernel socket buffer included) took. */
  took: number;
  /**
   * `performance.now()` when the peer last took anything: from then on
   * backpressure held the flood back.
   */
  stoppedAt: number;
}

/**
 * Writes `unit` repeatedly for `ms` milliseconds without ever reading,
 * keeping at most 1 MiB in this process's own buffer.
 */
export async function flood(sock: net.Socket, unit: Buffer, ms: number): Promise<FloodResult> {
  const chunk = Buffer.concat(Array.from({ length: Math.ceil(65536 / unit.length) }, () => unit));
  const end = Date.now() + ms;
  let taken = 0;
  let stoppedAt = performance.now();
  const progress = (): void => {
    const now = sock.bytesWritten - sock.writableLength;
    if (now > taken) {
      taken = now;
      stoppedAt = performance.now();
    }
  };
  while (Date.now() < end && !sock.destroyed) {
    progress();
    if (sock.writableLength < 1024 * 1024) {
      sock.write(chunk);
    } else {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  progress();
  return { took: taken, stoppedAt };
}

/** One request of the other client: when it was sent and how long the answer took. */
export interface LatencySample {
  /** `performance.now()` at sending. */
  at: number;
  /** Milliseconds to the answer. */
  ms: number;
}

/** Times a call to `fn` every `everyMs` while `busy()` is true. */
export async function latencies(
  fn: () => Promise<unknown>,
  busy: () => boolean,
  everyMs = 50,
): Promise<LatencySample[]> {
  const out: LatencySample[] = [];
  while (busy()) {
    const at = performance.now();
    await fn();
    out.push({ at, ms: performance.now() - at });
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return out;
}

/** What {@link watchUnder} saw once stopped. */
export interface Watched {
  /** Highest resident size seen. */
  peak: number;
  /** Milliseconds each of the other client's answers took. */
  latencies: number[];
}

/**
 * Samples `child`'s resident size every 50 ms and times `ask` every 50 ms
 * until `stop()` is called.
 */
export function watchUnder(
  child: WatchedChild,
  base: number,
  ask: () => Promise<unknown>,
): { stop(): Promise<Watched> } {
  let busy = true;
  let peak = base;
  const sampler = (async () => {
    while (busy) {
      peak = Math.max(peak, child.rss());
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const lat = latencies(ask, () => busy);
  return {
    async stop() {
      busy = false;
      const l = (await lat).map((x) => x.ms);
      await sampler;
      return { peak, latencies: l };
    },
  };
}

/** What {@link underNonReader} measured. */
export interface NonReaderMeasurement {
  /** Resident size before the client came (lowest over a quiet second). */
  base: number;
  /** Highest resident size while it flooded (read every 20 ms). */
  peak: number;
  /** Resident size once it left (see {@link WatchedChild.rssReturnsBelow}). */
  after: number;
  /** Bytes the process (and the kernel's socket buffer) took from it. */
  took: number;
  /**
   * The other client's answers from the moment backpressure stopped the
   * flooding client until a second after it left (which covers the
   * memory release that follows).
   */
  judged: LatencySample[];
  /** All of the other client's answers. */
  all: LatencySample[];
  /** `performance.now()` when the flooding client left. */
  leftAt: number;
}

/** The Done-when numbers of a non-reading client. */
export const DONE_WHEN = {
  /** Resident growth under the client stays below this. */
  growth: 64 * MiB,
  /** Once it left, the resident size is within this factor of the baseline. */
  returnFactor: 1.1,
  /** Every judged answer of another client comes within this many milliseconds. */
  latencyMs: 100,
} as const;

/**
 * Floods `unit` for `ms` from a client that never reads (made by
 * `nonReader`), while another client calls `ask` every 50 ms, and
 * measures memory and the other client's latency.
 */
export async function underNonReader(
  child: WatchedChild,
  nonReader: () => Promise<net.Socket>,
  unit: Buffer,
  ms: number,
  ask: () => Promise<unknown>,
): Promise<NonReaderMeasurement> {
  const base = await child.quietRss();
  const bad = await nonReader();
  bad.on('error', () => undefined);
  let busy = true;
  let peak = base;
  const sampler = (async () => {
    while (busy) {
      peak = Math.max(peak, child.rss());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const lat = latencies(ask, () => busy);
  const f = await flood(bad, unit, ms);
  bad.destroy();
  const leftAt = performance.now();
  await new Promise((r) => setTimeout(r, 1000));
  busy = false;
  const all = await lat;
  await sampler;
  const after = await child.rssReturnsBelow(base * DONE_WHEN.returnFactor);
  return {
    base,
    peak,
    after,
    took: f.took,
    judged: all.filter((s) => s.at >= f.stoppedAt),
    all,
    leftAt,
  };
}

/** A one-line account of a measurement, for the test log. */
export function describe(r: NonReaderMeasurement): string {
  const worst = r.judged.reduce((w, s) => (s.ms > w.ms ? s : w), { at: r.leftAt, ms: 0 });
  return (
    `base ${(r.base / MiB).toFixed(1)} MiB, peak +${((r.peak - r.base) / MiB).toFixed(1)} MiB, ` +
    `after ${(r.after / MiB).toFixed(1)} MiB (${((r.after / r.base - 1) * 100).toFixed(1)} %), ` +
    `took ${r.took} bytes, ${r.judged.length} answers after backpressure, ` +
    `slowest ${worst.ms.toFixed(1)} ms (${(worst.at - r.leftAt).toFixed(0)} ms after the client left)`
  );
}

/** Whether every judged answer came within the Done-when latency (and there were enough to judge). */
export function answeredInTime(r: NonReaderMeasurement, minSamples = 20): boolean {
  return r.judged.length >= minSamples && r.judged.every((s) => s.ms < DONE_WHEN.latencyMs);
}

/**
 * Checks the Done-when numbers of a non-reading client: in every attempt,
 * growth below {@link DONE_WHEN.growth} and memory back within
 * {@link DONE_WHEN.returnFactor} of the baseline and of `reference` (the
 * resident size before the first hostile client); and, in at least one
 * of `attempts` whole measurements, every judged answer of the other
 * client within {@link DONE_WHEN.latencyMs}. The tests share two cores
 * with other test files, so a measurement the scheduler spoiled is taken
 * again; the bound is never loosened. Returns the last measurement.
 */
export async function proveNonReaderBounds(
  t: ExecutionContext,
  measure: () => Promise<NonReaderMeasurement>,
  reference: number,
  attempts = 3,
): Promise<NonReaderMeasurement> {
  let r: NonReaderMeasurement | undefined;
  for (let i = 1; i <= attempts; i++) {
    r = await measure();
    t.log(`attempt ${i}: ${describe(r)}`);
    t.true(r.peak - r.base < DONE_WHEN.growth, `peak +${r.peak - r.base} bytes`);
    t.true(r.after <= r.base * DONE_WHEN.returnFactor, `after ${r.after} vs base ${r.base}`);
    // Nor does it creep from one client to the next.
    t.true(
      r.after <= reference * DONE_WHEN.returnFactor,
      `after ${r.after} vs ${reference} before the first hostile client`,
    );
    if (answeredInTime(r)) return r;
    t.log(`late or too few answers: ${r.judged.map((s) => s.ms.toFixed(0)).join(' ')}`);
  }
  t.true(answeredInTime(r!), 'no measurement had every answer within the bound');
  return r!;
}
