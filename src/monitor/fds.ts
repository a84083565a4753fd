/**
 * File descriptors passed to the monitor (QEMU 7.2's monitor/misc.c fd
 * commands): `getfd` / `closefd` name an fd per monitor; `add-fd`,
 * `remove-fd` and `query-fdsets` manage the process-wide fd sets.
 *
 * An fd reaches a command through its monitor's {@link QmpFdSource} (the
 * fds that arrived with the request over SCM_RIGHTS). A monitor without
 * one answers as QEMU does when none was sent. As in QEMU, a removed fd
 * stays in its set (and in `query-fdsets`) until the VM runs; tsqom also
 * closes every remaining fd at {@link monitorFdsetsCleanupAll}, so none
 * outlives the process's monitor.
 * @module
 */
import 'reflect-metadata';
import type { JsonObject } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import type { HostOs } from '../native/host.js';
import { hostOs } from '../util/machine-context.js';
import { vmState } from '../system/runstate.js';
import { type QmpCommandRegistry, type QmpMonitorHandle, qmpCommands } from './qmp-dispatch.js';

/** Where a monitor's received descriptors come from. */
export interface QmpFdSource {
  /** Takes the oldest fd received and not yet used (the caller owns it), or undefined. */
  takeReceivedFd(): number | undefined;
  /** The fds named with `getfd` on this monitor (closed when it closes). */
  readonly namedFds: Map<string, number>;
}

/** Whether a monitor can hand over received fds. */
function fdSource(mon: QmpMonitorHandle): QmpFdSource | undefined {
  const m = mon as QmpMonitorHandle & Partial<QmpFdSource>;
  return typeof m.takeReceivedFd === 'function' && m.namedFds instanceof Map
    ? (m as QmpMonitorHandle & QmpFdSource)
    : undefined;
}

interface FdsetFd {
  fd: number;
  opaque?: string;
  removed: boolean;
}

/** The process's fd sets by id, as `add-fd` makes them. */
const fdsets = new Map<number, FdsetFd[]>();

function os(): HostOs {
  return hostOs();
}

function takeFd(mon: QmpMonitorHandle): number {
  const fd = fdSource(mon)?.takeReceivedFd();
  if (fd === undefined) throw new QomError('No file descriptor supplied via SCM_RIGHTS');
  return fd;
}

/** `qmp_getfd`. */
export function qmpGetfd(mon: QmpMonitorHandle, fdname: string): void {
  const fd = takeFd(mon);
  if (/^[0-9]/.test(fdname)) {
    os().close(fd);
    throw new QomError("Parameter 'fdname' expects a name not starting with a digit");
  }
  const named = fdSource(mon)!.namedFds;
  const old = named.get(fdname);
  if (old !== undefined) os().close(old);
  named.set(fdname, fd);
}

/** `qmp_closefd`. */
export function qmpClosefd(mon: QmpMonitorHandle, fdname: string): void {
  const named = fdSource(mon)?.namedFds;
  const fd = named?.get(fdname);
  if (fd === undefined) throw new QomError(`File descriptor named '${fdname}' not found`);
  named!.delete(fdname);
  os().close(fd);
}

/** Closes the fds a closing monitor named with `getfd`. */
export function monitorCloseNamedFds(source: QmpFdSource): void {
  for (const fd of source.namedFds.values()) os().close(fd);
  source.namedFds.clear();
}

/** QEMU's monitor_fdset_cleanup: removed fds go once the VM runs; empty sets go. */
function fdsetCleanup(id: number): void {
  const set = fdsets.get(id);
  if (!set) return;
  if (vmState.running) {
    for (const f of set.filter((x) => x.removed)) os().close(f.fd);
    fdsets.set(
      id,
      set.filter((x) => !x.removed),
    );
  }
  if (fdsets.get(id)!.length === 0) fdsets.delete(id);
}

/** `qmp_add_fd`. */
export function qmpAddFd(mon: QmpMonitorHandle, fdsetId?: number, opaque?: string): JsonObject {
  const fd = takeFd(mon);
  if (fdsetId !== undefined && fdsetId < 0) {
    os().close(fd);
    throw new QomError("Parameter 'fdset-id' expects a non-negative value");
  }
  let id = fdsetId;
  if (id === undefined) {
    id = 0;
    while (fdsets.has(id)) id++;
  }
  const set = fdsets.get(id) ?? [];
  fdsets.set(id, set);
  set.push({ fd, opaque, removed: false });
  return { 'fdset-id': id, fd };
}

/** `qmp_remove_fd`. */
export function qmpRemoveFd(fdsetId: number, fd?: number): void {
  const set = fdsets.get(fdsetId);
  const hits = set?.filter((f) => fd === undefined || f.fd === fd) ?? [];
  if (hits.length === 0) {
    throw new QomError(
      `File descriptor named '${
        fd === undefined ? `fdset-id:${fdsetId}` : `fdset-id:${fdsetId}, fd:${fd}`
      }' not found`,
    );
  }
  for (const h of hits) h.removed = true;
  fdsetCleanup(fdsetId);
}

/** `qmp_query_fdsets`: highest id first, fds in the order they were added. */
export function qmpQueryFdsets(): JsonObject[] {
  return [...fdsets.keys()]
    .sort((a, b) => b - a)
    .map((id) => ({
      'fdset-id': id,
      fds: fdsets
        .get(id)!
        .map((f): JsonObject =>
          f.opaque === undefined ? { fd: f.fd } : { fd: f.fd, opaque: f.opaque },
        ),
    }));
}

/** Closes every fd of every set (process shutdown). */
export function monitorFdsetsCleanupAll(): void {
  for (const set of fdsets.values()) for (const f of set) os().close(f.fd);
  fdsets.clear();
}

/** Registers the fd commands in `registry`. */
export function registerFdCommands(registry: QmpCommandRegistry = qmpCommands): void {
  registry.register({
    name: 'getfd',
    args: { fdname: 'str' },
    handler(args, { monitor }) {
      qmpGetfd(monitor, args.fdname as string);
      return {};
    },
  });
  registry.register({
    name: 'closefd',
    args: { fdname: 'str' },
    handler(args, { monitor }) {
      qmpClosefd(monitor, args.fdname as string);
      return {};
    },
  });
  registry.register({
    name: 'add-fd',
    args: { '*fdset-id': 'int', '*opaque': 'str' },
    handler: (args, { monitor }) =>
      qmpAddFd(
        monitor,
        args['fdset-id'] === undefined ? undefined : Number(args['fdset-id']),
        args.opaque as string | undefined,
      ),
  });
  registry.register({
    name: 'remove-fd',
    args: { 'fdset-id': 'int', '*fd': 'int' },
    handler(args) {
      qmpRemoveFd(Number(args['fdset-id']), args.fd === undefined ? undefined : Number(args.fd));
      return {};
    },
  });
  registry.register({
    name: 'query-fdsets',
    handler: () => qmpQueryFdsets(),
  });
}
