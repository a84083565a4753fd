/**
 * A listening vhost-user back-end: accepts front-end connections on a unix
 * socket (QEMU's `-chardev socket,path=...` connects to it) and serves
 * each with a {@link VhostUserBackend}.
 * @module
 */
import { EventEmitter } from 'node:events';
import {
  VhostUserBackend,
  type VhostUserBackendDeviceSource,
  type VhostUserBackendOptions,
} from './backend.js';
import { UnixListener, UnixStream } from '../../../../io/unix-stream.js';

/** Options of a {@link VhostUserBackendServer}. */
export interface VhostUserBackendServerOptions extends VhostUserBackendOptions {
  /**
   * Most connections served at once; further ones are closed on arrival.
   * Default: no limit. A device whose state can't be shared between
   * front-ends passes a factory as its device, or 1 here.
   */
  maxConnections?: number;
  /** Remove a stale socket file at the path before binding; default true. */
  unlinkExisting?: boolean;
}

/** Events of a {@link VhostUserBackendServer}. */
export interface VhostUserBackendServerEvents {
  /** A front-end connected. */
  connection: [backend: VhostUserBackend];
  /** A connection ended (the backend has released everything). */
  disconnect: [backend: VhostUserBackend];
  /** accept() failed. */
  error: [error: Error];
  /** The server stopped listening (connections may still be open). */
  close: [];
}

/** Serves vhost-user front-ends on a listening unix socket. */
export class VhostUserBackendServer extends EventEmitter<VhostUserBackendServerEvents> {
  readonly #listener: UnixListener;
  readonly #device: VhostUserBackendDeviceSource;
  readonly #options: VhostUserBackendServerOptions;
  readonly #connections = new Set<VhostUserBackend>();

  private constructor(
    listener: UnixListener,
    device: VhostUserBackendDeviceSource,
    options: VhostUserBackendServerOptions,
  ) {
    super();
    this.#listener = listener;
    this.#device = device;
    this.#options = options;
    listener.on('connection', (stream) => this.#accept(stream));
    listener.on('error', (e) => {
      if (this.listenerCount('error') > 0) this.emit('error', e);
    });
    listener.on('close', () => this.emit('close'));
  }

  /** Listens at `path` (unlinked again by {@link close}). */
  static listen(
    path: string,
    device: VhostUserBackendDeviceSource,
    options: VhostUserBackendServerOptions = {},
  ): VhostUserBackendServer {
    const listener = UnixListener.listen(path, {
      os: options.os,
      unlinkExisting: options.unlinkExisting ?? true,
    });
    return new VhostUserBackendServer(listener, device, options);
  }

  /** Serves on an already listening socket (e.g. inherited from a parent process). */
  static fromFd(
    fd: number,
    device: VhostUserBackendDeviceSource,
    options: VhostUserBackendServerOptions = {},
  ): VhostUserBackendServer {
    return new VhostUserBackendServer(UnixListener.fromFd(fd, { os: options.os }), device, options);
  }

  /** The socket path. */
  get path(): string {
    return this.#listener.path;
  }

  /** The connections being served. */
  get connections(): ReadonlySet<VhostUserBackend> {
    return this.#connections;
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#listener.closed;
  }

  /** Serves an already connected socket as if it had been accepted; the server owns it. */
  adopt(fd: number): VhostUserBackend | null {
    return this.#accept(new UnixStream(fd, { os: this.#options.os }));
  }

  #accept(stream: UnixStream): VhostUserBackend | null {
    const max = this.#options.maxConnections;
    if (max !== undefined && this.#connections.size >= max) {
      stream.close();
      return null;
    }
    let backend: VhostUserBackend;
    try {
      backend = VhostUserBackend.fromStream(stream, this.#device, this.#options);
    } catch (e) {
      stream.close();
      if (this.listenerCount('error') > 0) this.emit('error', e as Error);
      return null;
    }
    this.#connections.add(backend);
    void backend.whenClosed.then(() => {
      this.#connections.delete(backend);
      this.emit('disconnect', backend);
    });
    this.emit('connection', backend);
    return backend;
  }

  /**
   * Stops listening (and unlinks the socket path); with `connections`
   * true, also closes every open connection. Idempotent.
   */
  close(connections = true): void {
    this.#listener.close();
    if (connections) for (const b of [...this.#connections]) b.close();
  }

  /** Closes everything (for `using`). */
  [Symbol.dispose](): void {
    this.close(true);
  }
}
