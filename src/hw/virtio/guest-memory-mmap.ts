/**
 * Guest memory made of regions that this process mapped from file
 * descriptors: what a vhost-user back-end gets from SET_MEM_TABLE (each
 * region's fd mapped MAP_SHARED), in the spirit of rust-vmm's
 * GuestMemoryMmap. Guest physical addresses are translated through the
 * region table with bounds checks; every byte goes through a
 * {@link MappedMemory}, whose views are detached when the region is
 * unmapped, so a stale access throws instead of crashing the process.
 * @module
 */
import { hostOs } from '../../util/machine-context.js';
import 'reflect-metadata';
import { HostOs } from '../../native/host.js';
import type { MappedMemory } from '../../native/mapping.js';
import {
  HUGETLBFS_MAGIC,
  MADV_DONTDUMP,
  MAP_NORESERVE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../native/constants.js';
import { type GuestMemory, type Gpa, GuestMemoryError, gpaToBigInt } from './guest-memory.js';

/** Where one region sits, as a vhost-user memory table describes it. */
export interface GuestMemoryRegionDesc {
  /** Guest physical address of the region's first byte. */
  guestPhysAddr: bigint;
  /** Size in bytes. */
  memorySize: bigint;
  /** The front-end's virtual address of the first byte (0 when unknown). */
  userspaceAddr: bigint;
  /** Offset of the first byte in the descriptor. */
  mmapOffset: bigint;
}

/** One mapped region. */
export interface GuestMemoryMmapRegion {
  /** Guest physical address of the first byte. */
  readonly gpa: bigint;
  /** Size in bytes. */
  readonly size: number;
  /** The front-end's virtual address of the first byte. */
  readonly qva: bigint;
  /** The mapping; the region starts `offset` bytes into it. */
  readonly mapping: MappedMemory;
  /** Offset of the region in `mapping` (non-zero only for huge-page alignment). */
  readonly offset: number;
}

/** Options of {@link GuestMemoryMmap.mapRegions}. */
export interface GuestMemoryMapOptions {
  /** The OS layer; default: the machine context's (`hostOs()`). */
  os?: HostOs;
}

/**
 * Guest memory over mapped regions, sorted by guest physical address.
 * Accesses may cross from one region into the next when the two are
 * contiguous in guest physical memory. {@link unmap} (or disposal) unmaps
 * every region; accesses afterwards throw {@link GuestMemoryError}.
 */
export class GuestMemoryMmap implements GuestMemory, Disposable {
  readonly #os: HostOs;
  #regions: GuestMemoryMmapRegion[];
  #last = 0;

  /** Wraps regions that are already mapped; the object owns their mappings from now on. */
  constructor(regions: readonly GuestMemoryMmapRegion[], os?: HostOs) {
    this.#os = os ?? hostOs();
    this.#regions = [...regions].sort((a, b) => (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0));
    for (let i = 1; i < this.#regions.length; i++) {
      const p = this.#regions[i - 1];
      if (p.gpa + BigInt(p.size) > this.#regions[i].gpa) {
        throw new RangeError('regions with overlapping guest physical addresses');
      }
    }
  }

  /**
   * Maps each region's descriptor MAP_SHARED read-write, as libvhost-user
   * does: on hugetlbfs the file offset is rounded down to the huge page
   * size and the rest becomes an offset into the mapping. The descriptors
   * stay the caller's (they may be closed right after). Overlapping guest
   * ranges, sizes that do not fit a mapping and mmap failures throw, and
   * nothing stays mapped.
   */
  static mapRegions(
    table: readonly GuestMemoryRegionDesc[],
    fds: readonly number[],
    options: GuestMemoryMapOptions = {},
  ): GuestMemoryMmap {
    const os = options.os ?? hostOs();
    if (fds.length !== table.length) {
      throw new RangeError(`${table.length} regions but ${fds.length} fds`);
    }
    const done: GuestMemoryMmapRegion[] = [];
    try {
      table.forEach((r, i) => {
        const end = r.guestPhysAddr + r.memorySize;
        if (r.memorySize === 0n || end > 0xffffffffffffffffn) {
          throw new RangeError(
            `region ${i}: bad size 0x${r.memorySize.toString(16)} at 0x${r.guestPhysAddr.toString(16)}`,
          );
        }
        for (const d of done) {
          if (r.guestPhysAddr < d.gpa + BigInt(d.size) && d.gpa < end) {
            throw new RangeError('regions with overlapping guest physical addresses');
          }
        }
        if (r.mmapOffset + r.memorySize > 0xffffffffffffffffn) {
          throw new RangeError(
            `region ${i}: mmap_offset 0x${r.mmapOffset.toString(16)} + size 0x${r.memorySize.toString(16)} wraps`,
          );
        }
        if (r.userspaceAddr + r.memorySize > 0x10000000000000000n) {
          throw new RangeError(
            `region ${i}: userspace_addr 0x${r.userspaceAddr.toString(16)} + size 0x${r.memorySize.toString(16)} wraps`,
          );
        }
        // The front-end's file must hold the whole region: a mapping past
        // its end faults (SIGBUS) on first touch. libvhost-user maps
        // whatever it is told.
        let st;
        try {
          st = os.fstat(fds[i]);
        } catch {
          st = null;
        }
        if (st !== null && (st.mode & 0o170000) === 0o100000) {
          if (BigInt(st.size) < r.mmapOffset + r.memorySize) {
            throw new RangeError(
              `region ${i}: mmap_offset 0x${r.mmapOffset.toString(16)} + size 0x${r.memorySize.toString(16)} ` +
                `is past the end of the 0x${st.size.toString(16)}-byte file`,
            );
          }
        }
        let hugepage = 0n;
        try {
          const st = os.fstatfs(fds[i]);
          if (st.type >>> 0 === HUGETLBFS_MAGIC >>> 0) hugepage = BigInt(st.bsize);
        } catch {
          // Not a file system object we can ask: map it as it is.
        }
        const fdOffset = hugepage > 0n ? r.mmapOffset - (r.mmapOffset % hugepage) : r.mmapOffset;
        const offset = r.mmapOffset - fdOffset;
        const length = r.memorySize + offset;
        if (length > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new RangeError(`region ${i}: size 0x${r.memorySize.toString(16)} is too large`);
        }
        const mapping = os.mapMemory(
          Number(length),
          PROT_READ | PROT_WRITE,
          MAP_SHARED | MAP_NORESERVE,
          fds[i],
          fdOffset,
        );
        // The front-end can still shrink the file: every access is guarded.
        mapping.guard();
        try {
          os.madvise(mapping, 0, mapping.length, MADV_DONTDUMP);
        } catch {
          // Only a core-dump nicety.
        }
        done.push({
          gpa: r.guestPhysAddr,
          size: Number(r.memorySize),
          qva: r.userspaceAddr,
          mapping,
          offset: Number(offset),
        });
      });
    } catch (e) {
      for (const d of done) d.mapping.unmap();
      throw e;
    }
    return new GuestMemoryMmap(done, os);
  }

  /** The regions, by guest physical address. */
  get regions(): readonly GuestMemoryMmapRegion[] {
    return this.#regions;
  }

  /** Total bytes of guest memory. */
  get size(): number {
    return this.#regions.reduce((n, r) => n + r.size, 0);
  }

  /**
   * Translates a front-end virtual address (a vhost-user ring address) to
   * a guest physical address through the region table (libvhost-user's
   * qva_to_va, expressed in guest physical terms); undefined when no
   * region holds it.
   */
  qvaToGpa(qva: bigint): bigint | undefined {
    for (const r of this.#regions) {
      if (qva >= r.qva && qva < r.qva + BigInt(r.size)) return r.gpa + (qva - r.qva);
    }
    return undefined;
  }

  /** The index of the region holding `gpa`, or -1. */
  #find(gpa: bigint): number {
    const rs = this.#regions;
    const last = rs[this.#last];
    if (last !== undefined && gpa >= last.gpa && gpa < last.gpa + BigInt(last.size)) {
      return this.#last;
    }
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid];
      if (gpa < r.gpa) hi = mid - 1;
      else if (gpa >= r.gpa + BigInt(r.size)) lo = mid + 1;
      else {
        this.#last = mid;
        return mid;
      }
    }
    return -1;
  }

  /**
   * Splits [gpa, gpa+len) into per-region pieces; undefined if any byte is
   * outside guest memory.
   */
  #pieces(gpa: bigint, len: number): [GuestMemoryMmapRegion, number, number][] | undefined {
    let i = this.#find(gpa);
    if (i < 0) return undefined;
    const out: [GuestMemoryMmapRegion, number, number][] = [];
    let at = gpa;
    let left = len;
    for (;;) {
      const r = this.#regions[i];
      const off = Number(at - r.gpa);
      const n = Math.min(left, r.size - off);
      out.push([r, r.offset + off, n]);
      left -= n;
      if (left === 0) return out;
      at += BigInt(n);
      i++;
      if (i >= this.#regions.length || this.#regions[i].gpa !== at) return undefined;
    }
  }

  #toGpa(gpa: Gpa, len: number): bigint {
    let g: bigint;
    try {
      g = gpaToBigInt(gpa);
    } catch {
      throw new GuestMemoryError(-1n, Number.isSafeInteger(len) ? len : -1);
    }
    if (!Number.isSafeInteger(len) || len < 0) throw new GuestMemoryError(g, -1);
    return g;
  }

  /** Runs a scalar access; a fault (memory shrunk by its owner) becomes a GuestMemoryError. */
  #access<T>(gpa: Gpa, len: number, fn: (m: MappedMemory, off: number) => T): T {
    const [m, off] = this.#scalar(gpa, len);
    try {
      return fn(m, off);
    } catch {
      throw new GuestMemoryError(gpaToBigInt(gpa), len);
    }
  }

  /** The region and offset for a scalar access that stays inside one region. */
  #scalar(gpa: Gpa, len: number): [MappedMemory, number] {
    const g = this.#toGpa(gpa, len);
    const i = this.#find(g);
    if (i >= 0) {
      const r = this.#regions[i];
      const off = Number(g - r.gpa);
      if (off + len <= r.size && r.mapping.isMapped) return [r.mapping, r.offset + off];
    }
    throw new GuestMemoryError(g, len);
  }

  isMapped(gpa: Gpa, len: number): boolean {
    if (!Number.isSafeInteger(len) || len < 0) return false;
    let g: bigint;
    try {
      g = gpaToBigInt(gpa);
    } catch {
      return false;
    }
    if (len === 0) return this.#find(g) >= 0;
    return this.#pieces(g, len) !== undefined;
  }

  read(gpa: Gpa, len: number): Uint8Array {
    const g = this.#toGpa(gpa, len);
    if (len === 0) return new Uint8Array(0);
    const pieces = this.#pieces(g, len);
    if (pieces === undefined) throw new GuestMemoryError(g, len);
    try {
      if (pieces.length === 1) return pieces[0][0].mapping.read(pieces[0][1], len);
      const out = new Uint8Array(len);
      let done = 0;
      for (const [r, off, n] of pieces) {
        out.set(r.mapping.read(off, n), done);
        done += n;
      }
      return out;
    } catch {
      throw new GuestMemoryError(g, len);
    }
  }

  write(gpa: Gpa, data: Uint8Array): void {
    const g = this.#toGpa(gpa, data.byteLength);
    if (data.byteLength === 0) return;
    const pieces = this.#pieces(g, data.byteLength);
    if (pieces === undefined) throw new GuestMemoryError(g, data.byteLength);
    try {
      let done = 0;
      for (const [r, off, n] of pieces) {
        r.mapping.write(off, data.subarray(done, done + n));
        done += n;
      }
    } catch {
      throw new GuestMemoryError(g, data.byteLength);
    }
  }

  readU16(gpa: Gpa): number {
    return this.#access(gpa, 2, (m, off) => m.readU16(off));
  }

  readU32(gpa: Gpa): number {
    return this.#access(gpa, 4, (m, off) => m.readU32(off));
  }

  readU64(gpa: Gpa): bigint {
    return this.#access(gpa, 8, (m, off) => m.readU64(off));
  }

  writeU16(gpa: Gpa, value: number): void {
    this.#access(gpa, 2, (m, off) => m.writeU16(off, value));
  }

  writeU32(gpa: Gpa, value: number): void {
    this.#access(gpa, 4, (m, off) => m.writeU32(off, value));
  }

  writeU64(gpa: Gpa, value: bigint): void {
    this.#access(gpa, 8, (m, off) => m.writeU64(off, value));
  }

  /**
   * A full barrier: the memory is shared with another process (the guest's
   * vCPUs), so program order is not enough: a native fence for guarded
   * memory, else a locked read-modify-write that adds zero to a word of
   * the first region (one on every host tsqom supports).
   */
  fence(): void {
    const r = this.#regions[0];
    if (r === undefined || !r.mapping.isMapped) return;
    // A locked instruction on guarded (shrinkable) memory could fault.
    if (r.mapping.guarded) this.#os.fence();
    else this.#os.atomicAdd32(r.mapping, 0, 0);
  }

  /**
   * Unmaps every region (their views are detached first). Returns false
   * if there was nothing left to unmap.
   */
  unmap(): boolean {
    let any = false;
    for (const r of this.#regions) any = r.mapping.unmap() || any;
    this.#regions = [];
    this.#last = 0;
    return any;
  }

  /** Unmaps (for `using`). */
  [Symbol.dispose](): void {
    this.unmap();
  }
}
