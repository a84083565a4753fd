/**
 * Runs the same QMP session against the `tsqom` command and QEMU 7.2,
 * both launched as QEMU's Python `QEMUMachine` does, and returns what each
 * answered, so a test can compare them.
 */
import { launchLikeQemuMachine, type Launchee, type Launched } from './launch.js';
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
