/**
 * VIRTIO 1.x split virtqueues over a {@link GuestMemory}, from both ends:
 *
 * - {@link VirtQueue}, the device side (what QEMU's hw/virtio/virtio.c and
 *   libvhost-user do): pop available chains, following NEXT links and
 *   indirect tables with bounds and loop checks, push used elements and
 *   decide when to interrupt the driver. A bad ring never throws and never
 *   loops: it marks the queue broken with QEMU's message, as virtio_error()
 *   does, and pop() returns null from then on.
 * - {@link VirtQueueDriver}, the driver side (what a guest does; QEMU's
 *   qtest libqos plays the same role), so tests and examples can act as
 *   the guest: add buffer chains or indirect tables, publish them, decide
 *   when to kick, and collect used buffers.
 *
 * Ring layout (all little-endian):
 * descriptor table `num` x 16 bytes {addr u64, len u32, flags u16, next u16};
 * available ring {flags u16, idx u16, ring[num] u16, used_event u16};
 * used ring {flags u16, idx u16, ring[num] {id u32, len u32}, avail_event u16}.
 * @module
 */
import { TsqomError } from '../../util/error.js';
import { type GuestMemory, type Gpa, GuestMemoryError, gpaToBigInt } from './guest-memory.js';
import {
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_USED_F_NO_NOTIFY,
  virtioHasFeature,
  vringNeedEvent,
} from './standard-headers.js';

/** Most buffers (scatter-gather entries) one element may have, as in QEMU. */
export const VIRTQUEUE_MAX_SIZE = 1024;

/** Largest split queue size VIRTIO allows. */
export const VIRTQUEUE_MAX_NUM = 32768;

/** Size of one descriptor. */
export const VRING_DESC_SIZE = 16;

/** Size of one used ring element {id, len}. */
export const VRING_USED_ELEM_SIZE = 8;

/** Default ring alignment of the legacy contiguous layout (VIRTIO_PCI_VRING_ALIGN). */
export const VIRTIO_PCI_VRING_ALIGN = 4096;

/** Where the three parts of a split virtqueue live. */
export interface VringLayout {
  /** Queue size: a power of 2, at most 32768. */
  num: number;
  /** Descriptor table address (16-byte aligned). */
  desc: Gpa;
  /** Available ring address (2-byte aligned). */
  avail: Gpa;
  /** Used ring address (4-byte aligned). */
  used: Gpa;
}

/** One buffer of an element: guest address and length. */
export interface VirtQueueSg {
  /** Guest physical address. */
  addr: bigint;
  /** Length in bytes. */
  len: number;
}

/** A popped request, as QEMU's VirtQueueElement. */
export interface VirtQueueElement {
  /** Head descriptor index; give it back with push(). */
  index: number;
  /** Descriptors it used in the ring (always 1 for split queues). */
  ndescs: number;
  /** Device-readable buffers, in order. */
  outSg: VirtQueueSg[];
  /** Device-writable buffers, in order. */
  inSg: VirtQueueSg[];
}

/** Bytes of the descriptor table for `num` entries. */
export function vringDescTableSize(num: number): number {
  return VRING_DESC_SIZE * num;
}

/** Bytes of the available ring (used_event included unless `eventIdx` is false). */
export function vringAvailSize(num: number, eventIdx = true): number {
  return 4 + 2 * num + (eventIdx ? 2 : 0);
}

/** Bytes of the used ring (avail_event included unless `eventIdx` is false). */
export function vringUsedSize(num: number, eventIdx = true): number {
  return 4 + VRING_USED_ELEM_SIZE * num + (eventIdx ? 2 : 0);
}

function alignUp(v: bigint, align: number): bigint {
  const a = BigInt(align);
  return ((v + a - 1n) / a) * a;
}

function checkNum(num: number): void {
  if (!Number.isInteger(num) || num < 1 || num > VIRTQUEUE_MAX_NUM || (num & (num - 1)) !== 0) {
    throw new RangeError(`virtqueue size ${num} is not a power of 2 between 1 and 32768`);
  }
}

/**
 * The contiguous layout of vring_init(): descriptor table at `base`, the
 * available ring right after it, the used ring at the next multiple of
 * `align` (a power of 2; 4 packs the rings as tightly as VIRTIO 1.x allows).
 */
export function vringLayout(base: Gpa, num: number, align = VIRTIO_PCI_VRING_ALIGN): VringLayout {
  checkNum(num);
  if (!Number.isInteger(align) || align < 4 || (align & (align - 1)) !== 0) {
    throw new RangeError(`vring alignment ${align} is not a power of 2 of at least 4`);
  }
  const desc = alignUp(gpaToBigInt(base), 16);
  const avail = desc + BigInt(vringDescTableSize(num));
  const used = alignUp(avail + BigInt(vringAvailSize(num)), align);
  return { num, desc, avail, used };
}

/** vring_size(): bytes from the descriptor table to the end of the used ring in {@link vringLayout}. */
export function vringSize(num: number, align = VIRTIO_PCI_VRING_ALIGN): number {
  const l = vringLayout(0n, num, align);
  return Number(gpaToBigInt(l.used)) + vringUsedSize(num);
}

interface Desc {
  addr: bigint;
  len: number;
  flags: number;
  next: number;
}

function readDesc(mem: GuestMemory, table: bigint, i: number): Desc {
  const b = mem.read(table + BigInt(VRING_DESC_SIZE * i), VRING_DESC_SIZE);
  const dv = new DataView(b.buffer, b.byteOffset, VRING_DESC_SIZE);
  return {
    addr: dv.getBigUint64(0, true),
    len: dv.getUint32(8, true),
    flags: dv.getUint16(12, true),
    next: dv.getUint16(14, true),
  };
}

function writeDesc(mem: GuestMemory, table: bigint, i: number, d: Desc): void {
  const b = new Uint8Array(VRING_DESC_SIZE);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, d.addr, true);
  dv.setUint32(8, d.len, true);
  dv.setUint16(12, d.flags, true);
  dv.setUint16(14, d.next, true);
  mem.write(table + BigInt(VRING_DESC_SIZE * i), b);
}

/** Thrown inside pop() to stop at the first ring error; never escapes. */
class RingError extends TsqomError {
  constructor(message: string) {
    super(message, 'ERR_VIRTQUEUE_RING');
  }
}

/** Options of a device-side {@link VirtQueue}. */
export interface VirtQueueOptions {
  /** Negotiated features (EVENT_IDX, INDIRECT_DESC, NOTIFY_ON_EMPTY matter). */
  features?: bigint;
  /** Next available index to process (VHOST_USER_SET_VRING_BASE); default 0. */
  lastAvailIdx?: number;
  /** Device name for the ring-mapping messages; default `virtio`. */
  name?: string;
  /** Called once with the message when the queue breaks (QEMU's virtio_error). */
  onError?: (message: string) => void;
}

/** The device side of a split virtqueue. */
export class VirtQueue {
  /** The memory the rings and buffers live in. */
  readonly mem: GuestMemory;
  /** Queue size. */
  readonly num: number;
  /** Descriptor table address. */
  readonly desc: bigint;
  /** Available ring address. */
  readonly avail: bigint;
  /** Used ring address. */
  readonly used: bigint;
  /** Negotiated features. */
  readonly features: bigint;
  readonly #eventIdx: boolean;
  readonly #onError: ((message: string) => void) | undefined;
  #lastAvailIdx: number;
  #shadowAvailIdx: number;
  #usedIdx = 0;
  #inuse = 0;
  #signalledUsed = 0;
  #signalledUsedValid = false;
  #notification = true;
  #error: string | null = null;

  /**
   * Attaches to rings the driver set up. Throws RangeError for a size that
   * is not a power of 2 up to 32768. Rings that are not in guest memory
   * break the queue at once, with QEMU's messages.
   */
  constructor(mem: GuestMemory, layout: VringLayout, options: VirtQueueOptions = {}) {
    checkNum(layout.num);
    this.mem = mem;
    this.num = layout.num;
    this.desc = gpaToBigInt(layout.desc);
    this.avail = gpaToBigInt(layout.avail);
    this.used = gpaToBigInt(layout.used);
    this.features = options.features ?? 0n;
    this.#eventIdx = virtioHasFeature(this.features, VIRTIO_RING_F_EVENT_IDX);
    this.#onError = options.onError;
    this.#lastAvailIdx = (options.lastAvailIdx ?? 0) & 0xffff;
    this.#shadowAvailIdx = this.#lastAvailIdx;
    const name = options.name ?? 'virtio';
    if (!mem.isMapped(this.desc, vringDescTableSize(this.num))) {
      this.#fail(
        `Failed to map descriptor ring for device ${name}: ` +
          'invalid guest physical address or corrupted queue setup',
      );
    } else if (!mem.isMapped(this.used, vringUsedSize(this.num, this.#eventIdx))) {
      this.#fail(
        `Failed to map used ring for device ${name}: ` +
          'possible guest misconfiguration or insufficient memory',
      );
    } else if (!mem.isMapped(this.avail, vringAvailSize(this.num, this.#eventIdx))) {
      this.#fail(
        `Failed to map avalaible ring for device ${name}: ` +
          'possible queue misconfiguration or overlapping memory region',
      );
    } else {
      this.#usedIdx = this.#guard(() => mem.readU16(this.used + 2n), 0);
    }
  }

  /** True once a ring error was seen; the queue then does nothing. */
  get broken(): boolean {
    return this.#error !== null;
  }

  /** The message of the error that broke the queue, or null. */
  get error(): string | null {
    return this.#error;
  }

  /** Next available ring index to process (VHOST_USER_GET_VRING_BASE). */
  get lastAvailIdx(): number {
    return this.#lastAvailIdx;
  }

  /** Sets the next available index (VHOST_USER_SET_VRING_BASE), as virtio_queue_set_last_avail_idx. */
  set lastAvailIdx(idx: number) {
    this.#lastAvailIdx = idx & 0xffff;
    this.#shadowAvailIdx = this.#lastAvailIdx;
  }

  /** The used index the device will publish next. */
  get usedIdx(): number {
    return this.#usedIdx;
  }

  /** Elements popped and not yet pushed, detached or unpopped. */
  get inuse(): number {
    return this.#inuse;
  }

  /** Re-reads the used index from the ring (virtio_queue_update_used_idx). */
  updateUsedIdx(): void {
    if (this.broken) return;
    this.#usedIdx = this.#guard(() => this.mem.readU16(this.used + 2n), this.#usedIdx);
  }

  /** Restarts from the used index: everything not used will be popped again. */
  restoreLastAvailIdx(): void {
    this.updateUsedIdx();
    this.lastAvailIdx = this.#usedIdx;
  }

  #fail(message: string): void {
    if (this.#error !== null) return;
    this.#error = message;
    this.#onError?.(message);
  }

  /** Runs a memory access; a fault breaks the queue and yields `fallback`. */
  #guard<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof RingError) throw e;
      this.#fail(e instanceof GuestMemoryError ? 'Cannot map descriptor ring' : String(e));
      return fallback;
    }
  }

  #ringError(message: string): never {
    this.#fail(message);
    throw new RingError(message);
  }

  #fence(): void {
    this.mem.fence?.();
  }

  #readAvailIdx(): number {
    this.#shadowAvailIdx = this.mem.readU16(this.avail + 2n);
    return this.#shadowAvailIdx;
  }

  #availEventAddr(): bigint {
    return this.used + BigInt(4 + VRING_USED_ELEM_SIZE * this.num);
  }

  #usedEventAddr(): bigint {
    return this.avail + BigInt(4 + 2 * this.num);
  }

  #setAvailEvent(val: number): void {
    if (!this.#notification) return;
    this.mem.writeU16(this.#availEventAddr(), val);
  }

  /** True when no element is available (virtio_queue_empty); a broken queue is empty. */
  isEmpty(): boolean {
    if (this.broken) return true;
    if (this.#shadowAvailIdx !== this.#lastAvailIdx) return false;
    return this.#guard(() => this.#readAvailIdx() === this.#lastAvailIdx, true);
  }

  /**
   * Enables or disables driver notifications (kicks), as
   * virtio_queue_set_notification: with EVENT_IDX through avail_event,
   * otherwise through VRING_USED_F_NO_NOTIFY. After enabling, check
   * {@link isEmpty} again: the driver may have added buffers meanwhile.
   */
  setNotification(enable: boolean): void {
    this.#notification = enable;
    if (this.broken) return;
    this.#guard(() => {
      if (this.#eventIdx) {
        this.#setAvailEvent(this.#readAvailIdx());
      } else {
        const flags = this.mem.readU16(this.used);
        this.mem.writeU16(
          this.used,
          enable ? flags & ~VRING_USED_F_NO_NOTIFY : flags | VRING_USED_F_NO_NOTIFY,
        );
      }
      if (enable) this.#fence();
    }, undefined);
  }

  /**
   * Takes the next available element, or null when there is none or the
   * queue is broken. A malformed ring breaks the queue (see {@link error})
   * and returns null; nothing is thrown.
   */
  pop(): VirtQueueElement | null {
    if (this.broken) return null;
    try {
      return this.#guard(() => this.#pop(), null);
    } catch (e) {
      if (e instanceof RingError) return null;
      throw e;
    }
  }

  #pop(): VirtQueueElement | null {
    const mem = this.mem;
    const idx = this.#lastAvailIdx;
    const availIdx = this.#shadowAvailIdx !== idx ? this.#shadowAvailIdx : this.#readAvailIdx();
    const numHeads = (availIdx - idx) & 0xffff;
    if (numHeads > this.num) {
      this.#ringError(`Guest moved used index from ${idx} to ${this.#shadowAvailIdx}`);
    }
    if (numHeads === 0) return null;
    // The ring entries must not be read before the index that published them.
    this.#fence();
    if (this.#inuse >= this.num) this.#ringError('Virtqueue size exceeded');

    const head = mem.readU16(this.avail + BigInt(4 + 2 * (idx % this.num)));
    this.#lastAvailIdx = (idx + 1) & 0xffff;
    if (head >= this.num) this.#ringError(`Guest says index ${head} is available`);
    if (this.#eventIdx) this.#setAvailEvent(this.#lastAvailIdx);

    let table = this.desc;
    let max = this.num;
    let desc = readDesc(mem, table, head);
    let indirect = false;
    if (desc.flags & VRING_DESC_F_INDIRECT) {
      if (desc.len === 0 || desc.len % VRING_DESC_SIZE !== 0) {
        this.#ringError('Invalid size for indirect buffer table');
      }
      if (!mem.isMapped(desc.addr, desc.len)) this.#ringError('Cannot map indirect buffer');
      table = desc.addr;
      max = desc.len / VRING_DESC_SIZE;
      indirect = true;
      desc = readDesc(mem, table, 0);
    }

    const outSg: VirtQueueSg[] = [];
    const inSg: VirtQueueSg[] = [];
    let entries = 0;
    for (;;) {
      if (indirect && desc.flags & VRING_DESC_F_INDIRECT) {
        // The spec forbids it; QEMU would map the table as data, Linux's vhost refuses it.
        this.#ringError('Nested indirect descriptor');
      }
      if (desc.flags & VRING_DESC_F_WRITE) {
        this.#mapDesc(inSg, outSg.length + inSg.length, desc);
      } else {
        if (inSg.length > 0) this.#ringError('Incorrect order for descriptors');
        this.#mapDesc(outSg, outSg.length, desc);
      }
      // More entries than the table holds means the chain loops.
      if (++entries > max) this.#ringError('Looped descriptor');
      if (!(desc.flags & VRING_DESC_F_NEXT)) break;
      if (desc.next >= max) this.#ringError(`Desc next is ${desc.next}`);
      desc = readDesc(mem, table, desc.next);
    }
    this.#inuse++;
    return { index: head, ndescs: 1, outSg, inSg };
  }

  #mapDesc(sg: VirtQueueSg[], used: number, desc: Desc): void {
    if (desc.len === 0) this.#ringError('virtio: zero sized buffers are not allowed');
    if (used >= VIRTQUEUE_MAX_SIZE) {
      this.#ringError('virtio: too many write descriptors in indirect table');
    }
    if (!this.mem.isMapped(desc.addr, desc.len)) {
      this.#ringError('virtio: bogus descriptor or out of resources');
    }
    sg.push({ addr: desc.addr, len: desc.len });
  }

  /**
   * Puts back the last popped element so the next pop returns it again
   * (virtqueue_unpop).
   */
  unpop(elem: VirtQueueElement): void {
    this.#lastAvailIdx = (this.#lastAvailIdx - 1) & 0xffff;
    this.detachElement(elem);
  }

  /** Forgets an element without using it (virtqueue_detach_element). */
  detachElement(elem: VirtQueueElement): void {
    this.#inuse = Math.max(0, this.#inuse - elem.ndescs);
  }

  /**
   * Writes the used element at position `idx` past the used index without
   * publishing it (virtqueue_fill); {@link flush} publishes. `len` is the
   * number of bytes written to the element's device-writable buffers.
   */
  fill(elem: VirtQueueElement, len: number, idx = 0): void {
    if (!Number.isInteger(elem.index) || elem.index < 0 || elem.index >= this.num) {
      throw new RangeError(`element index ${elem.index} is not below the queue size ${this.num}`);
    }
    if (!Number.isInteger(len) || len < 0 || len > 0xffffffff) {
      throw new RangeError(`used length ${len} is not an unsigned 32-bit integer`);
    }
    if (this.broken) return;
    const slot = (this.#usedIdx + idx) % this.num;
    const at = this.used + BigInt(4 + VRING_USED_ELEM_SIZE * slot);
    this.#guard(() => {
      this.mem.writeU32(at, elem.index);
      this.mem.writeU32(at + 4n, len);
    }, undefined);
  }

  /** Publishes `count` filled elements by moving the used index (virtqueue_flush). */
  flush(count: number): void {
    if (this.broken) {
      this.#inuse = Math.max(0, this.#inuse - count);
      return;
    }
    // The elements must be visible before the index that publishes them.
    this.#fence();
    const old = this.#usedIdx;
    const next = (old + count) & 0xffff;
    this.#guard(() => this.mem.writeU16(this.used + 2n, next), undefined);
    this.#usedIdx = next;
    this.#inuse = Math.max(0, this.#inuse - count);
    // The last index we signalled fell behind the window: event idx can't tell any more.
    if (((next - this.#signalledUsed) << 16) >> 16 < ((next - old) & 0xffff)) {
      this.#signalledUsedValid = false;
    }
  }

  /** Returns an element to the driver (virtqueue_push): fill then flush one. */
  push(elem: VirtQueueElement, len: number): void {
    this.fill(elem, len, 0);
    this.flush(1);
  }

  /**
   * Whether the driver wants an interrupt now (virtio_should_notify):
   * with EVENT_IDX, whether the used index passed used_event since the last
   * notification; otherwise unless VRING_AVAIL_F_NO_INTERRUPT is set.
   * Call it after push/flush and signal the call eventfd when true.
   */
  shouldNotify(): boolean {
    if (this.broken) return false;
    return this.#guard(() => {
      // The used entries must be visible before we read the driver's wishes.
      this.#fence();
      if (
        virtioHasFeature(this.features, VIRTIO_F_NOTIFY_ON_EMPTY) &&
        this.#inuse === 0 &&
        this.isEmpty()
      ) {
        return true;
      }
      if (!this.#eventIdx) {
        return (this.mem.readU16(this.avail) & VRING_AVAIL_F_NO_INTERRUPT) === 0;
      }
      const v = this.#signalledUsedValid;
      this.#signalledUsedValid = true;
      const old = this.#signalledUsed;
      const next = (this.#signalledUsed = this.#usedIdx);
      return !v || vringNeedEvent(this.mem.readU16(this.#usedEventAddr()), next, old);
    }, false);
  }
}

/** One buffer the driver offers: guest address and length. */
export interface VirtQueueBuf {
  /** Guest physical address. */
  addr: Gpa;
  /** Length in bytes (1 to 2^32-1). */
  len: number;
}

/** A buffer chain the device has used. */
export interface VirtQueueUsed<T> {
  /** The token given to add(). */
  token: T;
  /** Bytes the device wrote, as it reported. */
  len: number;
  /** The head descriptor index. */
  id: number;
}

/** Options of a {@link VirtQueueDriver}. */
export interface VirtQueueDriverOptions {
  /** Negotiated features (EVENT_IDX, INDIRECT_DESC matter). */
  features?: bigint;
  /**
   * Memory for indirect tables: one table of `entries` descriptors per
   * head, `num * entries * 16` bytes from `addr`. Needed for indirect adds.
   */
  indirectTables?: {
    /** Start of the area. */
    addr: Gpa;
    /** Descriptors per table: the most buffers one indirect add may carry. */
    entries: number;
  };
  /** Initial avail and used index (to exercise wrap-around); default 0. */
  startIdx?: number;
  /** Zero the rings and write the initial indices; default true. */
  init?: boolean;
}

/** Options of one {@link VirtQueueDriver.add}. */
export interface VirtQueueAddOptions {
  /** Put the buffers in an indirect table (needs INDIRECT_DESC and tables). */
  indirect?: boolean;
}

interface Inflight<T> {
  token: T;
  descs: number[];
}

/** The driver (guest) side of a split virtqueue. */
export class VirtQueueDriver<T = unknown> {
  /** The memory the rings and buffers live in. */
  readonly mem: GuestMemory;
  /** Queue size. */
  readonly num: number;
  /** Descriptor table address. */
  readonly desc: bigint;
  /** Available ring address. */
  readonly avail: bigint;
  /** Used ring address. */
  readonly used: bigint;
  readonly #eventIdx: boolean;
  readonly #indirectAllowed: boolean;
  readonly #indirect: { addr: bigint; entries: number } | null;
  readonly #free: number[] = [];
  readonly #inflight: (Inflight<T> | undefined)[];
  #availIdx: number;
  #lastUsedIdx: number;
  #numAdded = 0;
  #callbacks = true;

  /** Takes over the rings at `layout` (and zeroes them unless `init` is false). */
  constructor(mem: GuestMemory, layout: VringLayout, options: VirtQueueDriverOptions = {}) {
    checkNum(layout.num);
    this.mem = mem;
    this.num = layout.num;
    this.desc = gpaToBigInt(layout.desc);
    this.avail = gpaToBigInt(layout.avail);
    this.used = gpaToBigInt(layout.used);
    const features = options.features ?? 0n;
    this.#eventIdx = virtioHasFeature(features, VIRTIO_RING_F_EVENT_IDX);
    this.#indirectAllowed = virtioHasFeature(features, VIRTIO_RING_F_INDIRECT_DESC);
    if (options.indirectTables !== undefined) {
      const { entries } = options.indirectTables;
      if (!Number.isInteger(entries) || entries < 1 || entries > 0xffff) {
        throw new RangeError(`indirect table entries ${entries} out of range`);
      }
      const addr = gpaToBigInt(options.indirectTables.addr);
      if (!mem.isMapped(addr, this.num * entries * VRING_DESC_SIZE)) {
        throw new RangeError('indirect tables are not in guest memory');
      }
      this.#indirect = { addr, entries };
    } else {
      this.#indirect = null;
    }
    for (const [what, at, size] of [
      ['descriptor table', this.desc, vringDescTableSize(this.num)],
      ['available ring', this.avail, vringAvailSize(this.num)],
      ['used ring', this.used, vringUsedSize(this.num)],
    ] as const) {
      if (!mem.isMapped(at, size)) throw new RangeError(`${what} is not in guest memory`);
    }
    this.#inflight = new Array<Inflight<T> | undefined>(this.num);
    for (let i = this.num - 1; i >= 0; i--) this.#free.push(i);
    const start = (options.startIdx ?? 0) & 0xffff;
    this.#availIdx = start;
    this.#lastUsedIdx = start;
    if (options.init ?? true) {
      mem.write(this.desc, new Uint8Array(vringDescTableSize(this.num)));
      mem.write(this.avail, new Uint8Array(vringAvailSize(this.num)));
      mem.write(this.used, new Uint8Array(vringUsedSize(this.num)));
      mem.writeU16(this.avail + 2n, start);
      mem.writeU16(this.used + 2n, start);
      mem.writeU16(this.#usedEventAddr(), start);
      mem.writeU16(this.#availEventAddr(), start);
      mem.fence?.();
    }
  }

  /** Free descriptors. */
  get numFree(): number {
    return this.#free.length;
  }

  /** The available index published so far. */
  get availIdx(): number {
    return this.#availIdx;
  }

  /** The next used index the driver will consume. */
  get lastUsedIdx(): number {
    return this.#lastUsedIdx;
  }

  #usedEventAddr(): bigint {
    return this.avail + BigInt(4 + 2 * this.num);
  }

  #availEventAddr(): bigint {
    return this.used + BigInt(4 + VRING_USED_ELEM_SIZE * this.num);
  }

  /**
   * Adds a chain of device-readable `out` then device-writable `inBufs`
   * buffers and publishes it in the available ring; returns the head
   * index. With `indirect`, one descriptor points to a table holding them.
   * Throws RangeError when there is no room or a buffer is invalid. Call
   * {@link kickNeeded} at least once per 65535 adds.
   */
  add(
    out: readonly VirtQueueBuf[],
    inBufs: readonly VirtQueueBuf[],
    token: T,
    options: VirtQueueAddOptions = {},
  ): number {
    const bufs = [
      ...out.map((b) => ({ b, flags: 0 })),
      ...inBufs.map((b) => ({ b, flags: VRING_DESC_F_WRITE })),
    ].map(({ b, flags }) => {
      if (!Number.isInteger(b.len) || b.len < 0 || b.len > 0xffffffff) {
        throw new RangeError(`buffer length ${b.len} is not an unsigned 32-bit integer`);
      }
      return { addr: gpaToBigInt(b.addr), len: b.len, flags };
    });
    const total = bufs.length;
    if (total === 0) throw new RangeError('a request needs at least one buffer');
    const mem = this.mem;
    let head: number;
    let descs: number[];
    if (options.indirect) {
      if (!this.#indirectAllowed) {
        throw new RangeError('indirect descriptors were not negotiated (VIRTIO_F_INDIRECT_DESC)');
      }
      if (this.#indirect === null) throw new RangeError('no memory for indirect tables');
      if (total > this.#indirect.entries) {
        throw new RangeError(`${total} buffers exceed the indirect table size`);
      }
      if (this.#free.length < 1) throw new RangeError('virtqueue full');
      head = this.#free.pop() as number;
      descs = [head];
      const table = this.#indirect.addr + BigInt(head * this.#indirect.entries * VRING_DESC_SIZE);
      bufs.forEach((d, i) =>
        writeDesc(mem, table, i, {
          addr: d.addr,
          len: d.len,
          flags: d.flags | (i + 1 < total ? VRING_DESC_F_NEXT : 0),
          next: i + 1 < total ? i + 1 : 0,
        }),
      );
      writeDesc(mem, this.desc, head, {
        addr: table,
        len: total * VRING_DESC_SIZE,
        flags: VRING_DESC_F_INDIRECT,
        next: 0,
      });
    } else {
      if (this.#free.length < total) throw new RangeError('virtqueue full');
      descs = [];
      for (let i = 0; i < total; i++) descs.push(this.#free.pop() as number);
      head = descs[0];
      bufs.forEach((d, i) =>
        writeDesc(mem, this.desc, descs[i], {
          addr: d.addr,
          len: d.len,
          flags: d.flags | (i + 1 < total ? VRING_DESC_F_NEXT : 0),
          next: i + 1 < total ? descs[i + 1] : 0,
        }),
      );
    }
    this.#inflight[head] = { token, descs };
    mem.writeU16(this.avail + BigInt(4 + 2 * (this.#availIdx % this.num)), head);
    // The device must see the descriptors and the ring entry before the new index.
    mem.fence?.();
    this.#availIdx = (this.#availIdx + 1) & 0xffff;
    mem.writeU16(this.avail + 2n, this.#availIdx);
    this.#numAdded++;
    return head;
  }

  /**
   * Whether to notify (kick) the device for what was added since the last
   * call (virtqueue_kick_prepare): with EVENT_IDX, whether the available
   * index passed avail_event; otherwise unless VRING_USED_F_NO_NOTIFY.
   */
  kickNeeded(): boolean {
    // The new index must be visible before we read the device's wishes.
    this.mem.fence?.();
    const next = this.#availIdx;
    const old = (next - this.#numAdded) & 0xffff;
    this.#numAdded = 0;
    if (this.#eventIdx) {
      return vringNeedEvent(this.mem.readU16(this.#availEventAddr()), next, old);
    }
    return (this.mem.readU16(this.used) & VRING_USED_F_NO_NOTIFY) === 0;
  }

  /** Whether the device has used buffers the driver has not collected. */
  hasUsed(): boolean {
    return this.mem.readU16(this.used + 2n) !== this.#lastUsedIdx;
  }

  /**
   * The next used buffer chain, or null. Throws Error when the device
   * returns an id that is not an outstanding head (a device bug).
   */
  getUsed(): VirtQueueUsed<T> | null {
    const mem = this.mem;
    if (!this.hasUsed()) return null;
    // Read the element only after the index that published it.
    mem.fence?.();
    const at = this.used + BigInt(4 + VRING_USED_ELEM_SIZE * (this.#lastUsedIdx % this.num));
    const id = mem.readU32(at);
    const len = mem.readU32(at + 4n);
    if (id >= this.num) throw new Error(`id ${id} out of range`);
    const state = this.#inflight[id];
    if (state === undefined) throw new Error(`id ${id} is not a head!`);
    this.#inflight[id] = undefined;
    for (let i = state.descs.length - 1; i >= 0; i--) this.#free.push(state.descs[i]);
    this.#lastUsedIdx = (this.#lastUsedIdx + 1) & 0xffff;
    if (this.#eventIdx && this.#callbacks) {
      mem.writeU16(this.#usedEventAddr(), this.#lastUsedIdx);
      mem.fence?.();
    }
    return { token: state.token, len, id };
  }

  /**
   * Asks for interrupts again (virtqueue_enable_cb): clears
   * VRING_AVAIL_F_NO_INTERRUPT, or with EVENT_IDX sets used_event to the
   * next used index. Returns false when used buffers are already pending
   * (collect them: no interrupt will come for those).
   */
  enableCallbacks(): boolean {
    this.#callbacks = true;
    if (this.#eventIdx) {
      this.mem.writeU16(this.#usedEventAddr(), this.#lastUsedIdx);
    } else {
      this.mem.writeU16(this.avail, this.mem.readU16(this.avail) & ~VRING_AVAIL_F_NO_INTERRUPT);
    }
    this.mem.fence?.();
    return !this.hasUsed();
  }

  /**
   * Asks for no interrupts (virtqueue_disable_cb): sets
   * VRING_AVAIL_F_NO_INTERRUPT, or with EVENT_IDX moves used_event half
   * the index space ahead.
   */
  disableCallbacks(): void {
    this.#callbacks = false;
    if (this.#eventIdx) {
      this.mem.writeU16(this.#usedEventAddr(), (this.#lastUsedIdx + 0x8000) & 0xffff);
    } else {
      this.mem.writeU16(this.avail, this.mem.readU16(this.avail) | VRING_AVAIL_F_NO_INTERRUPT);
    }
  }
}

/** Total bytes of a buffer list (iov_size). */
export function iovSize(sg: readonly VirtQueueSg[]): number {
  return sg.reduce((n, s) => n + s.len, 0);
}

/**
 * Gathers up to `bytes` bytes from `sg`, starting `offset` bytes in
 * (iov_to_buf); returns a new array with what was there.
 */
export function iovToBuf(
  mem: GuestMemory,
  sg: readonly VirtQueueSg[],
  offset = 0,
  bytes = Number.MAX_SAFE_INTEGER,
): Uint8Array {
  const total = Math.max(0, Math.min(bytes, iovSize(sg) - offset));
  const out = new Uint8Array(total);
  let skip = offset;
  let done = 0;
  for (const s of sg) {
    if (done === total) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, total - done);
    out.set(mem.read(s.addr + BigInt(skip), n), done);
    done += n;
    skip = 0;
  }
  return out;
}

/**
 * Scatters `data` into `sg`, starting `offset` bytes in (iov_from_buf);
 * returns how many bytes fit.
 */
export function iovFromBuf(
  mem: GuestMemory,
  sg: readonly VirtQueueSg[],
  offset: number,
  data: Uint8Array,
): number {
  let skip = offset;
  let done = 0;
  for (const s of sg) {
    if (done === data.byteLength) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, data.byteLength - done);
    mem.write(s.addr + BigInt(skip), data.subarray(done, done + n));
    done += n;
    skip = 0;
  }
  return done;
}
