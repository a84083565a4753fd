/**
 * Runs the same QMP session against the `tsqom` command and QEMU 7.2,
 * both launched as QEMU's Python `QEMUMachine` does, and returns what each
 * answered, so a test can compare them.
 */
import { spawn } from 'node:child_process';
import { commandFor, launchLikeQemuMachine, type Launchee, type Launched } from './launch.js';
import type { QmpClient } from '../qemu/qmp-client.js';
import type { JsonObject } from '../../../src/qobject/qobject.js';

/** Launches `who` with `args`, negotiates, runs `fn`, then quits and cleans up. */
export async function withLaunched<T>(
  who: Launchee,
  args: readonly string[],
  fn: (qmp: QmpClient, l: Launched) => Promise<T>,
): Promise<T> {
  const l = await launchLikeQemuMachine(who, ['-machine', 'none', '-nodefaults', ...args]);
  try {
    await l.qmp.negotiate();
    const r = await fn(l.qmp, l);
    l.qmp.sendRaw('{"execute":"quit"}');
    await l.exited(10000);
    return r;
  } finally {
    l.cleanup();
  }
}

/** Runs `fn` on QEMU 7.2 and on tsqom (in parallel) with the same arguments. */
export function onBothLaunched<T>(
  args: readonly string[],
  fn: (qmp: QmpClient, who: Launchee) => Promise<T>,
): Promise<[T, T]> {
  return Promise.all([
    withLaunched('qemu', args, (q) => fn(q, 'qemu')),
    withLaunched('tsqom', args, (q) => fn(q, 'tsqom')),
  ]);
}

/** Sends each `[command, arguments]` in turn; returns the raw reply lines. */
export async function replies(
  qmp: QmpClient,
  cmds: ReadonlyArray<readonly [string, JsonObject?]>,
): Promise<string[]> {
  const out: string[] = [];
  for (const [execute, args] of cmds) {
    out.push(await qmp.executeRaw(execute, args));
  }
  return out;
}

/** How a brief run ended. */
export interface BriefRun {
  /** Exit status (null when killed). */
  code: number | null;
  /** stderr, with QEMU's program name replaced by tsqom's. */
  stderr: string;
  /** Still running after the time allowed: the options were accepted. */
  running: boolean;
}

/**
 * Runs `who` with exactly `args` for up to `ms`, then kills it; `wrap`
 * prefixes the command (prlimit, setpriv).
 */
export function runFor(
  who: Launchee,
  args: readonly string[],
  ms = 4000,
  wrap: readonly string[] = [],
): Promise<BriefRun> {
  const [cmd, argv] = commandFor(who, args);
  const all = [...wrap, cmd, ...argv];
  const child = spawn(all[0], all.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => {
    let running = false;
    const timer = setTimeout(() => {
      running = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: stderr.replaceAll('qemu-system-x86_64:', 'tsqom:'), running });
    });
  });
}

/**
 * Runs `who` with `-machine none -display none -nodefaults -S` and `args`
 * for up to `ms`, then kills it.
 */
export function runBriefly(who: Launchee, args: readonly string[], ms = 5000): Promise<BriefRun> {
  return runFor(who, ['-machine', 'none', '-display', 'none', '-nodefaults', '-S', ...args], ms);
}
