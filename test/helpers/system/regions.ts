/**
 * Helpers for the memory API tests: letter-returning I/O regions and small
 * layouts built in their own address spaces, so tests do not disturb the
 * system memory map.
 */
import {
  addressSpaceDestroy,
  addressSpaceInit,
  memoryRegionInit,
  memoryRegionInitIo,
  memoryRegionNew,
  type AddressSpace,
  type MemoryRegion,
  type MemoryRegionOps,
} from '../../../src/system/index.js';
import {
  objectNew,
  objectPropertyAddNewContainer,
  type QomObject,
} from '../../../src/qom/index.js';

/** An I/O region whose every byte reads as the char code of `letter`; writes are logged. */
export function letterRegion(
  owner: QomObject | null,
  name: string,
  size: bigint,
  writes?: { addr: bigint; value: bigint; size: number }[],
): MemoryRegion {
  const code = BigInt(name.charCodeAt(0));
  const ops: MemoryRegionOps = {
    read: (_addr, sz) => {
      let v = 0n;
      for (let i = 0; i < sz; i++) v |= code << BigInt(8 * i);
      return v;
    },
    write: (addr, value, sz) => {
      writes?.push({ addr, value, size: sz });
    },
    impl: { maxAccessSize: 8 },
    valid: { maxAccessSize: 8 },
  };
  return memoryRegionInitIo(memoryRegionNew(), owner, ops, name, size);
}

/** A container region. */
export function containerRegion(owner: QomObject | null, name: string, size: bigint): MemoryRegion {
  return memoryRegionInit(memoryRegionNew(), owner, name, size);
}

/** A fresh owner object (a container outside the tree) for a test's regions. */
export function newOwner(): QomObject {
  return objectNew('container');
}

/** An owner placed in the tree at `/objects/<id>`, for canonical paths. */
export function newOwnerAt(parent: QomObject, id: string): QomObject {
  return objectPropertyAddNewContainer(parent, id);
}

/** An address space over `root`; dispose destroys it. */
export function scopedAddressSpace(root: MemoryRegion, name: string): AddressSpace & Disposable {
  const as = addressSpaceInit(root, name);
  return Object.assign(as, {
    [Symbol.dispose](): void {
      addressSpaceDestroy(as);
    },
  });
}

/** Reads `len` bytes and returns them as a string of chars (0 bytes as '.'). */
export function letters(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => (b === 0 ? '.' : String.fromCharCode(b))).join('');
}
