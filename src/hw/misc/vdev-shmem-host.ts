/**
 * The host side of the inter-guest shared memory device (`vdev-shmem`):
 * named POSIX shared memory regions that any number of tsqom processes
 * attach to, with a shared header that holds the client table.
 *
 * **Naming.** The region a device calls `HOSTNAME` (the guest-visible
 * name after `subst`) is the POSIX shared memory object
 * `/tsqom-shmem-HOSTNAME` ({@link vdevShmemObjectName}), the same in every
 * process, so `/dev/shm/tsqom-shmem-HOSTNAME` on Linux.
 *
 * **Layout.** The object is one 4 KiB header page (never guest-visible)
 * followed by the region's data pages. The header
 * ({@link VdevShmemHeader}) holds 32-bit words, read and written only
 * with atomics: a magic number written last by the creator (so a
 * half-initialised object is never used), a lock word (the pid of the
 * process changing the membership), a state (ready, or dead once
 * unlinked), the size in pages, the active-client bitset, a generation
 * bumped on every membership change, a client table of 16 slots (pid,
 * liveness token, pending-notification bits, an event counter) and a
 * table of *anchors*: processes whose devices pre-created the region with
 * a `create` option and keep it alive without being clients.
 *
 * **Notifications.** A notify sets the sender's bit in each target's
 * pending word, bumps the target's event counter, and rings the doorbell
 * of the target's process (see vdev-shmem-doorbell.ts); targets in this
 * process are served at once, without the doorbell. Membership changes
 * (attach, detach, a dead client reclaimed) bump the counters of the
 * remaining clients the same way, so their guests get an interrupt too.
 *
 * **Liveness.** Slots and anchors record `(pid, token)` (see
 * vdev-shmem-liveness.ts). Dead holders are reclaimed when a process
 * attaches, detaches or pre-creates (a full scan under the lock), and as
 * soon as a peer's doorbell connection hangs up (processes with clients
 * keep a connection to every other process with clients in the same
 * regions, so a SIGKILL is noticed at once).
 *
 * **Removal.** The last holder to leave (client detaching, anchor
 * released, or the scan that reclaims the last dead holders) marks the
 * header dead and unlinks the name, under the lock; a process that opened
 * the name just before sees the dead state (or a link count of 0) once it
 * holds the lock and starts again. A region whose holders were all
 * killed stays in /dev/shm until the next process opens the name (it then
 * finds no live holder, unlinks it and creates a fresh one) or until
 * {@link vdevShmemSweep} runs. At normal process exit every local holder
 * is released.
 * @module
 */
import { readdirSync } from 'node:fs';
import { errorReport } from '../../util/error-report.js';
import { hostOs } from '../../util/machine-context.js';
import { TsqomError } from '../../util/error.js';
import { fchmodSync, fchownSync, readFileSync, statSync } from 'node:fs';
import {
  HostOs,
  MAP_SHARED,
  type MappedMemory,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  isErrno,
} from '../../native/index.js';
import {
  GUEST_SHM_MAX_CLIENTS,
  GUEST_SHM_PAGE_SIZE,
  GuestShmStatus,
  notifyTargets,
  packControlStatus,
} from './guest-shm.js';
import { checkShmemName } from './vdev-shmem-rules.js';
import { vdevShmemAlive, vdevShmemSelf } from './vdev-shmem-liveness.js';
import {
  VdevShmemDoorbell,
  type VdevShmemPeer,
  vdevShmemRemoveDoorbell,
} from './vdev-shmem-doorbell.js';

/** Prefix of the POSIX shared memory object names of regions. */
export const VDEV_SHMEM_OBJECT_PREFIX = '/tsqom-shmem-';

/** The POSIX shared memory object name (for `shm_open`) of the region `hostName`. */
export function vdevShmemObjectName(hostName: string): string {
  return VDEV_SHMEM_OBJECT_PREFIX + hostName;
}

/** Value of the header's `magic` word ("TSHM" read little-endian). */
export const VDEV_SHMEM_MAGIC = 0x4d485354;
/** Header layout version. */
export const VDEV_SHMEM_VERSION = 1;
/** Size of the header; the data pages start right after it. */
export const VDEV_SHMEM_HEADER_SIZE = GUEST_SHM_PAGE_SIZE;
/** Most anchors (processes' devices pre-creating the region) per region. */
export const VDEV_SHMEM_MAX_ANCHORS = 64;

/** Byte offsets of the header's 32-bit words (host byte order, atomics only). */
export const VdevShmemHeader = {
  /** {@link VDEV_SHMEM_MAGIC}, stored last by the creator. */
  MAGIC: 0x00,
  /** {@link VDEV_SHMEM_VERSION}. */
  VERSION: 0x04,
  /** Pid of the process changing the membership, 0 when free. */
  LOCK: 0x08,
  /** {@link VdevShmemObjectState}. */
  STATE: 0x0c,
  /** Size of the data in pages. */
  PAGES: 0x10,
  /** Bitset of the clients attached. */
  ACTIVE: 0x14,
  /** Bumped on every membership change. */
  GENERATION: 0x18,
  /** Pid of the creator (for an initialisation that never finished). */
  CREATOR_PID: 0x1c,
  /** Liveness token of the creator. */
  CREATOR_TOKEN: 0x20,
  /** The client table: {@link GUEST_SHM_MAX_CLIENTS} slots of `SLOT_SIZE` bytes. */
  SLOTS: 0x40,
  /** Size of a slot. */
  SLOT_SIZE: 16,
  /** Slot word: owner's pid, 0 when free. */
  SLOT_PID: 0x0,
  /** Slot word: owner's liveness token. */
  SLOT_TOKEN: 0x4,
  /** Slot word: pending notification bits (cleared by the owner's status read). */
  SLOT_PENDING: 0x8,
  /** Slot word: event counter, bumped for every notification or membership change. */
  SLOT_SEQ: 0xc,
  /** The anchor table: {@link VDEV_SHMEM_MAX_ANCHORS} entries of pid and token. */
  ANCHORS: 0x140,
  /** Size of an anchor entry. */
  ANCHOR_SIZE: 8,
  /** Doorbell socket path of each slot's owner (NUL-padded UTF-8), written before the slot's pid. */
  SLOT_PATHS: 0x400,
  /** Size of a slot's path field. */
  SLOT_PATH_SIZE: 128,
} as const;

/** Values of the header's `state` word. */
export enum VdevShmemObjectState {
  /** Being initialised by its creator. */
  INIT = 0,
  /** In use. */
  READY = 1,
  /** Unlinked by its last holder: openers must start again. */
  DEAD = 2,
}

/** Why a host-side operation failed: the guest status, and a text for people. */
export interface VdevShmemFailure {
  /** The status a guest reads. */
  status: GuestShmStatus;
  /** What went wrong. */
  reason: string;
}

/** A host-side error (for `create` options at realize). */
export class VdevShmemHostError extends TsqomError {
  /**
   * @param status - the guest status the failure maps to.
   * @param message - what went wrong.
   */
  constructor(
    readonly status: GuestShmStatus,
    message: string,
  ) {
    super(message, 'ERR_VDEV_SHMEM_HOST');
  }

  /** Whether it failed only because another process held the region's lock (worth retrying). */
  busy = false;
}

const H = VdevShmemHeader;
const slotOff = (i: number, word: number): number => H.SLOTS + i * H.SLOT_SIZE + word;
const anchorOff = (i: number): number => H.ANCHORS + i * H.ANCHOR_SIZE;
const pathOff = (i: number): number => H.SLOT_PATHS + i * H.SLOT_PATH_SIZE;

function os(): HostOs {
  return hostOs();
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * How long a synchronous caller (a guest's attach request) polls a lock
 * held by a live process before failing: a holder that is running leaves
 * its critical section within microseconds.
 */
const LOCK_TRY_MS = 2;
/** Retry period of deferred membership changes while another process holds the lock. */
const LOCK_RETRY_MS = 5;
/** A live holder keeping the lock this long is reported as stuck (stopped or frozen). */
const LOCK_STUCK_MS = 1000;

function describe(e: unknown): string {
  if (isErrno(e)) return e.strerror;
  return e instanceof Error ? e.message : String(e);
}

function statusOfErrno(e: unknown): GuestShmStatus {
  if (isErrno(e, 'EACCES') || isErrno(e, 'EPERM')) return GuestShmStatus.GSS_NO_PERMISSION;
  if (isErrno(e, 'ENOMEM') || isErrno(e, 'ENOSPC') || isErrno(e, 'EFBIG'))
    return GuestShmStatus.GSS_NOMEM;
  return GuestShmStatus.GSS_UNKNOWN_FAILURE;
}

/** Resolves a group name to its id through /etc/group. */
function groupId(gid: string | number): number {
  if (typeof gid === 'number') return gid;
  let text = '';
  try {
    text = readFileSync('/etc/group', 'utf8');
  } catch {
    /* no group database: only numbers work */
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === gid && f[2] !== undefined && /^[0-9]+$/.test(f[2])) return Number(f[2]);
  }
  throw new VdevShmemHostError(GuestShmStatus.GSS_UNKNOWN_FAILURE, `unknown group '${gid}'`);
}

// ---------------------------------------------------------------------------
// regions open in this process

/** One region as this process has it open: descriptor, mapping, local users. @internal */
class HostRegion {
  readonly clients = new Set<VdevShmemClient>();
  readonly anchors = new Set<VdevShmemAnchor>();
  seenGeneration: number;
  closed = false;
  /** The OS layer, resolved once. */
  readonly os: HostOs = os();
  /**
   * The header words. JavaScript's Atomics on this view are the real
   * atomic instructions (the buffer is not a SharedArrayBuffer, but V8
   * makes no difference), and far cheaper than a call into the addon on
   * the notification path. Unmapping detaches the view.
   */
  readonly #words: Uint32Array;

  constructor(
    readonly hostName: string,
    readonly objectName: string,
    readonly fd: number,
    readonly mem: MappedMemory,
    readonly pages: number,
  ) {
    this.#words = new Uint32Array(mem.native.buffer(0, VDEV_SHMEM_HEADER_SIZE));
    this.seenGeneration = this.load(H.GENERATION);
  }

  load(off: number): number {
    return Atomics.load(this.#words, off >> 2);
  }

  store(off: number, v: number): void {
    Atomics.store(this.#words, off >> 2, v >>> 0);
  }

  add(off: number, v: number): number {
    return Atomics.add(this.#words, off >> 2, v);
  }

  or(off: number, v: number): number {
    return Atomics.or(this.#words, off >> 2, v);
  }

  exchange(off: number, v: number): number {
    return Atomics.exchange(this.#words, off >> 2, v);
  }

  compareExchange(off: number, expected: number, v: number): number {
    return Atomics.compareExchange(this.#words, off >> 2, expected >>> 0, v >>> 0);
  }

  get users(): number {
    return this.clients.size + this.anchors.size;
  }

  /**
   * Tries to take the header lock without ever sleeping: polls for at most
   * `budgetMs` (a running holder leaves within microseconds), takes over
   * the lock of a dead holder (or a stale one of our own pid: the lock is
   * never held across an await). Returns 0 when taken, else the holder's
   * pid. A region truncated by another process is never locked (-1).
   */
  tryLock(budgetMs = 0): number {
    if (!this.intact()) return -1;
    const me = vdevShmemSelf().pid;
    const start = performance.now();
    let prev = 0;
    for (let spins = 0; ; spins++) {
      prev = this.compareExchange(H.LOCK, 0, me);
      if (prev === 0) break;
      if (prev === me || (spins % 64 === 0 && !vdevShmemAlive(prev))) {
        if (this.compareExchange(H.LOCK, prev, me) === prev) {
          prev = 0;
          break;
        }
        continue;
      }
      if (spins % 16 === 15 && performance.now() - start >= budgetMs) return prev >>> 0;
    }
    this.busySince = 0;
    return 0;
  }

  /** When another live process was first seen holding the lock (0: not held). */
  busySince = 0;
  /** Whether the current stuck holder was reported. */
  stuckReported = false;

  /** Membership changes waiting for the lock (run in order once it is free). */
  readonly pending: (() => void)[] = [];

  /** Set once the object was found shorter than its layout: the header is never touched again. */
  truncated = false;

  /**
   * Whether the object still holds its header and data (another process
   * with access could have truncated it; touching a missing page would
   * raise SIGBUS). Reported once.
   */
  intact(): boolean {
    if (this.truncated) return false;
    if (this.closed) return true;
    let size: number;
    try {
      size = this.os.fstat(this.fd).size;
    } catch {
      return true;
    }
    const want = VDEV_SHMEM_HEADER_SIZE + this.pages * GUEST_SHM_PAGE_SIZE;
    if (size >= want) return true;
    this.truncated = true;
    errorReport(
      `vdev-shmem: region '${this.hostName}' was truncated by another process ` +
        `(0x${size.toString(16)} bytes, its layout needs 0x${want.toString(16)}); ` +
        'guest accesses to it fail from now on',
    );
    return false;
  }

  unlock(): void {
    this.store(H.LOCK, 0);
  }

  /** Whether the region can still take new users (not dead, still linked). */
  usable(): boolean {
    if (this.closed || this.load(H.STATE) !== VdevShmemObjectState.READY) return false;
    try {
      return this.os.fstat(this.fd).nlink > 0;
    } catch {
      return false;
    }
  }

  /**
   * Under the lock: clears the slots and anchors of dead processes.
   * Returns the slots cleared.
   */
  sweepLocked(): number {
    let cleared = 0;
    let active = this.load(H.ACTIVE);
    for (let i = 0; i < GUEST_SHM_MAX_CLIENTS; i++) {
      const pid = this.load(slotOff(i, H.SLOT_PID));
      if (pid === 0) continue;
      const token = this.load(slotOff(i, H.SLOT_TOKEN));
      if (vdevShmemAlive(pid, token)) continue;
      active &= ~(1 << i);
      this.store(H.ACTIVE, active);
      // Its socket file would outlive it: remove it (checked against its name first).
      vdevShmemRemoveDoorbell({ pid, token, path: this.slotPath(i) });
      this.clearSlot(i);
      cleared |= 1 << i;
    }
    let anchorsCleared = false;
    for (let i = 0; i < VDEV_SHMEM_MAX_ANCHORS; i++) {
      const pid = this.load(anchorOff(i));
      if (pid === 0 || vdevShmemAlive(pid, this.load(anchorOff(i) + 4))) continue;
      this.store(anchorOff(i), 0);
      this.store(anchorOff(i) + 4, 0);
      anchorsCleared = true;
    }
    if (cleared || anchorsCleared) this.bumpGeneration();
    return cleared;
  }

  clearSlot(i: number): void {
    this.store(slotOff(i, H.SLOT_PID), 0);
    this.store(slotOff(i, H.SLOT_TOKEN), 0);
    this.store(slotOff(i, H.SLOT_PENDING), 0);
    this.mem.write(pathOff(i), new Uint8Array(H.SLOT_PATH_SIZE));
  }

  /** The doorbell path recorded in slot `i`. */
  slotPath(i: number): string {
    const b = this.mem.read(pathOff(i), H.SLOT_PATH_SIZE);
    const end = b.indexOf(0);
    return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('utf8');
  }

  /** Records the doorbell path of slot `i` (before its pid makes it visible). */
  setSlotPath(i: number, path: string): void {
    const field = new Uint8Array(H.SLOT_PATH_SIZE);
    const bytes = Buffer.from(path, 'utf8');
    if (bytes.length >= field.length) {
      throw new VdevShmemHostError(
        GuestShmStatus.GSS_UNKNOWN_FAILURE,
        `doorbell path '${path}' is too long`,
      );
    }
    field.set(bytes);
    this.mem.write(pathOff(i), field);
  }

  bumpGeneration(): void {
    this.add(H.GENERATION, 1);
  }

  hasAnchor(): boolean {
    for (let i = 0; i < VDEV_SHMEM_MAX_ANCHORS; i++) if (this.load(anchorOff(i)) !== 0) return true;
    return false;
  }

  /** Under the lock: whether anyone (client or anchor) still holds the region. */
  heldLocked(): boolean {
    return this.load(H.ACTIVE) !== 0 || this.hasAnchor();
  }

  /** Under the lock: marks the region dead and removes its name. */
  killLocked(): void {
    this.store(H.STATE, VdevShmemObjectState.DEAD);
    try {
      this.os.shmUnlink(this.objectName);
    } catch {
      /* already gone */
    }
  }

  /** Removes the name if it still refers to this object (not to a newer one). */
  unlinkIfSame(): void {
    try {
      const mine = this.os.fstat(this.fd);
      const named = statSync(`/dev/shm${this.objectName}`, { bigint: true });
      if (mine.nlink > 0 && named.ino === mine.ino && named.dev === mine.dev) {
        this.os.shmUnlink(this.objectName);
      }
    } catch {
      /* gone already */
    }
  }

  /** Unmaps and closes (the region's local users are gone). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mem.unmap();
    this.os.close(this.fd);
    if (regions.get(this.hostName) === this) regions.delete(this.hostName);
  }

  /** The processes holding slots, for the doorbell's connections. */
  peers(): VdevShmemPeer[] {
    const out: VdevShmemPeer[] = [];
    const active = this.load(H.ACTIVE);
    for (let i = 0; i < GUEST_SHM_MAX_CLIENTS; i++) {
      if (!(active & (1 << i))) continue;
      const pid = this.load(slotOff(i, H.SLOT_PID));
      const token = this.load(slotOff(i, H.SLOT_TOKEN));
      if (pid !== 0) out.push({ pid, token, path: this.slotPath(i) });
    }
    return out;
  }

  /** The local client in slot `i`, if any. */
  localClient(i: number): VdevShmemClient | undefined {
    for (const c of this.clients) if (c.idx === i) return c;
    return undefined;
  }
}

/** The regions this process has open, by host name (the most recent object for a name). */
const regions = new Map<string, HostRegion>();
/** Every region this process has open (older objects for a name included). */
const allRegions = new Set<HostRegion>();

let doorbell: VdevShmemDoorbell | null = null;
let exitHook = false;

function localClientCount(): number {
  let n = 0;
  for (const r of allRegions) n += r.clients.size;
  return n;
}

function ensureDoorbell(): VdevShmemDoorbell {
  if (!doorbell) {
    doorbell = new VdevShmemDoorbell(vdevShmemSelf(), {
      onRing: scanLocalClients,
      onPeerGone: sweepAfterPeerGone,
      // A member may have joined and died before it rang us: re-read the
      // headers, so it is watched (and found dead) like any other peer.
      onHangUp: refreshDoorbell,
    });
  }
  doorbell.start();
  return doorbell;
}

function refreshDoorbell(): void {
  if (!doorbell) return;
  if (localClientCount() === 0) {
    doorbell.stop();
    return;
  }
  const wanted: VdevShmemPeer[] = [];
  for (const r of allRegions) if (r.clients.size) wanted.push(...r.peers());
  doorbell.retainPeers(wanted);
}

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', vdevShmemReleaseAll);
}

// ---------------------------------------------------------------------------
// membership changes under the lock, never blocking the event loop

/** A change made under a region's lock; may return what to do once it is released. */
type LockedJob = () => (() => void) | void;

/** Regions with changes waiting for their lock. */
const waiting = new Set<HostRegion>();
let retryTimer: ReturnType<typeof setTimeout> | null = null;
let settleWaiters: (() => void)[] = [];

/** Closes a region nobody in this process uses any more, once nothing waits on it. */
function finish(r: HostRegion): void {
  if (r.users === 0 && r.pending.length === 0 && !r.closed) {
    // A truncated object is of no use to anyone: its name goes with our last user.
    if (r.truncated) r.unlinkIfSame();
    r.close();
    allRegions.delete(r);
  }
  refreshDoorbell();
}

function runLocked(r: HostRegion, jobs: LockedJob[]): void {
  const after: (() => void)[] = [];
  try {
    for (const job of jobs) {
      try {
        const then = job();
        if (then) after.push(then);
      } catch (e) {
        errorReport(`vdev-shmem: cannot update region '${r.hostName}': ${describe(e)}`);
      }
    }
  } finally {
    r.unlock();
  }
  for (const then of after) {
    try {
      then();
    } catch (e) {
      errorReport(`vdev-shmem: cannot signal region '${r.hostName}': ${describe(e)}`);
    }
  }
}

/**
 * Runs `job` under the region's lock: now when the lock is free (or its
 * holder is dead), else from a timer once the holder lets go, in order.
 * Never waits: another process holding the lock (even a stopped one)
 * cannot stall this process. A truncated region's header is never
 * touched: its jobs are dropped.
 */
function underLock(r: HostRegion, job: LockedJob): void {
  if (r.pending.length === 0) {
    const holder = r.tryLock();
    if (holder === 0) {
      runLocked(r, [job]);
      finish(r);
      return;
    }
    if (holder === -1) {
      finish(r);
      return;
    }
  }
  r.pending.push(job);
  waiting.add(r);
  armRetry();
  // The local user is gone already: a doorbell nobody needs must not keep
  // the process alive while the change waits.
  refreshDoorbell();
}

function armRetry(): void {
  if (retryTimer) return;
  retryTimer = setTimeout(retryPending, LOCK_RETRY_MS);
  // Shutdown waits for these explicitly (vdevShmemSettle); a stuck peer must not keep us alive.
  retryTimer.unref();
}

/** One pass over the regions waiting for their lock. */
function retryPending(): void {
  retryTimer = null;
  for (const r of [...waiting]) {
    const holder = r.closed ? -1 : r.tryLock();
    if (holder === 0 || holder === -1) {
      const jobs = r.pending.splice(0);
      waiting.delete(r);
      if (holder === 0) runLocked(r, jobs);
      finish(r);
      continue;
    }
    const now = Date.now();
    if (r.busySince === 0) {
      r.busySince = now;
    } else if (!r.stuckReported && now - r.busySince >= LOCK_STUCK_MS) {
      r.stuckReported = true;
      errorReport(
        `vdev-shmem: region '${r.hostName}' has been locked by process ${holder} for ` +
          `${now - r.busySince} ms (stopped or frozen?); its membership change is retried until it lets go`,
      );
    }
  }
  if (waiting.size > 0) {
    armRetry();
  } else {
    const w = settleWaiters;
    settleWaiters = [];
    for (const f of w) f();
  }
}

/**
 * Waits (without blocking the event loop) until every deferred membership
 * change (a detach or release that found the lock held by another
 * process) is done, or `timeoutMs` passed. Resolves true when nothing is
 * left waiting.
 */
export function vdevShmemSettle(timeoutMs = 1000): Promise<boolean> {
  if (waiting.size === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      settleWaiters = settleWaiters.filter((f) => f !== done);
      resolve(waiting.size === 0);
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    settleWaiters.push(done);
    armRetry();
  });
}

/** How many regions have membership changes waiting for their lock. */
export function vdevShmemPendingCount(): number {
  return waiting.size;
}

// ---------------------------------------------------------------------------
// event delivery

let delivering = false;
const deliveryQueue: VdevShmemClient[] = [];

/**
 * Delivers events to local clients whose counters moved. Handlers may
 * notify again; nested deliveries are queued, not recursed into.
 */
function deliver(c: VdevShmemClient): void {
  deliveryQueue.push(c);
  if (delivering) return;
  delivering = true;
  try {
    for (let k = 0; k < deliveryQueue.length; k++) {
      try {
        deliveryQueue[k]!.poll();
      } catch (e) {
        // One guest's handler failing must not starve the others.
        errorReport(`vdev-shmem: event handler failed: ${describe(e)}`);
      }
    }
  } finally {
    deliveryQueue.length = 0;
    delivering = false;
  }
}

function scanLocalClients(): void {
  let peersChanged = false;
  // Handlers may attach or detach: walk a snapshot.
  const clients: VdevShmemClient[] = [];
  for (const r of allRegions) {
    if (r.closed || !r.intact()) continue;
    const gen = r.load(H.GENERATION);
    if (gen !== r.seenGeneration) {
      r.seenGeneration = gen;
      peersChanged = true;
    }
    for (const c of r.clients) clients.push(c);
  }
  for (const c of clients) deliver(c);
  if (peersChanged) refreshDoorbell();
}

function sweepAfterPeerGone(peer: VdevShmemPeer): void {
  if (!vdevShmemAlive(peer.pid, peer.token)) vdevShmemRemoveDoorbell(peer);
  for (const r of [...allRegions]) {
    if (r.closed || r.clients.size === 0) continue;
    underLock(r, () => {
      const cleared = r.sweepLocked();
      if (!r.heldLocked()) r.killLocked();
      return cleared ? () => signalMembers(r, -1) : undefined;
    });
  }
  refreshDoorbell();
}

/** Bumps the event counter of slot `j` and wakes its owner. */
function signalSlot(r: HostRegion, j: number): void {
  r.add(slotOff(j, H.SLOT_SEQ), 1);
  const pid = r.load(slotOff(j, H.SLOT_PID));
  if (pid === 0) return;
  const token = r.load(slotOff(j, H.SLOT_TOKEN));
  const me = vdevShmemSelf();
  if (pid === me.pid && token === me.token) {
    const c = r.localClient(j);
    if (c) deliver(c);
  } else if (doorbell?.running || localClientCount() > 0) {
    // A process without clients (only anchors) has no doorbell; the
    // clients it would tell watch their peers themselves.
    ensureDoorbell().ring({ pid, token }, () => r.slotPath(j));
  }
}

/** Tells every active client but `except` that the membership changed. */
function signalMembers(r: HostRegion, except: number): void {
  const active = r.load(H.ACTIVE);
  for (let j = 0; j < GUEST_SHM_MAX_CLIENTS; j++) {
    if (j !== except && active & (1 << j)) signalSlot(r, j);
  }
}

// ---------------------------------------------------------------------------
// clients and anchors

/**
 * One client (connection) of a region in this process: a slot of the
 * client table. Its guest-visible control registers map onto
 * {@link VdevShmemClient.readStatus}, {@link VdevShmemClient.idx},
 * {@link VdevShmemClient.notify} and {@link VdevShmemClient.detach}.
 */
export class VdevShmemClient {
  /** Called when this client's status changed: a notification arrived or the active set changed. */
  onEvent: (() => void) | null = null;
  #region: HostRegion | null;
  #seen: number;

  /** @internal */
  constructor(
    region: HostRegion,
    /** The connection index (0..15). */
    readonly idx: number,
  ) {
    this.#region = region;
    this.#seen = region.load(slotOff(idx, H.SLOT_SEQ));
  }

  /** The region's host name. */
  get hostName(): string {
    return this.#live().hostName;
  }

  /** The region's size in pages. */
  get pages(): number {
    return this.#live().pages;
  }

  /** Whether the client is still attached. */
  get attached(): boolean {
    return this.#region !== null;
  }

  /** The mapping of the whole object (header, then data at {@link VDEV_SHMEM_HEADER_SIZE}). */
  get mapping(): MappedMemory {
    return this.#live().mem;
  }

  /** The object's descriptor (owned by the region; do not close). */
  get fd(): number {
    return this.#live().fd;
  }

  #live(): HostRegion {
    if (!this.#region) throw new Error('vdev-shmem client is detached');
    return this.#region;
  }

  /** The control page's `status`: pending bits (then cleared) and the active set. */
  readStatus(): number {
    const r = this.#live();
    if (!r.intact()) return 0;
    const pending = r.exchange(slotOff(this.idx, H.SLOT_PENDING), 0);
    return packControlStatus(pending, r.load(H.ACTIVE));
  }

  /** `status` without clearing the pending bits. */
  peekStatus(): number {
    const r = this.#live();
    if (!r.intact()) return 0;
    return packControlStatus(r.load(slotOff(this.idx, H.SLOT_PENDING)), r.load(H.ACTIVE));
  }

  /**
   * A write of `value` to `notify`: sets this client's bit in the pending
   * word of each target (see {@link notifyTargets}) and wakes them.
   * Returns the targets.
   */
  notify(value: number): number {
    const r = this.#live();
    if (!r.intact()) return 0;
    const targets = notifyTargets(value, this.idx, r.load(H.ACTIVE));
    const bit = 1 << this.idx;
    for (let j = 0; j < GUEST_SHM_MAX_CLIENTS; j++) {
      if (!(targets & (1 << j))) continue;
      r.or(slotOff(j, H.SLOT_PENDING), bit);
      signalSlot(r, j);
    }
    return targets;
  }

  /** @internal Raises the event when the counter moved since the last look. */
  poll(): void {
    const r = this.#region;
    if (!r || r.truncated) return;
    const seq = r.load(slotOff(this.idx, H.SLOT_SEQ));
    if (seq === this.#seen) return;
    this.#seen = seq;
    this.onEvent?.();
  }

  /**
   * Leaves the region (idempotent): frees the slot, tells the other
   * clients, and removes the region if nobody holds it any more.
   */
  detach(): void {
    const r = this.#region;
    if (!r) return;
    this.#region = null;
    r.clients.delete(this);
    const idx = this.idx;
    // Done later if another process holds the lock: the slot stays taken
    // (and the region open) until then.
    underLock(r, () => {
      r.store(H.ACTIVE, r.load(H.ACTIVE) & ~(1 << idx));
      r.clearSlot(idx);
      r.bumpGeneration();
      r.sweepLocked();
      const held = r.heldLocked();
      if (!held) r.killLocked();
      return held ? () => signalMembers(r, -1) : undefined;
    });
  }
}

/** A device's hold on a region it pre-created (`create` option); not a client. */
export class VdevShmemAnchor {
  #region: HostRegion | null;
  readonly #entry: number;

  /** @internal */
  constructor(region: HostRegion, entry: number) {
    this.#entry = entry;
    this.#region = region;
  }

  /** The region's host name. */
  get hostName(): string {
    if (!this.#region) throw new Error('vdev-shmem anchor is released');
    return this.#region.hostName;
  }

  /** The region's size in pages. */
  get pages(): number {
    if (!this.#region) throw new Error('vdev-shmem anchor is released');
    return this.#region.pages;
  }

  /** Whether the anchor still holds the region. */
  get held(): boolean {
    return this.#region !== null;
  }

  /** Lets go of the region (idempotent); removes it if nobody holds it any more. */
  release(): void {
    const r = this.#region;
    if (!r) return;
    this.#region = null;
    r.anchors.delete(this);
    const entry = this.#entry;
    underLock(r, () => {
      r.store(anchorOff(entry), 0);
      r.store(anchorOff(entry) + 4, 0);
      r.bumpGeneration();
      const cleared = r.sweepLocked();
      const held = r.heldLocked();
      if (!held) r.killLocked();
      return cleared && held ? () => signalMembers(r, -1) : undefined;
    });
  }
}

// ---------------------------------------------------------------------------
// opening

/** How to open a region. */
export interface VdevShmemOpenOptions {
  /** Create the region if it does not exist (a `size` write); false: attach only (`find`). */
  create: boolean;
  /** Size in pages when creating; 0 means attach only. */
  pages?: number;
  /** Permission bits of a region this call creates (default 0600). */
  mode?: number;
  /** Group of a region this call creates (name or id; default: the process's). */
  gid?: string | number;
  /**
   * Asked before a slot is taken, with the region's actual size: false
   * fails the request with GSS_NOMEM (the device's window is full).
   */
  fits?: (pages: number) => boolean;
}

/** A successful {@link vdevShmemAttach}. */
export interface VdevShmemAttached {
  /** GSS_OK. */
  status: GuestShmStatus.GSS_OK;
  /** The new client. */
  client: VdevShmemClient;
}

/** A failed {@link vdevShmemAttach}. */
export interface VdevShmemAttachFailure extends VdevShmemFailure {
  /** Never set: there is no client. */
  client?: undefined;
}

/** Result of {@link vdevShmemAttach}. */
export type VdevShmemAttachResult = VdevShmemAttached | VdevShmemAttachFailure;

type Claim<T> = (r: HostRegion) => T | VdevShmemFailure;

function isFailure(x: unknown): x is VdevShmemFailure {
  return typeof x === 'object' && x !== null && 'status' in x && 'reason' in x;
}

function claimSlotLocked(
  r: HostRegion,
  opts: VdevShmemOpenOptions,
  path: string,
): number | VdevShmemFailure {
  if (opts.fits && !opts.fits(r.pages)) {
    return { status: GuestShmStatus.GSS_NOMEM, reason: `no room for ${r.pages} pages` };
  }
  const me = vdevShmemSelf();
  const active = r.load(H.ACTIVE);
  for (let i = 0; i < GUEST_SHM_MAX_CLIENTS; i++) {
    if (active & (1 << i) || r.load(slotOff(i, H.SLOT_PID)) !== 0) continue;
    // Connected to the members before our slot shows: if we die from here
    // on, they hear the hang-up and find the slot (see vdev-shmem-doorbell.ts).
    doorbell?.addPeers(r.peers());
    r.setSlotPath(i, path);
    r.store(slotOff(i, H.SLOT_TOKEN), me.token);
    r.store(slotOff(i, H.SLOT_PENDING), 0);
    r.store(slotOff(i, H.SLOT_PID), me.pid);
    r.store(H.ACTIVE, active | (1 << i));
    r.bumpGeneration();
    return i;
  }
  return {
    status: GuestShmStatus.GSS_CLIENT_MAX,
    reason: `region '${r.hostName}' already has ${GUEST_SHM_MAX_CLIENTS} clients`,
  };
}

function claimAnchorLocked(r: HostRegion): number | VdevShmemFailure {
  const me = vdevShmemSelf();
  for (let i = 0; i < VDEV_SHMEM_MAX_ANCHORS; i++) {
    if (r.load(anchorOff(i)) !== 0) continue;
    r.store(anchorOff(i) + 4, me.token);
    r.store(anchorOff(i), me.pid);
    r.bumpGeneration();
    return i;
  }
  return {
    status: GuestShmStatus.GSS_UNKNOWN_FAILURE,
    reason: `region '${r.hostName}' already has ${VDEV_SHMEM_MAX_ANCHORS} creators`,
  };
}

const READY_TIMEOUT_MS = 2000;

interface Opened {
  region: HostRegion;
  created: boolean;
}

// Opens (and, when asked, creates) the object; 'retry' when it vanished
// or died under us.
function openObject(
  hostName: string,
  opts: VdevShmemOpenOptions,
): Opened | VdevShmemFailure | 'retry' {
  const o = os();
  const name = vdevShmemObjectName(hostName);
  const pages = opts.pages ?? 0;
  const creating = opts.create && pages > 0;
  let fd = -1;
  let created = false;
  if (creating) {
    try {
      fd = o.shmOpen(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600);
      created = true;
    } catch (e) {
      if (!isErrno(e, 'EEXIST')) return { status: statusOfErrno(e), reason: describe(e) };
    }
  }
  if (!created) {
    try {
      fd = o.shmOpen(name, O_RDWR | O_CLOEXEC, 0);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) {
        if (creating) return 'retry';
        return {
          status: GuestShmStatus.GSS_DOES_NOT_EXIST,
          reason: `region '${hostName}' does not exist`,
        };
      }
      return { status: statusOfErrno(e), reason: describe(e) };
    }
  }
  try {
    return created ? initObject(hostName, fd, pages, opts) : attachObject(hostName, fd);
  } catch (e) {
    try {
      o.close(fd);
    } catch {
      /* closed already */
    }
    if (created) {
      try {
        o.shmUnlink(name);
      } catch {
        /* gone */
      }
    }
    if (e instanceof VdevShmemHostError) return { status: e.status, reason: e.message };
    return { status: statusOfErrno(e), reason: describe(e) };
  }
}

function initObject(
  hostName: string,
  fd: number,
  pages: number,
  opts: VdevShmemOpenOptions,
): Opened | VdevShmemFailure {
  const o = os();
  const name = vdevShmemObjectName(hostName);
  const fail = (f: VdevShmemFailure): VdevShmemFailure => {
    o.close(fd);
    try {
      o.shmUnlink(name);
    } catch {
      /* gone */
    }
    return f;
  };
  if (opts.fits && !opts.fits(pages)) {
    return fail({ status: GuestShmStatus.GSS_NOMEM, reason: `no room for ${pages} pages` });
  }
  const size = VDEV_SHMEM_HEADER_SIZE + pages * GUEST_SHM_PAGE_SIZE;
  // A shm file system cannot back more than it has free: refuse up front
  // rather than let a guest store hit SIGBUS later.
  const fs = o.fstatfs(fd);
  if (BigInt(size) > BigInt(fs.bavail) * BigInt(fs.bsize)) {
    return fail({
      status: GuestShmStatus.GSS_NOMEM,
      reason: `not enough shared memory for ${pages} pages`,
    });
  }
  // Exactly the configured mode, whatever the process umask.
  fchmodSync(fd, opts.mode ?? 0o600);
  if (opts.gid !== undefined) fchownSync(fd, -1, groupId(opts.gid));
  o.ftruncate(fd, size);
  // Any process with access can truncate the object: guest accesses are guarded.
  const mem = o.mapMemory(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0).guard();
  const me = vdevShmemSelf();
  o.atomicStore32(mem, H.CREATOR_PID, me.pid);
  o.atomicStore32(mem, H.CREATOR_TOKEN, me.token | 0);
  o.atomicStore32(mem, H.LOCK, me.pid);
  o.atomicStore32(mem, H.VERSION, VDEV_SHMEM_VERSION);
  o.atomicStore32(mem, H.PAGES, pages | 0);
  o.atomicStore32(mem, H.STATE, VdevShmemObjectState.READY);
  o.atomicStore32(mem, H.MAGIC, VDEV_SHMEM_MAGIC);
  // The lock stays ours until the caller has claimed its slot, so nobody
  // ever sees a fresh region without a holder.
  return { region: new HostRegion(hostName, name, fd, mem, pages), created: true };
}

function attachObject(hostName: string, fd: number): Opened | VdevShmemFailure | 'retry' {
  const o = os();
  const name = vdevShmemObjectName(hostName);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let size = o.fstat(fd).size;
  while (size < VDEV_SHMEM_HEADER_SIZE && Date.now() < deadline) {
    sleepMs(1);
    size = o.fstat(fd).size;
  }
  if (size < VDEV_SHMEM_HEADER_SIZE) {
    o.close(fd);
    // Its creator never got as far as sizing it: a leftover.
    try {
      o.shmUnlink(name);
    } catch {
      /* gone */
    }
    return 'retry';
  }
  const mem = o.mapMemory(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0).guard();
  const drop = (): void => {
    mem.unmap();
    o.close(fd);
  };
  let magic = o.atomicLoad32(mem, H.MAGIC) >>> 0;
  for (let n = 1; magic !== VDEV_SHMEM_MAGIC && Date.now() < deadline; n++) {
    // A creator that died half-way never finishes: stop waiting for it.
    const creator = o.atomicLoad32(mem, H.CREATOR_PID) >>> 0;
    if (n % 16 === 0 && creator !== 0 && !vdevShmemAlive(creator)) break;
    sleepMs(1);
    magic = o.atomicLoad32(mem, H.MAGIC) >>> 0;
  }
  if (magic !== VDEV_SHMEM_MAGIC) {
    const creator = o.atomicLoad32(mem, H.CREATOR_PID) >>> 0;
    drop();
    if (creator === 0 || !vdevShmemAlive(creator)) {
      try {
        o.shmUnlink(name);
      } catch {
        /* gone */
      }
      return 'retry';
    }
    return {
      status: GuestShmStatus.GSS_UNKNOWN_FAILURE,
      reason: `region '${hostName}' is not a tsqom region`,
    };
  }
  const version = o.atomicLoad32(mem, H.VERSION);
  const pages = o.atomicLoad32(mem, H.PAGES) >>> 0;
  if (
    version !== VDEV_SHMEM_VERSION ||
    VDEV_SHMEM_HEADER_SIZE + pages * GUEST_SHM_PAGE_SIZE > size
  ) {
    drop();
    return {
      status: GuestShmStatus.GSS_UNKNOWN_FAILURE,
      reason: `region '${hostName}' has an unknown layout`,
    };
  }
  return { region: new HostRegion(hostName, name, fd, mem, pages), created: false };
}

function register(r: HostRegion): void {
  regions.set(r.hostName, r);
  allRegions.add(r);
  installExitHook();
}

/** A failure because the lock is held (or the region truncated); `busy` lets async callers retry. */
interface LockedFailure extends VdevShmemFailure {
  busy: boolean;
}

function lockedFailure(hostName: string, holder: number): LockedFailure {
  if (holder === -1) {
    return {
      status: GuestShmStatus.GSS_UNKNOWN_FAILURE,
      reason: `region '${hostName}' was truncated by another process`,
      busy: false,
    };
  }
  return {
    status: GuestShmStatus.GSS_UNKNOWN_FAILURE,
    reason: `region '${hostName}' is locked by process ${holder}`,
    busy: true,
  };
}

function isBusy(x: unknown): boolean {
  return isFailure(x) && (x as Partial<LockedFailure>).busy === true;
}

// Finds or opens the region and runs `claim` under its lock (never
// waiting more than LOCK_TRY_MS for a live holder).
function acquire<T>(
  hostName: string,
  opts: VdevShmemOpenOptions,
  claim: Claim<T>,
): { region: HostRegion; value: T; cleared: number } | VdevShmemFailure {
  const bad = checkShmemName(hostName);
  if (bad) return { status: GuestShmStatus.GSS_ILLEGAL_NAME, reason: bad };
  const existing = regions.get(hostName);
  if (existing?.usable()) {
    const holder = existing.tryLock(LOCK_TRY_MS);
    if (holder !== 0) return lockedFailure(hostName, holder);
    let value: T | VdevShmemFailure;
    let cleared: number;
    try {
      cleared = existing.sweepLocked();
      value = claim(existing);
    } finally {
      existing.unlock();
    }
    if (isFailure(value)) {
      if (cleared) signalMembers(existing, -1);
      return value;
    }
    return { region: existing, value, cleared };
  }
  for (let attempt = 0; attempt < 16; attempt++) {
    const opened = openObject(hostName, opts);
    if (opened === 'retry') continue;
    if (isFailure(opened)) return opened;
    const { region: r, created } = opened;
    let value: T | VdevShmemFailure | 'retry';
    let cleared = 0;
    if (!created) {
      const holder = r.tryLock(LOCK_TRY_MS);
      if (holder !== 0) {
        r.close();
        return lockedFailure(hostName, holder);
      }
    }
    try {
      try {
        if (
          !created &&
          (r.load(H.STATE) !== VdevShmemObjectState.READY || r.os.fstat(r.fd).nlink === 0)
        ) {
          value = 'retry';
        } else {
          if (!created) cleared = r.sweepLocked();
          if (!created && !r.heldLocked()) {
            // Everybody who held it was killed: a leftover. Remove it and
            // (for a create) start again with a fresh one.
            r.killLocked();
            value =
              opts.create && (opts.pages ?? 0) > 0
                ? 'retry'
                : {
                    status: GuestShmStatus.GSS_DOES_NOT_EXIST,
                    reason: `region '${hostName}' does not exist`,
                  };
          } else {
            value = claim(r);
            if (isFailure(value) && created) {
              r.killLocked();
            }
          }
        }
      } finally {
        r.unlock();
      }
    } catch (e) {
      r.close();
      if (e instanceof VdevShmemHostError) return { status: e.status, reason: e.message };
      throw e;
    }
    if (value === 'retry') {
      r.close();
      continue;
    }
    if (isFailure(value)) {
      if (cleared) signalMembers(r, -1);
      r.close();
      return value;
    }
    register(r);
    return { region: r, value: value as T, cleared };
  }
  return {
    status: GuestShmStatus.GSS_UNKNOWN_FAILURE,
    reason: `region '${hostName}' keeps disappearing`,
  };
}

/**
 * Attaches to the region `hostName` as a new client: creates it first
 * when `opts.create` is set with a non-zero size and it does not exist
 * (the creator decides the size), else attaches to the existing one.
 * Failures carry the guest status: GSS_DOES_NOT_EXIST (nothing to attach
 * to), GSS_CLIENT_MAX (16 clients), GSS_NOMEM (no room, no memory),
 * GSS_NO_PERMISSION (the object's mode refuses us), GSS_ILLEGAL_NAME,
 * GSS_UNKNOWN_FAILURE.
 */
export function vdevShmemAttach(
  hostName: string,
  opts: VdevShmemOpenOptions,
): VdevShmemAttachResult {
  let got: ReturnType<typeof acquire<number>>;
  try {
    // The doorbell listens before the slot is visible, so a peer that
    // sees the slot can always reach us.
    const path = ensureDoorbell().path;
    got = acquire(hostName, opts, (r) => claimSlotLocked(r, opts, path));
  } catch (e) {
    got = { status: statusOfErrno(e), reason: describe(e) };
  }
  if (isFailure(got)) {
    if (localClientCount() === 0) doorbell?.stop();
    return got;
  }
  const { region: r, value: idx } = got;
  const client = new VdevShmemClient(r, idx);
  r.clients.add(client);
  r.seenGeneration = r.load(H.GENERATION);
  signalMembers(r, idx);
  refreshDoorbell();
  return { status: GuestShmStatus.GSS_OK, client };
}

/**
 * Holds the region `hostName` for a device's `create` option, creating it
 * with `pages` pages, `mode` and `gid` when it does not exist.
 * @throws VdevShmemHostError when it cannot.
 */
export function vdevShmemAnchor(
  hostName: string,
  opts: { pages: number; mode?: number; gid?: string | number },
): VdevShmemAnchor {
  let got: ReturnType<typeof acquire<number>>;
  try {
    got = acquire(hostName, { create: true, ...opts }, claimAnchorLocked);
  } catch (e) {
    got = { status: statusOfErrno(e), reason: describe(e) };
  }
  if (isFailure(got)) {
    const err = new VdevShmemHostError(got.status, got.reason);
    err.busy = isBusy(got);
    throw err;
  }
  const anchor = new VdevShmemAnchor(got.region, got.value);
  got.region.anchors.add(anchor);
  if (got.cleared) signalMembers(got.region, -1);
  return anchor;
}

/**
 * {@link vdevShmemAnchor} without blocking: while another live process
 * holds the region's lock, retries from a timer (every few milliseconds)
 * until `timeoutMs` passed, then fails as {@link vdevShmemAnchor} does
 * (`region 'NAME' is locked by process PID`).
 * @throws VdevShmemHostError when it cannot.
 */
export async function vdevShmemAnchorAsync(
  hostName: string,
  opts: { pages: number; mode?: number; gid?: string | number },
  timeoutMs = 5000,
): Promise<VdevShmemAnchor> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return vdevShmemAnchor(hostName, opts);
    } catch (e) {
      if (!(e instanceof VdevShmemHostError) || !e.busy || Date.now() >= deadline) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
  }
}

/**
 * Removes the region `hostName` if every process holding it is dead (a
 * leftover of killed processes). Returns true if it removed it.
 */
export function vdevShmemSweep(hostName: string): boolean {
  if (checkShmemName(hostName)) return false;
  const local = regions.get(hostName);
  if (local?.usable()) return false; // we hold it
  const opened = openObject(hostName, { create: false });
  if (opened === 'retry' || isFailure(opened)) return false;
  const r = opened.region;
  let removed = false;
  let cleared = 0;
  try {
    if (r.tryLock(LOCK_TRY_MS) !== 0) return false;
    try {
      if (r.load(H.STATE) === VdevShmemObjectState.READY) {
        cleared = r.sweepLocked();
        if (!r.heldLocked()) {
          r.killLocked();
          removed = true;
        }
      }
    } finally {
      r.unlock();
    }
    if (cleared && !removed) signalMembers(r, -1);
  } finally {
    r.close();
  }
  return removed;
}

let sweptAll = false;

/**
 * The start-up sweep: removes every `tsqom-shmem-*` region in /dev/shm whose
 * holders are all dead (leftovers of SIGKILLed processes), not only the
 * names this process opens. Runs once per process (again with `force`);
 * returns the host names removed.
 */
export function vdevShmemSweepAll(force = false): string[] {
  if (sweptAll && !force) return [];
  sweptAll = true;
  const prefix = VDEV_SHMEM_OBJECT_PREFIX.slice(1);
  let names: string[];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const host = n.slice(prefix.length);
    try {
      if (vdevShmemSweep(host)) removed.push(host);
    } catch {
      // Not ours to judge (unreadable, not a region): left alone.
    }
  }
  return removed;
}

/**
 * Releases every client and anchor this process holds (what a normal
 * exit does; devices normally release theirs when unrealized).
 */
export function vdevShmemReleaseAll(): void {
  for (const r of [...allRegions]) {
    for (const c of [...r.clients]) c.detach();
    for (const a of [...r.anchors]) a.release();
  }
  // At exit no timer fires again: one last try for what is still waiting
  // (a peer that holds the lock for good sweeps our slots once we are gone).
  if (waiting.size > 0) {
    if (retryTimer) clearTimeout(retryTimer);
    retryPending();
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
  }
  doorbell?.stop();
}

/** What this process has open, for tests and diagnostics. */
export interface VdevShmemLocalState {
  /** Regions open (mapped, with a descriptor). */
  regions: number;
  /** Clients attached. */
  clients: number;
  /** Anchors held. */
  anchors: number;
  /** Whether the doorbell listens. */
  doorbell: boolean;
  /** Peer processes connected to. */
  peers: number;
}

/** What this process has open. */
export function vdevShmemLocalState(): VdevShmemLocalState {
  let clients = 0;
  let anchors = 0;
  for (const r of allRegions) {
    clients += r.clients.size;
    anchors += r.anchors.size;
  }
  return {
    regions: allRegions.size,
    clients,
    anchors,
    doorbell: doorbell?.running ?? false,
    peers: doorbell?.peerCount ?? 0,
  };
}
