/**
 * QEMU's memory API: the {@link MemoryRegion} tree (RAM, I/O, aliases,
 * containers with priorities), nested transactions with
 * {@link MemoryListener}s, flat views, {@link AddressSpace} reads and
 * writes, I/O ports, interrupt lines and `info mtree` text identical to
 * QEMU 7.2's ({@link mtreeInfo}).
 *
 * ```ts
 * import { MemoryRegion, memoryRegionInitIo, memoryRegionAddSubregion,
 *          getSystemMemory, addressSpaceMemory } from 'tsqom/memory';
 * ```
 *
 * Process-wide state: like QEMU, the system memory and I/O address
 * spaces are global to the process.
 * @module tsqom/memory
 */
import 'reflect-metadata';

export * from '../system/index.js';
