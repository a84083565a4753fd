/**
 * A scriptable vhost-user back-end for front-end tests, written with the
 * codec and UnixStream only: it answers the handshake, records every
 * message it receives (in order, with fd counts), keeps the vring
 * notifiers, maps the memory table when asked, and can send SHMEM_MAP /
 * SHMEM_UNMAP (or anything else) on the back-end channel and wait for the
 * front-end's reply.
 */
import {
  type VhostUserBody,
  type VhostUserDecodedMsg,
  type VhostUserMMap,
  decodeVhostUserMsg,
  encodeVhostUserMsg,
  encodeVhostUserReply,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_VERSION,
  VhostUserBackendRequest as B,
  VhostUserProtocolFeature as PF,
  VhostUserRequest as R,
  VIRTIO_MAX_SHMEM_REGIONS,
} from '../../../src/hw/virtio/vhost-user/index.js';
import { UnixStream } from '../../../src/io/unix-stream.js';
import { VhostUserStreamFramer } from '../../../src/hw/virtio/vhost-user/protocol/stream-framer.js';
import { GuestMemoryMmap } from '../../../src/hw/virtio/guest-memory-mmap.js';

/** One message the back-end received on the main socket. */
export interface LoggedMsg {
  /** Request id. */
  request: number;
  /** Header flags. */
  flags: number;
  /** Decoded body. */
  body: VhostUserBody;
  /** How many fds came with it. */
  nfds: number;
}

/** Options of a {@link FakeBackend}. */
export interface FakeBackendOptions {
  /** GET_FEATURES answer (default VERSION_1 | PROTOCOL_FEATURES). */
  features?: bigint;
  /** GET_PROTOCOL_FEATURES answer (default MQ, REPLY_ACK, BACKEND_REQ, CONFIG, SHMEM). */
  protocolFeatures?: bigint;
  /** GET_QUEUE_NUM answer (default 1). */
  queueNum?: bigint;
  /** GET_SHMEM_CONFIG sizes by shmid (default none). */
  shmemSizes?: bigint[];
  /** Config space (default 60 zero bytes). */
  config?: Uint8Array;
  /** Map SET_MEM_TABLE regions (default false). */
  mapMemory?: boolean;
  /** Requests answered with a failing ack (u64 1) when they ask for one. */
  failAck?: ReadonlySet<number>;
  /** Requests never answered (to test a front-end waiting). */
  silent?: ReadonlySet<number>;
  /** Called for each message after it is logged (before the reply). */
  onMessage?: (msg: VhostUserDecodedMsg) => void;
}

/** The protocol features the fake offers by default. */
export const FAKE_PROTOCOL_FEATURES =
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_MQ)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_BACKEND_REQ)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_CONFIG)) |
  (1n << BigInt(PF.VHOST_USER_PROTOCOL_F_SHMEM));

/** A vhost-user back-end on one connection. */
export class FakeBackend {
  /** The main socket. */
  readonly stream: UnixStream;
  /** Every message received on the main socket, in order. */
  readonly log: LoggedMsg[] = [];
  /** The back-end channel, once SET_BACKEND_REQ_FD came. */
  channel: UnixStream | null = null;
  /** Kick, call and error eventfds by queue (latest of each). */
  readonly kick = new Map<number, number>();
  /** Call eventfds by queue. */
  readonly call = new Map<number, number>();
  /** Error eventfds by queue. */
  readonly err = new Map<number, number>();
  /** Last available index per queue (SET_VRING_BASE), answered by GET_VRING_BASE. */
  readonly base = new Map<number, number>();
  /** Ring addresses per queue (SET_VRING_ADDR). */
  readonly addr = new Map<number, VhostUserBody>();
  /** The mapped memory table (with `mapMemory`). */
  memory: GuestMemoryMmap | null = null;
  /** SET_MEM_TABLE count. */
  memTables = 0;
  /** Acked protocol features. */
  protocolFeatures = 0n;
  /** Acked features. */
  features = 0n;
  readonly #opts: FakeBackendOptions;
  readonly #framer = new VhostUserStreamFramer();
  readonly #chFramer = new VhostUserStreamFramer();
  readonly #replyWaiters: ((m: VhostUserDecodedMsg | null) => void)[] = [];
  readonly #waiters: { pred: (m: LoggedMsg) => boolean; resolve: () => void }[] = [];
  #closed = false;

  /** Serves the front-end on `stream`. */
  constructor(stream: UnixStream, opts: FakeBackendOptions = {}) {
    this.stream = stream;
    this.#opts = opts;
    stream.on('data', (chunk, fds) => this.#onData(chunk, fds));
    stream.on('close', () => this.#cleanup());
    stream.on('error', () => undefined);
    stream.resume();
  }

  /** A connected pair: the front-end's end and a fake back-end on the other. */
  static pair(opts: FakeBackendOptions = {}): [UnixStream, FakeBackend] {
    const [a, b] = UnixStream.pair();
    return [a, new FakeBackend(b, opts)];
  }

  /** The request ids received so far. */
  get requests(): number[] {
    return this.log.map((m) => m.request);
  }

  /** Resolves once `n` messages were received in all. */
  waitCount(n: number): Promise<void> {
    return this.waitFor(() => this.log.length >= n);
  }

  /** Resolves once a message matching `pred` was received (at once if one was). */
  waitFor(pred: (m: LoggedMsg) => boolean): Promise<void> {
    if (this.log.some(pred)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }));
  }

  #send(
    request: number,
    body: VhostUserBody,
    fds: number[] = [],
    flags = VHOST_USER_VERSION,
  ): void {
    const w = encodeVhostUserMsg({ request, flags, body, fds });
    this.stream.send(w.data, w.fds);
  }

  #reply(msg: VhostUserDecodedMsg, body: VhostUserBody): void {
    const w = encodeVhostUserReply(msg.hdr, body);
    this.stream.send(w.data, w.fds);
  }

  #onData(chunk: Buffer, fds: number[]): void {
    const out = this.#framer.feed(chunk, fds);
    for (const fd of out.unattachedFds) this.stream.os.close(fd);
    for (const m of out.messages) {
      let msg: VhostUserDecodedMsg;
      try {
        msg = decodeVhostUserMsg(m, 'frontend');
      } catch {
        for (const fd of m.fds) this.stream.os.close(fd);
        continue;
      }
      this.#handle(msg);
    }
  }

  #keep(map: Map<number, number>, index: number, fd: number | undefined): void {
    const old = map.get(index);
    if (old !== undefined) this.stream.os.close(old);
    if (fd === undefined) map.delete(index);
    else map.set(index, fd);
  }

  #handle(msg: VhostUserDecodedMsg): void {
    const o = this.#opts;
    const req = msg.hdr.request;
    const logged: LoggedMsg = {
      request: req,
      flags: msg.hdr.flags,
      body: msg.body,
      nfds: msg.fds.length,
    };
    this.log.push(logged);
    o.onMessage?.(msg);
    try {
      this.#dispatch(msg);
    } finally {
      for (let i = this.#waiters.length - 1; i >= 0; i--) {
        if (this.#waiters[i].pred(logged)) {
          this.#waiters[i].resolve();
          this.#waiters.splice(i, 1);
        }
      }
    }
  }

  #dispatch(msg: VhostUserDecodedMsg): void {
    const o = this.#opts;
    const req = msg.hdr.request;
    let fds = msg.fds;
    const os = this.stream.os;
    const body = msg.body;
    if (o.silent?.has(req)) {
      for (const fd of fds) os.close(fd);
      return;
    }
    switch (req) {
      case R.VHOST_USER_GET_FEATURES:
        this.#reply(msg, {
          kind: 'u64',
          u64: o.features ?? (1n << 32n) | (1n << 30n),
        });
        break;
      case R.VHOST_USER_SET_FEATURES:
        if (body.kind === 'u64') this.features = body.u64;
        break;
      case R.VHOST_USER_GET_PROTOCOL_FEATURES:
        this.#reply(msg, { kind: 'u64', u64: o.protocolFeatures ?? FAKE_PROTOCOL_FEATURES });
        break;
      case R.VHOST_USER_SET_PROTOCOL_FEATURES:
        if (body.kind === 'u64') this.protocolFeatures = body.u64;
        break;
      case R.VHOST_USER_GET_QUEUE_NUM:
        this.#reply(msg, { kind: 'u64', u64: o.queueNum ?? 1n });
        break;
      case R.VHOST_USER_SET_BACKEND_REQ_FD: {
        this.channel?.close();
        const ch = new UnixStream(fds[0]);
        fds = [];
        this.channel = ch;
        ch.on('data', (chunk, cfds) => this.#onChannelData(chunk, cfds));
        ch.on('error', () => undefined);
        ch.on('close', () => {
          for (const w of this.#replyWaiters.splice(0)) w(null);
        });
        ch.resume();
        break;
      }
      case R.VHOST_USER_SET_VRING_KICK:
      case R.VHOST_USER_SET_VRING_CALL:
      case R.VHOST_USER_SET_VRING_ERR: {
        if (body.kind !== 'vringFile') break;
        const map =
          req === R.VHOST_USER_SET_VRING_KICK
            ? this.kick
            : req === R.VHOST_USER_SET_VRING_CALL
              ? this.call
              : this.err;
        this.#keep(map, body.file.index, fds[0]);
        fds = [];
        break;
      }
      case R.VHOST_USER_SET_VRING_BASE:
        if (body.kind === 'state') this.base.set(body.state.index, body.state.num);
        break;
      case R.VHOST_USER_SET_VRING_ADDR:
        if (body.kind === 'addr') this.addr.set(body.addr.index, body);
        break;
      case R.VHOST_USER_GET_VRING_BASE:
        if (body.kind === 'state') {
          this.#reply(msg, {
            kind: 'state',
            state: { index: body.state.index, num: this.base.get(body.state.index) ?? 0 },
          });
        }
        break;
      case R.VHOST_USER_GET_CONFIG:
        if (body.kind === 'config') {
          const cfg = o.config ?? new Uint8Array(60);
          const region = new Uint8Array(body.config.size);
          region.set(cfg.subarray(body.config.offset, body.config.offset + body.config.size));
          this.#reply(msg, {
            kind: 'config',
            config: { offset: body.config.offset, size: body.config.size, flags: 0, region },
          });
        }
        break;
      case R.VHOST_USER_SET_MEM_TABLE:
        this.memTables++;
        if (o.mapMemory && body.kind === 'memory') {
          this.memory?.unmap();
          this.memory = GuestMemoryMmap.mapRegions(body.memory.regions, fds);
        }
        break;
      case R.VHOST_USER_GET_SHMEM_CONFIG: {
        const sizes = new Array<bigint>(VIRTIO_MAX_SHMEM_REGIONS).fill(0n);
        (o.shmemSizes ?? []).forEach((s, i) => (sizes[i] = s));
        this.#reply(msg, {
          kind: 'shmem',
          shmem: { nregions: sizes.filter((s) => s !== 0n).length, memorySizes: sizes },
        });
        break;
      }
      default:
        break;
    }
    for (const fd of fds) os.close(fd);
    if (msg.needReply) {
      this.#reply(msg, { kind: 'u64', u64: o.failAck?.has(req) ? 1n : 0n });
    }
  }

  #onChannelData(chunk: Buffer, fds: number[]): void {
    const out = this.#chFramer.feed(chunk, fds);
    for (const fd of out.unattachedFds) this.stream.os.close(fd);
    for (const m of out.messages) {
      for (const fd of m.fds) this.stream.os.close(fd);
      let msg: VhostUserDecodedMsg | null = null;
      try {
        msg = decodeVhostUserMsg(m, 'backend');
      } catch {
        // A reply to a request the codec does not know: take its u64 as it is.
        msg =
          m.payload.byteLength === 8
            ? {
                hdr: m.hdr,
                body: { kind: 'u64', u64: m.payload.readBigUInt64LE(0) },
                fds: [],
                reply: true,
                needReply: false,
              }
            : null;
      }
      this.#replyWaiters.shift()?.(msg);
    }
  }

  /**
   * Sends a request on the back-end channel; with NEED_REPLY resolves with
   * the front-end's u64 reply (null if the channel closed first), else
   * with null at once.
   */
  request(
    request: number,
    body: VhostUserBody,
    fds: number[] = [],
    needReply = true,
  ): Promise<bigint | null> {
    const ch = this.channel;
    if (!ch) throw new Error('no back-end channel');
    const flags = VHOST_USER_VERSION | (needReply ? VHOST_USER_NEED_REPLY_MASK : 0);
    const w = encodeVhostUserMsg({ request, flags, body, fds });
    const p = needReply
      ? new Promise<bigint | null>((resolve) =>
          this.#replyWaiters.push((m) =>
            resolve(m === null ? null : m.body.kind === 'u64' ? m.body.u64 : -1n),
          ),
        )
      : Promise.resolve(null);
    if (!ch.send(w.data, w.fds)) return Promise.resolve(null);
    return p;
  }

  /** SHMEM_MAP `fd` as `mmap` says. */
  shmemMap(mmap: VhostUserMMap, fd: number, needReply = true): Promise<bigint | null> {
    return this.request(B.VHOST_USER_BACKEND_SHMEM_MAP, { kind: 'mmap', mmap }, [fd], needReply);
  }

  /** SHMEM_UNMAP. */
  shmemUnmap(mmap: VhostUserMMap, needReply = true): Promise<bigint | null> {
    return this.request(B.VHOST_USER_BACKEND_SHMEM_UNMAP, { kind: 'mmap', mmap }, [], needReply);
  }

  /** Sends raw bytes (and fds) on the back-end channel. */
  sendRaw(data: Uint8Array, fds: number[] = []): boolean {
    return this.channel?.send(data, fds) ?? false;
  }

  /** Waits for the next reply on the back-end channel (null if it closed). */
  nextReply(): Promise<VhostUserDecodedMsg | null> {
    return new Promise((resolve) => this.#replyWaiters.push(resolve));
  }

  /** Signals queue `index` (writes its call eventfd). */
  notify(index: number): void {
    const fd = this.call.get(index);
    if (fd !== undefined) this.stream.os.eventfdWrite(fd, 1n);
  }

  /** Sends a request of the main-socket kind back to the front-end (protocol violation tests). */
  sendUnsolicited(request: number, body: VhostUserBody): void {
    this.#send(request, body);
  }

  #cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    const os = this.stream.os;
    for (const m of [this.kick, this.call, this.err]) {
      for (const fd of m.values()) os.close(fd);
      m.clear();
    }
    this.channel?.close();
    this.channel = null;
    this.memory?.unmap();
    this.memory = null;
  }

  /** Closes the connection and everything the back-end holds. */
  close(): void {
    this.stream.close();
    this.#cleanup();
  }
}
