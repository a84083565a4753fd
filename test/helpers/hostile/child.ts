/**
 * A tsqom process under attack, watched from outside: its resident memory
 * and descriptors from /proc/PID, a garbage collection on demand (see
 * gc-hook.ts), and its stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The built `tsqom` command. */
export const TSQOM_CLI = join(here, '..', '..', '..', 'src', 'cli', 'main.js');

/** A child process with GC on demand. */
export interface WatchedChild {
  /** The process. */
  child: ChildProcess;
  /** Its pid. */
  pid: number;
  /** What it wrote to stderr so far (without the gc-hook's lines). */
  stderr(): string;
  /** Resident set size in bytes, from /proc/PID/status. */
  rss(): number;
  /** Open descriptors, from /proc/PID/fd (but /dev/null, which Node opens when it pleases). */
  fdCount(): number;
  /** What the open descriptors are (for diagnostics). */
  fdList(): string;
  /** Collects garbage a few times while idle and returns the resident size once it settled. */
  settledRss(): Promise<number>;
  /**
   * Collects garbage every 250 ms until the resident size is at most
   * `limit` bytes or `timeoutMs` passed (V8 hands memory back to the OS
   * over a few seconds of idleness); returns the last reading.
   */
  rssReturnsBelow(limit: number, timeoutMs?: number): Promise<number>;
  /** process.memoryUsage() of the child at its last collection (JSON), for diagnostics. */
  usage(): string;
  /** Kills it and waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts `node --expose-gc --max-semi-space-size=1 --import gc-hook
 * NODE_ARGS SCRIPT ARGS`.
 */
export function startWatched(
  script: string,
  args: readonly string[],
  nodeArgs: readonly string[] = [],
): WatchedChild {
  const hook = pathToFileURL(join(here, 'gc-hook.js')).href;
  // A small young generation: V8 otherwise keeps the semispaces a flood
  // grew (tens of MiB) for a while, which hides whether tsqom itself let go.
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--max-semi-space-size=1', '--import', hook, ...nodeArgs, script, ...args],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let err = '';
  let gcDone = 0;
  let lastUsage = '';
  const gcWaiters: Array<() => void> = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    for (const line of d.split(/(?<=\n)/)) {
      if (line.startsWith('gc-done')) {
        gcDone++;
        lastUsage = line.slice(8).trim();
        gcWaiters.splice(0).forEach((w) => w());
      } else err += line;
    }
  });
  child.stdout!.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid!;
  const gc = async (): Promise<void> => {
    const before = gcDone;
    child.kill('SIGUSR2');
    const deadline = Date.now() + 5000;
    while (gcDone === before && Date.now() < deadline) {
      await new Promise<void>((r) => {
        gcWaiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  const rss = (): number => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m![1]) * 1024;
  };
  return {
    child,
    pid,
    stderr: () => err,
    usage: () => lastUsage,
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
    async settledRss() {
      // V8 gives back the young generation it grew during a flood only
      // after a few collections at a low allocation rate: collect while
      // idle for a while and take the lowest of the later readings.
      let low = Infinity;
      for (let i = 0; i < 6; i++) {
        await gc();
        await new Promise((r) => setTimeout(r, 250));
        if (i >= 3) low = Math.min(low, rss());
      }
      return low;
    },
    async rssReturnsBelow(limit, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await gc();
        await new Promise((r) => setTimeout(r, 250));
        const now = rss();
        if (now <= limit || Date.now() > deadline) return now;
      }
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

/**
 * Writes `unit` repeatedly for `ms` milliseconds without ever reading,
 * keeping at most 1 MiB in this process's own buffer; returns the bytes
 * the peer took.
 */
export async function flood(sock: net.Socket, unit: Buffer, ms: number): Promise<number> {
  const chunk = Buffer.concat(Array.from({ length: Math.ceil(65536 / unit.length) }, () => unit));
  const end = Date.now() + ms;
  let written = 0;
  while (Date.now() < end && !sock.destroyed) {
    if (sock.writableLength < 1024 * 1024) {
      sock.write(chunk);
      written += chunk.length;
    } else {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return written - sock.writableLength;
}

/** Milliseconds each call to `fn` took, one call every `everyMs` while `busy()` is true. */
export async function latencies(
  fn: () => Promise<unknown>,
  busy: () => boolean,
  everyMs = 100,
): Promise<number[]> {
  const out: number[] = [];
  while (busy()) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return out;
}

/**
 * Whether latencies show a process that answers within `ms`: three in four
 * within `ms`, none beyond five times that. The machine running the tests
 * is shared (and runs other test files at the same time), so a few late
 * samples say more about the scheduler than about tsqom; a process that
 * stops serving others shows up as a run of late samples or a very late
 * one (before backpressure and input slicing: stalls of 0.6 to 1.4 s).
 */
export function answersWithin(samples: readonly number[], ms: number): boolean {
  const sorted = [...samples].sort((a, b) => a - b);
  const p75 = sorted[Math.floor(sorted.length * 0.75)] ?? Infinity;
  return p75 < ms && (sorted.at(-1) ?? Infinity) < 5 * ms;
}
