/**
 * TCP sockets as QEMU 7.2's util/qemu-sockets.c opens them: the address
 * family from `ipv4`/`ipv6`, name resolution with getaddrinfo, listening
 * on the first address and port (of a `port..to` range) that binds, and
 * connecting to the first address that answers, with QEMU's error texts.
 *
 * Unlike QEMU, name resolution runs on the thread pool and a connect
 * does not block the event loop.
 * @module
 */
import type { HostOs } from '../native/host.js';
import { isErrno } from '../native/errors.js';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  AI_ADDRCONFIG,
  AI_CANONNAME,
  AI_NUMERICHOST,
  AI_NUMERICSERV,
  AI_PASSIVE,
  AI_V4MAPPED,
  IPPROTO_IPV6,
  IPV6_V6ONLY,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_ERROR,
  SO_REUSEADDR,
  UV_WRITABLE,
} from '../native/constants.js';
import type { ResolvedAddress } from '../native/index.js';
import { QomError } from './error.js';

/** QEMU's InetSocketAddress (qapi/sockets.json), the members tsqom uses. */
export interface InetSocketAddress {
  /** Discriminator of SocketAddress. */
  type: 'inet';
  /** Host name or address ('' for any, when listening). */
  host: string;
  /** Port or service name. */
  port: string;
  /** Numeric host and port only. */
  numeric?: boolean;
  /** Listening: the highest port to try. */
  to?: number;
  /** Use IPv4 (unset: either). */
  ipv4?: boolean;
  /** Use IPv6 (unset: either). */
  ipv6?: boolean;
}

const EINPROGRESS = 115;
const EADDRINUSE = 98;
/**
 * What QEMU reports as the cause when no socket was even tried (a `to`
 * below `port`): the errno left over from name resolution, which is
 * ENOENT on glibc.
 */
const ENOENT = 2;

function errnoOf(e: unknown): number {
  return isErrno(e) ? e.errno : 0;
}

function strerrorOf(e: unknown): string {
  return isErrno(e) ? e.strerror : e instanceof Error ? e.message : String(e);
}

/** QEMU's inet_ai_family_from_address. */
export function inetAiFamily(a: InetSocketAddress): number {
  if (a.ipv4 === false && a.ipv6 === false) {
    throw new QomError('Cannot disable IPv4 and IPv6 at same time');
  }
  if (a.ipv4 === true && a.ipv6 === true) return a.host === '' ? AF_INET6 : AF_UNSPEC;
  if (a.ipv6 === true || a.ipv4 === false) return AF_INET6;
  if (a.ipv4 === true || a.ipv6 === false) return AF_INET;
  return AF_UNSPEC;
}

async function resolve(
  os: HostOs,
  host: string | null,
  port: string | null,
  flags: number,
  family: number,
  shownHost: string,
  shownPort: string,
): Promise<ResolvedAddress[]> {
  try {
    return await os.getaddrinfo(host, port, flags, family, SOCK_STREAM);
  } catch (e) {
    throw new QomError(
      `address resolution failed for ${shownHost}:${shownPort}: ${(e as Error).message}`,
    );
  }
}

/** QEMU's try_bind: a dual-stack socket falls back to IPv6 only when the IPv4 port is taken. */
function tryBind(os: HostOs, fd: number, a: InetSocketAddress, e: ResolvedAddress): void {
  let v6only =
    (a.ipv4 === undefined && a.ipv6 === undefined) || (a.ipv4 === true && a.ipv6 === true) ? 0 : 1;
  for (;;) {
    if (e.family === AF_INET6) os.setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
    try {
      os.bindAddr(fd, e.addr);
      return;
    } catch (err) {
      if (e.family === AF_INET6 && errnoOf(err) === EADDRINUSE && v6only === 0) {
        v6only = 1;
        continue;
      }
      throw err;
    }
  }
}

/**
 * QEMU's inet_listen_saddr: a listening socket (blocking, close-on-exec)
 * on the first resolved address and port in `port..to` that binds.
 */
export async function inetListen(
  os: HostOs,
  a: InetSocketAddress,
  backlog: number,
): Promise<number> {
  const family = inetAiFamily(a);
  const flags = AI_PASSIVE | (a.numeric === true ? AI_NUMERICHOST | AI_NUMERICSERV : 0);
  const res = await resolve(
    os,
    a.host === '' ? null : a.host,
    a.port === '' ? null : a.port,
    flags,
    family,
    a.host,
    a.port,
  );
  let socketCreated = false;
  let lastErrno = ENOENT;
  for (const e of res) {
    const portMin = e.addr.readUInt16BE(2);
    // QAPI's `to` is a uint16.
    const portMax = a.to !== undefined ? a.to & 0xffff : portMin;
    for (let p = portMin; p <= portMax; p++) {
      e.addr.writeUInt16BE(p, 2);
      let fd: number;
      try {
        fd = os.socket(e.family, SOCK_STREAM | SOCK_CLOEXEC);
      } catch (err) {
        lastErrno = errnoOf(err);
        if (p === portMin) continue;
        throw new QomError(`Failed to recreate failed listening socket: ${strerrorOf(err)}`);
      }
      socketCreated = true;
      try {
        os.setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
        try {
          tryBind(os, fd, a, e);
        } catch (err) {
          if (errnoOf(err) !== EADDRINUSE) {
            throw new QomError(`Failed to bind socket: ${strerrorOf(err)}`);
          }
          lastErrno = EADDRINUSE;
          os.close(fd);
          continue;
        }
        try {
          os.listen(fd, backlog);
          return fd;
        } catch (err) {
          if (errnoOf(err) !== EADDRINUSE) {
            throw new QomError(`Failed to listen on socket: ${strerrorOf(err)}`);
          }
          lastErrno = EADDRINUSE;
          os.close(fd);
        }
      } catch (err) {
        os.close(fd);
        throw err;
      }
    }
  }
  const cause = os.strerror(lastErrno);
  throw new QomError(
    socketCreated
      ? `Failed to find an available port: ${cause}`
      : `Failed to create a socket: ${cause}`,
  );
}

/** Waits for a nonblocking connect to finish; returns its errno (0: connected). */
function connectDone(os: HostOs, fd: number): Promise<number> {
  return new Promise((resolve) => {
    const w = os.watch(fd, UV_WRITABLE, (err) => {
      w.close();
      // libuv reports a failed connect as EBADF: the socket knows the real error.
      let so = 0;
      try {
        so = os.getsockoptInt(fd, SOL_SOCKET, SO_ERROR);
      } catch (e) {
        so = errnoOf(e);
      }
      resolve(so !== 0 ? so : (err?.errno ?? 0));
    });
    w.start();
  });
}

/**
 * QEMU's inet_connect_saddr: a connected socket (nonblocking,
 * close-on-exec) to the first resolved address that accepts.
 */
export async function inetConnect(os: HostOs, a: InetSocketAddress): Promise<number> {
  const family = inetAiFamily(a);
  const res = await resolve(
    os,
    a.host,
    a.port,
    AI_CANONNAME | AI_ADDRCONFIG | AI_V4MAPPED,
    family,
    a.host,
    a.port,
  );
  let last: QomError | undefined;
  for (const e of res) {
    let fd: number;
    try {
      fd = os.socket(e.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC);
    } catch (err) {
      last = new QomError(`Failed to create socket family ${e.family}: ${strerrorOf(err)}`);
      continue;
    }
    let errno = 0;
    try {
      os.connectAddr(fd, e.addr);
    } catch (err) {
      errno = errnoOf(err);
      if (errno === EINPROGRESS) errno = await connectDone(os, fd);
    }
    if (errno === 0) return fd;
    os.close(fd);
    last = new QomError(`Failed to connect to '${a.host}:${a.port}': ${os.strerror(errno)}`);
  }
  throw last ?? new QomError(`Failed to connect to '${a.host}:${a.port}'`);
}

/** The numeric host and port of a socket's own (or, with `peer`, its peer's) address. */
export function inetSockName(
  os: HostOs,
  fd: number,
  peer = false,
): { family: number; host: string; port: string } {
  const raw = os.getsockAddr(fd, peer);
  const { host, service } = os.nameinfo(raw);
  return { family: raw.readUInt16LE(0), host, port: service };
}

/** QEMU's socket_local_address for an inet socket: the address as `addr` shows it. */
export function inetLocalAddress(os: HostOs, fd: number): InetSocketAddress {
  const { family, host, port } = inetSockName(os, fd);
  const a: InetSocketAddress = { type: 'inet', host, port };
  if (family === AF_INET6) a.ipv6 = true;
  else if (family === AF_INET) a.ipv4 = true;
  return a;
}
