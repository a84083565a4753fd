/**
 * What the native tests look at from outside the process's own view:
 * /proc/self/maps, smaps, the descriptor table, and a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One line of /proc/self/maps. */
export interface MapsLine {
  /** Start address. */
  start: bigint;
  /** End address (exclusive). */
  end: bigint;
  /** Permissions, e.g. `rw-s`. */
  perms: string;
  /** The path column, e.g. `/memfd:name (deleted)`; '' for anonymous memory. */
  path: string;
}

/** Parses /proc/self/maps. */
export function procMaps(): MapsLine[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(l);
      if (!m) throw new Error(`cannot parse maps line: ${l}`);
      return { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3], path: m[4] };
    });
}

/** The maps line starting at `address`, if any. */
export function mapsLineAt(address: bigint): MapsLine | undefined {
  return procMaps().find((l) => l.start === address);
}

/** Resident size in bytes (smaps Rss) of the mapping starting at `address`. */
export function rssOf(address: bigint): number {
  const smaps = readFileSync('/proc/self/smaps', 'utf8');
  const head = `${address.toString(16)}-`;
  const at = smaps.startsWith(head) ? 0 : smaps.indexOf(`\n${head}`);
  if (at < 0) throw new Error(`no mapping at 0x${address.toString(16)}`);
  const m = /\nRss:\s+(\d+) kB/.exec(smaps.slice(at + 1));
  if (!m) throw new Error('no Rss line');
  return Number(m[1]) * 1024;
}

/** Number of open descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Number of lines in /proc/self/maps. */
export function mappingCount(): number {
  return procMaps().length;
}

/** A running child process speaking in lines. */
export interface Child {
  /** The process. */
  proc: ChildProcess;
  /** Resolves with the next line the child prints. */
  line(): Promise<string>;
  /** Sends a line to the child's stdin. */
  send(s: string): void;
  /** Resolves with the exit code and signal. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

const childScript = fileURLToPath(new URL('./child.js', import.meta.url));

/** Starts test/helpers/native/child with `fd` (if any) as its descriptor 3. */
export function startChild(args: string[], fd?: number, nodeArgs: string[] = []): Child {
  const stdio: (number | 'pipe')[] = ['pipe', 'pipe', 'pipe'];
  if (fd !== undefined) stdio.push(fd);
  const proc = spawn(process.execPath, [...nodeArgs, childScript, ...args], { stdio });
  const lines: string[] = [];
  const waiters: ((s: string) => void)[] = [];
  let buf = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      proc.on('exit', (code, signal) => {
        // Let stdout drain before reporting.
        setImmediate(() => {
          for (const w of waiters.splice(0)) w(`<exited ${code} ${signal}: ${stderr}>`);
          resolve({ code, signal, stderr });
        });
      });
    },
  );
  return {
    proc,
    line: () =>
      new Promise<string>((resolve) => {
        const l = lines.shift();
        if (l !== undefined) resolve(l);
        else waiters.push(resolve);
      }),
    send: (s) => {
      proc.stdin!.write(`${s}\n`);
    },
    exit,
  };
}

/** Runs the child to completion; returns its stdout lines and exit status. */
export async function runChild(
  args: string[],
  fd?: number,
  nodeArgs: string[] = [],
): Promise<{
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}> {
  const c = startChild(args, fd, nodeArgs);
  const lines: string[] = [];
  c.proc.stdout!.removeAllListeners('data');
  let buf = '';
  c.proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
  });
  c.proc.stdin!.end();
  const r = await c.exit;
  lines.push(...buf.split('\n').filter((l) => l.length > 0));
  return { lines, ...r };
}
