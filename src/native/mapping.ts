/**
 * Safe JavaScript access to mapped memory, in the spirit of rust-vmm's
 * vm-memory: callers read and write through bounds-checked accessors, and
 * the only long-lived raw views ({@link MappedMemory.view}) are detached
 * when the memory is unmapped, so touching them afterwards throws or reads
 * nothing; it never crashes the process.
 *
 * Memory that another process can shrink (a peer's descriptor, a named
 * shared memory object) is switched to *guarded* access
 * ({@link MappedMemory.guard}): every access is a copy in the native layer
 * that turns a fault (SIGBUS past the end of a truncated file) into an
 * EFAULT {@link OsError} instead of killing the process.
 * @module
 */
import { type NativeAddon, type NativeMapping, native } from './index.js';
import { OsError } from './errors.js';
import { PROT_READ, PROT_WRITE } from './constants.js';

/** Accessors reach the memory through ArrayBuffers of at most this size (V8 caps one at 4 GiB). */
const WINDOW_SHIFT = 30;
const WINDOW = 2 ** WINDOW_SHIFT;

/**
 * A mapping with bounds-checked, little-endian accessors. Supports `using`:
 * disposing unmaps.
 */
export class MappedMemory implements Disposable {
  /** The raw mapping (for HostOs calls such as madvise or prealloc). */
  readonly native: NativeMapping;
  private readonly windows: (DataView | undefined)[] = [];
  private direct: boolean;
  #addon: NativeAddon | null = null;
  /** Scratch space for guarded scalar accesses. */
  #scratch: Uint8Array | null = null;
  #scratchView: DataView | null = null;

  /** Wraps a mapping made by `HostOs.mmap` (or the raw addon). */
  constructor(mapping: NativeMapping) {
    this.native = mapping;
    this.direct = (mapping.prot & (PROT_READ | PROT_WRITE)) === (PROT_READ | PROT_WRITE);
  }

  /** Length in bytes. */
  get length(): number {
    return this.native.length;
  }

  /** Start address in this process (for /proc/self/maps). */
  get address(): bigint {
    return this.native.address;
  }

  /**
   * Whether every access is a fault-guarded copy ({@link MappedMemory.guard}).
   */
  get guarded(): boolean {
    return this.#addon !== null;
  }

  /**
   * Switches to guarded access, for memory another process may shrink:
   * reads and writes become copies that fail with EFAULT instead of
   * crashing the process when the pages went away (SIGBUS), and
   * {@link MappedMemory.view} is refused (EPERM), since a raw view cannot
   * be guarded. Returns `this`.
   */
  guard(): this {
    this.#addon ??= native();
    this.direct = false;
    this.windows.length = 0;
    this.#scratch ??= new Uint8Array(8);
    this.#scratchView ??= new DataView(this.#scratch.buffer);
    return this;
  }

  #guardedRead(offset: number, target: Uint8Array): void {
    const err = this.#addon!.guardedRead(this.native, offset, target);
    if (err !== 0) throw new OsError(err, 'read');
  }

  #guardedWrite(offset: number, source: Uint8Array): void {
    const err = this.#addon!.guardedWrite(this.native, offset, source);
    if (err !== 0) throw new OsError(err, 'write');
  }

  /** False once unmapped. */
  get isMapped(): boolean {
    return this.native.isMapped;
  }

  private check(offset: number, length: number, op: string): void {
    if (!this.native.isMapped) throw new OsError(14 /* EFAULT */, op);
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.native.length
    ) {
      throw new RangeError(
        `${op}: range [${offset}, +${length}) is outside the ${this.native.length}-byte mapping`,
      );
    }
  }

  /** The DataView of the window holding `[offset, offset+length)`, or undefined if it spans two. */
  private window(offset: number, length: number): DataView | undefined {
    if (!this.direct) return undefined;
    const k = Math.floor(offset / WINDOW);
    if (Math.floor((offset + length - 1) / WINDOW) !== k) return undefined;
    let dv = this.windows[k];
    if (dv === undefined || dv.buffer.byteLength === 0) {
      const start = k * WINDOW;
      dv = new DataView(this.native.buffer(start, Math.min(WINDOW, this.native.length - start)));
      this.windows[k] = dv;
    }
    return dv;
  }

  /** Copies `length` bytes out of the memory. */
  read(offset: number, length: number): Uint8Array {
    this.check(offset, length, 'read');
    if (length === 0) return new Uint8Array(0);
    if (this.#addon !== null) {
      const out = new Uint8Array(length);
      this.#guardedRead(offset, out);
      return out;
    }
    const dv = this.window(offset, length);
    if (dv === undefined) return new Uint8Array(this.native.read(offset, length));
    const base = offset % WINDOW;
    return new Uint8Array(dv.buffer, base, length).slice();
  }

  /** Copies `data` into the memory at `offset`. */
  write(offset: number, data: ArrayBufferView): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.check(offset, bytes.length, 'write');
    if (bytes.length === 0) return;
    if (this.#addon !== null) {
      this.#guardedWrite(offset, bytes);
      return;
    }
    const dv = this.window(offset, bytes.length);
    if (dv === undefined) {
      this.native.write(offset, bytes);
      return;
    }
    new Uint8Array(dv.buffer, offset % WINDOW, bytes.length).set(bytes);
  }

  private scalar(offset: number, size: number, op: string): [DataView, number] | undefined {
    this.check(offset, size, op);
    const dv = this.window(offset, size);
    return dv === undefined ? undefined : [dv, offset % WINDOW];
  }

  private slow(offset: number, size: number): DataView {
    if (this.#addon !== null) {
      const b = this.#scratch!.subarray(0, size);
      this.#guardedRead(offset, b);
      return this.#scratchView!;
    }
    const b = this.native.read(offset, size);
    return new DataView(b.buffer, b.byteOffset, size);
  }

  /** Reads an unsigned byte. */
  readU8(offset: number): number {
    const s = this.scalar(offset, 1, 'read');
    return s ? s[0].getUint8(s[1]) : this.slow(offset, 1).getUint8(0);
  }

  /** Reads a little-endian unsigned 16-bit value. */
  readU16(offset: number): number {
    const s = this.scalar(offset, 2, 'read');
    return s ? s[0].getUint16(s[1], true) : this.slow(offset, 2).getUint16(0, true);
  }

  /** Reads a little-endian unsigned 32-bit value. */
  readU32(offset: number): number {
    const s = this.scalar(offset, 4, 'read');
    return s ? s[0].getUint32(s[1], true) : this.slow(offset, 4).getUint32(0, true);
  }

  /** Reads a little-endian unsigned 64-bit value. */
  readU64(offset: number): bigint {
    const s = this.scalar(offset, 8, 'read');
    return s ? s[0].getBigUint64(s[1], true) : this.slow(offset, 8).getBigUint64(0, true);
  }

  private put(offset: number, size: number, set: (dv: DataView, at: number) => void): void {
    const s = this.scalar(offset, size, 'write');
    if (s) {
      set(s[0], s[1]);
      return;
    }
    if (this.#addon !== null) {
      set(this.#scratchView!, 0);
      this.#guardedWrite(offset, this.#scratch!.subarray(0, size));
      return;
    }
    const b = new Uint8Array(size);
    set(new DataView(b.buffer), 0);
    this.native.write(offset, b);
  }

  /** Writes a byte (the value is taken modulo 2^8). */
  writeU8(offset: number, value: number): void {
    this.put(offset, 1, (dv, at) => dv.setUint8(at, value));
  }

  /** Writes a little-endian 16-bit value. */
  writeU16(offset: number, value: number): void {
    this.put(offset, 2, (dv, at) => dv.setUint16(at, value, true));
  }

  /** Writes a little-endian 32-bit value. */
  writeU32(offset: number, value: number): void {
    this.put(offset, 4, (dv, at) => dv.setUint32(at, value, true));
  }

  /** Writes a little-endian 64-bit value (taken modulo 2^64). */
  writeU64(offset: number, value: bigint): void {
    this.put(offset, 8, (dv, at) => dv.setBigUint64(at, BigInt.asUintN(64, value), true));
  }

  /**
   * A live view of `[offset, offset+length)`. It is detached when the
   * memory is unmapped (its length becomes 0), so keep it only as long as
   * you can tolerate that. Needs a read-write mapping (EACCES otherwise)
   * that is not guarded (EPERM otherwise).
   */
  view(offset: number, length: number): Uint8Array {
    this.check(offset, length, 'view');
    if (this.#addon !== null) throw new OsError(1 /* EPERM */, 'view');
    return new Uint8Array(this.native.buffer(offset, length));
  }

  /**
   * Detaches every view, then unmaps. Returns false if it was already
   * unmapped; throws EBUSY while a preallocation runs.
   */
  unmap(): boolean {
    this.windows.length = 0;
    return this.native.unmap();
  }

  /** Unmaps (for `using`). */
  [Symbol.dispose](): void {
    this.unmap();
  }
}
