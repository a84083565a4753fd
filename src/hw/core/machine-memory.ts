/**
 * `-machine none,memory-backend=ID` (QEMU's qemu_resolve_machine_memdev,
 * machine_consume_memdev and machine_none_init): the guest's RAM is a
 * memory backend's region, mapped at address 0 of system memory, where a
 * vhost-user front-end finds it (with its fd) for SET_MEM_TABLE.
 *
 * A vhost-user back-end can only use RAM it can map: the backend needs an
 * fd and `share=on` (memory-backend-memfd, -shm, -file with share=on, or
 * -ram with share=on). QEMU accepts any backend here and fails later, at
 * SET_MEM_TABLE time; so does tsqom, with QEMU's text (`Failed initializing
 * vhost-user memory map, consider using -object memory-backend-file
 * share=on`), unless the caller asks for the check up front.
 * @module
 */
import { QomError, objectResolvePathType, objectDynamicCast } from '../../qom/index.js';
import {
  type MemoryRegion,
  getSystemMemory,
  memoryRegionAddSubregion,
  memoryRegionDelSubregion,
} from '../../system/memory.js';
import {
  HostMemoryBackend,
  TYPE_MEMORY_BACKEND,
  hostMemoryBackendGetMemory,
  hostMemoryBackendIsMapped,
  hostMemoryBackendSetMapped,
} from '../../backends/hostmem.js';

let machineRam: { backend: HostMemoryBackend; mr: MemoryRegion } | null = null;

/** Options of {@link machineSetMemoryBackend}. */
export interface MachineMemoryBackendOptions {
  /**
   * Refuse a backend a vhost-user back-end could not map (no fd, or
   * share=off) with `memory backend '<id>' must be shared (share=on) to be
   * used by vhost-user`. Default false, as QEMU.
   */
  requireShared?: boolean;
}

/**
 * `-machine none,memory-backend=ID`: resolves the backend (`Memory
 * backend '%s' not found`), marks it used (`memory backend %s can't be
 * used multiple times.`) and maps its memory at guest physical address 0.
 * Returns the region. Only one backend can be the machine's RAM.
 */
export function machineSetMemoryBackend(
  id: string,
  options: MachineMemoryBackendOptions = {},
): MemoryRegion {
  const found = objectResolvePathType(id, TYPE_MEMORY_BACKEND).obj;
  const backend = found ? objectDynamicCast(found, HostMemoryBackend) : null;
  if (!backend) throw new QomError(`Memory backend '${id}' not found`);
  const component = backend.canonicalPathComponent() ?? id;
  if (machineRam !== null || hostMemoryBackendIsMapped(backend)) {
    throw new QomError(`memory backend ${component} can't be used multiple times.`);
  }
  const mr = hostMemoryBackendGetMemory(backend);
  if (!mr) throw new QomError(`Memory backend '${id}' not found`);
  if (options.requireShared && (!backend.share || backend.fd < 0)) {
    throw new QomError(
      `memory backend '${component}' must be shared (share=on) to be used by vhost-user`,
    );
  }
  hostMemoryBackendSetMapped(backend, true);
  memoryRegionAddSubregion(getSystemMemory(), 0, mr);
  machineRam = { backend, mr };
  return mr;
}

/** The machine's RAM region (from {@link machineSetMemoryBackend}), or null. */
export function machineGetRam(): MemoryRegion | null {
  return machineRam?.mr ?? null;
}

/** The machine's RAM backend, or null. */
export function machineGetMemoryBackend(): HostMemoryBackend | null {
  return machineRam?.backend ?? null;
}

/**
 * Undoes {@link machineSetMemoryBackend}: unmaps the RAM from system
 * memory and releases the backend (so it may be deleted). For tests and
 * embedders that tear a machine down; QEMU never does this.
 */
export function machineClearMemoryBackend(): void {
  const ram = machineRam;
  if (!ram) return;
  machineRam = null;
  if (ram.mr.container) memoryRegionDelSubregion(ram.mr.container, ram.mr);
  hostMemoryBackendSetMapped(ram.backend, false);
}
