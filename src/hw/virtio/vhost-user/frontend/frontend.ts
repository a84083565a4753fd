/**
 * The vhost-user front-end: tsqom as the emulator that drives a vhost-user
 * back-end over a unix socket (QEMU's hw/virtio/vhost-user.c and the
 * vhost-user half of hw/virtio/vhost.c).
 *
 * {@link VhostUserFrontend} speaks the main socket: the handshake of
 * vhost_dev_init (features, protocol features, queue count, the back-end
 * channel, SET_OWNER, the per-queue call and error notifiers), the device
 * configuration, SET_MEM_TABLE, and starting and stopping the vrings, with
 * QEMU's messages in QEMU's order and QEMU's error texts.
 *
 * Where QEMU blocks its main loop waiting for each reply, tsqom awaits it:
 * requests are still strictly one at a time (a later request waits for the
 * earlier one's reply), but the event loop keeps running, so the back-end
 * channel is served while the front-end waits on the main socket and the
 * SHMEM_MAP / SET_MEM_TABLE deadlock QEMU has to order around cannot
 * happen here.
 * @module
 */
import { trace } from '../../../../util/trace.js';
import { hostOs } from '../../../../util/machine-context.js';
import { TsqomError } from '../../../../util/error.js';
import 'reflect-metadata';
import { EventEmitter } from 'node:events';
import { HostOs } from '../../../../native/host.js';
import { strerror } from '../../../../native/errors.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from '../../../../native/constants.js';
import { CodecError } from '../protocol/codec-error.js';
import {
  type VhostUserBody,
  type VhostUserDecodedMsg,
  type VhostUserMsg,
  decodeVhostUserReply,
  encodeVhostUserMsg,
} from '../protocol/codec.js';
import { VhostUserStreamFramer } from '../protocol/stream-framer.js';
import type { VhostUserMemoryRegion, VhostUserShMemConfig } from '../protocol/payloads.js';
import {
  VHOST_MEMORY_BASELINE_NREGIONS,
  VHOST_USER_CONFIG_HDR_SIZE,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_HDR_SIZE,
  VHOST_USER_MAX_CONFIG_SIZE,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_VERSION,
  VHOST_USER_VRING_IDX_MASK,
  VIRTIO_MAX_SHMEM_REGIONS,
  VHOST_SET_CONFIG_TYPE_FRONTEND,
  VhostUserProtocolFeature as PF,
  VhostUserRequest as R,
} from '../protocol/protocol.js';
import { type ErrorReportSink, errorReportSinkOf } from '../../../../util/error-report.js';
import { UnixStream } from '../../../../io/unix-stream.js';
import {
  VhostUserBackendChannel,
  type VhostUserBackendChannelHandler,
} from './frontend-channel.js';

const traceVhostUser = trace('vhost-user');

const EPROTO = 71;
const EIO = 5;
const EINVAL = 22;
const ENOBUFS = 105;
const ENOTSUP = 95;
const ENOSYS = 38;

/**
 * The protocol features tsqom's front-end implements, and so offers:
 * MQ, REPLY_ACK, BACKEND_REQ, CONFIG, BACKEND_SEND_FD, RESET_DEVICE and
 * SHMEM (bit 22). QEMU offers every bit it knows; tsqom leaves out what it
 * does not implement (dirty logging, inflight tracking, memory slots,
 * host notifiers, postcopy, status, device state), so a back-end never
 * expects something the front-end cannot do.
 */
export const VHOST_USER_FRONTEND_PROTOCOL_FEATURES =
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_MQ)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_BACKEND_REQ)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_CONFIG)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_RESET_DEVICE)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_SHMEM));

/** An error of a front-end operation: QEMU's text, with the errno QEMU would return. */
export class VhostUserFrontendError extends TsqomError {
  /** The (positive) errno QEMU's function returns negated. */
  readonly errno: number;

  /** Builds the error (code `ERR_VHOST_USER_FRONTEND`); `errno` as QEMU's function would return it, made positive. */
  constructor(message: string, errno: number) {
    super(message, 'ERR_VHOST_USER_FRONTEND');
    this.errno = errno;
  }
}

/** `msg: strerror` as QEMU's error_setg_errno formats it. */
function withErrno(msg: string, errno: number): string {
  return `${msg}: ${strerror(errno)}`;
}

/** Where one vring lives and how it is notified, for {@link VhostUserFrontend.start}. */
export interface VhostUserVringConfig {
  /** Queue size (SET_VRING_NUM). */
  num: number;
  /** The next available index the back-end processes (SET_VRING_BASE). */
  lastAvailIdx: number;
  /** Front-end virtual address of the descriptor table (SET_VRING_ADDR). */
  descUserAddr: bigint;
  /** Front-end virtual address of the available ring. */
  availUserAddr: bigint;
  /** Front-end virtual address of the used ring. */
  usedUserAddr: bigint;
  /** Guest physical address of the used ring (log_guest_addr). */
  usedGuestAddr: bigint;
  /** The eventfd the driver writes to kick the queue (SET_VRING_KICK). */
  kickFd: number;
  /** The eventfd the back-end writes to interrupt the driver (SET_VRING_CALL). */
  callFd: number;
}

/** Options of a {@link VhostUserFrontend}. */
export interface VhostUserFrontendOptions {
  /** Virtqueues of the device (vhost_dev.nvqs). */
  nvqs: number;
  /** The device reads its config space from the back-end (config_size > 0). */
  supportsConfig?: boolean;
  /** Queues the device needs; 0 (default) does not check (vhost_dev.num_queues). */
  numQueues?: number;
  /** Protocol features to offer; default {@link VHOST_USER_FRONTEND_PROTOCOL_FEATURES}. */
  protocolFeatureMask?: bigint;
  /** Handles the back-end channel's requests (SHMEM_MAP, CONFIG_CHANGE_MSG...). */
  backendHandler?: VhostUserBackendChannelHandler;
  /** Bytes and fds that arrived on the stream before the front-end took it (processed first). */
  pending?: readonly [Buffer, number[]][];
  /** Where problems without a caller go; default the process-wide sink. */
  report?: ErrorReportSink;
  /** The OS layer; default: the machine context's (`hostOs()`). */
  os?: HostOs;
}

/** Events of a {@link VhostUserFrontend}. */
export interface VhostUserFrontendEvents {
  /** The main socket closed (the back-end went away, or {@link VhostUserFrontend.close}). */
  disconnect: [];
  /** A vring's error notifier fired (the back-end reported an error on queue `index`). */
  vringError: [index: number];
}

interface Waiter {
  request: number;
  resolve: (msg: VhostUserMsg) => void;
  reject: (e: Error) => void;
}

/**
 * One vhost-user connection, seen from the front-end (QEMU's struct
 * vhost_dev with its struct vhost_user). Create it over a connected
 * socket, call {@link init} (vhost_dev_init), then {@link start} and
 * {@link stop} as the guest driver sets and clears DRIVER_OK, and
 * {@link close} at the end. Every operation rejects with a
 * {@link VhostUserFrontendError} carrying QEMU's text; lower-level
 * details go to the report sink first, as QEMU's error_report does.
 */
export class VhostUserFrontend extends EventEmitter<VhostUserFrontendEvents> {
  /** The OS layer. */
  readonly os: HostOs;
  /** The main socket. */
  readonly stream: UnixStream;
  /** Virtqueues of the device. */
  readonly nvqs: number;
  /** Features the back-end offered (after SET_OWNER), bit 30 included. */
  features = 0n;
  /** VHOST_USER_F_PROTOCOL_FEATURES when the back-end offered it (vhost_dev.backend_features). */
  backendFeatures = 0n;
  /** The negotiated protocol features. */
  protocolFeatures = 0n;
  /** The back-end's queue count (GET_QUEUE_NUM, or 1). */
  maxQueues = 1n;
  /** The features the driver acked, as last sent with SET_FEATURES (without bit 30). */
  ackedFeatures = 0n;
  /** Whether {@link start} ran and {@link stop} did not. */
  started = false;
  /** The memory table last sent (or to send at start). */
  memTable: VhostUserMemTableEntry[] = [];
  /** The back-end channel, when BACKEND_REQ was negotiated. */
  backendChannel: VhostUserBackendChannel | null = null;
  readonly #report: ErrorReportSink;
  readonly #supportsConfig: boolean;
  readonly #numQueues: number;
  readonly #protocolMask: bigint;
  readonly #backendHandler: VhostUserBackendChannelHandler | undefined;
  readonly #framer = new VhostUserStreamFramer();
  #waiter: Waiter | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Per queue: the masked call notifier and the error notifier (vhost_virtqueue_init). */
  readonly #maskedCallFds: number[] = [];
  readonly #errFds: number[] = [];
  readonly #errWatchers: { close(): void }[] = [];

  /** Takes over `stream` (the main socket, connected to the back-end). */
  constructor(stream: UnixStream, options: VhostUserFrontendOptions) {
    super();
    if (!Number.isInteger(options.nvqs) || options.nvqs < 0 || options.nvqs > 1024) {
      throw new RangeError(`bad virtqueue count ${options.nvqs}`);
    }
    this.os = options.os ?? stream.os ?? hostOs();
    this.stream = stream;
    this.nvqs = options.nvqs;
    this.#report = options.report ?? errorReportSinkOf();
    this.#supportsConfig = options.supportsConfig === true;
    this.#numQueues = options.numQueues ?? 0;
    this.#protocolMask = options.protocolFeatureMask ?? VHOST_USER_FRONTEND_PROTOCOL_FEATURES;
    this.#backendHandler = options.backendHandler;
    for (const [chunk, fds] of options.pending ?? []) this.#onData(chunk, fds);
    stream.on('data', (chunk, fds) => this.#onData(chunk, fds));
    stream.on('close', () => this.#onClose());
    stream.on('error', () => {
      // 'close' follows and does the work.
    });
    stream.resume();
  }

  /** Whether the main socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether `bit` of the negotiated protocol features is set. */
  hasProtocolFeature(bit: number): boolean {
    return ((this.protocolFeatures >> BigInt(bit)) & 1n) === 1n;
  }

  #reportError(message: string): void {
    this.#report(message, 'error');
  }

  // --- the main socket -------------------------------------------------------

  #onData(chunk: Buffer, fds: number[]): void {
    const out = this.#framer.feed(chunk, fds);
    for (const fd of out.unattachedFds) this.os.close(fd);
    for (const msg of out.messages) {
      // Replies never carry fds tsqom uses: close them.
      for (const fd of msg.fds) this.os.close(fd);
      msg.fds = [];
      const w = this.#waiter;
      if (w === null) {
        this.#reportError(`Received unexpected msg type: ${msg.hdr.request}.`);
        this.stream.close();
        return;
      }
      this.#waiter = null;
      w.resolve(msg);
    }
    if (out.error !== null) {
      this.#reportError(out.error.message);
      this.stream.close();
    }
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = null;
    const end = this.#framer.end();
    for (const fd of end.unattachedFds) this.os.close(fd);
    if (w !== null) {
      const read = this.#framer.bufferedBytes;
      const text = `Failed to read msg header. Read ${read} instead of ${VHOST_USER_HDR_SIZE}. Original request ${w.request}.`;
      this.#reportError(text);
      w.reject(new VhostUserFrontendError(text, EIO));
    }
    this.#cleanupNotifiers();
    this.backendChannel?.close();
    this.backendChannel = null;
    this.started = false;
    this.emit('disconnect');
  }

  /** Runs `fn` once every earlier request has finished: one request at a time, as QEMU. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** vhost_user_write: sends one message; throws QEMU's text if the socket is gone. */
  #write(request: number, flags: number, body: VhostUserBody, fds: readonly number[] = []): void {
    const wire = encodeVhostUserMsg({ request, flags, body, fds });
    if (traceVhostUser.enabled) {
      traceVhostUser(
        'vhost_user_write request %d flags 0x%s size %d fds %d',
        request,
        flags.toString(16),
        wire.data.byteLength - 12,
        fds.length,
      );
    }
    if (this.#closed || !this.stream.send(wire.data, wire.fds)) {
      const text = `Failed to write msg. Wrote -1 instead of ${wire.data.byteLength}.`;
      this.#reportError(text);
      throw new VhostUserFrontendError(text, EIO);
    }
  }

  /** vhost_user_read: the next message from the back-end. */
  #read(request: number): Promise<VhostUserMsg> {
    if (this.#closed) {
      const text = `Failed to read msg header. Read 0 instead of ${VHOST_USER_HDR_SIZE}. Original request ${request}.`;
      this.#reportError(text);
      return Promise.reject(new VhostUserFrontendError(text, EIO));
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { request, resolve, reject };
    });
  }

  /** Reads the reply to `request` and checks it as QEMU's readers do. */
  async #readReply(request: number): Promise<VhostUserDecodedMsg> {
    const msg = await this.#read(request);
    try {
      return decodeVhostUserReply(msg, request, 'frontend');
    } catch (e) {
      if (e instanceof CodecError) {
        this.#reportError(e.message);
        throw new VhostUserFrontendError(e.message, EPROTO);
      }
      throw e;
    }
  }

  /** process_message_reply: waits for the u64 ack when NEED_REPLY was set. */
  async #processMessageReply(request: number, flags: number): Promise<void> {
    if ((flags & VHOST_USER_NEED_REPLY_MASK) === 0) return;
    const msg = await this.#read(request);
    if (msg.hdr.request !== request) {
      const text = `Received unexpected msg type. Expected ${request} received ${msg.hdr.request}`;
      this.#reportError(text);
      throw new VhostUserFrontendError(text, EPROTO);
    }
    let value = 0n;
    if (msg.payload.byteLength >= 8) value = msg.payload.readBigUInt64LE(0);
    else if (msg.payload.byteLength > 0) value = 1n;
    if (value !== 0n) throw new VhostUserFrontendError(strerror(EIO), EIO);
  }

  get #replySupported(): boolean {
    return this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK);
  }

  /** vhost_user_get_u64. */
  #getU64(request: number): Promise<bigint> {
    return this.#serial(async () => {
      this.#write(request, VHOST_USER_VERSION, { kind: 'none' });
      const r = await this.#readReply(request);
      if (r.body.kind !== 'u64') {
        this.#reportError('Received bad msg size.');
        throw new VhostUserFrontendError('Received bad msg size.', EPROTO);
      }
      return r.body.u64;
    });
  }

  /**
   * vhost_user_write_sync: sends, and when `waitForReply` waits for the
   * back-end to have processed it (REPLY_ACK, or else a GET_FEATURES
   * round trip, which every back-end answers).
   */
  #writeSync(request: number, body: VhostUserBody, waitForReply: boolean): Promise<void> {
    return this.#serial(async () => {
      let flags = VHOST_USER_VERSION;
      if (waitForReply && this.#replySupported) flags |= VHOST_USER_NEED_REPLY_MASK;
      this.#write(request, flags, body);
      if (!waitForReply) return;
      if (flags & VHOST_USER_NEED_REPLY_MASK) {
        await this.#processMessageReply(request, flags);
        return;
      }
      this.#write(R.VHOST_USER_GET_FEATURES, VHOST_USER_VERSION, { kind: 'none' });
      await this.#readReply(R.VHOST_USER_GET_FEATURES);
    });
  }

  /** vhost_set_vring_file: KICK/CALL/ERR with an eventfd (or NOFD when `fd` < 0). */
  #setVringFile(request: number, index: number, fd: number): Promise<void> {
    return this.#serial(async () => {
      let flags = VHOST_USER_VERSION;
      if (this.#replySupported) flags |= VHOST_USER_NEED_REPLY_MASK;
      const noFd = !(fd > 0);
      this.#write(
        request,
        flags,
        { kind: 'vringFile', file: { index: index & VHOST_USER_VRING_IDX_MASK, noFd } },
        noFd ? [] : [fd],
      );
      await this.#processMessageReply(request, flags);
    });
  }

  // --- vhost_dev_init --------------------------------------------------------

  /**
   * vhost_user_backend_init followed by the rest of vhost_dev_init:
   * GET_FEATURES; with VHOST_USER_F_PROTOCOL_FEATURES, GET_PROTOCOL_FEATURES,
   * SET_PROTOCOL_FEATURES and (with MQ) GET_QUEUE_NUM; the back-end
   * channel (SET_BACKEND_REQ_FD) with BACKEND_REQ; SET_OWNER;
   * GET_FEATURES again; then SET_VRING_CALL and SET_VRING_ERR for each
   * queue. Rejects with QEMU's texts (`vhost_backend_init failed: ...`).
   */
  async init(): Promise<void> {
    let features: bigint;
    try {
      features = await this.#getU64(R.VHOST_USER_GET_FEATURES);
    } catch (e) {
      // vhost_user_get_features turns every failure into EPROTO.
      throw this.#wrap(e, 'vhost_backend_init failed', EPROTO, true);
    }
    if ((features >> BigInt(VHOST_USER_F_PROTOCOL_FEATURES)) & 1n) {
      this.backendFeatures |= 1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES);
      let pf: bigint;
      try {
        pf = await this.#getU64(R.VHOST_USER_GET_PROTOCOL_FEATURES);
      } catch (e) {
        throw this.#wrap(e, 'vhost_backend_init failed', EPROTO, true);
      }
      pf &= this.#protocolMask;
      const configBit = 1n << BigInt(PF.VHOST_USER_PROTOCOL_F_CONFIG);
      if (this.#supportsConfig) {
        if ((pf & configBit) === 0n) {
          throw new VhostUserFrontendError(
            'vhost-user device expecting VHOST_USER_PROTOCOL_F_CONFIG but the vhost-user backend does not support it.',
            EPROTO,
          );
        }
      } else if (pf & configBit) {
        this.#report(
          'vhost-user backend supports VHOST_USER_PROTOCOL_F_CONFIG but QEMU does not.',
          'warning',
        );
        pf &= ~configBit;
      }
      this.protocolFeatures = pf;
      try {
        await this.#writeSync(R.VHOST_USER_SET_PROTOCOL_FEATURES, { kind: 'u64', u64: pf }, false);
      } catch (e) {
        throw this.#wrap(e, 'vhost_backend_init failed', EPROTO, true);
      }
      if (this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_MQ)) {
        try {
          this.maxQueues = await this.#getU64(R.VHOST_USER_GET_QUEUE_NUM);
        } catch (e) {
          throw this.#wrap(e, 'vhost_backend_init failed', EPROTO, true);
        }
      } else {
        this.maxQueues = 1n;
      }
      if (this.#numQueues && this.maxQueues < BigInt(this.#numQueues)) {
        throw new VhostUserFrontendError(
          `The maximum number of queues supported by the backend is ${this.maxQueues}`,
          EINVAL,
        );
      }
    }
    try {
      await this.#setupBackendChannel();
    } catch (e) {
      throw this.#wrap(e, 'vhost_backend_init failed', EPROTO, true);
    }
    try {
      await this.#serial(async () => {
        this.#write(R.VHOST_USER_SET_OWNER, VHOST_USER_VERSION, { kind: 'none' });
      });
    } catch (e) {
      throw this.#wrap(e, 'vhost_set_owner failed', EIO);
    }
    try {
      this.features = await this.#getU64(R.VHOST_USER_GET_FEATURES);
    } catch (e) {
      throw this.#wrap(e, 'vhost_get_features failed', EPROTO, true);
    }
    for (let i = 0; i < this.nvqs; i++) {
      try {
        await this.#virtqueueInit(i);
      } catch (e) {
        throw this.#wrap(e, `Failed to initialize virtqueue ${i}`, EIO);
      }
    }
  }

  /** Turns a failure into QEMU's `msg: strerror` (errno forced to `forced` when `force`). */
  #wrap(e: unknown, msg: string, fallback: number, force = false): VhostUserFrontendError {
    const errno = force ? fallback : e instanceof VhostUserFrontendError ? e.errno : fallback;
    return new VhostUserFrontendError(withErrno(msg, errno), errno);
  }

  /** vhost_setup_backend_channel: a socketpair, one end sent with SET_BACKEND_REQ_FD. */
  async #setupBackendChannel(): Promise<void> {
    if (!this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_BACKEND_REQ)) return;
    let sv: [number, number];
    try {
      sv = this.os.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
    } catch (e) {
      this.#reportError('socketpair() failed');
      throw e;
    }
    const channel = new VhostUserBackendChannel(new UnixStream(sv[0], { os: this.os }), {
      frontend: this,
      handler: this.#backendHandler,
      report: this.#report,
    });
    this.backendChannel = channel;
    try {
      await this.#serial(async () => {
        let flags = VHOST_USER_VERSION;
        if (this.#replySupported) flags |= VHOST_USER_NEED_REPLY_MASK;
        this.#write(R.VHOST_USER_SET_BACKEND_REQ_FD, flags, { kind: 'none' }, [sv[1]]);
        await this.#processMessageReply(R.VHOST_USER_SET_BACKEND_REQ_FD, flags);
      });
    } catch (e) {
      channel.close();
      if (this.backendChannel === channel) this.backendChannel = null;
      throw e;
    } finally {
      this.os.close(sv[1]);
    }
  }

  /** vhost_virtqueue_init: the masked call notifier and the error notifier of queue `n`. */
  async #virtqueueInit(n: number): Promise<void> {
    const masked = this.os.eventfd(0);
    this.#maskedCallFds[n] = masked;
    await this.#setVringFile(R.VHOST_USER_SET_VRING_CALL, n, masked);
    const err = this.os.eventfd(0);
    this.#errFds[n] = err;
    // QEMU's vhost_virtqueue_error_notifier: the back-end signals a vring error.
    const w = this.os.watch(err, 1 /* UV_READABLE */, (e) => {
      if (e !== null) return;
      if (this.os.eventfdRead(err) !== null) {
        this.#reportError(`vhost vring error in virtqueue ${n}: ${strerror(EINVAL)} (${EINVAL})`);
        this.emit('vringError', n);
      }
    });
    w.start();
    this.#errWatchers.push(w);
    await this.#setVringFile(R.VHOST_USER_SET_VRING_ERR, n, err);
  }

  #cleanupNotifiers(): void {
    for (const w of this.#errWatchers) w.close();
    this.#errWatchers.length = 0;
    for (const fd of [...this.#maskedCallFds, ...this.#errFds]) {
      if (fd !== undefined && fd >= 0) this.os.close(fd);
    }
    this.#maskedCallFds.length = 0;
    this.#errFds.length = 0;
  }

  // --- VIRTIO Shared Memory and config -------------------------------------

  /**
   * vhost_user_get_shmem_config: the back-end's VIRTIO Shared Memory
   * Region sizes, indexed by shmid (256 entries). Without the SHMEM
   * protocol feature nothing is sent and no region is reported. A reply
   * claiming more than 256 regions is refused (QEMU asserts).
   */
  getShmemConfig(): Promise<VhostUserShMemConfig> {
    if (!this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_SHMEM)) {
      return Promise.resolve({
        nregions: 0,
        memorySizes: new Array<bigint>(VIRTIO_MAX_SHMEM_REGIONS).fill(0n),
      });
    }
    return this.#serial(async () => {
      try {
        this.#write(R.VHOST_USER_GET_SHMEM_CONFIG, VHOST_USER_VERSION, { kind: 'none' });
        const r = await this.#readReply(R.VHOST_USER_GET_SHMEM_CONFIG);
        if (r.body.kind !== 'shmem')
          throw new VhostUserFrontendError('Received bad msg size.', EPROTO);
        if (r.body.shmem.nregions > VIRTIO_MAX_SHMEM_REGIONS) {
          throw new VhostUserFrontendError(
            `Received ${r.body.shmem.nregions} VIRTIO Shared Memory Regions, at most ${VIRTIO_MAX_SHMEM_REGIONS}`,
            EPROTO,
          );
        }
        return r.body.shmem;
      } catch (e) {
        throw this.#wrap(e, 'vhost_get_shmem_config failed', EPROTO);
      }
    });
  }

  /** vhost_user_get_config: `len` bytes of the device's config space (at most 256). */
  getConfig(len: number): Promise<Uint8Array> {
    if (!this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_CONFIG)) {
      return Promise.reject(
        new VhostUserFrontendError('VHOST_USER_PROTOCOL_F_CONFIG not supported', EINVAL),
      );
    }
    if (!Number.isInteger(len) || len < 0 || len > VHOST_USER_MAX_CONFIG_SIZE) {
      return Promise.reject(new RangeError(`config length ${len} out of range`));
    }
    return this.#serial(async () => {
      try {
        this.#write(R.VHOST_USER_GET_CONFIG, VHOST_USER_VERSION, {
          kind: 'config',
          config: { offset: 0, size: len, flags: 0, region: new Uint8Array(len) },
        });
      } catch (e) {
        throw this.#wrap(e, 'vhost_get_config failed', EIO);
      }
      let msg: VhostUserMsg;
      try {
        msg = await this.#read(R.VHOST_USER_GET_CONFIG);
      } catch (e) {
        throw this.#wrap(e, 'vhost_get_config failed', EIO);
      }
      if (msg.hdr.request !== R.VHOST_USER_GET_CONFIG) {
        throw new VhostUserFrontendError(
          `Received unexpected msg type. Expected ${R.VHOST_USER_GET_CONFIG} received ${msg.hdr.request}`,
          EPROTO,
        );
      }
      if (msg.hdr.size !== VHOST_USER_CONFIG_HDR_SIZE + len) {
        throw new VhostUserFrontendError('Received bad msg size.', EPROTO);
      }
      return new Uint8Array(msg.payload.subarray(VHOST_USER_CONFIG_HDR_SIZE));
    });
  }

  /** vhost_user_set_config: writes `data` at `offset` of the config space. */
  setConfig(data: Uint8Array, offset = 0, flags = VHOST_SET_CONFIG_TYPE_FRONTEND): Promise<void> {
    if (!this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_CONFIG)) {
      return Promise.reject(new VhostUserFrontendError(strerror(ENOTSUP), ENOTSUP));
    }
    if (data.byteLength > VHOST_USER_MAX_CONFIG_SIZE) {
      return Promise.reject(new VhostUserFrontendError(strerror(EINVAL), EINVAL));
    }
    return this.#serial(async () => {
      let f = VHOST_USER_VERSION;
      if (this.#replySupported) f |= VHOST_USER_NEED_REPLY_MASK;
      this.#write(R.VHOST_USER_SET_CONFIG, f, {
        kind: 'config',
        config: { offset, size: data.byteLength, flags, region: data },
      });
      await this.#processMessageReply(R.VHOST_USER_SET_CONFIG, f);
    });
  }

  /** vhost_user_reset_device: RESET_DEVICE, when the back-end supports it. */
  resetDevice(): Promise<void> {
    if (!this.hasProtocolFeature(PF.VHOST_USER_PROTOCOL_F_RESET_DEVICE)) {
      return Promise.reject(new VhostUserFrontendError(strerror(ENOSYS), ENOSYS));
    }
    return this.#serial(async () => {
      this.#write(R.VHOST_USER_RESET_DEVICE, VHOST_USER_VERSION, { kind: 'none' });
    });
  }

  // --- memory table ----------------------------------------------------------

  /**
   * vhost_user_set_mem_table: sends the regions that have an fd (at most
   * 8), waiting for the ack with REPLY_ACK. Rejects with QEMU's texts when
   * no region can be shared or there are too many.
   */
  setMemTable(table: readonly VhostUserMemTableEntry[] = this.memTable): Promise<void> {
    const regions: VhostUserMemoryRegion[] = [];
    const fds: number[] = [];
    for (const e of table) {
      if (!(e.fd > 0)) continue;
      if (fds.length === VHOST_MEMORY_BASELINE_NREGIONS) {
        this.#reportError('Failed preparing vhost-user memory table msg');
        return Promise.reject(
          new VhostUserFrontendError('Failed preparing vhost-user memory table msg', ENOBUFS),
        );
      }
      regions.push({
        guestPhysAddr: e.guestPhysAddr,
        memorySize: e.memorySize,
        userspaceAddr: e.userspaceAddr,
        mmapOffset: e.mmapOffset,
      });
      fds.push(e.fd);
    }
    if (fds.length === 0) {
      const text =
        'Failed initializing vhost-user memory map, consider using -object memory-backend-file share=on';
      this.#reportError(text);
      return Promise.reject(new VhostUserFrontendError(text, EINVAL));
    }
    return this.#serial(async () => {
      let flags = VHOST_USER_VERSION;
      if (this.#replySupported) flags |= VHOST_USER_NEED_REPLY_MASK;
      this.#write(R.VHOST_USER_SET_MEM_TABLE, flags, { kind: 'memory', memory: { regions } }, fds);
      await this.#processMessageReply(R.VHOST_USER_SET_MEM_TABLE, flags);
    });
  }

  // --- start and stop --------------------------------------------------------

  /**
   * vhost_dev_start as vhost-user-base drives it: SET_FEATURES (the acked
   * features plus VHOST_USER_F_PROTOCOL_FEATURES), SET_MEM_TABLE, then per
   * queue with a ring (null entries are skipped, like a queue whose
   * descriptor address is 0) SET_VRING_NUM, SET_VRING_BASE,
   * SET_VRING_ADDR, SET_VRING_KICK and SET_VRING_CALL; then
   * SET_VRING_ENABLE for every queue (with protocol features), and
   * SET_VRING_CALL again per queue (vub_start unmasks after starting).
   * On failure what was started is stopped again.
   */
  async start(
    ackedFeatures: bigint,
    vrings: readonly (VhostUserVringConfig | null)[],
  ): Promise<void> {
    if (vrings.length !== this.nvqs) {
      throw new RangeError(`${vrings.length} vrings given for ${this.nvqs} virtqueues`);
    }
    this.started = true;
    this.ackedFeatures = ackedFeatures & ~(1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES));
    const op = (name: string, p: Promise<void>): Promise<void> =>
      p.catch((e: unknown) => {
        const errno = e instanceof VhostUserFrontendError ? e.errno : EIO;
        const text = `${name} failed: ${strerror(errno)} (${errno})`;
        this.#reportError(text);
        throw new VhostUserFrontendError(text, errno);
      });
    try {
      await op(
        'vhost_set_features',
        this.#writeSync(
          R.VHOST_USER_SET_FEATURES,
          { kind: 'u64', u64: this.ackedFeatures | this.backendFeatures },
          false,
        ),
      );
      await op('vhost_set_mem_table', this.setMemTable());
      for (let i = 0; i < this.nvqs; i++) {
        const v = vrings[i];
        if (v === null) continue;
        await op(
          'vhost_set_vring_num',
          this.#writeSync(
            R.VHOST_USER_SET_VRING_NUM,
            { kind: 'state', state: { index: i, num: v.num } },
            false,
          ),
        );
        await op(
          'vhost_set_vring_base',
          this.#writeSync(
            R.VHOST_USER_SET_VRING_BASE,
            { kind: 'state', state: { index: i, num: v.lastAvailIdx } },
            false,
          ),
        );
        await op(
          'vhost_set_vring_addr',
          this.#writeSync(
            R.VHOST_USER_SET_VRING_ADDR,
            {
              kind: 'addr',
              addr: {
                index: i,
                flags: 0,
                descUserAddr: v.descUserAddr,
                usedUserAddr: v.usedUserAddr,
                availUserAddr: v.availUserAddr,
                logGuestAddr: v.usedGuestAddr,
              },
            },
            false,
          ),
        );
        await op(
          'vhost_set_vring_kick',
          this.#setVringFile(R.VHOST_USER_SET_VRING_KICK, i, v.kickFd),
        );
        await op(
          'vhost_set_vring_call',
          this.#setVringFile(R.VHOST_USER_SET_VRING_CALL, i, v.callFd),
        );
      }
      await op('vhost_set_vring_enable', this.#setVringEnable(true));
      for (let i = 0; i < this.nvqs; i++) {
        const v = vrings[i];
        if (v !== null) {
          await op(
            'vhost_set_vring_call',
            this.#setVringFile(R.VHOST_USER_SET_VRING_CALL, i, v.callFd),
          );
        }
      }
    } catch (e) {
      this.started = false;
      throw e;
    }
  }

  /** vhost_dev_set_vring_enable: SET_VRING_ENABLE for each queue, waiting for each. */
  async #setVringEnable(enable: boolean): Promise<void> {
    if (this.backendFeatures === 0n) return;
    for (let i = 0; i < this.nvqs; i++) {
      await this.#writeSync(
        R.VHOST_USER_SET_VRING_ENABLE,
        { kind: 'state', state: { index: i, num: enable ? 1 : 0 } },
        true,
      );
    }
  }

  /**
   * vhost_dev_stop: SET_VRING_ENABLE 0 for every queue, then
   * GET_VRING_BASE for each queue that was started. Returns the next
   * available index of each (null for skipped queues or when the back-end
   * did not answer: QEMU then falls back to the used index). Never
   * rejects: failures are reported.
   */
  async stop(
    started: readonly boolean[] = new Array<boolean>(this.nvqs).fill(true),
  ): Promise<(number | null)[]> {
    const bases: (number | null)[] = new Array<number | null>(this.nvqs).fill(null);
    if (!this.started) return bases;
    this.started = false;
    if (this.#closed) return bases;
    try {
      await this.#setVringEnable(false);
    } catch {
      // Reported already; the rings are being torn down anyway.
    }
    for (let i = 0; i < this.nvqs; i++) {
      if (!started[i]) continue;
      try {
        bases[i] = await this.#serial(async () => {
          this.#write(R.VHOST_USER_GET_VRING_BASE, VHOST_USER_VERSION, {
            kind: 'state',
            state: { index: i, num: 0 },
          });
          const r = await this.#readReply(R.VHOST_USER_GET_VRING_BASE);
          if (r.body.kind !== 'state')
            throw new VhostUserFrontendError('Received bad msg size.', EPROTO);
          return r.body.state.num;
        });
      } catch (e) {
        const errno = e instanceof VhostUserFrontendError ? e.errno : EIO;
        this.#reportError(
          `vhost VQ ${i} ring restore failed: ${-errno}: ${strerror(errno)} (${errno})`,
        );
      }
    }
    return bases;
  }

  /** Waits until every request issued so far has finished. */
  async drain(): Promise<void> {
    await this.#chain;
  }

  /**
   * Closes the connection: the back-end channel, the notifiers and the main
   * socket (which emits `disconnect`). Idempotent.
   */
  close(): void {
    if (this.#closed) {
      this.#cleanupNotifiers();
      return;
    }
    this.backendChannel?.close();
    this.backendChannel = null;
    this.stream.close();
  }
}

/**
 * One entry of the memory table (QEMU's struct vhost_memory_region plus
 * what vhost_user_fill_set_mem_table_msg looks up): a RAM range of guest
 * physical memory and where the front-end and the back-end find it.
 */
export interface VhostUserMemTableEntry {
  /** Guest physical address. */
  guestPhysAddr: bigint;
  /** Size in bytes. */
  memorySize: bigint;
  /** The front-end's virtual address of the range. */
  userspaceAddr: bigint;
  /** Offset of the range in `fd`. */
  mmapOffset: bigint;
  /** The descriptor the range is mapped from (-1: none, the range is not sent). */
  fd: number;
}
