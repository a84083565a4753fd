/**
 * The `chardev-socket` type (QEMU's chardev/char-socket.c) for unix
 * sockets: a client (`-chardev socket,id=ID,path=PATH`) connects at
 * creation; a server (`server=on`) listens at PATH and accepts one client
 * at a time, waiting for the first one at creation unless `wait=off`.
 *
 * QEMU blocks its main loop while a server waits for its first client;
 * tsqom's creation promise waits instead, and the event loop runs.
 *
 * Properties, as QEMU's: `addr` (SocketAddress, read-only) and
 * `connected` (bool, read-only). TCP, fd passing of the socket itself,
 * telnet, websockets, TLS and reconnection are not implemented and are
 * refused with a clear error.
 * @module
 */
import { infoReport } from '../util/error-report.js';
import { hostOs } from '../util/machine-context.js';
import 'reflect-metadata';
import { HostOs } from '../native/host.js';
import { isErrno } from '../native/errors.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_STREAM } from '../native/constants.js';
import { QomError, QomType } from '../qom/index.js';
import { qemuOptGet, type QemuOpts } from '../util/qemu-option.js';
import { UnixListener, UnixStream } from '../io/unix-stream.js';
import {
  Chardev,
  ChardevClass,
  type ChardevConnection,
  TYPE_CHARDEV,
  qemuOptGetBool,
} from './char.js';

/** QEMU's TYPE_CHARDEV_SOCKET. */
export const TYPE_CHARDEV_SOCKET = 'chardev-socket';

/** sizeof(struct sockaddr_un.sun_path). */
const UNIX_PATH_MAX = 108;

/** QEMU's UnixSocketAddress as the `addr` property shows it. */
export interface UnixSocketAddress {
  /** Always `unix`. */
  type: 'unix';
  /** The socket path. */
  path: string;
}

/** QEMU's `fd` SocketAddress: an inherited socket, by number. */
export interface FdSocketAddress {
  /** Always `fd`. */
  type: 'fd';
  /** The descriptor number, as given. */
  str: string;
}

/** S_IFMT and S_IFSOCK from <sys/stat.h>. */
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

/** The backend description of a unix socket chardev (QEMU's ChardevSocket, unix only). */
export interface ChardevSocketBackend {
  /** The socket path (unless `fd` is given). */
  path?: string;
  /**
   * An inherited socket (QEMU's `fd=`): connected (client) or listening
   * (`server=on`); the chardev owns it from creation.
   */
  fd?: number;
  /** Listen instead of connecting. */
  server?: boolean;
  /** For a server: wait for the first client at creation (default true, as QEMU). */
  wait?: boolean;
}

function strerrorOf(e: unknown): string {
  return isErrno(e) ? e.strerror : e instanceof Error ? e.message : String(e);
}

function unsupported(what: string): QomError {
  return new QomError(`chardev: socket: '${what}' is not supported by tsqom (unix sockets only)`);
}

// The backend description parseSocket built (or an API caller gave), checked.
function socketBackend(b: Record<string, unknown>): ChardevSocketBackend {
  const { path, fd, server, wait } = b;
  let out: ChardevSocketBackend;
  if (typeof fd === 'number') out = { fd };
  else if (typeof path === 'string') out = { path };
  else throw new QomError("chardev: socket: 'path' is missing");
  if (typeof server === 'boolean') out.server = server;
  if (typeof wait === 'boolean') out.wait = wait;
  return out;
}

/** QEMU's qemu_chr_parse_socket, for the unix sockets tsqom supports. */
function parseSocket(opts: QemuOpts): Record<string, unknown> {
  const path = qemuOptGet(opts, 'path');
  const host = qemuOptGet(opts, 'host');
  const port = qemuOptGet(opts, 'port');
  const fd = qemuOptGet(opts, 'fd');
  if (Number(path !== undefined) + Number(fd !== undefined) + Number(host !== undefined) > 1) {
    throw new QomError("None or one of 'path', 'fd' or 'host' option required.");
  }
  if (host !== undefined && port === undefined) {
    throw new QomError('chardev: socket: no port given');
  }
  if (qemuOptGet(opts, 'delay') !== undefined && qemuOptGet(opts, 'nodelay') !== undefined) {
    throw new QomError("'delay' and 'nodelay' are mutually exclusive");
  }
  const server = qemuOptGetBool(opts, 'server', false);
  const hasWait = qemuOptGet(opts, 'wait') !== undefined;
  const wait = qemuOptGetBool(opts, 'wait', true);
  const reconnect = qemuOptGet(opts, 'reconnect-ms') ?? qemuOptGet(opts, 'reconnect');
  qemuOptGetBool(opts, 'tight', true);
  if (hasWait && !server) {
    throw new QomError("'wait' option is incompatible with socket in client connect mode");
  }
  if (reconnect !== undefined && server) {
    throw new QomError("'reconnect' option is incompatible with socket in server listen mode");
  }
  if (host !== undefined) throw unsupported('host');
  let fdNum: number | undefined;
  if (path === undefined) {
    if (fd === undefined || !/^\d+$/.test(fd)) {
      throw new QomError(`Unable to parse FD number ${fd ?? ''}`);
    }
    fdNum = Number(fd);
  }
  for (const k of ['reconnect', 'reconnect-ms', 'tls-creds', 'tls-authz', 'logfile']) {
    if (qemuOptGet(opts, k) !== undefined) throw unsupported(k);
  }
  for (const k of ['telnet', 'tn3270', 'websocket', 'abstract', 'mux']) {
    if (qemuOptGetBool(opts, k, false)) throw unsupported(k);
  }
  if (fdNum !== undefined) return { fd: fdNum, server, wait } satisfies ChardevSocketBackend;
  return { path, server, wait } satisfies ChardevSocketBackend;
}

/**
 * A unix socket chardev. Its user gets the connection from {@link stream}
 * and follows it with the `opened` / `closed` events; a server goes back
 * to listening when its client leaves.
 */
@QomType({ name: TYPE_CHARDEV_SOCKET, parent: TYPE_CHARDEV })
export class SocketChardev extends Chardev {
  /** The socket address (QEMU's `addr` property). */
  addr: UnixSocketAddress | FdSocketAddress | null = null;
  /** Whether it listens (QEMU's `is_listen`). */
  isListen = false;
  /** The OS layer. */
  os: HostOs = hostOs();
  #listener: UnixListener | null = null;
  #stream: UnixStream | null = null;
  /** What arrived while nobody had taken the stream (QEMU would leave it in the socket). */
  #pending: [Buffer, number[]][] = [];
  #buffering: ((chunk: Buffer, fds: number[]) => void) | null = null;
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #closed = false;

  /** QEMU's char_socket_class_init: `parse` and the properties. */
  static override classInit(cc: ChardevClass): void {
    cc.parse = parseSocket;
    cc.parse = parseSocket;
    cc.propertyAdd<SocketChardev>('addr', 'SocketAddress', (s, v, name) => {
      v.startStruct(name);
      if (s.addr?.type === 'unix') {
        v.typeStr('path', s.addr.path);
        v.typeStr('type', s.addr.type);
      } else if (s.addr) {
        v.typeStr('str', s.addr.str);
        v.typeStr('type', s.addr.type);
      }
      v.endStruct();
    });
    cc.propertyAddBool<SocketChardev>('connected', (s) => s.connected);
  }

  /** QEMU's qmp_chardev_open_socket (the class's `open`), for the backend `parse` returned. */
  open(backend: Record<string, unknown>): Promise<void> {
    return this.openSocket(socketBackend(backend));
  }

  override get stream(): UnixStream | null {
    return this.#stream;
  }

  #address(prefix: string): string {
    const where = this.addr?.type === 'fd' ? '' : (this.addr?.path ?? '');
    return `${prefix}unix:${where}${this.isListen ? ',server=on' : ''}`;
  }

  #updateDisconnectedFilename(): void {
    this.filename = this.addr ? this.#address('disconnected:') : 'disconnected:socket';
  }

  /** tcp_chr_new_client: adopts a connection. */
  #newClient(stream: UnixStream): void {
    this.#stream = stream;
    // qemu_chr_compute_filename
    this.filename = this.#address('');
    this.beOpen = true;
    // Keep reading so a hang-up is seen (QEMU watches G_IO_HUP) even before a
    // device takes the stream; whatever arrives meanwhile is kept for it.
    this.#buffering = (chunk, fds) => this.#pending.push([chunk, fds]);
    stream.on('data', this.#buffering);
    stream.on('error', () => undefined);
    stream.resume();
    stream.once('close', () => this.#onClientClosed(stream));
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve();
    this.events.emit('opened');
  }

  /**
   * Hands the connection to its user: the stream (already reading) and
   * the data and fds that arrived before (to be processed first; the fds
   * become the caller's). The chardev stops buffering.
   */
  override takeStream(): ChardevConnection | null {
    const stream = this.#stream;
    if (!stream) return null;
    if (this.#buffering) stream.off('data', this.#buffering);
    this.#buffering = null;
    const pending = this.#pending;
    this.#pending = [];
    return { stream, pending };
  }

  #dropPending(): void {
    for (const [, fds] of this.#pending) for (const fd of fds) this.os.close(fd);
    this.#pending = [];
  }

  #onClientClosed(stream: UnixStream): void {
    if (this.#stream !== stream) return;
    this.#stream = null;
    this.#buffering = null;
    this.#dropPending();
    this.beOpen = false;
    this.#updateDisconnectedFilename();
    this.events.emit('closed');
  }

  /** Opens the socket as `backend` says (QEMU's qmp_chardev_open_socket). */
  async openSocket(backend: ChardevSocketBackend): Promise<void> {
    if (backend.fd !== undefined) return this.#openFd(backend.fd, backend);
    const path = backend.path ?? '';
    this.addr = { type: 'unix', path };
    this.isListen = backend.server === true;
    this.#updateDisconnectedFilename();
    if (Buffer.byteLength(path) > UNIX_PATH_MAX) {
      throw new QomError(
        `UNIX socket path '${path}' is too long`,
        'GenericError',
        `Path must be less than ${UNIX_PATH_MAX} bytes\n`,
      );
    }
    if (!this.isListen) {
      let stream: UnixStream;
      try {
        stream = await UnixStream.connect(path, { os: this.os });
      } catch (e) {
        throw new QomError(`Failed to connect to '${path}': ${strerrorOf(e)}`);
      }
      this.#newClient(stream);
      return;
    }
    const os = this.os;
    const fd = os.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
    try {
      try {
        os.unlink(path);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) {
          throw new QomError(`Failed to unlink socket ${path}: ${strerrorOf(e)}`);
        }
      }
      try {
        os.bind(fd, path);
      } catch (e) {
        throw new QomError(`Failed to bind socket to ${path}: ${strerrorOf(e)}`);
      }
      try {
        os.listen(fd, 1);
      } catch (e) {
        throw new QomError(`Failed to listen on socket: ${strerrorOf(e)}`);
      }
    } catch (e) {
      os.close(fd);
      throw e;
    }
    await this.#serve(fd, backend);
  }

  /** QEMU's `fd=`: adopts an inherited socket, after checking that it is one. */
  async #openFd(fd: number, backend: ChardevSocketBackend): Promise<void> {
    this.addr = { type: 'fd', str: String(fd) };
    this.isListen = backend.server === true;
    let isSocket = false;
    try {
      isSocket = (this.os.fstat(fd).mode & S_IFMT) === S_IFSOCK;
    } catch {
      // Not open: QEMU says the same.
    }
    if (!isSocket) throw new QomError(`File descriptor '${fd}' is not a socket`);
    this.os.setCloexec(fd, true);
    this.#updateDisconnectedFilename();
    if (!this.isListen) {
      this.#newClient(new UnixStream(fd, { os: this.os }));
      return;
    }
    await this.#serve(fd, backend);
  }

  /** Accepts clients on a listening socket, one at a time. */
  async #serve(fd: number, backend: ChardevSocketBackend): Promise<void> {
    const listener = UnixListener.fromFd(fd, { os: this.os });
    this.#listener = listener;
    listener.on('connection', (stream) => {
      if (this.#stream !== null || this.#closed) {
        // One client at a time, as QEMU (it stops listening while connected).
        stream.close();
        return;
      }
      this.#newClient(stream);
    });
    listener.on('error', () => {
      // accept() errors leave the listener in place, as QEMU's.
    });
    if (backend.wait !== false) {
      infoReport(`QEMU waiting for connection on: ${this.filename}`);
      await this.waitConnected();
    }
  }

  override waitConnected(): Promise<void> {
    if (this.#stream !== null) return Promise.resolve();
    if (this.#closed || (!this.isListen && this.#listener === null)) {
      return Promise.reject(new QomError(`chardev '${this.label ?? ''}' is not connected`));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  override disconnect(): void {
    this.#stream?.close();
  }

  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new QomError(`Chardev '${this.label ?? ''}' was removed`));
    this.#stream?.close();
    this.#stream = null;
    this.#dropPending();
    if (this.#listener !== null) {
      const path = this.addr?.type === 'unix' ? this.addr.path : undefined;
      this.#listener.close();
      this.#listener = null;
      // QEMU's socket_listen_cleanup: the listening socket's path goes too.
      if (path !== undefined) {
        try {
          this.os.unlink(path);
        } catch {
          // Already gone.
        }
      }
    }
  }
}
