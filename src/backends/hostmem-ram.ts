/**
 * `memory-backend-ram` (QEMU's backends/hostmem-ram.c): anonymous memory,
 * MAP_PRIVATE, or MAP_SHARED with `share=on` (shared with children forked
 * from this process, not with others: use memfd or shm for that);
 * MAP_NORESERVE with `reserve=off`.
 * @module
 */
import { QomError, QomType } from '../qom/index.js';
import {
  RAM_NORESERVE,
  RAM_PRIVATE,
  RAM_SHARED,
  memoryRegionInitRamFlagsNomigrate,
} from '../system/index.js';
import {
  HostMemoryBackend,
  hostMemoryBackendGetName,
  hostMemoryBackendInitRegion,
} from './hostmem.js';

/** The QOM type name. */
export const TYPE_MEMORY_BACKEND_RAM = 'memory-backend-ram';

/** An anonymous-memory backend. */
@QomType({ name: TYPE_MEMORY_BACKEND_RAM })
export class HostMemoryBackendRam extends HostMemoryBackend {
  /** QEMU's ram_backend_memory_alloc (the class's `alloc`, set by ram_backend_class_init). */
  alloc(): void {
    ramBackendMemoryAlloc(this);
  }
}

/**
 * QEMU's ram_backend_memory_alloc. Sizes whose page rounding overflows 64
 * bits make QEMU 7.2 abort; here they fail like any size too large to map:
 * `cannot set up guest memory '<id>': Cannot allocate memory`.
 */
function ramBackendMemoryAlloc(backend: HostMemoryBackend): void {
  if (!backend.size) throw new QomError("can't create backend with size 0");
  const name = hostMemoryBackendGetName(backend);
  const flags = (backend.share ? RAM_SHARED : RAM_PRIVATE) | (backend.reserve ? 0 : RAM_NORESERVE);
  hostMemoryBackendInitRegion(backend, name, (mr) =>
    memoryRegionInitRamFlagsNomigrate(mr, backend, name, backend.size, flags),
  );
}
