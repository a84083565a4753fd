/**
 * Cross-process wake-ups for the inter-guest shared memory device: one
 * eventfd per process (its *doorbell*), handed to peers over a unix
 * socket.
 *
 * A notification sets bits in a region's shared header, then rings the
 * doorbell of the process that owns the target client; that process reads
 * its eventfd on the event loop (libuv poll, no helper thread) and scans
 * the header words of its own clients to see which of them changed. The
 * doorbell carries no data, so a stray ring costs a scan and nothing else.
 *
 * Rendezvous: every process with at least one attached client listens on
 * the unix socket `TMPDIR/tsqom-shmem.<pid>.<token>.sock` (see
 * {@link vdevShmemDoorbellPath}) and records that path in the header slots
 * it holds; it answers each connection with one byte and its eventfd
 * (SCM_RIGHTS) and keeps the connection open. A peer connects once and
 * keeps both the eventfd and the connection, and watches the peer's
 * process descriptor too (see vdev-shmem-liveness.ts). Every process with
 * clients keeps such a connection and watch for every other process that
 * holds a slot in its regions, whether or not it ever rang it: when one
 * dies, the watch (or the hang-up) says so at once, without polling. A
 * hang-up on a connection a peer opened to us makes us look at the headers
 * again, so a member that joined and died before it rang anyone is still
 * noticed. A peer reported gone is not connected to again while its slot
 * remains (the reclaim may wait for a busy lock); a ring still tries. A
 * process removes its socket file when it has no clients left; the socket
 * file of a killed process is removed by whoever reclaims its slots.
 *
 * A peer cannot make a process spend without bound: at most
 * {@link VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS} connections are kept (more
 * are hung up on), each wake-up reads a bounded amount from one
 * connection (bytes a peer sends are dropped), an fd a peer hands over is
 * used only if it is an eventfd, and rings never block (a peer's eventfd
 * is made nonblocking, as the doorbell protocol creates them; a full
 * counter already means "rung").
 * @module
 */
import { hostOs } from '../../util/machine-context.js';
import { chmodSync, lstatSync, readlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  AF_UNIX,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  HostOs,
  type NativeFdWatcher,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  UV_DISCONNECT,
  UV_READABLE,
  isErrno,
} from '../../native/index.js';
import {
  type VdevShmemExitWatch,
  type VdevShmemProcessId,
  vdevShmemWatchExit,
} from './vdev-shmem-liveness.js';

/** The file name of the socket a process's doorbell listens on. */
export function vdevShmemDoorbellName(id: VdevShmemProcessId): string {
  return `tsqom-shmem.${id.pid}.${id.token}.sock`;
}

/** The path of the socket a process's doorbell listens on (in `dir`, default the temporary directory). */
export function vdevShmemDoorbellPath(id: VdevShmemProcessId, dir: string = tmpdir()): string {
  return join(dir, vdevShmemDoorbellName(id));
}

/**
 * Whether `path` can be the doorbell socket of `id` (its file name is
 * {@link vdevShmemDoorbellName}): paths read from a shared header are
 * checked with this before they are connected to or removed.
 */
export function vdevShmemIsDoorbellPath(path: string, id: VdevShmemProcessId): boolean {
  return path.startsWith('/') && basename(path) === vdevShmemDoorbellName(id);
}

/**
 * Removes the socket file of a dead process's doorbell. The path comes
 * from a shared header, so only a socket with the doorbell name of that
 * process is removed.
 */
export function vdevShmemRemoveDoorbell(peer: VdevShmemPeer): void {
  if (!vdevShmemIsDoorbellPath(peer.path, peer)) return;
  try {
    if (lstatSync(peer.path).isSocket()) unlinkSync(peer.path);
  } catch {
    /* gone already */
  }
}

/** A process with clients, as the header records it: id and doorbell path. */
export interface VdevShmemPeer extends VdevShmemProcessId {
  /** Its doorbell socket. */
  path: string;
}

/** What a {@link VdevShmemDoorbell} tells its owner. */
export interface VdevShmemDoorbellHandlers {
  /** Our doorbell rang: some client of this process may have news. */
  onRing(): void;
  /** A peer exited, hung up or refused us: it may be dead (check before reclaiming anything). */
  onPeerGone(peer: VdevShmemPeer): void;
  /**
   * A connection some peer opened to us closed (or was dead on arrival):
   * the peer set may have changed, look at the headers again. Coalesced:
   * at most once per event-loop turn.
   */
  onHangUp?(): void;
}

interface Peer {
  id: VdevShmemPeer;
  sock: number;
  watcher: NativeFdWatcher | null;
  /** The peer's eventfd once received, else -1. */
  bell: number;
  /** A ring is owed, to be sent when the eventfd arrives. */
  owed: boolean;
  /** The watch on the peer's exit. */
  exit: VdevShmemExitWatch;
}

function peerKey(id: VdevShmemProcessId): string {
  return `${id.pid}.${id.token}`;
}

const MSG = new Uint8Array([0x44]); // 'D'

/** Most connections a doorbell keeps open (accepted from peers). */
export const VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS = 256;

/** Reads (or accepts) per wake-up of one descriptor; the poll comes back for more. */
const BURST = 16;

/** Whether `fd` is an eventfd (what a doorbell hands out; anything else is refused). */
function isEventfd(fd: number): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventfd]';
  } catch {
    return false;
  }
}

/**
 * This process's doorbell and its connections to peers' doorbells.
 * {@link VdevShmemDoorbell.start} and {@link VdevShmemDoorbell.stop}
 * bracket the time the process has clients; everything it opened is
 * closed by stop.
 */
export class VdevShmemDoorbell {
  #efd = -1;
  #efdWatcher: NativeFdWatcher | null = null;
  #listenFd = -1;
  #listenWatcher: NativeFdWatcher | null = null;
  readonly #accepted = new Map<number, NativeFdWatcher>();
  readonly #peers = new Map<string, Peer>();
  /** Peers reported gone while they may still hold slots: not connected to again by retainPeers. */
  readonly #gone = new Set<string>();
  #hangUpQueued = false;
  // Bytes a peer sends are dropped: read them in large bites.
  readonly #scratch = new Uint8Array(4096);
  /** The socket path this doorbell listens on. */
  readonly path: string;
  readonly #os: HostOs;
  readonly #handlers: VdevShmemDoorbellHandlers;
  readonly #self: VdevShmemProcessId;

  /**
   * @param self - this process.
   * @param handlers - where rings and hang-ups go.
   * @param dir - where the socket goes (default: the temporary directory).
   * @param os - the OS layer (default: the container's HostOs).
   */
  constructor(
    self: VdevShmemProcessId,
    handlers: VdevShmemDoorbellHandlers,
    dir: string = tmpdir(),
    os: HostOs = hostOs(),
  ) {
    this.#os = os;
    this.#handlers = handlers;
    this.#self = self;
    this.path = vdevShmemDoorbellPath(self, dir);
  }

  /** Whether the doorbell is listening. */
  get running(): boolean {
    return this.#efd >= 0;
  }

  /** How many peers this process is connected to (or connecting to). */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** Starts listening (idempotent). Throws the OS error if the socket cannot be bound. */
  start(): void {
    if (this.running) return;
    const os = this.#os;
    const efd = os.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    let lfd = -1;
    let bound = false;
    try {
      lfd = os.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      // The name holds our pid and start time: a file of that name is ours.
      try {
        unlinkSync(this.path);
      } catch {
        /* none */
      }
      os.bind(lfd, this.path);
      bound = true;
      // Peers of other users (regions shared through a group) must be able
      // to connect; all they can get is a doorbell.
      chmodSync(this.path, 0o666);
      os.listen(lfd, 64);
    } catch (e) {
      if (lfd >= 0) os.close(lfd);
      if (bound) {
        try {
          unlinkSync(this.path);
        } catch {
          /* gone */
        }
      }
      os.close(efd);
      throw e;
    }
    this.#efd = efd;
    this.#listenFd = lfd;
    this.#efdWatcher = os.watch(efd, UV_READABLE, () => this.#rung());
    this.#efdWatcher.start();
    this.#listenWatcher = os.watch(lfd, UV_READABLE, () => this.#acceptAll());
    this.#listenWatcher.start();
  }

  /** Closes the listener, the eventfd, every accepted connection and every peer. */
  stop(): void {
    const os = this.#os;
    for (const key of [...this.#peers.keys()]) this.#dropPeer(key);
    this.#gone.clear();
    for (const [fd, w] of this.#accepted) {
      w.close();
      os.close(fd);
    }
    this.#accepted.clear();
    this.#listenWatcher?.close();
    this.#listenWatcher = null;
    if (this.#listenFd >= 0) {
      os.close(this.#listenFd);
      try {
        unlinkSync(this.path);
      } catch {
        /* gone */
      }
    }
    this.#listenFd = -1;
    this.#efdWatcher?.close();
    this.#efdWatcher = null;
    if (this.#efd >= 0) os.close(this.#efd);
    this.#efd = -1;
  }

  /**
   * Rings `peer`'s doorbell: at once when its eventfd is known, otherwise
   * as soon as the connection delivers it. `path` gives the peer's socket
   * path, asked for only when there is no connection yet.
   */
  ring(peer: VdevShmemProcessId, path: () => string): void {
    let p = this.#peers.get(peerKey(peer));
    if (!p) p = this.#connect({ pid: peer.pid, token: peer.token, path: path() });
    if (!p) return;
    if (p.bell >= 0) this.#ringFd(p.bell);
    else p.owed = true;
  }

  /** One ring; EAGAIN (a saturated counter) means the peer has a ring pending anyway. */
  #ringFd(fd: number): void {
    try {
      this.#os.eventfdWrite(fd, 1n);
    } catch {
      /* saturated, or the peer's fd is unusable: nothing more to do */
    }
  }

  /** Rings this process's own doorbell (the scan then runs from the event loop). */
  ringSelf(): void {
    if (this.#efd >= 0) this.#os.eventfdWrite(this.#efd, 1n);
  }

  /**
   * Keeps connections to exactly `wanted` (other processes holding slots
   * in this process's regions): connects to new ones, closes the rest.
   */
  retainPeers(wanted: Iterable<VdevShmemPeer>): void {
    const keep = new Set<string>();
    for (const id of wanted) {
      if (id.pid === this.#self.pid && id.token === this.#self.token) continue;
      const key = peerKey(id);
      keep.add(key);
      if (!this.#peers.has(key) && !this.#gone.has(key)) this.#connect(id);
    }
    for (const key of [...this.#peers.keys()]) if (!keep.has(key)) this.#dropPeer(key);
    for (const key of [...this.#gone]) if (!keep.has(key)) this.#gone.delete(key);
  }

  /**
   * Connects to every one of `ids` not connected yet, keeping the rest. A
   * joining process calls it before its slot becomes visible: should it
   * die right after, the members see its connections hang up, look at the
   * header again and find its slot.
   */
  addPeers(ids: Iterable<VdevShmemPeer>): void {
    for (const id of ids) {
      if (id.pid === this.#self.pid && id.token === this.#self.token) continue;
      const key = peerKey(id);
      if (!this.#peers.has(key) && !this.#gone.has(key)) this.#connect(id);
    }
  }

  /** Tells the owner once that `id` is gone (again only after it left the peer set, or came back). */
  #reportGone(id: VdevShmemPeer, later: boolean): void {
    const key = peerKey(id);
    if (this.#gone.has(key)) return;
    this.#gone.add(key);
    if (later) setImmediate(() => this.#handlers.onPeerGone(id));
    else this.#handlers.onPeerGone(id);
  }

  /** A connection from a peer closed: the owner re-reads the headers (once per turn). */
  #hungUp(): void {
    if (this.#hangUpQueued || !this.#handlers.onHangUp) return;
    this.#hangUpQueued = true;
    setImmediate(() => {
      this.#hangUpQueued = false;
      if (this.running) this.#handlers.onHangUp?.();
    });
  }

  #rung(): void {
    if (this.#efd < 0) return;
    try {
      this.#os.eventfdRead(this.#efd);
    } catch {
      /* drained concurrently: nothing to do */
    }
    this.#handlers.onRing();
  }

  #acceptAll(): void {
    const os = this.#os;
    for (let i = 0; i < BURST; i++) {
      let fd: number | null;
      try {
        fd = os.accept(this.#listenFd, SOCK_NONBLOCK | SOCK_CLOEXEC);
      } catch {
        return;
      }
      if (fd === null) return;
      if (this.#accepted.size >= VDEV_SHMEM_DOORBELL_MAX_CONNECTIONS) {
        os.close(fd);
        continue;
      }
      try {
        os.sendmsg(fd, MSG, [this.#efd]);
      } catch {
        // Dead on arrival: its process may have joined a region and died.
        os.close(fd);
        this.#hungUp();
        continue;
      }
      const conn = fd;
      const w = os.watch(conn, UV_READABLE | UV_DISCONNECT, () => this.#serviceAccepted(conn));
      w.start();
      this.#accepted.set(conn, w);
    }
  }

  // A peer connected to us only ever hangs up; anything it sends is dropped.
  #serviceAccepted(fd: number): void {
    const w = this.#accepted.get(fd);
    if (!w) return;
    let eof = false;
    try {
      for (let i = 0; i < BURST; i++) {
        const r = this.#os.recvmsg(fd, this.#scratch.length, 0);
        if (r === null) break;
        if (r.data.length === 0) {
          eof = true;
          break;
        }
      }
    } catch {
      eof = true;
    }
    if (!eof) return;
    w.close();
    this.#os.close(fd);
    this.#accepted.delete(fd);
    this.#hungUp();
  }

  #connect(id: VdevShmemPeer): Peer | undefined {
    const os = this.#os;
    const key = peerKey(id);
    if (!vdevShmemIsDoorbellPath(id.path, id)) return undefined;
    const exit = vdevShmemWatchExit(
      id,
      () => {
        this.#dropPeer(key);
        this.#reportGone(id, false);
      },
      os,
    );
    if (!exit) {
      this.#reportGone(id, true);
      return undefined;
    }
    let sock: number;
    try {
      sock = os.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    } catch {
      exit.close();
      return undefined;
    }
    try {
      os.connect(sock, id.path);
    } catch (e) {
      os.close(sock);
      exit.close();
      // Nobody listens: the process is gone (or has no clients any more).
      if (isErrno(e, 'ECONNREFUSED') || isErrno(e, 'ENOENT')) this.#reportGone(id, true);
      return undefined;
    }
    this.#gone.delete(key);
    const p: Peer = { id, sock, watcher: null, bell: -1, owed: false, exit };
    p.watcher = os.watch(sock, UV_READABLE | UV_DISCONNECT, () => this.#servicePeer(key, p));
    p.watcher.start();
    this.#peers.set(key, p);
    return p;
  }

  #servicePeer(key: string, p: Peer): void {
    if (this.#peers.get(key) !== p) return;
    let gone = false;
    try {
      for (let i = 0; i < BURST; i++) {
        const r = this.#os.recvmsg(p.sock, this.#scratch.length, 1);
        if (r === null) break;
        if (r.data.length === 0) {
          gone = true;
          break;
        }
        for (const fd of r.fds) {
          if (p.bell < 0 && isEventfd(fd)) {
            this.#os.setNonBlocking(fd, true);
            p.bell = fd;
          } else {
            this.#os.close(fd);
          }
        }
      }
    } catch {
      gone = true;
    }
    if (gone) {
      this.#dropPeer(key);
      this.#reportGone(p.id, false);
      return;
    }
    if (p.owed && p.bell >= 0) {
      p.owed = false;
      this.#ringFd(p.bell);
    }
  }

  #dropPeer(key: string): void {
    const p = this.#peers.get(key);
    if (!p) return;
    this.#peers.delete(key);
    p.exit.close();
    p.watcher?.close();
    this.#os.close(p.sock);
    if (p.bell >= 0) this.#os.close(p.bell);
  }
}
