/**
 * `memory-backend-shm` (QEMU's backends/hostmem-shm.c, since QEMU 9.1):
 * POSIX shared memory, a more portable and less featureful
 * `memory-backend-memfd`. The object gets a unique name
 * `/qemu-<pid>-shm-<seq>` (O_CREAT|O_EXCL, mode 0, so nobody else can open
 * it) and is unlinked at once: only holders of the descriptor reach the
 * memory, and nothing is left in /dev/shm.
 *
 * Beyond QEMU: a process killed between `shm_open` and `shm_unlink` leaves
 * its name behind. The first shm backend a process allocates sweeps such
 * names (exactly `qemu-<pid>-shm-<seq>`, and only when no process `<pid>`
 * exists); {@link shmBackendSweepStale} does it on demand. And a name that
 * exists already (a stale one of a recycled pid) is skipped for the next
 * sequence number instead of failing.
 * @module
 */
import { hostOs } from '../util/machine-context.js';
import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { QomError, QomType } from '../qom/index.js';
import { O_CREAT, O_EXCL, O_RDWR } from '../native/index.js';
import { isErrno } from '../native/errors.js';
import { RAM_NORESERVE, RAM_SHARED, memoryRegionInitRamFromFd } from '../system/index.js';
import {
  HostMemoryBackend,
  hostMemoryBackendGetName,
  hostMemoryBackendInitRegion,
} from './hostmem.js';

/** The QOM type name. */
export const TYPE_MEMORY_BACKEND_SHM = 'memory-backend-shm';

/** Where Linux keeps POSIX shared memory objects. */
export const SHM_DIR = '/dev/shm';

/** The names QEMU (and tsqom) give their shared memory objects. */
const STALE_NAME = /^qemu-([1-9][0-9]*)-shm-(-?[0-9]+)$/;

/** Attempts at a fresh name before giving up on EEXIST. */
const SHM_NAME_ATTEMPTS = 1000;

let sequence = 0;
let swept = false;

function why(e: unknown): string {
  return isErrno(e) ? e.strerror : (e as Error).message;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return !isErrno(e, 'ESRCH');
  }
}

/**
 * Removes shared memory objects named `qemu-<pid>-shm-<seq>` whose process
 * `<pid>` no longer exists: left behind by a QEMU or tsqom that died between
 * `shm_open` and `shm_unlink`. Names of live processes (including this one)
 * are left alone. Returns the names removed. `dir` is where the names live
 * (tests use a directory of their own).
 */
export function shmBackendSweepStale(dir = SHM_DIR): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const os = hostOs();
  const removed: string[] = [];
  for (const name of names) {
    const m = STALE_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || pidAlive(pid)) continue;
    try {
      // What shm_unlink(3) does, in `dir`.
      os.unlink(join(dir, name));
      removed.push(name);
    } catch {
      // Gone meanwhile, or not ours to remove.
    }
  }
  return removed;
}

/**
 * QEMU's qemu_shm_alloc: a new, already unlinked POSIX shared memory
 * object of `size` bytes. Throws QEMU's texts:
 * `failed to create POSIX shared memory: <strerror>`,
 * `failed to resize POSIX shared memory to %zu: <strerror>`.
 */
export function qemuShmAlloc(size: bigint): number {
  const os = hostOs();
  const pid = os.getpid();
  let fd = -1;
  let name = '';
  for (let attempt = 0; ; attempt++) {
    name = `/qemu-${pid}-shm-${sequence}`;
    sequence = (sequence + 1) | 0;
    try {
      fd = os.shmOpen(name, O_RDWR | O_CREAT | O_EXCL, 0);
      break;
    } catch (e) {
      if (isErrno(e, 'EEXIST') && attempt < SHM_NAME_ATTEMPTS) continue;
      throw new QomError(`failed to create POSIX shared memory: ${why(e)}`);
    }
  }
  try {
    os.shmUnlink(name);
  } catch {
    // QEMU ignores it; the descriptor keeps the memory either way.
  }
  try {
    os.ftruncate(fd, BigInt.asUintN(64, size));
  } catch (e) {
    os.close(fd);
    throw new QomError(
      `failed to resize POSIX shared memory to ${BigInt.asUintN(64, size)}: ${why(e)}`,
    );
  }
  return fd;
}

/** A POSIX shared memory backend. */
@QomType({ name: TYPE_MEMORY_BACKEND_SHM })
export class HostMemoryBackendShm extends HostMemoryBackend {
  /** QEMU's shm_backend_memory_alloc (the class's `alloc`, set by shm_backend_class_init). */
  alloc(): void {
    shmBackendMemoryAlloc(this);
  }

  /** QEMU's shm_backend_instance_init: shared by default (and only shared). */
  override instanceInit(): void {
    this.share = true;
  }
}

/** QEMU's shm_backend_memory_alloc. */
function shmBackendMemoryAlloc(backend: HostMemoryBackend): void {
  const name = hostMemoryBackendGetName(backend);
  if (!backend.size) throw new QomError("can't create shm backend with size 0");
  if (!backend.share) throw new QomError("can't create shm backend with `share=off`");
  if (!swept) {
    swept = true;
    shmBackendSweepStale();
  }
  const fd = qemuShmAlloc(backend.size);
  // As memory-backend-ram,share=on would do.
  const flags = RAM_SHARED | (backend.reserve ? 0 : RAM_NORESERVE);
  try {
    hostMemoryBackendInitRegion(backend, name, (mr) =>
      memoryRegionInitRamFromFd(mr, backend, name, backend.size, flags, fd, 0),
    );
  } catch (e) {
    hostOs().close(fd);
    throw e;
  }
}
