/**
 * The I/O port space's default callbacks (QEMU's system/ioport.c).
 * @module
 */
import type { MemoryRegionOps } from './memory.js';

/**
 * QEMU's unassigned_io_ops, behind the whole `io` region: reads return all
 * ones, writes are dropped, and neither is an error.
 */
export const unassignedIoOps: MemoryRegionOps = Object.freeze({
  read: (): bigint => 0xffffffffffffffffn,
  write: (): void => {},
  endianness: 'little' as const,
});
