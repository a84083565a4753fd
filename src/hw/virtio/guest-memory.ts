/**
 * The view of guest memory that virtqueues work through, and a simple
 * implementation over one byte array (for tests, examples and devices that
 * own their memory).
 *
 * Guest physical addresses are bigints (they are 64-bit) or non-negative
 * safe integers. Multi-byte accessors are little-endian, as VIRTIO 1.x
 * rings are.
 * @module
 */

/** A guest physical address. */
export type Gpa = bigint | number;

/** Guest memory as a virtqueue sees it. */
export interface GuestMemory {
  /**
   * Whether [gpa, gpa + len) lies entirely in guest memory. Virtqueues ask
   * before they touch anything a guest (or front-end) pointed them at.
   */
  isMapped(gpa: Gpa, len: number): boolean;
  /**
   * `len` bytes at `gpa`. The result may be a view into guest memory: use
   * it at once or copy it. Throws {@link GuestMemoryError} when unmapped.
   */
  read(gpa: Gpa, len: number): Uint8Array;
  /** Copies `data` to `gpa`; throws {@link GuestMemoryError} when unmapped. */
  write(gpa: Gpa, data: Uint8Array): void;
  /** Little-endian u16 at `gpa`. */
  readU16(gpa: Gpa): number;
  /** Little-endian u32 at `gpa`. */
  readU32(gpa: Gpa): number;
  /** Little-endian u64 at `gpa`. */
  readU64(gpa: Gpa): bigint;
  /** Stores a little-endian u16. */
  writeU16(gpa: Gpa, value: number): void;
  /** Stores a little-endian u32. */
  writeU32(gpa: Gpa, value: number): void;
  /** Stores a little-endian u64. */
  writeU64(gpa: Gpa, value: bigint): void;
  /**
   * A full memory barrier (smp_mb). Virtqueues call it where QEMU orders
   * ring accesses (rmb/wmb/mb). Memory shared with another process needs
   * a real fence; memory only this thread touches can leave it out.
   */
  fence?(): void;
}

/** An access outside guest memory. */
export class GuestMemoryError extends RangeError {
  /** Start of the rejected access. */
  readonly gpa: bigint;
  /** Its length. */
  readonly len: number;

  /** Builds the error for an access of `len` bytes at `gpa`. */
  constructor(gpa: bigint, len: number) {
    super(`guest memory access out of range: 0x${gpa.toString(16)}+0x${len.toString(16)}`);
    this.name = 'GuestMemoryError';
    this.gpa = gpa;
    this.len = len;
  }
}

/** Converts a {@link Gpa} to bigint; throws RangeError for negative or non-integer numbers. */
export function gpaToBigInt(gpa: Gpa): bigint {
  if (typeof gpa === 'bigint') {
    if (gpa < 0n) throw new RangeError(`negative guest address ${gpa}`);
    return gpa;
  }
  if (!Number.isSafeInteger(gpa) || gpa < 0) {
    throw new RangeError(`bad guest address ${String(gpa)}`);
  }
  return BigInt(gpa);
}

/** Guest memory backed by one byte array mapped at `base`. */
export class BufferGuestMemory implements GuestMemory {
  /** The bytes of guest memory. */
  readonly bytes: Uint8Array;
  /** Guest physical address of `bytes[0]`. */
  readonly base: bigint;
  readonly #view: DataView;
  readonly #end: bigint;

  /** Wraps `memory` (or allocates that many zeroed bytes) at guest address `base`. */
  constructor(memory: Uint8Array | number, base: Gpa = 0n) {
    this.bytes = typeof memory === 'number' ? new Uint8Array(memory) : memory;
    this.base = gpaToBigInt(base);
    this.#view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.#end = this.base + BigInt(this.bytes.byteLength);
  }

  /** Size of the memory in bytes. */
  get size(): number {
    return this.bytes.byteLength;
  }

  isMapped(gpa: Gpa, len: number): boolean {
    if (!Number.isSafeInteger(len) || len < 0) return false;
    let g: bigint;
    try {
      g = gpaToBigInt(gpa);
    } catch {
      return false;
    }
    return g >= this.base && g + BigInt(len) <= this.#end;
  }

  #offset(gpa: Gpa, len: number): number {
    if (!this.isMapped(gpa, len)) {
      let g = -1n;
      try {
        g = gpaToBigInt(gpa);
      } catch {
        // reported as -1
      }
      throw new GuestMemoryError(g, Number.isSafeInteger(len) ? len : -1);
    }
    return Number(gpaToBigInt(gpa) - this.base);
  }

  read(gpa: Gpa, len: number): Uint8Array {
    const off = this.#offset(gpa, len);
    return this.bytes.subarray(off, off + len);
  }

  write(gpa: Gpa, data: Uint8Array): void {
    this.bytes.set(data, this.#offset(gpa, data.byteLength));
  }

  readU16(gpa: Gpa): number {
    return this.#view.getUint16(this.#offset(gpa, 2), true);
  }

  readU32(gpa: Gpa): number {
    return this.#view.getUint32(this.#offset(gpa, 4), true);
  }

  readU64(gpa: Gpa): bigint {
    return this.#view.getBigUint64(this.#offset(gpa, 8), true);
  }

  writeU16(gpa: Gpa, value: number): void {
    this.#view.setUint16(this.#offset(gpa, 2), value, true);
  }

  writeU32(gpa: Gpa, value: number): void {
    this.#view.setUint32(this.#offset(gpa, 4), value, true);
  }

  writeU64(gpa: Gpa, value: bigint): void {
    this.#view.setBigUint64(this.#offset(gpa, 8), BigInt.asUintN(64, value), true);
  }

  fence(): void {
    // One thread owns this memory: program order is enough.
  }
}
