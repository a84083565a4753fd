/**
 * The virtio-fs device (virtio device id 26) on tsqom's vhost-user
 * back-end library: queue 0 is the hiprio queue (FORGET, BATCH_FORGET,
 * INTERRUPT), queues 1..n carry requests; each buffer chain is one FUSE
 * request (device-readable part) and room for its reply (device-writable
 * part). The config space (tag, num_request_queues) is served only when a
 * tag is given: QEMU's vhost-user-fs device holds its own tag, while a
 * generic front-end (tsqom's `vhost-user-device`) asks the back-end.
 * With a DAX window the device offers VIRTIO Shared Memory Region 0 and
 * serves FUSE_SETUPMAPPING / FUSE_REMOVEMAPPING with SHMEM_MAP / SHMEM_UNMAP.
 * @module
 */
import type {
  VhostUserBackend,
  VhostUserBackendDevice,
  VhostUserBackendQueue,
} from '../../hw/virtio/vhost-user/index.js';
import {
  VHOST_USER_FLAG_MAP_RW,
  VhostUserProtocolFeature,
} from '../../hw/virtio/vhost-user/index.js';
import { type VirtQueueElement, iovSize } from '../../hw/virtio/virtqueue.js';
import type { GuestMemoryMmap } from '../../hw/virtio/guest-memory-mmap.js';
import { FuseSession, type FuseDaxWindow, type FuseReply } from './fuse-lowlevel.js';
import {
  FUSE_SIZE,
  VIRTIO_FS_CONFIG_SIZE,
  VIRTIO_FS_SHMCAP_ID_CACHE,
  VIRTIO_FS_TAG_MAX,
} from './fuse-kernel.js';

const READ_REQUEST = FUSE_SIZE.inHeader + FUSE_SIZE.readIn;

/** Whole-region views of guest memory, rebuilt when the memory table changes. */
const regionViews = new WeakMap<GuestMemoryMmap, Uint8Array[]>();

/**
 * A live view of `[gpa, gpa+len)` when it lies inside one mapped region
 * (null otherwise: the caller falls back to copying).
 */
function guestView(mem: GuestMemoryMmap, gpa: bigint, len: number): Uint8Array | null {
  // Guest RAM from SET_MEM_TABLE is another process's memory: it may shrink
  // under us, so it is only reached through fault-guarded copies.
  if (mem.regions.some((r) => r.mapping.guarded)) return null;
  let views = regionViews.get(mem);
  if (views === undefined || views.some((v) => v.byteLength === 0)) {
    views = mem.regions.map((r) => r.mapping.view(r.offset, r.size));
    regionViews.set(mem, views);
  }
  const rs = mem.regions;
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i];
    if (gpa >= r.gpa && gpa + BigInt(len) <= r.gpa + BigInt(r.size)) {
      const off = Number(gpa - r.gpa);
      return views[i].subarray(off, off + len);
    }
  }
  return null;
}
import type { PassthroughFs } from './passthrough-ll.js';

/** Options of a {@link VhostUserFsDevice}. */
export interface VhostUserFsOptions {
  /** The shared directory. */
  fs: PassthroughFs;
  /** The mount tag served in the config space; none: no config space. */
  tag?: string;
  /** Request queues (besides the hiprio queue); default 1. */
  requestQueues?: number;
  /** DAX cache window size in bytes; 0 (default): no DAX. */
  daxWindow?: bigint;
  /** Debug log. */
  log?: (message: string) => void;
}

/** Checks a tag: 1 to 36 bytes of UTF-8; returns an error text or null. */
export function checkTag(tag: string): string | null {
  const n = Buffer.byteLength(tag);
  if (n === 0) return 'tag must not be empty';
  if (n > VIRTIO_FS_TAG_MAX) return `tag may be at most ${VIRTIO_FS_TAG_MAX} bytes`;
  return null;
}

/** A virtio-fs device back-end serving one front-end connection. */
export class VhostUserFsDevice implements VhostUserBackendDevice {
  /** hiprio + request queues. */
  readonly numQueues: number;
  /** The DAX window (shmid 0), when configured. */
  readonly shmemSizes?: readonly bigint[];
  /** The FUSE session. */
  readonly session: FuseSession;
  readonly #config: Uint8Array | null;
  #backend: VhostUserBackend | null = null;
  #inflight = 0;

  /** A device over `options.fs`. */
  constructor(options: VhostUserFsOptions) {
    const rq = options.requestQueues ?? 1;
    this.numQueues = 1 + rq;
    const window = options.daxWindow ?? 0n;
    if (window > 0n) this.shmemSizes = [window];
    if (options.tag !== undefined) {
      const cfg = new Uint8Array(VIRTIO_FS_CONFIG_SIZE);
      cfg.set(Buffer.from(options.tag, 'utf8'));
      new DataView(cfg.buffer).setUint32(VIRTIO_FS_TAG_MAX, rq, true);
      this.#config = cfg;
      this.getConfig = (offset, size) => {
        if (offset + size > cfg.length) return null;
        return cfg.slice(offset, offset + size);
      };
    } else {
      this.#config = null;
    }
    this.session = new FuseSession(options.fs, { dax: () => this.#dax(), log: options.log });
  }

  /** GET_CONFIG (present only with a tag). */
  getConfig?: (offset: number, size: number) => Uint8Array | null;

  /** The config space bytes, or null without a tag. */
  get config(): Uint8Array | null {
    return this.#config;
  }

  /** Requests waiting on the front-end (DAX map/unmap). */
  get inflight(): number {
    return this.#inflight;
  }

  #dax(): FuseDaxWindow | null {
    const b = this.#backend;
    const size = this.shmemSizes?.[0];
    if (b === null || size === undefined || b.closed) return null;
    if (
      !b.hasProtocolFeature(VhostUserProtocolFeature.VHOST_USER_PROTOCOL_F_SHMEM) ||
      !b.hasBackendChannel
    )
      return null;
    return {
      size,
      map: (fd, foffset, moffset, len, writable) =>
        b
          .shmemMap(
            VIRTIO_FS_SHMCAP_ID_CACHE,
            fd,
            foffset,
            moffset,
            len,
            writable ? VHOST_USER_FLAG_MAP_RW : 0,
          )
          .then(
            () => true,
            () => false,
          ),
      unmap: (moffset, len) =>
        b.shmemUnmap(VIRTIO_FS_SHMCAP_ID_CACHE, moffset, len).then(
          () => true,
          () => false,
        ),
    };
  }

  /** Pops and serves every request of the kicked queue. */
  onKick(queue: VhostUserBackendQueue): void {
    this.#backend = queue.backend;
    let pushed = false;
    for (let elem = queue.pop(); elem !== null; elem = queue.pop()) {
      if (this.#tryDirectRead(queue, elem)) {
        pushed = true;
        continue;
      }
      const req = queue.read(elem);
      const r = this.session.handle(req);
      if (r instanceof Promise) {
        this.#inflight++;
        void r.then(
          (rep) => this.#complete(queue, elem, rep, true),
          () => this.#complete(queue, elem, null, true),
        );
        continue;
      }
      this.#complete(queue, elem, r, false);
      pushed = true;
    }
    if (pushed) queue.notify();
  }

  /**
   * Serves a READ by reading the file straight into guest memory (the
   * views of the element's device-writable buffers past the reply
   * header). False when the element is not such a READ.
   */
  #tryDirectRead(queue: VhostUserBackendQueue, elem: VirtQueueElement): boolean {
    const mem = queue.backend.memory;
    if (mem === null || iovSize(elem.outSg) !== READ_REQUEST) return false;
    if (elem.inSg.length === 0 || elem.inSg[0].len < FUSE_SIZE.outHeader) return false;
    const room = iovSize(elem.inSg) - FUSE_SIZE.outHeader;
    const req = queue.read(elem, 0, READ_REQUEST);
    const copies: [bigint, Uint8Array][] = [];
    const bufs = (size: number): Uint8Array[] => {
      const out: Uint8Array[] = [];
      let skip: number = FUSE_SIZE.outHeader;
      let left = size;
      for (const sg of elem.inSg) {
        if (left === 0) break;
        if (skip >= sg.len) {
          skip -= sg.len;
          continue;
        }
        const n = Math.min(sg.len - skip, left);
        const addr = sg.addr + BigInt(skip);
        let v = guestView(mem, addr, n);
        if (v === null) {
          // Not inside one mapped region: read into a buffer, copy after.
          v = new Uint8Array(n);
          copies.push([addr, v]);
        }
        out.push(v);
        left -= n;
        skip = 0;
      }
      return out;
    };
    const head = this.session.readDirect(req, bufs, room);
    if (head === null) return false;
    for (const [addr, b] of copies) mem.write(addr, b);
    queue.write(elem, head);
    queue.push(elem, new DataView(head.buffer).getUint32(0, true));
    return true;
  }

  #complete(
    queue: VhostUserBackendQueue,
    elem: VirtQueueElement,
    rep: FuseReply,
    notify: boolean,
  ): void {
    if (notify) this.#inflight--;
    const len = rep === null ? 0 : queue.write(elem, rep);
    queue.push(elem, len);
    if (notify) queue.notify();
  }

  /** Remembers the connection for DAX requests. */
  onFeatures(_features: bigint, backend: VhostUserBackend): void {
    this.#backend = backend;
  }

  /** The device was reset: forget the session (mappings went with the reset). */
  onReset(): void {
    this.session.reset();
  }

  /** The connection is gone: release every node and handle. */
  onClose(): void {
    this.#backend = null;
    this.session.reset();
  }
}
