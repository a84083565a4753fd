/**
 * The one error type of the vhost-user codec.
 * @module
 */
import { TsqomError } from '../../../../util/error.js';

/**
 * Why a vhost-user message was rejected.
 *
 * - `bad-flags`: the version bits are not 1, reserved bits are set, or a
 *   reply carries NEED_REPLY.
 * - `oversized`: the header announces a payload larger than allowed.
 * - `too-many-fds`: more than 8 fds arrived for one message.
 * - `truncated`: the stream ended inside a message.
 * - `unknown-request`: no such request id on this channel.
 * - `bad-size`: the payload size does not fit the request.
 * - `bad-fds`: the number of fds does not fit the request.
 * - `bad-payload`: the payload contradicts itself (e.g. a region count
 *   above 8, a config size that disagrees with the message size).
 * - `unexpected-reply`: a reply (or a message where a reply was due) for
 *   another request.
 * - `bad-value`: an encoder argument is out of range.
 */
export type CodecErrorReason =
  | 'bad-flags'
  | 'oversized'
  | 'too-many-fds'
  | 'truncated'
  | 'unknown-request'
  | 'bad-size'
  | 'bad-fds'
  | 'bad-payload'
  | 'unexpected-reply'
  | 'bad-value';

/** Optional details of a {@link CodecError}. */
export interface CodecErrorOptions {
  /** The request id of the offending message, when its header was read. */
  request?: number;
  /**
   * True when the byte stream can't be trusted any more (the framer's
   * errors); false when the whole message was consumed and the stream is
   * still in sync, so a peer may answer with a failure and carry on.
   */
  framing?: boolean;
}

/** A malformed vhost-user message (or a value that can't be encoded). */
export class CodecError extends TsqomError {
  /** What was wrong, as a stable code. */
  readonly reason: CodecErrorReason;
  /** The request id of the offending message, when the header was read. */
  readonly request: number | undefined;
  /** See {@link CodecErrorOptions.framing}. */
  readonly framing: boolean;

  /** Builds an error; `message` is the human text (QEMU's where QEMU has one). */
  constructor(reason: CodecErrorReason, message: string, options: CodecErrorOptions = {}) {
    super(message, 'ERR_VHOST_USER_CODEC');
    this.reason = reason;
    this.request = options.request;
    this.framing = options.framing ?? false;
  }
}
