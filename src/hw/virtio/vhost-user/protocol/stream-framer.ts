/**
 * Attaching SCM_RIGHTS descriptors to the right vhost-user message when
 * one recvmsg returns several messages.
 *
 * On a unix stream socket, Linux's recvmsg keeps copying from queued
 * segments until it has copied one that carried descriptors (and then
 * stops), so one read can return message A (sent without fds) followed by
 * message B together with B's fds. The descriptors therefore belong to the
 * last message that starts in the bytes returned, not to the first byte
 * (which {@link VhostUserFramer} assumes, and which holds only when a read
 * starts one message). QEMU and libvhost-user avoid the question by
 * reading exactly one header, then exactly one payload.
 *
 * {@link VhostUserStreamFramer} wraps VhostUserFramer: it follows the
 * message boundaries itself and feeds the bytes before the last message
 * start without descriptors and the rest with them.
 * @module
 */
import {
  VhostUserFramer,
  type VhostUserFramerOptions,
  type VhostUserFramerOutput,
} from './framer.js';
import { VHOST_USER_HDR_SIZE } from './protocol.js';

/** A {@link VhostUserFramer} that attaches each read's fds to the last message starting in it. */
export class VhostUserStreamFramer {
  readonly #inner: VhostUserFramer;
  /** Header bytes of the current message seen so far (0: at a boundary). */
  #hdrLen = 0;
  readonly #hdr = Buffer.alloc(VHOST_USER_HDR_SIZE);
  /** Payload bytes of the current message still to come. */
  #payloadLeft = 0;

  /** A framer for one connection (options as VhostUserFramer's). */
  constructor(options: VhostUserFramerOptions = {}) {
    this.#inner = new VhostUserFramer(options);
  }

  /** The wrapped framer (for its state). */
  get inner(): VhostUserFramer {
    return this.#inner;
  }

  /** Bytes of an incomplete message held so far. */
  get bufferedBytes(): number {
    return this.#inner.bufferedBytes;
  }

  /** Where the last message starting in `chunk` starts, or -1; advances the boundary tracking. */
  #lastStart(chunk: Uint8Array): number {
    let last = -1;
    let off = 0;
    const len = chunk.byteLength;
    while (off < len) {
      if (this.#payloadLeft > 0) {
        const n = Math.min(this.#payloadLeft, len - off);
        this.#payloadLeft -= n;
        off += n;
        continue;
      }
      if (this.#hdrLen === 0) last = off;
      const n = Math.min(VHOST_USER_HDR_SIZE - this.#hdrLen, len - off);
      this.#hdr.set(chunk.subarray(off, off + n), this.#hdrLen);
      this.#hdrLen += n;
      off += n;
      if (this.#hdrLen === VHOST_USER_HDR_SIZE) {
        this.#payloadLeft = this.#hdr.readUInt32LE(8);
        this.#hdrLen = 0;
      }
    }
    return last;
  }

  /** Feeds one recvmsg's bytes and fds; same contract as {@link VhostUserFramer.feed}. */
  feed(chunk: Uint8Array, fds: readonly number[] = []): VhostUserFramerOutput {
    const last = this.#lastStart(chunk);
    if (fds.length === 0 || last <= 0) return this.#inner.feed(chunk, fds);
    const a = this.#inner.feed(chunk.subarray(0, last));
    if (a.error !== null) {
      a.unattachedFds.push(...fds);
      return a;
    }
    const b = this.#inner.feed(chunk.subarray(last), fds);
    return {
      messages: [...a.messages, ...b.messages],
      unattachedFds: [...a.unattachedFds, ...b.unattachedFds],
      error: b.error,
    };
  }

  /** The stream ended; same contract as {@link VhostUserFramer.end}. */
  end(): VhostUserFramerOutput {
    return this.#inner.end();
  }
}
