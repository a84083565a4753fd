/**
 * A {@link UnixStream} as a Node `Duplex`, for stream-based protocols (the
 * QMP monitor) that also need the descriptors a client passes with
 * SCM_RIGHTS: they queue in arrival order and the protocol takes them with
 * {@link UnixStreamDuplex.takeReceivedFd}. Descriptors nobody took are
 * closed when the stream is destroyed; at most {@link MAX_PENDING_FDS}
 * wait at a time (older ones are closed first), so a client cannot make
 * the process hoard descriptors.
 * @module
 */
import { Duplex } from 'node:stream';
import type { UnixStream } from './unix-stream.js';

/** How many received descriptors may wait for a command at once. */
export const MAX_PENDING_FDS = 253;

/** A duplex stream over a connected unix socket, with received fds. */
export class UnixStreamDuplex extends Duplex {
  readonly #sock: UnixStream;
  readonly #fds: number[] = [];
  #ending = false;

  /** @param sock - a connected stream (best opened with `allowHalfOpen`); the duplex owns it. */
  constructor(sock: UnixStream) {
    super({ allowHalfOpen: true });
    this.#sock = sock;
    sock.on('data', (chunk, fds) => {
      for (const fd of fds) this.#fds.push(fd);
      while (this.#fds.length > MAX_PENDING_FDS) sock.os.close(this.#fds.shift()!);
      if (!this.push(chunk)) sock.pause();
    });
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
    sock.on('close', () => {
      if (!this.#ending && !this.destroyed) {
        this.push(null);
        this.destroy();
      }
    });
  }

  /** Takes the oldest received descriptor nobody took yet; the caller owns it. */
  takeReceivedFd(): number | undefined {
    return this.#fds.shift();
  }

  override _read(): void {
    this.#sock.resume();
  }

  /** Bytes handed to the socket that it has not sent yet (not part of `writableLength`). */
  get pendingBytes(): number {
    return this.#sock.pendingBytes;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#sock.send(chunk);
    // While the peer does not read, further writes wait in this stream
    // (`writableLength` grows, `write()` returns false, `'drain'` follows),
    // so a writer that honours backpressure holds a bounded amount.
    if (!this.#sock.throttled || this.#sock.closed) {
      cb();
      return;
    }
    const done = (): void => {
      this.#sock.off('drain', done);
      this.#sock.off('close', done);
      cb();
    };
    this.#sock.on('drain', done);
    this.#sock.on('close', done);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.#ending = true;
    if (this.#sock.closed) {
      cb();
      return;
    }
    this.#sock.once('close', () => cb());
    this.#sock.end();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    for (const fd of this.#fds.splice(0)) this.#sock.os.close(fd);
    this.#sock.close();
    cb(err);
  }
}
