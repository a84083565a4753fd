/**
 * A small SOCK_STREAM unix socket with SCM_RIGHTS fd passing, on the Node
 * event loop, over {@link HostOs} (nonblocking sockets and a libuv
 * readiness watcher). Node's own `net` sockets cannot send or receive
 * descriptors, which vhost-user needs on both ends, so the front-end and
 * the back-end library share this one.
 *
 * - {@link UnixStream}: a connected socket. `send(data, fds)` passes the
 *   fds with the first byte of `data`; after `resume()`, `'data'` events deliver each
 *   recvmsg's bytes together with the fds that arrived with them; `'end'`
 *   (orderly EOF), `'error'` and, exactly once, `'close'`.
 * - {@link UnixListener}: a listening socket that emits `'connection'`.
 *
 * Backpressure: a stream stops reading while more than
 * {@link UnixStreamOptions.maxPendingBytes} (or
 * {@link UnixStreamOptions.maxPendingFds}) wait to be sent, and reads
 * again once the peer has taken most of it. A peer that sends requests
 * but never reads the replies therefore makes the stream hold a bounded
 * amount, never an ever-growing queue; the rest of the process is not
 * affected.
 *
 * A peer that vanishes (the connection is reset, or a write finds it gone)
 * is a hang-up like an orderly close: `'end'`, then `'close'`, and no
 * `'error'`. libuv reports a socket error condition as `EBADF`; the stream
 * asks the socket for the real error instead of passing that on.
 *
 * Ownership of descriptors: fds passed to `send` stay the caller's (if a
 * message has to wait for the socket to drain, the stream sends duplicates
 * and closes them itself); fds delivered by `'data'` become the listener's,
 * which must close them. Nothing is closed behind anyone's back except the
 * socket itself and the duplicates.
 * @module
 */
import { hostOs } from '../util/machine-context.js';
import 'reflect-metadata';
import { EventEmitter } from 'node:events';
import { HostOs } from '../native/host.js';
import { OsError } from '../native/errors.js';
import { connectionReleased } from '../util/memory-release.js';
import type { NativeFdWatcher } from '../native/index.js';
import {
  AF_UNIX,
  SHUT_RDWR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ERROR,
  UV_READABLE,
  UV_WRITABLE,
} from '../native/constants.js';

/**
 * How a message protocol is framed, so the stream can read one message at
 * a time. It matters for fds: Linux glues the bytes of several sendmsg
 * calls into one recvmsg, up to and including the first one that carried
 * fds, so a large read returns fds that belong to a message in the
 * middle (or at the end) of the chunk. Reading the header, then exactly
 * the rest of the message, as QEMU and libvhost-user do, makes every
 * chunk part of a single message, and its fds that message's.
 */
export interface UnixStreamFraming {
  /** Bytes of a message header. */
  headerSize: number;
  /** Bytes that follow this header (the header's length field). */
  payloadSize(header: Uint8Array): number;
}

/** vhost-user framing: a 12-byte header whose last u32 is the payload size. */
export const VHOST_USER_STREAM_FRAMING: UnixStreamFraming = {
  headerSize: 12,
  payloadSize: (h) => new DataView(h.buffer, h.byteOffset, h.byteLength).getUint32(8, true),
};

/** Options shared by {@link UnixStream} and {@link UnixListener}. */
export interface UnixStreamOptions {
  /**
   * Read one message at a time (see {@link UnixStreamFraming}); without
   * it the stream reads whatever is there, up to `readSize`.
   */
  framing?: UnixStreamFraming;
  /** The OS layer; default: the machine context's (`hostOs()`). */
  os?: HostOs;
  /** Bytes asked of one recvmsg; default 64 KiB. */
  readSize?: number;
  /**
   * Fds accepted per recvmsg; default 253 (what the kernel can pass in one
   * message), so that none is lost before the protocol layer judges them.
   */
  maxFds?: number;
  /**
   * Reading stops while more than this many bytes wait to be sent (each
   * queued message counting 256 bytes more than its length, for its
   * bookkeeping), and resumes once no more than a quarter of it is left; default
   * {@link UNIX_STREAM_MAX_PENDING_BYTES}.
   */
  maxPendingBytes?: number;
  /** As {@link maxPendingBytes}, for duplicated fds waiting to be sent; default {@link UNIX_STREAM_MAX_PENDING_FDS}. */
  maxPendingFds?: number;
  /**
   * On EOF, stop reading and emit `'end'` but keep the socket open for
   * writing until {@link UnixStream.end} or {@link UnixStream.close}
   * (a request/reply protocol answers what arrived before the EOF).
   * Default false: EOF closes the stream.
   */
  allowHalfOpen?: boolean;
}

/** Default {@link UnixStreamOptions.maxPendingBytes}: 1 MiB. */
export const UNIX_STREAM_MAX_PENDING_BYTES = 1024 * 1024;
/** Default {@link UnixStreamOptions.maxPendingFds}. */
export const UNIX_STREAM_MAX_PENDING_FDS = 64;

/** Events of a {@link UnixStream}. */
export interface UnixStreamEvents {
  /** Bytes of one recvmsg and the fds that came with them (the listener owns the fds). */
  data: [chunk: Buffer, fds: number[]];
  /** The peer closed its end (EOF); `close` follows. */
  end: [];
  /** A socket error; `close` follows. */
  error: [error: Error];
  /** What was queued to send has (mostly) gone out: the stream is no longer throttled. */
  drain: [];
  /** The socket is closed; emitted exactly once. */
  close: [];
}

interface Pending {
  data: Buffer;
  fds: number[];
}

/** What one queued message costs beyond its bytes (objects, buffer headers), for the limit. */
const PENDING_OVERHEAD = 256;

const EAGAIN = 11;
const EPIPE = 32;
const ECONNRESET = 104;
const EINPROGRESS = 115;

/** Errors that only say the peer is gone. */
function isHangUp(errno: number | undefined): boolean {
  return errno === EPIPE || errno === ECONNRESET;
}

function errnoOf(e: unknown): number | undefined {
  return e instanceof OsError ? e.errno : undefined;
}

/**
 * A connected SOCK_STREAM unix socket with fd passing. Reading starts with
 * {@link resume} (attach the `'data'` listener first) and stops with
 * {@link pause}; sending works at any time.
 */
export class UnixStream extends EventEmitter<UnixStreamEvents> {
  /** The OS layer this stream uses. */
  readonly os: HostOs;
  readonly #readSize: number;
  readonly #maxFds: number;
  readonly #maxPendingBytes: number;
  readonly #maxPendingFds: number;
  #pendingBytes = 0;
  /** What the queue costs: its bytes plus a per-message overhead (many tiny replies cost more than their bytes). */
  #pendingCost = 0;
  #pendingFds = 0;
  /** The most the send queue cost at once. */
  #peakCost = 0;
  /** Reading is held back until the peer drains what is queued. */
  #throttled = false;
  readonly #allowHalfOpen: boolean;
  #eof = false;
  #framing: UnixStreamFraming | undefined;
  /** With framing: the header bytes read so far, and the payload bytes still due. */
  #hdr: Buffer;
  #hdrLen = 0;
  #payloadLeft = 0;
  #fd: number;
  #watcher: NativeFdWatcher | null = null;
  #watchEvents = 0;
  #queue: Pending[] = [];
  #reading = false;
  #closed = false;
  #endAfterFlush = false;
  #inCallback = false;

  /**
   * Adopts a connected socket; the stream owns it from now on (it sets
   * O_NONBLOCK and closes it in {@link close}).
   */
  constructor(fd: number, options: UnixStreamOptions = {}) {
    super();
    this.os = options.os ?? hostOs();
    this.#readSize = options.readSize ?? 65536;
    this.#maxFds = options.maxFds ?? 253;
    this.#maxPendingBytes = options.maxPendingBytes ?? UNIX_STREAM_MAX_PENDING_BYTES;
    this.#maxPendingFds = options.maxPendingFds ?? UNIX_STREAM_MAX_PENDING_FDS;
    this.#allowHalfOpen = options.allowHalfOpen ?? false;
    this.#framing = options.framing;
    this.#hdr = Buffer.alloc(options.framing?.headerSize ?? 0);
    this.#fd = fd;
    this.os.setNonBlocking(fd, true);
  }

  /** Connects to a listening socket at `path`. */
  static connect(path: string, options: UnixStreamOptions = {}): Promise<UnixStream> {
    const os = options.os ?? hostOs();
    const fd = os.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
    try {
      os.connect(fd, path);
    } catch (e) {
      const errno = errnoOf(e);
      if (errno !== EINPROGRESS && errno !== EAGAIN) {
        os.close(fd);
        return Promise.reject(e as Error);
      }
      // The backlog is full: wait until the socket is writable, then read SO_ERROR.
      return new Promise((resolve, reject) => {
        const w = os.watch(fd, UV_WRITABLE, (err) => {
          w.close();
          const so = err === null ? os.getsockoptInt(fd, SOL_SOCKET, SO_ERROR) : err.errno;
          if (so !== 0) {
            os.close(fd);
            reject(new OsError(so, 'connect'));
          } else {
            resolve(new UnixStream(fd, { ...options, os }));
          }
        });
        w.start();
      });
    }
    return Promise.resolve(new UnixStream(fd, { ...options, os }));
  }

  /** A connected pair (`socketpair(2)`), e.g. for tests. */
  static pair(options: UnixStreamOptions = {}): [UnixStream, UnixStream] {
    const os = options.os ?? hostOs();
    const [a, b] = os.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
    return [new UnixStream(a, { ...options, os }), new UnixStream(b, { ...options, os })];
  }

  /** The framing reads follow (see {@link UnixStreamOptions.framing}). */
  get framing(): UnixStreamFraming | undefined {
    return this.#framing;
  }

  /** Changes the framing; only between messages (throws RangeError inside one). */
  set framing(framing: UnixStreamFraming | undefined) {
    if (this.#hdrLen > 0 || this.#payloadLeft > 0) {
      throw new RangeError('cannot change the framing in the middle of a message');
    }
    this.#framing = framing;
    this.#hdr = Buffer.alloc(framing?.headerSize ?? 0);
  }

  /** The socket's descriptor, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** True once {@link close} ran (or the stream closed itself). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes waiting to be sent. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** True while reading is held back because too much waits to be sent (see the module notes). */
  get throttled(): boolean {
    return this.#throttled;
  }

  #enqueue(p: Pending): void {
    this.#queue.push(p);
    this.#pendingBytes += p.data.byteLength;
    this.#pendingCost += p.data.byteLength + PENDING_OVERHEAD;
    if (this.#pendingCost > this.#peakCost) this.#peakCost = this.#pendingCost;
    this.#pendingFds += p.fds.length;
    if (this.#pendingCost > this.#maxPendingBytes || this.#pendingFds > this.#maxPendingFds) {
      this.#throttled = true;
    }
  }

  /**
   * Sends `data` with `fds` attached to its first byte. What the socket
   * does not take at once is queued (with duplicated fds) and sent when it
   * drains. Returns false when the stream is closed (nothing is sent).
   * A write error closes the stream (`'error'`, then `'close'`).
   */
  send(data: Uint8Array, fds: readonly number[] = []): boolean {
    if (this.#closed) return false;
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.#queue.length === 0) {
      let sent: number;
      try {
        sent = this.os.sendmsg(this.#fd, buf, fds);
      } catch (e) {
        if (errnoOf(e) !== EAGAIN) {
          this.#fail(e as Error);
          return false;
        }
        sent = -1;
      }
      if (sent === buf.byteLength) return true;
      if (sent >= 0) {
        // The fds went with the first byte; the rest follows without them.
        this.#enqueue({ data: Buffer.from(buf.subarray(sent)), fds: [] });
      } else {
        this.#enqueue({ data: Buffer.from(buf), fds: this.#dupAll(fds) });
      }
    } else {
      this.#enqueue({ data: Buffer.from(buf), fds: this.#dupAll(fds) });
    }
    this.#updateWatch();
    return true;
  }

  #dupAll(fds: readonly number[]): number[] {
    const out: number[] = [];
    try {
      for (const fd of fds) out.push(this.os.dup(fd));
    } catch (e) {
      for (const fd of out) this.os.close(fd);
      throw e;
    }
    return out;
  }

  /** Starts (or restarts) reading. */
  resume(): void {
    if (this.#closed || this.#reading || this.#eof) return;
    this.#reading = true;
    this.#updateWatch();
  }

  /** Stops reading until {@link resume}. */
  pause(): void {
    if (this.#closed || !this.#reading) return;
    this.#reading = false;
    this.#updateWatch();
  }

  /**
   * Closes once everything queued was sent (or at once if nothing is);
   * reading stops now.
   */
  end(): void {
    if (this.#closed) return;
    this.#reading = false;
    if (this.#queue.length === 0) {
      this.close();
      return;
    }
    this.#endAfterFlush = true;
    this.#updateWatch();
  }

  /**
   * Closes the socket now: stops the watcher, closes the descriptor and any
   * duplicated fds still queued, and emits `'close'`. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reading = false;
    if (this.#watcher !== null) {
      this.#watcher.close();
      this.#watcher = null;
    }
    for (const p of this.#queue) for (const fd of p.fds) this.os.close(fd);
    this.#queue = [];
    this.#pendingBytes = 0;
    this.#pendingCost = 0;
    this.#pendingFds = 0;
    const fd = this.#fd;
    this.#fd = -1;
    try {
      this.os.shutdown(fd, SHUT_RDWR);
    } catch {
      // Not connected any more: nothing to shut down.
    }
    this.os.close(fd);
    // A peer that left a large queue behind: give that memory back.
    connectionReleased(this.#peakCost, this.os);
    this.emit('close');
  }

  /** Disposes by closing (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    if (isHangUp(errnoOf(error))) {
      this.emit('end');
    } else if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    }
    this.close();
  }

  /**
   * libuv turns any error condition on the socket into EBADF: ask the
   * socket what it really is (a reset peer, most of the time).
   */
  #pollError(err: OsError): Error {
    let so = 0;
    try {
      so = this.os.getsockoptInt(this.#fd, SOL_SOCKET, SO_ERROR);
    } catch {
      return err;
    }
    // No pending error left: the condition was the peer's hang-up.
    return new OsError(so === 0 ? ECONNRESET : so, so === 0 ? 'recvmsg' : 'socket');
  }

  #updateWatch(): void {
    if (this.#closed) return;
    const events =
      (this.#reading && !this.#throttled ? UV_READABLE : 0) |
      (this.#queue.length > 0 ? UV_WRITABLE : 0);
    // Restarting a libuv poll handle costs an epoll_ctl: only when the set changes.
    if (events === this.#watchEvents) return;
    this.#watchEvents = events;
    if (events === 0) {
      this.#watcher?.stop();
      return;
    }
    this.#watcher ??= this.os.watch(this.#fd, events, (err, ev) => this.#onPoll(err, ev));
    this.#watcher.start(events);
  }

  #onPoll(err: OsError | null, events: number): void {
    if (this.#closed || this.#inCallback) return;
    if (err !== null) {
      this.#fail(this.#pollError(err));
      return;
    }
    this.#inCallback = true;
    try {
      if (events & UV_WRITABLE) this.#flush();
      if (!this.#closed && this.#reading && !this.#throttled && events & UV_READABLE) this.#read();
    } finally {
      this.#inCallback = false;
    }
    this.#updateWatch();
  }

  #flush(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      const p = this.#queue[0];
      let sent: number;
      try {
        sent = this.os.sendmsg(this.#fd, p.data, p.fds);
      } catch (e) {
        if (errnoOf(e) === EAGAIN) break;
        this.#fail(e as Error);
        return;
      }
      for (const fd of p.fds) this.os.close(fd);
      this.#pendingFds -= p.fds.length;
      p.fds = [];
      this.#pendingBytes -= sent;
      this.#pendingCost -= sent;
      if (sent < p.data.byteLength) {
        p.data = p.data.subarray(sent);
        break;
      }
      this.#pendingCost -= PENDING_OVERHEAD;
      this.#queue.shift();
    }
    if (
      this.#throttled &&
      this.#pendingCost <= this.#maxPendingBytes / 4 &&
      this.#pendingFds <= this.#maxPendingFds / 4
    ) {
      this.#throttled = false;
      this.emit('drain');
    }
    if (this.#queue.length === 0 && this.#endAfterFlush) this.close();
  }

  /** Moves the framing state past `data` (which never spans two messages). */
  #advance(framing: UnixStreamFraming, data: Buffer): void {
    if (this.#payloadLeft > 0) {
      this.#payloadLeft -= data.byteLength;
      return;
    }
    data.copy(this.#hdr, this.#hdrLen);
    this.#hdrLen += data.byteLength;
    if (this.#hdrLen === framing.headerSize) {
      this.#hdrLen = 0;
      const n = framing.payloadSize(this.#hdr);
      this.#payloadLeft = Number.isSafeInteger(n) && n > 0 ? n : 0;
    }
  }

  #read(): void {
    // A bounded number of reads per wake-up keeps other descriptors served.
    for (let i = 0; i < 64 && this.#reading && !this.#throttled && !this.#closed; i++) {
      let want = this.#readSize;
      const framing = this.#framing;
      if (framing !== undefined) {
        want =
          this.#payloadLeft > 0
            ? Math.min(this.#payloadLeft, this.#readSize)
            : framing.headerSize - this.#hdrLen;
      }
      let r;
      try {
        r = this.os.recvmsg(this.#fd, want, this.#maxFds);
      } catch (e) {
        this.#fail(e as Error);
        return;
      }
      if (r === null) return;
      if (r.data.byteLength === 0) {
        for (const fd of r.fds) this.os.close(fd);
        if (this.#allowHalfOpen) {
          this.#eof = true;
          this.#reading = false;
          this.#updateWatch();
          this.emit('end');
          return;
        }
        this.emit('end');
        this.close();
        return;
      }
      if (r.truncatedFds) {
        for (const fd of r.fds) this.os.close(fd);
        this.#fail(new OsError(105 /* ENOBUFS */, 'recvmsg'));
        return;
      }
      const short = r.data.byteLength < want;
      if (framing !== undefined) this.#advance(framing, r.data);
      this.emit('data', r.data, r.fds);
      // The socket is (most likely) drained, or a message is complete: the
      // level-triggered watcher calls again if more is there, which saves
      // a recvmsg that would only say EAGAIN.
      if (short || (framing !== undefined && this.#hdrLen === 0 && this.#payloadLeft === 0)) {
        return;
      }
    }
  }
}

/** Events of a {@link UnixListener}. */
export interface UnixListenerEvents {
  /** A new connection (already accepted, nonblocking, close-on-exec). */
  connection: [stream: UnixStream];
  /** accept() failed for a reason other than EAGAIN. */
  error: [error: Error];
  /** The listener is closed; emitted once. */
  close: [];
}

/** Options of {@link UnixListener.listen}. */
export interface UnixListenerOptions extends UnixStreamOptions {
  /** listen(2) backlog; default 16. */
  backlog?: number;
  /** Remove an existing socket file at the path first; default false. */
  unlinkExisting?: boolean;
}

/** A listening unix socket. */
export class UnixListener extends EventEmitter<UnixListenerEvents> {
  /** The OS layer. */
  readonly os: HostOs;
  /** The socket path ('' when adopted from an fd without one). */
  readonly path: string;
  readonly #options: UnixStreamOptions;
  readonly #ownsPath: boolean;
  #fd: number;
  #watcher: NativeFdWatcher | null = null;
  #closed = false;
  #paused = false;

  private constructor(fd: number, path: string, ownsPath: boolean, options: UnixStreamOptions) {
    super();
    this.os = options.os ?? hostOs();
    this.#fd = fd;
    this.path = path;
    this.#ownsPath = ownsPath;
    this.#options = { ...options, os: this.os };
    this.#watcher = this.os.watch(fd, UV_READABLE, (err) => this.#onReadable(err));
    this.#watcher.start();
  }

  /** Binds and listens at `path`; the path is unlinked again by {@link close}. */
  static listen(path: string, options: UnixListenerOptions = {}): UnixListener {
    const os = options.os ?? hostOs();
    if (options.unlinkExisting) {
      try {
        os.unlink(path);
      } catch {
        // Nothing there.
      }
    }
    const fd = os.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
    try {
      os.bind(fd, path);
      os.listen(fd, options.backlog ?? 16);
    } catch (e) {
      os.close(fd);
      throw e;
    }
    return new UnixListener(fd, path, true, { ...options, os });
  }

  /** Adopts a socket that is already listening (e.g. inherited); it is not unlinked. */
  static fromFd(fd: number, options: UnixStreamOptions = {}): UnixListener {
    const os = options.os ?? hostOs();
    os.setNonBlocking(fd, true);
    return new UnixListener(fd, os.getsockname(fd), false, { ...options, os });
  }

  /** The listening descriptor, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  #onReadable(err: OsError | null): void {
    if (this.#closed) return;
    if (err !== null) {
      this.emit('error', err);
      return;
    }
    for (;;) {
      let fd: number | null;
      try {
        fd = this.os.accept(this.#fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
      } catch (e) {
        if (this.listenerCount('error') > 0) this.emit('error', e as Error);
        return;
      }
      if (fd === null) return;
      this.emit('connection', new UnixStream(fd, this.#options));
      if (this.#closed || this.#paused) return;
    }
  }

  /**
   * Stops accepting: further clients wait in the kernel's backlog (QEMU's
   * socket chardev stops listening while it has a client).
   */
  pause(): void {
    if (this.#closed || this.#paused) return;
    this.#paused = true;
    this.#watcher?.stop();
  }

  /** Accepts again after {@link pause}; a client already waiting is accepted at once. */
  resume(): void {
    if (this.#closed || !this.#paused) return;
    this.#paused = false;
    this.#watcher?.start();
  }

  /** Stops listening, closes the socket and unlinks its path (if it made it). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = null;
    this.os.close(this.#fd);
    this.#fd = -1;
    if (this.#ownsPath) {
      try {
        this.os.unlink(this.path);
      } catch {
        // Already gone.
      }
    }
    this.emit('close');
  }

  /** Disposes by closing (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}
