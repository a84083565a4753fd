/**
 * The back-end side of vhost-user, so that a device back-end can be written
 * in TypeScript: what QEMU's subprojects/libvhost-user does for C.
 *
 * A {@link VhostUserBackend} serves one front-end connection. It answers
 * the front-end's requests as libvhost-user does (features, protocol
 * features, the memory table, vrings with their kick/call/err eventfds,
 * config space, the back-end channel, GET_SHMEM_CONFIG, resets), maps the
 * front-end's memory ({@link GuestMemoryMmap}), runs the device side of
 * each split virtqueue ({@link VhostUserBackendQueue}) and calls the
 * device ({@link VhostUserBackendDevice}) when the driver kicks a queue.
 * On the back-end channel it sends SHMEM_MAP / SHMEM_UNMAP and waits for
 * the front-end's ack, like libvhost-user's vu_shmem_map/vu_shmem_unmap.
 *
 * Where libvhost-user "panics" (marks the device broken and stops serving)
 * the back-end reports the same text and closes the connection. Closing,
 * for whatever reason, releases everything: kick watchers, eventfds, the
 * back-end channel, the mapped memory and any fd still in flight.
 * @module
 */
import { trace } from '../../../../util/trace.js';
import { errorReportSinkOf } from '../../../../util/error-report.js';
import { hostOs } from '../../../../util/machine-context.js';
import { TsqomError } from '../../../../util/error.js';
import 'reflect-metadata';
import { HostOs } from '../../../../native/host.js';
import { OsError } from '../../../../native/errors.js';
import type { NativeFdWatcher } from '../../../../native/index.js';
import { UV_READABLE } from '../../../../native/constants.js';
import { GuestMemoryMmap } from '../../guest-memory-mmap.js';
import {
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
} from '../../standard-headers.js';
import {
  type VirtQueueElement,
  VIRTQUEUE_MAX_NUM,
  VirtQueue,
  iovFromBuf,
  iovToBuf,
} from '../../virtqueue.js';
import { CodecError } from '../protocol/codec-error.js';
import {
  type VhostUserBody,
  type VhostUserDecodedMsg,
  type VhostUserMsg,
  decodeVhostUserMsg,
  decodeVhostUserReply,
  encodeVhostUserAck,
  encodeVhostUserMsg,
  encodeVhostUserReply,
} from '../protocol/codec.js';
import { VhostUserFramer } from '../protocol/framer.js';
import type { VhostVringAddr } from '../protocol/payloads.js';
import {
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_VERSION,
  VIRTIO_MAX_SHMEM_REGIONS,
  VhostUserBackendRequest,
  VhostUserProtocolFeature as PF,
  VhostUserRequest as R,
} from '../protocol/protocol.js';
import { UnixStream, VHOST_USER_STREAM_FRAMING } from '../../../../io/unix-stream.js';

const traceVhostUser = trace('vhost-user');

/** Where a back-end's replies go: a {@link UnixStream}, or a test's recorder. */
export interface VhostUserTransport {
  /** Sends bytes with fds attached to the first one; false when closed. */
  send(data: Uint8Array, fds?: readonly number[]): boolean;
  /** Closes the connection. */
  close(): void;
}

/**
 * What a device back-end provides: its queues, feature bits and config
 * space, and the callbacks the library makes (libvhost-user's VuDevIface).
 * Every callback is optional; a device that never looks at its queues is
 * valid (it just never answers the driver).
 */
export interface VhostUserBackendDevice {
  /** Number of virtqueues (GET_QUEUE_NUM); 1 to 256. */
  readonly numQueues: number;
  /** Device-specific virtio feature bits, offered on top of the library's. */
  readonly features?: bigint;
  /**
   * Protocol feature bits to offer on top of the library's
   * ({@link VHOST_USER_BACKEND_PROTOCOL_FEATURES}; CONFIG when the device
   * has {@link getConfig}, SHMEM when it has {@link shmemSizes}).
   */
  readonly protocolFeatures?: bigint;
  /**
   * Sizes of the device's VIRTIO Shared Memory Regions, indexed by shmid
   * (zero: unused id), served by GET_SHMEM_CONFIG. Each should be a
   * multiple of the page size. Makes the back-end offer
   * VHOST_USER_PROTOCOL_F_SHMEM.
   */
  readonly shmemSizes?: readonly (bigint | number)[];
  /**
   * Reads `size` bytes of config space at `offset` (GET_CONFIG); null
   * reports a failure (an empty reply, as libvhost-user sends). Makes the
   * back-end offer VHOST_USER_PROTOCOL_F_CONFIG: offer it only when the
   * device has a config space (QEMU 7.2 crashes on an offer its device
   * model does not expect).
   */
  getConfig?(offset: number, size: number, backend: VhostUserBackend): Uint8Array | null;
  /** Writes config space (SET_CONFIG); false breaks the connection, as in libvhost-user. */
  setConfig?(offset: number, data: Uint8Array, flags: number, backend: VhostUserBackend): boolean;
  /** The front-end set the negotiated virtio features (SET_FEATURES). */
  onFeatures?(features: bigint, backend: VhostUserBackend): void;
  /** A queue started (its kick fd arrived) or stopped (GET_VRING_BASE, reset, close). */
  onQueueStarted?(queue: VhostUserBackendQueue, started: boolean): void;
  /** The driver kicked an enabled, started queue: pop and process its elements. */
  onKick?(queue: VhostUserBackendQueue): void;
  /** RESET_DEVICE or RESET_OWNER: the rings were stopped and forgotten. */
  onReset?(backend: VhostUserBackend): void;
  /** The connection is gone and everything was released. */
  onClose?(backend: VhostUserBackend): void;
}

/** A device, or a factory making one per connection. */
export type VhostUserBackendDeviceSource = VhostUserBackendDevice | (() => VhostUserBackendDevice);

/** Options of a {@link VhostUserBackend}. */
export interface VhostUserBackendOptions {
  /** The OS layer; default: the machine context's (`hostOs()`). */
  os?: HostOs;
  /**
   * Where errors go: libvhost-user's panic texts, ring errors, device
   * callback exceptions. Default: a line on stderr.
   */
  onError?: (message: string) => void;
  /** Name used in ring error messages; default `vhost-user-backend`. */
  name?: string;
}

/** Virtio feature bits the library's virtqueues support, offered to every front-end. */
export const VHOST_USER_BACKEND_FEATURES: bigint =
  (1n << BigInt(VIRTIO_F_NOTIFY_ON_EMPTY)) |
  (1n << BigInt(VIRTIO_RING_F_INDIRECT_DESC)) |
  (1n << BigInt(VIRTIO_RING_F_EVENT_IDX)) |
  (1n << BigInt(VIRTIO_F_VERSION_1)) |
  (1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES));

/** Protocol features the library always offers. */
export const VHOST_USER_BACKEND_PROTOCOL_FEATURES: bigint =
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_MQ)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_BACKEND_REQ)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_RESET_DEVICE));

/** Most queues a vhost-user device can have (the vring index is 8 bits). */
export const VHOST_USER_BACKEND_MAX_QUEUES = 256;

interface PendingReply {
  request: number;
  resolve: (error: VhostUserBackendRequestError | null) => void;
}

/** Thrown inside the dispatcher when the connection must be dropped. */
/** Why a request on the back-end channel failed ({@link VhostUserBackendRequestError.code}). */
export type VhostUserBackendRequestErrorCode =
  /** The protocol feature the request needs was not negotiated. */
  | 'ERR_VHOST_USER_NOT_NEGOTIATED'
  /** No back-end channel (the front-end never sent SET_BACKEND_REQ_FD) or the back-end is closed. */
  | 'ERR_VHOST_USER_NO_CHANNEL'
  /** The request could not be written to the channel. */
  | 'ERR_VHOST_USER_SEND_FAILED'
  /** The channel closed before the reply came. */
  | 'ERR_VHOST_USER_CHANNEL_CLOSED'
  /** The front-end answered with a non-zero status. */
  | 'ERR_VHOST_USER_REQUEST_REFUSED'
  /** The reply could not be decoded. */
  | 'ERR_VHOST_USER_BAD_REPLY';

/**
 * A failed request on the back-end channel (SHMEM_MAP, SHMEM_UNMAP,
 * CONFIG_CHANGE_MSG). Where libvhost-user returns `false` for every cause,
 * the `code` says which one it was.
 */
export class VhostUserBackendRequestError extends TsqomError {
  /** The request (a VhostUserBackendRequest value). */
  readonly request: number;

  /**
   * @param code - the cause.
   * @param message - a sentence naming the request and the cause.
   * @param request - the request id.
   * @param cause - the underlying error, if any.
   */
  constructor(
    code: VhostUserBackendRequestErrorCode,
    message: string,
    request: number,
    cause?: unknown,
  ) {
    super(message, code, { cause });
    this.request = request;
  }
}

class Panic extends TsqomError {
  constructor(message: string) {
    super(message, 'ERR_VHOST_USER_BACKEND');
  }
}

/** The body as the layout the codec chose for this request (it validated it). */
function bodyAs<K extends VhostUserBody['kind']>(
  body: VhostUserBody,
  kind: K,
): Extract<VhostUserBody, { kind: K }> {
  if (body.kind !== kind) throw new Panic(`unexpected payload layout ${body.kind}`);
  return body as Extract<VhostUserBody, { kind: K }>;
}

/**
 * One vring of a {@link VhostUserBackend} (libvhost-user's VuVirtq): its
 * state as the front-end configured it, its eventfds, and the device side
 * of the split virtqueue over the mapped memory.
 */
export class VhostUserBackendQueue {
  /** The connection. */
  readonly backend: VhostUserBackend;
  /** The vring index. */
  readonly index: number;
  #num = 0;
  #addr: VhostVringAddr | null = null;
  #lastAvailIdx = 0;
  #vq: VirtQueue | null = null;
  #enabled = false;
  #started = false;
  #kickFd = -1;
  #callFd = -1;
  #errFd = -1;
  #watcher: NativeFdWatcher | null = null;
  #pendingKick = false;

  /** @internal Made by the backend only. */
  constructor(backend: VhostUserBackend, index: number) {
    this.backend = backend;
    this.index = index;
  }

  /** Queue size (SET_VRING_NUM); 0 until set. */
  get size(): number {
    return this.#num;
  }

  /** The ring addresses (front-end virtual addresses), once set. */
  get addr(): Readonly<VhostVringAddr> | null {
    return this.#addr;
  }

  /** Enabled by SET_VRING_ENABLE (or by features without PROTOCOL_FEATURES). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Started by SET_VRING_KICK, stopped by GET_VRING_BASE. */
  get started(): boolean {
    return this.#started;
  }

  /** The kick eventfd, or -1. */
  get kickFd(): number {
    return this.#kickFd;
  }

  /** The call eventfd, or -1. */
  get callFd(): number {
    return this.#callFd;
  }

  /** The error eventfd, or -1. */
  get errFd(): number {
    return this.#errFd;
  }

  /** The next available index to process (what GET_VRING_BASE reports). */
  get lastAvailIdx(): number {
    return this.#vq?.lastAvailIdx ?? this.#lastAvailIdx;
  }

  /** True when the ring is broken (a malformed ring; see {@link error}). */
  get broken(): boolean {
    return this.#vq?.broken ?? false;
  }

  /** The ring error, or null. */
  get error(): string | null {
    return this.#vq?.error ?? null;
  }

  /** The memory the ring's buffers live in, or null before SET_MEM_TABLE. */
  get memory(): GuestMemoryMmap | null {
    return this.backend.memory;
  }

  /** True when the device may process the ring: started, enabled, mapped and not broken. */
  get ready(): boolean {
    return this.#started && this.#enabled && !this.backend.closed && this.#ring() !== null;
  }

  /** The ring's device side, built on demand from the current memory table. */
  #ring(): VirtQueue | null {
    if (this.#vq !== null) return this.#vq;
    const mem = this.backend.memory;
    if (this.#addr === null || this.#num === 0 || mem === null) return null;
    const desc = mem.qvaToGpa(this.#addr.descUserAddr);
    const avail = mem.qvaToGpa(this.#addr.availUserAddr);
    const used = mem.qvaToGpa(this.#addr.usedUserAddr);
    if (desc === undefined || avail === undefined || used === undefined) return null;
    this.#vq = new VirtQueue(
      mem,
      { num: this.#num, desc, avail, used },
      {
        features: this.backend.features,
        lastAvailIdx: this.#lastAvailIdx,
        name: this.backend.name,
        onError: (m) => this.backend.report(m),
      },
    );
    return this.#vq;
  }

  /** Forgets the ring object (keeping the index) so it is rebuilt with new parameters. */
  #invalidate(): void {
    if (this.#vq !== null) {
      this.#lastAvailIdx = this.#vq.lastAvailIdx;
      this.#vq = null;
    }
  }

  /**
   * The next available element, or null when there is none or the ring
   * can't be used (not started, disabled, unmapped, broken, closed).
   */
  pop(): VirtQueueElement | null {
    if (!this.#started || !this.#enabled || this.backend.closed) return null;
    return this.#ring()?.pop() ?? null;
  }

  /** Whether no element is available (true when the ring can't be used). */
  isEmpty(): boolean {
    if (!this.ready) return true;
    return this.#ring()?.isEmpty() ?? true;
  }

  /** Enables or disables kicks from the driver (virtio_queue_set_notification). */
  setNotification(enable: boolean): void {
    if (this.ready) this.#ring()?.setNotification(enable);
  }

  /**
   * Returns an element with `len` bytes written to its device-writable
   * buffers. False (and nothing written) once the ring was stopped or
   * the connection closed.
   */
  push(elem: VirtQueueElement, len: number): boolean {
    const vq = this.#started && !this.backend.closed ? this.#ring() : null;
    if (vq === null) return false;
    vq.push(elem, len);
    return true;
  }

  /** Writes a used element without publishing it (virtqueue_fill); see {@link flush}. */
  fill(elem: VirtQueueElement, len: number, idx = 0): boolean {
    const vq = this.#started && !this.backend.closed ? this.#ring() : null;
    if (vq === null) return false;
    vq.fill(elem, len, idx);
    return true;
  }

  /** Publishes `count` filled elements (virtqueue_flush). */
  flush(count: number): boolean {
    const vq = this.#started && !this.backend.closed ? this.#ring() : null;
    if (vq === null) return false;
    vq.flush(count);
    return true;
  }

  /**
   * Interrupts the driver through the call eventfd if it wants one now
   * (vu_queue_notify); returns whether it was signalled.
   */
  notify(): boolean {
    const vq = this.#vq;
    if (vq === null || this.#callFd < 0 || this.backend.closed) return false;
    if (!vq.shouldNotify()) return false;
    try {
      this.backend.os.eventfdWrite(this.#callFd, 1n);
    } catch (e) {
      this.backend.report(`Error writing eventfd: ${(e as Error).message}`);
      return false;
    }
    return true;
  }

  /** {@link push} then {@link notify}. */
  pushAndNotify(elem: VirtQueueElement, len: number): boolean {
    if (!this.push(elem, len)) return false;
    this.notify();
    return true;
  }

  /** Copies the element's device-readable bytes (up to `max`). */
  read(elem: VirtQueueElement, offset = 0, max?: number): Uint8Array {
    const mem = this.backend.memory;
    if (mem === null) return new Uint8Array(0);
    return iovToBuf(mem, elem.outSg, offset, max);
  }

  /** Writes into the element's device-writable buffers; returns the bytes that fit. */
  write(elem: VirtQueueElement, data: Uint8Array, offset = 0): number {
    const mem = this.backend.memory;
    if (mem === null) return 0;
    return iovFromBuf(mem, elem.inSg, offset, data);
  }

  // --- used by the backend's request handlers ---------------------------------

  /** @internal */
  setNum(num: number): void {
    this.#invalidate();
    this.#num = num;
  }

  /** @internal */
  setAddr(addr: VhostVringAddr): void {
    this.#invalidate();
    this.#addr = { ...addr };
  }

  /** @internal */
  setBase(num: number): void {
    this.#invalidate();
    this.#lastAvailIdx = num & 0xffff;
  }

  /** @internal Memory or features changed: rebuild the ring on next use. */
  reconfigure(): void {
    this.#invalidate();
  }

  /** @internal */
  setEnabled(enable: boolean): void {
    this.#enabled = enable;
    if (enable && this.#pendingKick) {
      this.#pendingKick = false;
      queueMicrotask(() => this.#deliverKick());
    }
  }

  /** @internal */
  setCall(fd: number): void {
    this.#closeFd(this.#callFd);
    this.#callFd = fd;
  }

  /** @internal */
  setErr(fd: number): void {
    this.#closeFd(this.#errFd);
    this.#errFd = fd;
  }

  /** @internal Installs the kick fd (or none) and starts the queue. */
  setKick(fd: number): void {
    this.#stopWatch();
    this.#closeFd(this.#kickFd);
    this.#kickFd = fd;
    if (fd >= 0) {
      const os = this.backend.os;
      this.#watcher = os.watch(fd, UV_READABLE, (err) => this.#onKickFd(err));
      this.#watcher.start();
    }
    this.#started = true;
    this.backend.callDevice('onQueueStarted', () =>
      this.backend.device.onQueueStarted?.(this, true),
    );
  }

  /** @internal An in-band kick (VHOST_USER_VRING_KICK). */
  kick(): void {
    this.#deliverKick();
  }

  /** @internal Stops the queue: GET_VRING_BASE keeps the error fd, a reset drops everything. */
  stop(full: boolean): void {
    const wasStarted = this.#started;
    this.#invalidate();
    this.#started = false;
    this.#pendingKick = false;
    this.#stopWatch();
    this.#closeFd(this.#kickFd);
    this.#kickFd = -1;
    this.#closeFd(this.#callFd);
    this.#callFd = -1;
    if (full) {
      this.#closeFd(this.#errFd);
      this.#errFd = -1;
      this.#enabled = false;
      this.#num = 0;
      this.#addr = null;
      this.#lastAvailIdx = 0;
    }
    if (wasStarted) {
      this.backend.callDevice('onQueueStarted', () =>
        this.backend.device.onQueueStarted?.(this, false),
      );
    }
  }

  #stopWatch(): void {
    if (this.#watcher !== null) {
      this.#watcher.close();
      this.#watcher = null;
    }
  }

  #closeFd(fd: number): void {
    if (fd < 0) return;
    try {
      this.backend.os.close(fd);
    } catch {
      // Already gone: nothing to release.
    }
  }

  #onKickFd(err: OsError | null): void {
    if (this.backend.closed || this.#kickFd < 0) return;
    if (err !== null) {
      this.backend.report(`kick eventfd: ${err.message}`);
      this.#stopWatch();
      return;
    }
    try {
      this.backend.os.eventfdRead(this.#kickFd);
    } catch (e) {
      // Not an eventfd, or broken: stop watching it rather than spin.
      this.backend.report(`kick eventfd_read(): ${(e as Error).message}`);
      this.#stopWatch();
      return;
    }
    this.#deliverKick();
  }

  #deliverKick(): void {
    if (this.backend.closed || !this.#started) return;
    if (!this.#enabled) {
      // Remember it: the driver won't kick again for what it already queued.
      this.#pendingKick = true;
      return;
    }
    if (this.#ring() === null) return;
    this.backend.callDevice('onKick', () => this.backend.device.onKick?.(this));
  }
}

/**
 * One front-end connection (libvhost-user's VuDev). Feed it the bytes and
 * fds of its socket with {@link receive} (or let {@link fromStream} wire a
 * {@link UnixStream}); replies go to the transport.
 */
export class VhostUserBackend {
  /** The OS layer. */
  readonly os: HostOs;
  /** The device served. */
  readonly device: VhostUserBackendDevice;
  /** Name used in ring error messages. */
  readonly name: string;
  /** Resolves once the connection is closed and everything released. */
  readonly whenClosed: Promise<void>;
  readonly #transport: VhostUserTransport;
  readonly #framer = new VhostUserFramer({ channel: 'frontend' });
  readonly #queues: VhostUserBackendQueue[];
  readonly #onError: (message: string) => void;
  readonly #offeredProtocol: bigint;
  readonly #shmemSizes: bigint[];
  #resolveClosed!: () => void;
  #features = 0n;
  #protocolFeatures = 0n;
  #memory: GuestMemoryMmap | null = null;
  #channel: UnixStream | null = null;
  #channelFramer: VhostUserFramer | null = null;
  #pending: PendingReply[] = [];
  #closed = false;
  #broken = false;

  /**
   * Serves a connection whose bytes the caller feeds in with
   * {@link receive} and whose replies go to `transport`.
   */
  constructor(
    transport: VhostUserTransport,
    device: VhostUserBackendDeviceSource,
    options: VhostUserBackendOptions = {},
  ) {
    this.os = options.os ?? hostOs();
    this.device = typeof device === 'function' ? device() : device;
    this.name = options.name ?? 'vhost-user-backend';
    this.#transport = transport;
    const report = errorReportSinkOf();
    this.#onError = options.onError ?? ((m) => report(`${this.name}: ${m}`, 'error'));
    const n = this.device.numQueues;
    if (!Number.isInteger(n) || n < 1 || n > VHOST_USER_BACKEND_MAX_QUEUES) {
      throw new RangeError(`numQueues ${n} is not between 1 and ${VHOST_USER_BACKEND_MAX_QUEUES}`);
    }
    this.#queues = Array.from({ length: n }, (_, i) => new VhostUserBackendQueue(this, i));
    const sizes = (this.device.shmemSizes ?? []).map((s) => BigInt(s));
    if (sizes.length > VIRTIO_MAX_SHMEM_REGIONS || sizes.some((s) => s < 0n || s >= 1n << 64n)) {
      throw new RangeError('shmemSizes: at most 256 sizes, each an unsigned 64-bit value');
    }
    this.#shmemSizes = sizes;
    let offered = VHOST_USER_BACKEND_PROTOCOL_FEATURES | (this.device.protocolFeatures ?? 0n);
    if (this.device.getConfig !== undefined)
      offered |= 1n << BigInt(PF.VHOST_USER_PROTOCOL_F_CONFIG);
    if (this.device.shmemSizes !== undefined)
      offered |= 1n << BigInt(PF.VHOST_USER_PROTOCOL_F_SHMEM);
    this.#offeredProtocol = offered;
    this.whenClosed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /**
   * Serves a connected stream: reads it (one message at a time, with
   * {@link VHOST_USER_STREAM_FRAMING}), replies on it, closes with it.
   * The stream is closed if the device is refused (RangeError).
   */
  static fromStream(
    stream: UnixStream,
    device: VhostUserBackendDeviceSource,
    options: VhostUserBackendOptions = {},
  ): VhostUserBackend {
    let b: VhostUserBackend;
    try {
      stream.framing = VHOST_USER_STREAM_FRAMING;
      b = new VhostUserBackend(stream, device, { os: stream.os, ...options });
    } catch (e) {
      stream.close();
      throw e;
    }
    stream.on('data', (chunk, fds) => b.receive(chunk, fds));
    stream.on('error', (e) => b.report(`socket: ${e.message}`));
    stream.on('close', () => b.close());
    stream.resume();
    return b;
  }

  /** Serves a connected socket (the back-end owns the descriptor from now on). */
  static fromFd(
    fd: number,
    device: VhostUserBackendDeviceSource,
    options: VhostUserBackendOptions = {},
  ): VhostUserBackend {
    return VhostUserBackend.fromStream(new UnixStream(fd, { os: options.os }), device, options);
  }

  /** Connects to a front-end listening at `path` (QEMU's `-chardev socket,server=on`). */
  static async connect(
    path: string,
    device: VhostUserBackendDeviceSource,
    options: VhostUserBackendOptions = {},
  ): Promise<VhostUserBackend> {
    const stream = await UnixStream.connect(path, { os: options.os });
    return VhostUserBackend.fromStream(stream, device, options);
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True if the connection ended because of an error (libvhost-user's `broken`). */
  get broken(): boolean {
    return this.#broken;
  }

  /** Negotiated virtio features (SET_FEATURES). */
  get features(): bigint {
    return this.#features;
  }

  /** Negotiated protocol features (SET_PROTOCOL_FEATURES). */
  get protocolFeatures(): bigint {
    return this.#protocolFeatures;
  }

  /** Virtio features offered by GET_FEATURES. */
  get offeredFeatures(): bigint {
    return VHOST_USER_BACKEND_FEATURES | (this.device.features ?? 0n);
  }

  /** Protocol features offered by GET_PROTOCOL_FEATURES. */
  get offeredProtocolFeatures(): bigint {
    return this.#offeredProtocol;
  }

  /** Whether a virtio feature bit was negotiated. */
  hasFeature(bit: number): boolean {
    return ((this.#features >> BigInt(bit)) & 1n) === 1n;
  }

  /** Whether a protocol feature bit was negotiated. */
  hasProtocolFeature(bit: number): boolean {
    return ((this.#protocolFeatures >> BigInt(bit)) & 1n) === 1n;
  }

  /** The mapped memory table, or null before SET_MEM_TABLE. */
  get memory(): GuestMemoryMmap | null {
    return this.#memory;
  }

  /** The queues. */
  get queues(): readonly VhostUserBackendQueue[] {
    return this.#queues;
  }

  /** Queue `index` (throws RangeError when out of range). */
  queue(index: number): VhostUserBackendQueue {
    const q = this.#queues[index];
    if (q === undefined) throw new RangeError(`no queue ${index}`);
    return q;
  }

  /** True while the back-end channel (SET_BACKEND_REQ_FD) is open. */
  get hasBackendChannel(): boolean {
    return this.#channel !== null;
  }

  /** @internal Reports an error through the `onError` option. */
  report(message: string): void {
    try {
      this.#onError(message);
    } catch {
      // A failing error sink must not take the connection down.
    }
  }

  /** @internal Calls into the device, reporting (not propagating) exceptions. */
  callDevice(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.report(`device ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // --- input -------------------------------------------------------------------

  /**
   * Feeds the bytes and fds of one recvmsg. Complete messages are handled
   * at once, in order. The back-end owns `fds` from now on.
   */
  receive(chunk: Uint8Array, fds: readonly number[] = []): void {
    if (this.#closed) {
      this.#closeFds(fds);
      return;
    }
    const out = this.#framer.feed(chunk, fds);
    this.#closeFds(out.unattachedFds);
    for (const msg of out.messages) {
      if (this.#closed) this.#closeFds(msg.fds);
      else this.handleMessage(msg);
    }
    if (out.error !== null && !this.#closed) this.#panic(out.error.message);
  }

  /**
   * Handles one framed message from the front-end (the back-end owns its
   * fds). Replies go to the transport; a message libvhost-user would
   * panic on closes the connection.
   */
  handleMessage(msg: VhostUserMsg): void {
    const fds = [...msg.fds];
    if (this.#closed) {
      this.#closeFds(fds);
      return;
    }
    try {
      let decoded: VhostUserDecodedMsg;
      try {
        decoded = decodeVhostUserMsg({ hdr: msg.hdr, payload: msg.payload, fds }, 'frontend');
      } catch (e) {
        if (e instanceof CodecError) throw new Panic(e.message);
        throw e;
      }
      if (decoded.reply) throw new Panic(`Unexpected reply to request ${msg.hdr.request}`);
      if (traceVhostUser.enabled) {
        traceVhostUser(
          '%s: vhost_user_read request %d flags 0x%s size %d fds %d',
          this.name,
          msg.hdr.request,
          msg.hdr.flags.toString(16),
          msg.hdr.size,
          fds.length,
        );
      }
      const replied = this.#dispatch(decoded, fds);
      if (!replied && decoded.needReply && !this.#closed) {
        this.#transport.send(encodeVhostUserAck(decoded.hdr, 0).data);
      }
    } catch (e) {
      if (e instanceof Panic) this.#panic(e.message);
      else this.#panic(`internal error: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.#closeFds(fds);
    }
  }

  #reply(req: VhostUserDecodedMsg, body: VhostUserBody, fds: readonly number[] = []): true {
    this.#transport.send(encodeVhostUserReply(req.hdr, body, fds).data, fds);
    return true;
  }

  /** Takes ownership of fds[i] (the dispatcher will not close it). */
  #take(fds: number[], i: number): number {
    const fd = fds[i];
    fds[i] = -1;
    return fd;
  }

  #checkIndex(index: number, text = `Invalid queue index: ${index}`): VhostUserBackendQueue {
    const q = this.#queues[index];
    if (q === undefined) throw new Panic(text);
    return q;
  }

  /** Handles a decoded request; true when it sent its own reply. */
  #dispatch(m: VhostUserDecodedMsg, fds: number[]): boolean {
    const b = m.body;
    switch (m.hdr.request) {
      case R.VHOST_USER_GET_FEATURES:
        return this.#reply(m, { kind: 'u64', u64: this.offeredFeatures });

      case R.VHOST_USER_SET_FEATURES: {
        const f = bodyAs(b, 'u64').u64;
        this.#features = f;
        if (!this.hasFeature(VIRTIO_F_VERSION_1)) {
          throw new Panic("virtio legacy devices aren't supported by libvhost-user");
        }
        if (!this.hasFeature(VHOST_USER_F_PROTOCOL_FEATURES)) {
          for (const q of this.#queues) q.setEnabled(true);
        }
        for (const q of this.#queues) q.reconfigure();
        this.callDevice('onFeatures', () => this.device.onFeatures?.(f, this));
        return false;
      }

      case R.VHOST_USER_GET_PROTOCOL_FEATURES:
        return this.#reply(m, { kind: 'u64', u64: this.#offeredProtocol });

      case R.VHOST_USER_SET_PROTOCOL_FEATURES: {
        this.#protocolFeatures = bodyAs(b, 'u64').u64;
        if (
          this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS) &&
          (!this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_BACKEND_REQ) ||
            !this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK))
        ) {
          throw new Panic('F_IN_BAND_NOTIFICATIONS requires F_BACKEND_REQ && F_REPLY_ACK');
        }
        return false;
      }

      case R.VHOST_USER_SET_OWNER:
        return false;

      case R.VHOST_USER_RESET_OWNER:
      case R.VHOST_USER_RESET_DEVICE:
        this.#resetDevice();
        return false;

      case R.VHOST_USER_GET_QUEUE_NUM:
        return this.#reply(m, { kind: 'u64', u64: BigInt(this.#queues.length) });

      case R.VHOST_USER_SET_MEM_TABLE:
        this.#setMemTable(m, fds);
        return false;

      case R.VHOST_USER_SET_VRING_NUM: {
        const { index, num } = bodyAs(b, 'state').state;
        const q = this.#checkIndex(index);
        if (num < 1 || num > VIRTQUEUE_MAX_NUM || (num & (num - 1)) !== 0) {
          throw new Panic(`Invalid vring size ${num} for queue ${index}`);
        }
        q.setNum(num);
        return false;
      }

      case R.VHOST_USER_SET_VRING_ADDR: {
        const addr = bodyAs(b, 'addr').addr;
        const q = this.#checkIndex(addr.index);
        const mem = this.#memory;
        if (
          mem === null ||
          mem.qvaToGpa(addr.descUserAddr) === undefined ||
          mem.qvaToGpa(addr.usedUserAddr) === undefined ||
          mem.qvaToGpa(addr.availUserAddr) === undefined
        ) {
          throw new Panic('Invalid vring_addr message');
        }
        q.setAddr(addr);
        return false;
      }

      case R.VHOST_USER_SET_VRING_BASE: {
        const { index, num } = bodyAs(b, 'state').state;
        this.#checkIndex(index).setBase(num);
        return false;
      }

      case R.VHOST_USER_GET_VRING_BASE: {
        const { index } = bodyAs(b, 'state').state;
        const q = this.#checkIndex(index);
        const num = q.lastAvailIdx;
        q.stop(false);
        return this.#reply(m, { kind: 'state', state: { index, num } });
      }

      case R.VHOST_USER_SET_VRING_KICK:
      case R.VHOST_USER_SET_VRING_CALL:
      case R.VHOST_USER_SET_VRING_ERR: {
        const { index, noFd } = bodyAs(b, 'vringFile').file;
        const q = this.#checkIndex(index);
        if (!noFd && fds.length !== 1) throw new Panic(`Invalid fds in request: ${m.hdr.request}`);
        const fd = noFd ? -1 : this.#take(fds, 0);
        if (m.hdr.request === R.VHOST_USER_SET_VRING_CALL) {
          q.setCall(fd);
          // A call the driver may have missed across a reconnection.
          if (fd >= 0) {
            try {
              this.os.eventfdWrite(fd, 1n);
            } catch {
              // Not an eventfd: the driver will learn when a notify fails.
            }
          }
        } else if (m.hdr.request === R.VHOST_USER_SET_VRING_ERR) {
          q.setErr(fd);
        } else {
          try {
            q.setKick(fd);
          } catch (e) {
            throw new Panic(`Cannot watch kick fd of queue ${index}: ${(e as Error).message}`);
          }
        }
        return false;
      }

      case R.VHOST_USER_SET_VRING_ENABLE: {
        const { index, num } = bodyAs(b, 'state').state;
        this.#checkIndex(index, `Invalid vring_enable index: ${index}`).setEnabled(num !== 0);
        return false;
      }

      case R.VHOST_USER_VRING_KICK: {
        const { index } = bodyAs(b, 'state').state;
        this.#checkIndex(index).kick();
        return false;
      }

      case R.VHOST_USER_SET_BACKEND_REQ_FD:
        if (fds.length !== 1) {
          throw new Panic(`Invalid backend_req_fd message (${fds.length} fd's)`);
        }
        this.#setBackendChannel(this.#take(fds, 0));
        return false;

      case R.VHOST_USER_GET_CONFIG: {
        const c = bodyAs(b, 'config').config;
        let data: Uint8Array | null = null;
        if (this.device.getConfig !== undefined) {
          try {
            data = this.device.getConfig(c.offset, c.size, this);
          } catch (e) {
            this.report(`device getConfig failed: ${(e as Error).message}`);
            data = null;
          }
        }
        if (data === null || data.byteLength !== c.size) {
          // An empty payload tells the front-end the read failed.
          return this.#reply(m, { kind: 'none' });
        }
        return this.#reply(m, {
          kind: 'config',
          config: { offset: c.offset, size: c.size, flags: c.flags, region: data },
        });
      }

      case R.VHOST_USER_SET_CONFIG: {
        const c = bodyAs(b, 'config').config;
        if (this.device.setConfig !== undefined) {
          let ok = false;
          try {
            ok = this.device.setConfig(c.offset, c.region, c.flags, this);
          } catch (e) {
            this.report(`device setConfig failed: ${(e as Error).message}`);
          }
          if (!ok) throw new Panic('Set virtio configuration space failed');
        }
        return false;
      }

      case R.VHOST_USER_GET_SHMEM_CONFIG:
        return this.#reply(m, {
          kind: 'shmem',
          shmem: {
            nregions: this.#shmemSizes.filter((x) => x !== 0n).length,
            memorySizes: this.#shmemSizes,
          },
        });

      default:
        throw new Panic(`Unhandled request: ${m.hdr.request}`);
    }
  }

  #setMemTable(m: VhostUserDecodedMsg, fds: number[]): void {
    const table = bodyAs(m.body, 'memory').memory.regions;
    let mem: GuestMemoryMmap;
    try {
      mem = GuestMemoryMmap.mapRegions(table, fds, { os: this.os });
    } catch (e) {
      if (e instanceof OsError) throw new Panic(`region mmap error: ${this.os.strerror(e.errno)}`);
      throw new Panic((e as Error).message);
    }
    const old = this.#memory;
    this.#memory = mem;
    old?.unmap();
    for (const q of this.#queues) {
      q.reconfigure();
      const a = q.addr;
      if (
        a !== null &&
        (mem.qvaToGpa(a.descUserAddr) === undefined ||
          mem.qvaToGpa(a.usedUserAddr) === undefined ||
          mem.qvaToGpa(a.availUserAddr) === undefined)
      ) {
        throw new Panic(`remapping queue ${q.index} during setmemtable`);
      }
    }
  }

  #resetDevice(): void {
    for (const q of this.#queues) q.stop(true);
    this.callDevice('onReset', () => this.device.onReset?.(this));
  }

  // --- the back-end channel ------------------------------------------------------

  #setBackendChannel(fd: number): void {
    this.#closeChannel();
    let stream: UnixStream;
    try {
      // Replies on the channel carry no fds, so reads need no framing; they
      // are 20 bytes, so a small read buffer is plenty (and cheaper).
      stream = new UnixStream(fd, { os: this.os, readSize: 4096 });
    } catch (e) {
      this.os.close(fd);
      throw new Panic(`Invalid backend_req_fd: ${(e as Error).message}`);
    }
    const framer = new VhostUserFramer({ channel: 'backend' });
    this.#channel = stream;
    this.#channelFramer = framer;
    stream.on('data', (chunk, rfds) => {
      if (this.#channel !== stream) {
        this.#closeFds(rfds);
        return;
      }
      const out = framer.feed(chunk, rfds);
      this.#closeFds(out.unattachedFds);
      for (const msg of out.messages) this.#onChannelMessage(msg);
      if (out.error !== null) {
        this.report(`back-end channel: ${out.error.message}`);
        this.#closeChannel();
      }
    });
    stream.on('error', (e) => this.report(`back-end channel: ${e.message}`));
    stream.on('close', () => {
      if (this.#channel === stream) this.#closeChannel();
    });
    try {
      stream.resume();
    } catch (e) {
      // Not a socket the event loop can watch.
      this.#closeChannel();
      throw new Panic(`Invalid backend_req_fd: ${(e as Error).message}`);
    }
  }

  #onChannelMessage(msg: VhostUserMsg): void {
    this.#closeFds(msg.fds);
    const p = this.#pending.shift();
    if (p === undefined) {
      this.report(`back-end channel: unexpected message ${msg.hdr.request}`);
      return;
    }
    try {
      const r = decodeVhostUserReply(msg, p.request, 'backend');
      if (r.body.kind === 'u64' && r.body.u64 === 0n) p.resolve(null);
      else {
        const v = r.body.kind === 'u64' ? r.body.u64 : 'no value';
        p.resolve(
          new VhostUserBackendRequestError(
            'ERR_VHOST_USER_REQUEST_REFUSED',
            `the front-end refused request ${p.request} (reply ${v})`,
            p.request,
          ),
        );
      }
    } catch (e) {
      this.report(`back-end channel: ${(e as Error).message}`);
      p.resolve(
        new VhostUserBackendRequestError(
          'ERR_VHOST_USER_BAD_REPLY',
          `malformed reply to request ${p.request}: ${(e as Error).message}`,
          p.request,
          e,
        ),
      );
    }
  }

  #closeChannel(): void {
    const s = this.#channel;
    this.#channel = null;
    if (this.#channelFramer !== null) {
      this.#closeFds(this.#channelFramer.end().unattachedFds);
      this.#channelFramer = null;
    }
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) {
      p.resolve(
        new VhostUserBackendRequestError(
          'ERR_VHOST_USER_CHANNEL_CLOSED',
          `the back-end channel closed before the reply to request ${p.request}`,
          p.request,
        ),
      );
    }
    s?.close();
  }

  /**
   * Sends a request on the back-end channel; with REPLY_ACK negotiated it
   * asks for an ack and resolves once it is 0 (libvhost-user's
   * vu_process_message_reply); without, it resolves once sent. Every
   * failure rejects with a {@link VhostUserBackendRequestError} naming it.
   */
  #channelRequest(request: number, body: VhostUserBody, fds: readonly number[]): Promise<void> {
    const s = this.#channel;
    if (s === null || this.#closed) {
      return Promise.reject(
        new VhostUserBackendRequestError(
          'ERR_VHOST_USER_NO_CHANNEL',
          this.#closed
            ? `request ${request}: the back-end is closed`
            : `request ${request}: the front-end has not set up a back-end channel`,
          request,
        ),
      );
    }
    const needReply = this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK);
    const wire = encodeVhostUserMsg({
      request,
      flags: VHOST_USER_VERSION | (needReply ? VHOST_USER_NEED_REPLY_MASK : 0),
      body,
      fds,
    });
    const sendFailed = (): VhostUserBackendRequestError =>
      new VhostUserBackendRequestError(
        'ERR_VHOST_USER_SEND_FAILED',
        `request ${request}: the back-end channel could not be written`,
        request,
      );
    if (!needReply) {
      return s.send(wire.data, wire.fds) ? Promise.resolve() : Promise.reject(sendFailed());
    }
    return new Promise<void>((resolve, reject) => {
      const settle = (error: VhostUserBackendRequestError | null): void => {
        if (error === null) resolve();
        else reject(error);
      };
      this.#pending.push({ request, resolve: settle });
      if (!s.send(wire.data, wire.fds)) {
        const i = this.#pending.findIndex((p) => p.resolve === settle);
        if (i >= 0) this.#pending.splice(i, 1);
        reject(sendFailed());
      }
    });
  }

  #needFeature(request: number, feature: number, name: string): Promise<void> | null {
    if (this.hasProtocolFeature(feature)) return null;
    return Promise.reject(
      new VhostUserBackendRequestError(
        'ERR_VHOST_USER_NOT_NEGOTIATED',
        `request ${request} needs protocol feature ${name}, which the front-end did not negotiate`,
        request,
      ),
    );
  }

  /**
   * Asks the front-end to map `len` bytes of `fd` from `fdOffset` at
   * `shmOffset` in VIRTIO Shared Memory Region `shmid`
   * (VHOST_USER_BACKEND_SHMEM_MAP, as vu_shmem_map). `flags` is
   * VHOST_USER_FLAG_MAP_RW or 0 (read-only). Resolves when the front-end
   * acknowledged it (or once sent, without REPLY_ACK); rejects with a
   * {@link VhostUserBackendRequestError} whose `code` names the cause:
   * SHMEM not negotiated, no channel, the channel failed or closed, or
   * the front-end refused. The fd stays the caller's.
   */
  shmemMap(
    shmid: number,
    fd: number,
    fdOffset: bigint | number,
    shmOffset: bigint | number,
    len: bigint | number,
    flags: bigint | number = 0n,
  ): Promise<void> {
    const unsupported = this.#needFeature(
      VhostUserBackendRequest.VHOST_USER_BACKEND_SHMEM_MAP,
      PF.VHOST_USER_PROTOCOL_F_SHMEM,
      'SHMEM',
    );
    if (unsupported) return unsupported;
    return this.#channelRequest(
      VhostUserBackendRequest.VHOST_USER_BACKEND_SHMEM_MAP,
      {
        kind: 'mmap',
        mmap: {
          shmid,
          fdOffset: BigInt(fdOffset),
          shmOffset: BigInt(shmOffset),
          len: BigInt(len),
          flags: BigInt(flags),
        },
      },
      [fd],
    );
  }

  /**
   * Asks the front-end to unmap the mapping at `shmOffset` of `len` bytes
   * in region `shmid` (VHOST_USER_BACKEND_SHMEM_UNMAP, as vu_shmem_unmap).
   */
  shmemUnmap(shmid: number, shmOffset: bigint | number, len: bigint | number): Promise<void> {
    const unsupported = this.#needFeature(
      VhostUserBackendRequest.VHOST_USER_BACKEND_SHMEM_UNMAP,
      PF.VHOST_USER_PROTOCOL_F_SHMEM,
      'SHMEM',
    );
    if (unsupported) return unsupported;
    return this.#channelRequest(
      VhostUserBackendRequest.VHOST_USER_BACKEND_SHMEM_UNMAP,
      {
        kind: 'mmap',
        mmap: { shmid, fdOffset: 0n, shmOffset: BigInt(shmOffset), len: BigInt(len), flags: 0n },
      },
      [],
    );
  }

  /**
   * Tells the front-end the config space changed
   * (VHOST_USER_BACKEND_CONFIG_CHANGE_MSG); needs CONFIG and the channel.
   */
  configChanged(): Promise<void> {
    const unsupported = this.#needFeature(
      VhostUserBackendRequest.VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
      PF.VHOST_USER_PROTOCOL_F_CONFIG,
      'CONFIG',
    );
    if (unsupported) return unsupported;
    return this.#channelRequest(
      VhostUserBackendRequest.VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
      { kind: 'none' },
      [],
    );
  }

  // --- teardown ------------------------------------------------------------------

  #closeFds(fds: readonly number[]): void {
    for (const fd of fds) {
      if (fd < 0) continue;
      try {
        this.os.close(fd);
      } catch {
        // Already closed.
      }
    }
  }

  #panic(message: string): void {
    if (this.#closed) return;
    this.#broken = true;
    this.report(message);
    this.close();
  }

  /**
   * Closes the connection and releases everything it holds: queues stop
   * (watchers closed, kick/call/err eventfds closed), the back-end channel
   * closes (pending requests reject with ERR_VHOST_USER_CHANNEL_CLOSED), the memory table is unmapped,
   * fds of an incomplete message are closed. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const q of this.#queues) q.stop(true);
    this.#closeChannel();
    this.#memory?.unmap();
    this.#memory = null;
    this.#closeFds(this.#framer.end().unattachedFds);
    try {
      this.#transport.close();
    } catch {
      // The transport is gone already.
    }
    this.callDevice('onClose', () => this.device.onClose?.(this));
    this.#resolveClosed();
  }

  /** Closes (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}
