/**
 * Cuts a vhost-user byte stream (a SOCK_STREAM unix socket) into messages
 * and attaches the fds that arrived with it.
 *
 * The fds fed with a chunk are attached to the message that the chunk's
 * first byte belongs to. That is right when each chunk starts at a message
 * boundary (reading one header, then one payload, as QEMU and
 * libvhost-user do), but not for arbitrary recvmsg reads: Linux may return
 * a message sent without fds followed by a later one together with that
 * later message's fds. For socket reads use {@link VhostUserStreamFramer},
 * which attaches a read's fds to the last message starting in it.
 *
 * The framer owns every fd it is handed until it gives it back, either
 * attached to a complete message or in `unattachedFds` for the caller to
 * close. Nothing is ever dropped.
 * @module
 */
import { CodecError } from './codec-error.js';
import {
  type VhostUserChannel,
  type VhostUserHeader,
  type VhostUserMsg,
  vhostUserExpectedFlags,
  vhostUserFlagsVersionOk,
  vhostUserMaxPayloadSize,
} from './codec.js';
import {
  VHOST_MEMORY_BASELINE_NREGIONS,
  VHOST_USER_HDR_SIZE,
  VHOST_USER_PAYLOAD_SIZE,
} from './protocol.js';

/** Options of a {@link VhostUserFramer}. */
export interface VhostUserFramerOptions {
  /**
   * The channel the stream carries. With it, a payload is bounded by what
   * its request id allows ({@link vhostUserMaxPayloadSize}); without it, by
   * VHOST_USER_PAYLOAD_SIZE.
   */
  channel?: VhostUserChannel;
}

/** What one {@link VhostUserFramer.feed} (or end) produced. */
export interface VhostUserFramerOutput {
  /** Complete messages, in stream order; their fds now belong to the caller. */
  messages: VhostUserMsg[];
  /** Fds the framer could not attach; the caller must close them. */
  unattachedFds: number[];
  /** The protocol error that broke the stream, if any (close the connection). */
  error: CodecError | null;
}

/** Incremental vhost-user message framer (header split, payload split, many per chunk). */
export class VhostUserFramer {
  readonly #channel: VhostUserChannel | undefined;
  readonly #hdrBuf = Buffer.alloc(VHOST_USER_HDR_SIZE);
  #hdrLen = 0;
  #hdr: VhostUserHeader | null = null;
  #payload: Buffer | null = null;
  #payloadLen = 0;
  #fds: number[] = [];
  #error: CodecError | null = null;
  #ended = false;

  /** Creates a framer for one connection. */
  constructor(options: VhostUserFramerOptions = {}) {
    this.#channel = options.channel;
  }

  /** The error that broke the stream, or null. */
  get error(): CodecError | null {
    return this.#error;
  }

  /** Bytes of an incomplete message held so far. */
  get bufferedBytes(): number {
    return this.#hdrLen + this.#payloadLen;
  }

  /** Fds held for the incomplete message. */
  get bufferedFds(): number {
    return this.#fds.length;
  }

  /**
   * Feeds a chunk of the stream and its fds. The fds attach to the message
   * that contains the chunk's first byte; with an empty chunk they have
   * nothing to attach to and come straight back. After an error, or after
   * {@link end}, everything comes straight back with the error.
   */
  feed(chunk: Uint8Array, fds: readonly number[] = []): VhostUserFramerOutput {
    const out: VhostUserFramerOutput = { messages: [], unattachedFds: [], error: null };
    if (this.#error !== null || this.#ended) {
      out.unattachedFds.push(...fds);
      out.error =
        this.#error ??
        new CodecError('truncated', 'vhost-user stream fed after its end', { framing: true });
      return out;
    }
    if (fds.length > 0) {
      if (chunk.byteLength === 0) {
        out.unattachedFds.push(...fds);
      } else {
        this.#fds.push(...fds);
        if (this.#fds.length > VHOST_MEMORY_BASELINE_NREGIONS) {
          return this.#fail(
            out,
            new CodecError(
              'too-many-fds',
              `Too many file descriptors for one message: ${this.#fds.length}, ` +
                `at most ${VHOST_MEMORY_BASELINE_NREGIONS}`,
              { request: this.#hdr?.request, framing: true },
            ),
          );
        }
      }
    }
    let off = 0;
    const len = chunk.byteLength;
    while (off < len) {
      if (this.#hdr === null) {
        const n = Math.min(VHOST_USER_HDR_SIZE - this.#hdrLen, len - off);
        this.#hdrBuf.set(chunk.subarray(off, off + n), this.#hdrLen);
        this.#hdrLen += n;
        off += n;
        if (this.#hdrLen < VHOST_USER_HDR_SIZE) break;
        const hdr: VhostUserHeader = {
          request: this.#hdrBuf.readUInt32LE(0),
          flags: this.#hdrBuf.readUInt32LE(4),
          size: this.#hdrBuf.readUInt32LE(8),
        };
        if (!vhostUserFlagsVersionOk(hdr.flags)) {
          return this.#fail(
            out,
            new CodecError(
              'bad-flags',
              `Failed to read msg header. Flags 0x${hdr.flags.toString(16)} instead of ` +
                `0x${vhostUserExpectedFlags(hdr.flags).toString(16)}.`,
              { request: hdr.request, framing: true },
            ),
          );
        }
        const max =
          this.#channel === undefined
            ? VHOST_USER_PAYLOAD_SIZE
            : vhostUserMaxPayloadSize(hdr.request, this.#channel);
        if (hdr.size > max) {
          return this.#fail(
            out,
            new CodecError(
              'oversized',
              `Failed to read msg header. Size ${hdr.size} exceeds the maximum ${max}.`,
              { request: hdr.request, framing: true },
            ),
          );
        }
        this.#hdr = hdr;
        this.#payload = Buffer.alloc(hdr.size);
        this.#payloadLen = 0;
      } else {
        const payload = this.#payload as Buffer;
        const n = Math.min(payload.byteLength - this.#payloadLen, len - off);
        payload.set(chunk.subarray(off, off + n), this.#payloadLen);
        this.#payloadLen += n;
        off += n;
      }
      if (this.#hdr !== null && this.#payloadLen === this.#hdr.size) {
        out.messages.push({ hdr: this.#hdr, payload: this.#payload as Buffer, fds: this.#fds });
        this.#fds = [];
        this.#hdr = null;
        this.#payload = null;
        this.#payloadLen = 0;
        this.#hdrLen = 0;
      }
    }
    return out;
  }

  /**
   * The stream ended (EOF, or the caller closes it). An incomplete message
   * is a `truncated` error; its fds come back in `unattachedFds`.
   */
  end(): VhostUserFramerOutput {
    const out: VhostUserFramerOutput = { messages: [], unattachedFds: [], error: this.#error };
    if (this.#ended || this.#error !== null) {
      this.#ended = true;
      return out;
    }
    this.#ended = true;
    if (this.#hdr !== null) {
      return this.#fail(
        out,
        new CodecError(
          'truncated',
          `Failed to read msg payload. Read ${this.#payloadLen} instead of ${this.#hdr.size}.`,
          { request: this.#hdr.request, framing: true },
        ),
      );
    }
    if (this.#hdrLen > 0 || this.#fds.length > 0) {
      return this.#fail(
        out,
        new CodecError(
          'truncated',
          `Failed to read msg header. Read ${this.#hdrLen} instead of ${VHOST_USER_HDR_SIZE}.`,
          { framing: true },
        ),
      );
    }
    return out;
  }

  #fail(out: VhostUserFramerOutput, error: CodecError): VhostUserFramerOutput {
    this.#error = error;
    out.error = error;
    out.unattachedFds.push(...this.#fds);
    this.#fds = [];
    this.#hdr = null;
    this.#payload = null;
    this.#payloadLen = 0;
    this.#hdrLen = 0;
    return out;
  }
}
