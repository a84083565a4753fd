/**
 * The front-end's end of the vhost-user back-end channel (QEMU's
 * backend_read and its handlers in hw/virtio/vhost-user.c): requests the
 * back-end sends on the socket given with SET_BACKEND_REQ_FD, above all
 * SHMEM_MAP and SHMEM_UNMAP.
 *
 * Behaviour, as in QEMU v11 unless noted:
 * - SHMEM_MAP / SHMEM_UNMAP run the VIRTIO shmem module's checks (with
 *   QEMU's texts, reported to the sink); the reply (u64 0 or 1, only when
 *   the request had NEED_REPLY) is sent before the memory transaction
 *   commits, so a back-end waiting for it is never behind the
 *   SET_MEM_TABLE the commit causes; a check that fails before the map
 *   begins never opens or commits a transaction.
 * - Other requests are answered with the generic REPLY_ACK (`!!ret`) when
 *   they ask for it; unknown ones with `Received unexpected msg type: %d.`
 *   and a failure reply.
 * - Every fd received with a message is closed once it was handled (a
 *   mapping keeps its own duplicate).
 * - A request that fails validation gets a failure reply and the channel
 *   stays open. QEMU reads any payload size into a zeroed union and
 *   carries on; tsqom checks the size and the fd count of every known
 *   request first (codec.ts) and refuses malformed ones the same way.
 * - The channel closes (without touching the device) when the stream
 *   breaks: end of stream, a header announcing more than
 *   VHOST_USER_PAYLOAD_SIZE bytes, bad version bits, more than 8 fds on
 *   one message, or a reply that cannot be written.
 * @module
 */
import { EventEmitter } from 'node:events';
import { CodecError } from '../protocol/codec-error.js';
import {
  type VhostUserDecodedMsg,
  type VhostUserHeader,
  decodeVhostUserMsg,
  encodeVhostUserReply,
} from '../protocol/codec.js';
import { VhostUserStreamFramer } from '../protocol/stream-framer.js';
import type { VhostUserMMap } from '../protocol/payloads.js';
import { VHOST_USER_NEED_REPLY_MASK, VhostUserBackendRequest as B } from '../protocol/protocol.js';
import type { ErrorReportSink } from '../../../../util/error-report.js';
import type { UnixStream } from '../../../../io/unix-stream.js';

/**
 * What the device behind a front-end does with back-end requests. Each
 * method throws (an Error with QEMU's text) to fail; a missing method
 * fails the request as QEMU does for a device without that support.
 */
export interface VhostUserBackendChannelHandler {
  /**
   * SHMEM_MAP: map `fd` as `req` says. `beforeCommit` must be called
   * exactly once with the outcome before the memory change commits (it
   * sends the reply). The fd stays the channel's: duplicate it to keep it.
   */
  shmemMap?(fd: number, req: VhostUserMMap, beforeCommit: (error: Error | null) => void): void;
  /** SHMEM_UNMAP: as {@link shmemMap}, `beforeCommit` before the mapping goes. */
  shmemUnmap?(req: VhostUserMMap, beforeCommit: (error: Error | null) => void): void;
  /** CONFIG_CHANGE_MSG: the device's config space changed. */
  configChange?(): void;
}

/** Options of a {@link VhostUserBackendChannel}. */
export interface VhostUserBackendChannelOptions {
  /** The front-end it belongs to (for the vhost_dev state handlers look at). */
  frontend?: unknown;
  /** The device's handlers. */
  handler?: VhostUserBackendChannelHandler;
  /** Where reports go. */
  report: ErrorReportSink;
}

/** Events of a {@link VhostUserBackendChannel}. */
export interface VhostUserBackendChannelEvents {
  /** A request was handled: its id, and whether it succeeded. */
  request: [request: number, ok: boolean];
  /** The channel closed. */
  close: [];
}

const EINVAL = 22;
const ENOSYS = 38;

/** The u64 REPLY_ACK value QEMU sends for a handler result: `!!ret`. */
function ack(ok: boolean): bigint {
  return ok ? 0n : 1n;
}

/**
 * The back-end channel of one vhost-user connection. It owns its stream
 * and every fd it receives.
 */
export class VhostUserBackendChannel extends EventEmitter<VhostUserBackendChannelEvents> {
  /** The socket (the front-end's end of the socketpair). */
  readonly stream: UnixStream;
  /** Requests handled (any outcome). */
  handled = 0;
  readonly #framer = new VhostUserStreamFramer();
  readonly #handler: VhostUserBackendChannelHandler | undefined;
  readonly #report: ErrorReportSink;
  #closed = false;

  /** Takes over `stream` and starts reading. */
  constructor(stream: UnixStream, options: VhostUserBackendChannelOptions) {
    super();
    this.stream = stream;
    this.#handler = options.handler;
    this.#report = options.report;
    stream.on('data', (chunk, fds) => this.#onData(chunk, fds));
    stream.on('error', () => {
      // 'close' follows.
    });
    stream.on('close', () => this.#onClose());
    stream.resume();
  }

  /** Whether the channel is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the channel (QEMU's close_backend_channel). Idempotent. */
  close(): void {
    this.stream.close();
  }

  #error(message: string): void {
    this.#report(message, 'error');
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    const out = this.#framer.end();
    for (const fd of out.unattachedFds) this.stream.os.close(fd);
    this.emit('close');
  }

  #onData(chunk: Buffer, fds: number[]): void {
    const out = this.#framer.feed(chunk, fds);
    for (const fd of out.unattachedFds) this.stream.os.close(fd);
    let i = 0;
    try {
      for (; i < out.messages.length; i++) {
        const msg = out.messages[i];
        try {
          if (!this.#closed) this.#dispatch(msg.hdr, msg.payload, msg.fds);
        } finally {
          // fdcleanup: whatever happened, the received fds are closed.
          for (const fd of msg.fds) this.stream.os.close(fd);
        }
      }
    } finally {
      for (i++; i < out.messages.length; i++) {
        for (const fd of out.messages[i].fds) this.stream.os.close(fd);
      }
    }
    if (out.error !== null && !this.#closed) {
      this.#error(out.error.message);
      this.close();
    }
  }

  /** vhost_user_send_resp: the reply to `hdr` with a u64; false (and the channel closed) if it cannot be written. */
  #sendReply(hdr: VhostUserHeader, value: bigint): boolean {
    if (this.#closed) return false;
    const wire = encodeVhostUserReply(hdr, { kind: 'u64', u64: value });
    if (!this.stream.send(wire.data)) {
      this.#error('Unable to write to socket: Broken pipe');
      this.close();
      return false;
    }
    return true;
  }

  #dispatch(hdr: VhostUserHeader, payload: Buffer, fds: number[]): void {
    this.handled++;
    const needReply = (hdr.flags & VHOST_USER_NEED_REPLY_MASK) !== 0;
    let msg: VhostUserDecodedMsg;
    try {
      msg = decodeVhostUserMsg({ hdr, payload, fds }, 'backend');
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.#error(e.message);
      if (needReply) this.#sendReply(hdr, ack(false));
      this.emit('request', hdr.request, false);
      return;
    }
    if (msg.reply) {
      // A reply on the channel where the front-end sends none: refuse it.
      this.#error(`Received unexpected msg type: ${hdr.request}.`);
      this.emit('request', hdr.request, false);
      return;
    }
    switch (hdr.request) {
      case B.VHOST_USER_BACKEND_SHMEM_MAP:
        this.#shmemMap(msg);
        return;
      case B.VHOST_USER_BACKEND_SHMEM_UNMAP:
        this.#shmemUnmap(msg);
        return;
      default: {
        const ret = this.#generic(msg);
        if (needReply) this.#sendReply(hdr, ack(ret === 0));
        this.emit('request', hdr.request, ret === 0);
      }
    }
  }

  /** The requests answered with the generic REPLY_ACK; returns QEMU's `ret`. */
  #generic(msg: VhostUserDecodedMsg): number {
    switch (msg.hdr.request) {
      case B.VHOST_USER_BACKEND_CONFIG_CHANGE_MSG:
        if (!this.#handler?.configChange) return -ENOSYS;
        try {
          this.#handler.configChange();
          return 0;
        } catch (e) {
          this.#error(e instanceof Error ? e.message : String(e));
          return -EINVAL;
        }
      case B.VHOST_USER_BACKEND_IOTLB_MSG:
      case B.VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG:
      case B.VHOST_USER_BACKEND_SHARED_OBJECT_ADD:
      case B.VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE:
      case B.VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP:
        // Features tsqom does not negotiate (IOMMU, host notifiers, shared objects).
        return -EINVAL;
      default:
        this.#error(`Received unexpected msg type: ${msg.hdr.request}.`);
        return -EINVAL;
    }
  }

  #reportChain(e: unknown): void {
    if (!(e instanceof Error)) {
      this.#error(String(e));
      return;
    }
    // The inner error (QEMU reports it where it happens) comes first.
    if (e.cause instanceof Error) this.#error(e.cause.message);
    this.#error(e.message);
  }

  #shmemMap(msg: VhostUserDecodedMsg): void {
    const req = (msg.body as { kind: 'mmap'; mmap: VhostUserMMap }).mmap;
    const fd = msg.fds.length > 0 ? msg.fds[0] : -1;
    let replied = false;
    let replyOk = true;
    let outcome: Error | null = null;
    const beforeCommit = (error: Error | null): void => {
      if (replied) return;
      replied = true;
      outcome = error;
      if (error) this.#reportChain(error);
      if (msg.needReply) replyOk = this.#sendReply(msg.hdr, ack(error === null));
    };
    try {
      if (!this.#handler?.shmemMap) {
        beforeCommit(
          new Error(`Device has no VIRTIO Shared Memory Regions. Requested ID: ${req.shmid}`),
        );
      } else if (fd < 0) {
        beforeCommit(new Error('Bad fd for map'));
      } else {
        this.#handler.shmemMap(fd, req, beforeCommit);
      }
    } catch (e) {
      // The handler reported through beforeCommit, or failed before calling it.
      if (!replied) beforeCommit(e instanceof Error ? e : new Error(String(e)));
    }
    if (!replied) beforeCommit(new Error('SHMEM_MAP was not answered'));
    this.emit('request', msg.hdr.request, outcome === null && replyOk);
  }

  #shmemUnmap(msg: VhostUserDecodedMsg): void {
    const req = (msg.body as { kind: 'mmap'; mmap: VhostUserMMap }).mmap;
    let replied = false;
    let outcome: Error | null = null;
    const beforeCommit = (error: Error | null): void => {
      if (replied) return;
      replied = true;
      outcome = error;
      if (error) this.#reportChain(error);
      if (msg.needReply && !this.#sendReply(msg.hdr, ack(error === null)) && error === null) {
        // QEMU frees the mapping only after a successful reply.
        throw new Error('reply failed');
      }
    };
    try {
      if (!this.#handler?.shmemUnmap) {
        beforeCommit(
          new Error(`Device has no VIRTIO Shared Memory Regions. Requested ID: ${req.shmid}`),
        );
      } else {
        this.#handler.shmemUnmap(req, beforeCommit);
      }
    } catch (e) {
      if (!replied) beforeCommit(e instanceof Error ? e : new Error(String(e)));
    }
    if (!replied) beforeCommit(new Error('SHMEM_UNMAP was not answered'));
    this.emit('request', msg.hdr.request, outcome === null);
  }
}
