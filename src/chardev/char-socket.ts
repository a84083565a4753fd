/**
 * The `chardev-socket` type (QEMU's chardev/char-socket.c) for unix and
 * TCP sockets: a client (`-chardev socket,id=ID,path=PATH` or
 * `host=H,port=P`) connects at creation, or keeps trying every
 * `reconnect` seconds; a server (`server=on`) listens and serves one
 * client at a time (it stops accepting while connected, so the next
 * client waits in the kernel's backlog, as with QEMU), waiting for the
 * first one at creation unless `wait=off`. An inherited socket (`fd=N`)
 * is adopted as it is.
 *
 * QEMU blocks its main loop while a server waits for its first client
 * and while it resolves a host name; tsqom's creation promise waits
 * instead, and the event loop runs.
 *
 * Properties, as QEMU's: `addr` (SocketAddress, read-only) and
 * `connected` (bool, read-only). Telnet, websockets, TLS and log files
 * are not implemented and are refused with a clear error.
 * @module
 */
import { errorReport, infoReport } from '../util/error-report.js';
import { hostOs } from '../util/machine-context.js';
import 'reflect-metadata';
import { HostOs } from '../native/host.js';
import { isErrno } from '../native/errors.js';
import {
  AF_INET6,
  AF_UNIX,
  IPPROTO_TCP,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  TCP_NODELAY,
} from '../native/constants.js';
import {
  type InetSocketAddress,
  inetConnect,
  inetListen,
  inetLocalAddress,
  inetSockName,
} from '../util/qemu-sockets.js';
import { QomError, QomType } from '../qom/index.js';
import { qemuOptGet, type QemuOpts } from '../util/qemu-option.js';
import { UnixListener, UnixStream } from '../io/unix-stream.js';
import {
  Chardev,
  ChardevClass,
  type ChardevConnection,
  TYPE_CHARDEV,
  qemuChardevOptNumber,
  qemuChardevOptsCheckTypes,
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

export type { InetSocketAddress } from '../util/qemu-sockets.js';

/** The backend description of a socket chardev (QEMU's ChardevSocket). */
export interface ChardevSocketBackend {
  /** The socket path (unless `fd` or `inet` is given). */
  path?: string;
  /** A TCP address (`host=`, `port=` and friends). */
  inet?: InetSocketAddress;
  /**
   * An inherited socket (QEMU's `fd=`): connected (client) or listening
   * (`server=on`); the chardev owns it from creation.
   */
  fd?: number;
  /** Listen instead of connecting. */
  server?: boolean;
  /** For a server: wait for the first client at creation (default true, as QEMU). */
  wait?: boolean;
  /** Disable Nagle's algorithm on the connection (TCP). */
  nodelay?: boolean;
  /** For a client: seconds between connection attempts (0: connect once, at creation). */
  reconnect?: number;
}

function strerrorOf(e: unknown): string {
  return isErrno(e) ? e.strerror : e instanceof Error ? e.message : String(e);
}

function unsupported(what: string): QomError {
  return new QomError(`chardev: socket: '${what}' is not supported by tsqom`);
}

function isInet(v: unknown): v is InetSocketAddress {
  if (v === null || typeof v !== 'object') return false;
  const a = v as Partial<InetSocketAddress>;
  return a.type === 'inet' && typeof a.host === 'string' && typeof a.port === 'string';
}

// The backend description parseSocket built (or an API caller gave), checked.
function socketBackend(b: Record<string, unknown>): ChardevSocketBackend {
  const { path, fd, inet, server, wait, nodelay, reconnect } = b;
  let out: ChardevSocketBackend;
  if (typeof fd === 'number') out = { fd };
  else if (isInet(inet)) out = { inet };
  else if (typeof path === 'string') out = { path };
  else throw new QomError("chardev: socket: 'path' is missing");
  if (typeof server === 'boolean') out.server = server;
  if (typeof wait === 'boolean') out.wait = wait;
  if (typeof nodelay === 'boolean') out.nodelay = nodelay;
  if (typeof reconnect === 'number') out.reconnect = reconnect;
  return out;
}

/** QEMU's qemu_chr_parse_socket. */
function parseSocket(opts: QemuOpts): Record<string, unknown> {
  qemuChardevOptsCheckTypes(opts);
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
  let fdNum: number | undefined;
  const nodelay =
    qemuOptGet(opts, 'nodelay') !== undefined && qemuOptGetBool(opts, 'nodelay', false);
  const reconnectSecs = reconnect === undefined ? 0 : qemuChardevOptNumber('reconnect', reconnect);
  if (host !== undefined) {
    const inet: InetSocketAddress = { type: 'inet', host, port: port ?? '' };
    const to = qemuOptGet(opts, 'to');
    if (to !== undefined) inet.to = qemuChardevOptNumber('to', to) & 0xffff;
    if (qemuOptGet(opts, 'ipv4') !== undefined) inet.ipv4 = qemuOptGetBool(opts, 'ipv4', false);
    if (qemuOptGet(opts, 'ipv6') !== undefined) inet.ipv6 = qemuOptGetBool(opts, 'ipv6', false);
    for (const k of ['tls-creds', 'tls-authz', 'logfile']) {
      if (qemuOptGet(opts, k) !== undefined) throw unsupported(k);
    }
    for (const k of ['telnet', 'tn3270', 'websocket', 'mux']) {
      if (qemuOptGetBool(opts, k, false)) throw unsupported(k);
    }
    return {
      inet,
      server,
      wait,
      nodelay,
      reconnect: reconnectSecs,
    } satisfies ChardevSocketBackend;
  }
  if (path === undefined) {
    if (fd === undefined || !/^\d+$/.test(fd)) {
      throw new QomError(`Unable to parse FD number ${fd ?? ''}`);
    }
    fdNum = Number(fd);
  }
  for (const k of ['reconnect-ms', 'tls-creds', 'tls-authz', 'logfile']) {
    if (qemuOptGet(opts, k) !== undefined) throw unsupported(k);
  }
  for (const k of ['telnet', 'tn3270', 'websocket', 'abstract', 'mux']) {
    if (qemuOptGetBool(opts, k, false)) throw unsupported(k);
  }
  if (fdNum !== undefined) {
    return { fd: fdNum, server, wait, nodelay } satisfies ChardevSocketBackend;
  }
  return { path, server, wait, nodelay, reconnect: reconnectSecs } satisfies ChardevSocketBackend;
}

/**
 * A socket chardev. Its user gets the connection from {@link stream}
 * and follows it with the `opened` / `closed` events; a server goes back
 * to listening when its client leaves.
 */
@QomType({ name: TYPE_CHARDEV_SOCKET, parent: TYPE_CHARDEV })
export class SocketChardev extends Chardev {
  /** The socket address (QEMU's `addr` property). */
  addr: UnixSocketAddress | FdSocketAddress | InetSocketAddress | null = null;
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
  #nodelay = false;
  /** Seconds between connection attempts of a reconnecting client (0: none). */
  #reconnect = 0;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #connectErrorReported = false;

  /** QEMU's char_socket_class_init: `parse` and the properties. */
  static override classInit(cc: ChardevClass): void {
    const props = cc.propertiesOf(this);
    cc.parse = parseSocket;
    props.propertyAdd('addr', 'SocketAddress', (s, v, name) => {
      v.startStruct(name);
      const a = s.addr;
      if (a?.type === 'unix') {
        v.typeStr('path', a.path);
      } else if (a?.type === 'fd') {
        v.typeStr('str', a.str);
      } else if (a?.type === 'inet') {
        v.typeStr('host', a.host);
        v.typeStr('port', a.port);
        if (a.numeric !== undefined) v.typeBool('numeric', a.numeric);
        if (a.to !== undefined) v.typeUint16('to', a.to);
        if (a.ipv4 !== undefined) v.typeBool('ipv4', a.ipv4);
        if (a.ipv6 !== undefined) v.typeBool('ipv6', a.ipv6);
      }
      if (a) v.typeStr('type', a.type);
      v.endStruct();
    });
    props.propertyAddBool('connected', (s) => s.connected);
  }

  /** QEMU's qmp_chardev_open_socket (the class's `open`), for the backend `parse` returned. */
  open(backend: Record<string, unknown>): Promise<void> {
    return this.openSocket(socketBackend(backend));
  }

  override get stream(): UnixStream | null {
    return this.#stream;
  }

  #servedElsewhere = false;

  /**
   * @internal For a chardev whose socket another server accepts on (a
   * unix `-qmp`, served by the QMP server): whether that server has a
   * client now, so `connected` and `query-chardev` read as QEMU's.
   */
  setServedConnection(connected: boolean): void {
    this.#servedElsewhere = connected;
    if (connected) this.filename = this.#address('');
    else this.#updateDisconnectedFilename();
  }

  override get connected(): boolean {
    return this.#servedElsewhere || super.connected;
  }

  /** QEMU's qemu_chr_socket_address: the address with a prefix (`disconnected:`). */
  #address(prefix: string): string {
    const a = this.addr;
    const server = this.isListen ? ',server=on' : '';
    if (a?.type === 'inet') return `${prefix}tcp:${a.host}:${a.port}${server}`;
    if (a?.type === 'fd') return `${prefix}fd:${a.str}${server}`;
    return `${prefix}unix:${a?.path ?? ''}${server}`;
  }

  #updateDisconnectedFilename(): void {
    this.filename = this.addr ? this.#address('disconnected:') : 'disconnected:socket';
  }

  /** QEMU's qemu_chr_compute_filename for a connection on `fd`. */
  #computeFilename(fd: number): string {
    if (this.addr?.type !== 'inet') return this.#address('');
    try {
      const l = inetSockName(this.os, fd);
      const p = inetSockName(this.os, fd, true);
      const [o, c] = l.family === AF_INET6 ? ['[', ']'] : ['', ''];
      const server = this.isListen ? ',server=on' : '';
      return `tcp:${o}${l.host}${c}:${l.port}${server} <-> ${o}${p.host}${c}:${p.port}`;
    } catch {
      return this.#address('');
    }
  }

  /** tcp_chr_new_client: adopts a connection. */
  #newClient(stream: UnixStream): void {
    this.#stream = stream;
    // One client at a time: QEMU stops listening while it has one.
    this.#listener?.pause();
    this.#connectErrorReported = false;
    if (this.#nodelay) {
      try {
        this.os.setsockoptInt(stream.fd, IPPROTO_TCP, TCP_NODELAY, 1);
      } catch {
        // Not a TCP socket: nothing to tune.
      }
    }
    this.filename = this.#computeFilename(stream.fd);
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
    if (this.#closed) return;
    // The next client, if one is waiting, is accepted now.
    this.#listener?.resume();
    if (this.#reconnect > 0) this.#scheduleReconnect();
  }

  /** Opens the socket as `backend` says (QEMU's qmp_chardev_open_socket). */
  async openSocket(backend: ChardevSocketBackend): Promise<void> {
    this.#nodelay = backend.nodelay === true;
    if (backend.fd !== undefined) return this.#openFd(backend.fd, backend);
    if (backend.inet !== undefined) return this.#openInet(backend.inet, backend);
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
      if ((backend.reconnect ?? 0) > 0) {
        this.#startReconnecting(backend.reconnect ?? 0);
        return;
      }
      this.#newClient(await this.#connectUnix(path));
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

  async #connectUnix(path: string): Promise<UnixStream> {
    try {
      return await UnixStream.connect(path, { os: this.os });
    } catch (e) {
      throw new QomError(`Failed to connect to '${path}': ${strerrorOf(e)}`);
    }
  }

  /** One connection attempt of the client, to whichever address it has. */
  async #connect(): Promise<UnixStream> {
    const a = this.addr;
    if (a?.type === 'inet') {
      return new UnixStream(await inetConnect(this.os, a), { os: this.os });
    }
    return this.#connectUnix(a?.type === 'unix' ? a.path : '');
  }

  /** A TCP chardev: QEMU's socket_listen / socket_connect on an InetSocketAddress. */
  async #openInet(inet: InetSocketAddress, backend: ChardevSocketBackend): Promise<void> {
    this.addr = { ...inet };
    this.isListen = backend.server === true;
    this.#updateDisconnectedFilename();
    if (!this.isListen) {
      if ((backend.reconnect ?? 0) > 0) {
        this.#startReconnecting(backend.reconnect ?? 0);
        return;
      }
      this.#newClient(await this.#connect());
      return;
    }
    const fd = await inetListen(this.os, inet, 1);
    if (this.#closed) {
      this.os.close(fd);
      throw new QomError(`Chardev '${this.label ?? ''}' was removed`);
    }
    // QEMU shows where it actually listens (a port 0 becomes the one picked).
    try {
      this.addr = inetLocalAddress(this.os, fd);
    } catch (e) {
      this.os.close(fd);
      throw e;
    }
    this.#updateDisconnectedFilename();
    await this.#serve(fd, backend);
  }

  /**
   * QEMU's `reconnect=N` client: connects in the background, reports the
   * first failure, and tries again every N seconds (also after the peer
   * hangs up). Creation does not wait for the connection.
   */
  #startReconnecting(seconds: number): void {
    this.#reconnect = seconds;
    void this.#tryConnect();
  }

  async #tryConnect(): Promise<void> {
    this.#reconnectTimer = null;
    if (this.#closed || this.#stream !== null) return;
    try {
      const stream = await this.#connect();
      if (this.#closed || this.#stream !== null) {
        stream.close();
        return;
      }
      this.#newClient(stream);
    } catch (e) {
      if (this.#closed) return;
      if (!this.#connectErrorReported) {
        this.#connectErrorReported = true;
        errorReport(`Unable to connect character device ${this.label ?? ''}: ${strerrorOf(e)}`);
      }
      this.#scheduleReconnect();
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer !== null) return;
    this.#reconnectTimer = setTimeout(() => void this.#tryConnect(), this.#reconnect * 1000);
    // A reconnecting chardev alone does not keep the process alive.
    this.#reconnectTimer.unref();
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
        // Accepted in the same wake-up as the one being served: QEMU would
        // not have accepted it; it cannot be put back.
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
    if (this.#closed || (!this.isListen && this.#listener === null && this.#reconnect === 0)) {
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
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
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
