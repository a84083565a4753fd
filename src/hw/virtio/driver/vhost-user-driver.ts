/**
 * Playing the guest driver of a vhost-user device, for tests, examples and
 * embedders without a CPU: guest memory access over the system address
 * space, and a driver that negotiates features, lays split virtqueues out
 * in guest RAM, sets DRIVER_OK, kicks through the kick eventfds and waits
 * on the call eventfds, the way a VIRTIO driver behind a transport would.
 * @module
 */
import { hostOs } from '../../../util/machine-context.js';
import 'reflect-metadata';
import { HostOs } from '../../../native/host.js';
import type { MappedMemory } from '../../../native/mapping.js';
import {
  type AddressSpace,
  MEMTX_OK,
  type MemoryRegion,
  addressSpaceMemory,
} from '../../../system/memory.js';
import { type FlatRange, type FlatView, flatviewLookup } from '../../../system/flatview.js';
import {
  addressSpaceRead,
  addressSpaceWrite,
  memoryRegionGetRamBlock,
} from '../../../system/physmem.js';
import { type GuestMemory, type Gpa, GuestMemoryError, gpaToBigInt } from '../guest-memory.js';
import {
  VirtQueueDriver,
  type VirtQueueDriverOptions,
  type VirtQueueUsed,
  vringLayout,
} from '../virtqueue.js';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
} from '../standard-headers.js';
import { virtioReset, virtioSetFeatures } from '../virtio.js';
import {
  type VHostUserBase,
  vhostUserBaseGetConfig,
  vhostUserBaseSetStatus,
} from '../vhost-user-base.js';

const X86_64 = process.arch === 'x64';
const FENCE_WORD = new Int32Array(new SharedArrayBuffer(4));

interface DirectRange {
  start: bigint;
  end: bigint;
  bytes: Uint8Array;
  dv: DataView;
  host: MappedMemory;
}

/**
 * Guest memory as the guest sees it: the `memory` address space (system
 * memory). Writable RAM is reached through live views (fast); anything
 * else (I/O, read-only RAM, gaps) through address_space_read/write. A
 * view is rebuilt when the memory map changes, so a remapped range is
 * never touched through a stale view.
 */
export class AddressSpaceGuestMemory implements GuestMemory {
  /** The address space. */
  readonly as: AddressSpace;
  readonly #os: HostOs;
  #view: FlatView<MemoryRegion> | null = null;
  #cache = new Map<FlatRange<MemoryRegion>, DirectRange | null>();
  #last: DirectRange | null = null;

  /** Guest memory over `as` (default: system memory). */
  constructor(as: AddressSpace = addressSpaceMemory(), os?: HostOs) {
    this.as = as;
    this.#os = os ?? hostOs();
  }

  #direct(gpa: bigint, len: number): DirectRange | null {
    const view = this.as.currentMap;
    if (view !== this.#view) {
      this.#view = view;
      this.#cache = new Map();
      this.#last = null;
    }
    const l = this.#last;
    if (l !== null && gpa >= l.start && gpa + BigInt(len) <= l.end && l.bytes.byteLength > 0) {
      return l;
    }
    const fr = flatviewLookup(view, gpa);
    if (!fr) return null;
    let d = this.#cache.get(fr);
    if (d === undefined) {
      d = null;
      const block = memoryRegionGetRamBlock(fr.mr);
      if (
        block !== null &&
        !block.freed &&
        !block.readonlyMapping &&
        !block.host.guarded &&
        !fr.readonly &&
        fr.size <= 0x40000000n
      ) {
        const bytes = block.view(Number(fr.offsetInRegion), Number(fr.size));
        d = {
          start: fr.start,
          end: fr.start + fr.size,
          bytes,
          dv: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          host: block.host,
        };
      }
      this.#cache.set(fr, d);
    }
    if (d === null || d.bytes.byteLength === 0 || gpa + BigInt(len) > d.end) return null;
    this.#last = d;
    return d;
  }

  isMapped(gpa: Gpa, len: number): boolean {
    let g: bigint;
    try {
      g = gpaToBigInt(gpa);
    } catch {
      return false;
    }
    if (!Number.isSafeInteger(len) || len < 0) return false;
    if (this.#direct(g, len)) return true;
    // Slow path: every byte must be backed by some region.
    for (let at = g, left = BigInt(len); left > 0n;) {
      const fr = flatviewLookup(this.as.currentMap, at);
      if (!fr) return false;
      const n = fr.start + fr.size - at;
      at += n;
      left -= n;
    }
    return true;
  }

  read(gpa: Gpa, len: number): Uint8Array {
    const g = gpaToBigInt(gpa);
    const d = this.#direct(g, len);
    if (d) {
      const off = Number(g - d.start);
      return d.bytes.subarray(off, off + len);
    }
    const r = addressSpaceRead(this.as, g, len);
    if (r.result !== MEMTX_OK) throw new GuestMemoryError(g, len);
    return r.data;
  }

  write(gpa: Gpa, data: Uint8Array): void {
    const g = gpaToBigInt(gpa);
    const d = this.#direct(g, data.byteLength);
    if (d) {
      d.bytes.set(data, Number(g - d.start));
      return;
    }
    if (addressSpaceWrite(this.as, g, data) !== MEMTX_OK) {
      throw new GuestMemoryError(g, data.byteLength);
    }
  }

  #dv(gpa: Gpa, len: number): [DataView, number] {
    const g = gpaToBigInt(gpa);
    const d = this.#direct(g, len);
    if (d) return [d.dv, Number(g - d.start)];
    const b = this.read(g, len);
    return [new DataView(b.buffer, b.byteOffset, len), 0];
  }

  readU16(gpa: Gpa): number {
    const [dv, o] = this.#dv(gpa, 2);
    return dv.getUint16(o, true);
  }

  readU32(gpa: Gpa): number {
    const [dv, o] = this.#dv(gpa, 4);
    return dv.getUint32(o, true);
  }

  readU64(gpa: Gpa): bigint {
    const [dv, o] = this.#dv(gpa, 8);
    return dv.getBigUint64(o, true);
  }

  #store(gpa: Gpa, len: number, put: (dv: DataView, at: number) => void): void {
    const g = gpaToBigInt(gpa);
    const d = this.#direct(g, len);
    if (d) {
      put(d.dv, Number(g - d.start));
      return;
    }
    const b = new Uint8Array(len);
    put(new DataView(b.buffer), 0);
    this.write(g, b);
  }

  writeU16(gpa: Gpa, value: number): void {
    this.#store(gpa, 2, (dv, at) => dv.setUint16(at, value, true));
  }

  writeU32(gpa: Gpa, value: number): void {
    this.#store(gpa, 4, (dv, at) => dv.setUint32(at, value, true));
  }

  writeU64(gpa: Gpa, value: bigint): void {
    this.#store(gpa, 8, (dv, at) => dv.setBigUint64(at, BigInt.asUintN(64, value), true));
  }

  /**
   * A full barrier: the back-end runs in another process and reads the
   * same memory. On x86-64 any locked instruction orders every earlier
   * load and store against every later one, so an atomic on a private
   * word does (cheaply, without leaving JavaScript); elsewhere a native
   * sequentially consistent RMW on the shared memory itself.
   */
  fence(): void {
    if (X86_64) {
      Atomics.add(FENCE_WORD, 0, 0);
      return;
    }
    const d = this.#last;
    if (d !== null && d.host.isMapped) this.#os.atomicAdd32(d.host, 0, 0);
  }
}

/** A bump allocator over a range of guest physical memory (for rings and buffers). */
export class GuestRamAllocator {
  #next: bigint;
  readonly #end: bigint;

  /** Hands out `[start, end)`. */
  constructor(start: bigint, end: bigint) {
    this.#next = start;
    this.#end = end;
  }

  /** `size` bytes aligned to `align` (a power of 2); throws when the range is exhausted. */
  alloc(size: number | bigint, align = 16): bigint {
    const a = BigInt(align);
    const at = ((this.#next + a - 1n) / a) * a;
    const end = at + BigInt(size);
    if (end > this.#end) throw new RangeError(`guest RAM exhausted: ${size} bytes wanted`);
    this.#next = end;
    return at;
  }

  /** Bytes left. */
  get remaining(): bigint {
    return this.#end - this.#next;
  }
}

/** Options of {@link VhostUserDeviceDriver.setupQueue}. */
export interface DriverQueueOptions extends Omit<VirtQueueDriverOptions, 'features' | 'init'> {
  /** Queue size (default: the device's `vq_size`). */
  num?: number;
  /** Used ring alignment (default 4, the VIRTIO 1.x minimum). */
  align?: number;
}

/**
 * The guest driver of a {@link VHostUserBase} device: status and feature
 * negotiation, virtqueues in guest RAM, notifications through the
 * device's eventfds. `close()` releases the watchers.
 */
export class VhostUserDeviceDriver<T = unknown> {
  /** The device. */
  readonly dev: VHostUserBase;
  /** The guest memory the rings and buffers live in. */
  readonly mem: GuestMemory;
  /** The OS layer. */
  readonly os: HostOs;
  /** The features acked by {@link negotiate}. */
  features = 0n;
  /** The queues set up, by index. */
  readonly queues: (VirtQueueDriver<T> | null)[] = [];

  /** A driver for `dev`, reaching guest memory through `mem` (default: system memory). */
  constructor(dev: VHostUserBase, mem?: GuestMemory, os?: HostOs) {
    this.dev = dev;
    this.os = os ?? dev.os ?? hostOs();
    this.mem = mem ?? new AddressSpaceGuestMemory(addressSpaceMemory(), this.os);
  }

  /** The features the device offers. */
  get hostFeatures(): bigint {
    return this.dev.hostFeatures;
  }

  /**
   * Resets the device, then ACKNOWLEDGE, DRIVER, the features (`wanted`
   * masked by what the device offers) and FEATURES_OK; throws if the
   * device refuses them. Returns the acked features.
   */
  async negotiate(wanted: bigint): Promise<bigint> {
    await this.reset();
    await vhostUserBaseSetStatus(this.dev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    await vhostUserBaseSetStatus(this.dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    const acked = wanted & this.dev.hostFeatures;
    if (virtioSetFeatures(this.dev, acked) !== 0)
      throw new Error('the device refused the features');
    const st = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
    if ((await vhostUserBaseSetStatus(this.dev, st)) !== 0 || this.dev.status !== st) {
      throw new Error('the device did not accept FEATURES_OK');
    }
    this.features = acked;
    return acked;
  }

  /** The device's config space, read from the back-end. */
  readConfig(): Promise<Uint8Array> {
    return vhostUserBaseGetConfig(this.dev);
  }

  /**
   * Lays queue `n` out at guest physical address `base` (zeroing the
   * rings) and tells the device where it is. Returns the driver side.
   */
  setupQueue(n: number, base: bigint, options: DriverQueueOptions = {}): VirtQueueDriver<T> {
    const num = options.num ?? this.dev.vqs[n]?.numMax ?? this.dev.vqSize;
    if (base === 0n) {
      throw new RangeError('a queue at guest address 0 would read as not set up (desc 0)');
    }
    const layout = vringLayout(base, num, options.align ?? 4);
    const q = new VirtQueueDriver<T>(this.mem, layout, { ...options, features: this.features });
    this.dev.setQueueNum(n, num);
    this.dev.setQueueRings(n, q.desc, q.avail, q.used);
    this.queues[n] = q;
    return q;
  }

  /**
   * Sets DRIVER_OK and waits for the vrings to start; throws the start
   * error (already reported by the device) if they could not.
   */
  async driverOk(): Promise<void> {
    let failed: Error | null = null;
    const onFail = (e: Error): void => {
      failed = e;
    };
    this.dev.events.on('start-failed', onFail);
    try {
      await vhostUserBaseSetStatus(this.dev, this.dev.status | VIRTIO_CONFIG_S_DRIVER_OK);
    } finally {
      this.dev.events.off('start-failed', onFail);
    }
    if (failed) throw failed;
    if (!this.dev.frontend?.started) throw new Error('the vrings did not start');
  }

  /** Notifies queue `n` (writes its kick eventfd). */
  kick(n: number): void {
    this.os.eventfdWrite(this.dev.queueKickFd(n), 1n);
  }

  /** Kicks queue `n` if the device asked to be notified (virtqueue_kick). */
  kickIfNeeded(n: number): void {
    const q = this.queues[n];
    if (!q || q.kickNeeded()) this.kick(n);
  }

  /**
   * Resolves when the back-end signals queue `n` (its call eventfd), at
   * once if it already did since the last wait; rejects if the device
   * loses its back-end meanwhile.
   */
  waitCall(n: number): Promise<void> {
    return this.dev.waitCall(n);
  }

  /**
   * Waits until queue `n` has a used buffer and returns it (collecting
   * interrupts as needed).
   */
  async getUsed(n: number): Promise<VirtQueueUsed<T>> {
    const q = this.queues[n];
    if (!q) throw new RangeError(`queue ${n} is not set up`);
    for (;;) {
      const u = q.getUsed();
      if (u) return u;
      await this.waitCall(n);
    }
  }

  /** Writes status 0 (QEMU's virtio_reset) and waits for the vrings to stop. */
  async reset(): Promise<void> {
    virtioReset(this.dev);
    await this.dev.settle();
    this.queues.length = 0;
    this.features = 0n;
  }

  /** Forgets the queues (the device keeps its notifiers). */
  close(): void {
    this.queues.length = 0;
  }
}
