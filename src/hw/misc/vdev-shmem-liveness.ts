/**
 * Who is alive, for the inter-guest shared memory device's host side.
 *
 * A process is identified by its pid and a liveness token: the low 32 bits
 * of its start time (`/proc/PID/stat` field 22, in clock ticks since boot).
 * The pair survives pid reuse: a new process with a recycled pid has a
 * different start time. A process counts as dead when `/proc/PID` is gone,
 * when it is a zombie (a killed child its parent has not reaped yet), when
 * it is exiting (`PF_EXITING`, set before the kernel closes its
 * descriptors, so a peer that sees one of its sockets hang up already sees
 * it exiting), or when the start time differs.
 *
 * A peer's exit is noticed at once through a process descriptor
 * (`pidfd_open`, Linux 5.3+) watched on the event loop: it polls readable
 * when the process has exited, whatever it had open and whether or not it
 * ever talked to us (see {@link vdevShmemWatchExit}).
 * @module
 */
import { readFileSync } from 'node:fs';
import { HostOs, type NativeFdWatcher, UV_READABLE, isErrno } from '../../native/index.js';
import { hostOs } from '../../util/machine-context.js';

/** A process as the shared header records it. */
export interface VdevShmemProcessId {
  /** Process id. */
  pid: number;
  /** Low 32 bits of the start time (never 0). */
  token: number;
}

/** `PF_EXITING` in the task flags (`/proc/PID/stat` field 9). */
const PF_EXITING = 0x4;

/**
 * The liveness token of a running process, or undefined when it is dead,
 * a zombie or exiting (see the module documentation). A process hidden
 * from us (`/proc` mounted with `hidepid`) counts as alive.
 */
export function vdevShmemProcessToken(pid: number): number | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    return 0xffffffff; // cannot tell: never reclaim what might be alive
  }
  // The command name (field 2) is in parentheses and may hold anything;
  // the fields after the last ')' are plain.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  if (state === 'Z' || state === 'X' || state === 'x') return undefined;
  if (Number(fields[6]) & PF_EXITING) return undefined;
  return tokenOf(fields[19]);
}

function tokenOf(starttime: string | undefined): number {
  const t = Number(BigInt(starttime ?? '0') & 0xffffffffn);
  return t === 0 ? 1 : t;
}

let self: VdevShmemProcessId | undefined;

/** This process's pid and liveness token. */
export function vdevShmemSelf(): VdevShmemProcessId {
  if (self?.pid !== process.pid) {
    const text = readFileSync('/proc/self/stat', 'latin1');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    self = { pid: process.pid, token: tokenOf(fields[19]) };
  }
  return self;
}

/**
 * Whether the process `(pid, token)` is alive. This process is, by
 * definition; a recorded token of 0 matches any process with that pid
 * (the header's lock word records only a pid).
 */
export function vdevShmemAlive(pid: number, token = 0): boolean {
  const me = vdevShmemSelf();
  if (pid === me.pid) return token === 0 || token === me.token;
  const t = vdevShmemProcessToken(pid);
  if (t === undefined) return false;
  return token === 0 || t === 0xffffffff || t === token;
}

/** A watch on a peer's exit (see {@link vdevShmemWatchExit}). */
export interface VdevShmemExitWatch {
  /** Stops watching and closes the process descriptor (idempotent). */
  close(): void;
}

const NO_WATCH: VdevShmemExitWatch = { close: () => undefined };

/**
 * Calls `onExit` (once, from the event loop) when the process `id` exits.
 * Returns null when it is not alive now (dead, exiting, or its pid is
 * another process's), so the caller reports it gone itself. Where the
 * kernel has no `pidfd_open` the watch does nothing: peers' hang-ups on
 * the doorbell connections are then the only news of a death.
 */
export function vdevShmemWatchExit(
  id: VdevShmemProcessId,
  onExit: () => void,
  os: HostOs = hostOs(),
): VdevShmemExitWatch | null {
  let fd: number;
  try {
    fd = os.pidfdOpen(id.pid);
  } catch (e) {
    if (isErrno(e, 'ESRCH') || isErrno(e, 'EINVAL')) return null;
    return NO_WATCH;
  }
  // The descriptor was opened before this check: if the pid was recycled
  // in between, the token differs and the process we meant is gone.
  if (!vdevShmemAlive(id.pid, id.token)) {
    os.close(fd);
    return null;
  }
  let watcher: NativeFdWatcher | null = null;
  const close = (): void => {
    if (!watcher) return;
    watcher.close();
    watcher = null;
    os.close(fd);
  };
  watcher = os.watch(fd, UV_READABLE, () => {
    close();
    onExit();
  });
  watcher.start();
  return { close };
}
