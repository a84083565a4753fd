/**
 * The typed surface of tsqom's native addon. Every call into the host
 * operating system goes through this module; nothing else loads the addon.
 *
 * The raw addon ({@link NativeAddon}) is deliberately boring: one function
 * per system call, no policy. A failing call throws (or rejects with) an
 * {@link OsError} carrying the kernel's `errno`, its symbolic `code` and the
 * `syscall` name. Higher layers use {@link HostOs} (injectable, so tests can
 * substitute it) and {@link MappedMemory} (safe access to mapped memory).
 * @module
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OsError } from './errors.js';

/** `fstat(2)`/`stat(2)` results. Device and inode numbers are bigints so they compare exactly. */
export interface NativeStat {
  /** File size in bytes. */
  size: number;
  /** File type and permission bits (`st_mode`). */
  mode: number;
  /** Device containing the file. */
  dev: bigint;
  /** Inode number. */
  ino: bigint;
  /** Number of hard links. */
  nlink: number;
  /** Owner's user id. */
  uid: number;
  /** Owner's group id. */
  gid: number;
  /** Device id for special files. */
  rdev: bigint;
  /** Preferred I/O block size; the huge page size on hugetlbfs. */
  blksize: number;
  /** 512-byte blocks allocated. */
  blocks: number;
}

/** `statfs(2)`/`fstatfs(2)` results. */
export interface NativeStatfs {
  /** File system magic number (`f_type`), e.g. {@link HUGETLBFS_MAGIC}. */
  type: number;
  /** Block size (`f_bsize`): the huge page size on hugetlbfs. */
  bsize: number;
  /** Fragment size. */
  frsize: number;
  /** Total blocks. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Free blocks available to unprivileged users. */
  bavail: number;
  /** Total inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Maximum file name length. */
  namelen: number;
  /** Mount flags (`ST_*`). */
  flags: number;
}

/**
 * A memory mapping made by {@link NativeAddon.mmap}. It owns the mapped
 * range: {@link NativeMapping.unmap} detaches every ArrayBuffer handed out by
 * {@link NativeMapping.buffer} and then unmaps. Garbage collection unmaps only
 * when nothing (mapping object, buffer, running job) can reach the memory any
 * more, and never twice.
 */
export interface NativeMapping {
  /** Start address, for matching `/proc/self/maps`. */
  readonly address: bigint;
  /** Length in bytes as given to mmap. */
  readonly length: number;
  /** `PROT_*` bits the mapping was made with. */
  readonly prot: number;
  /** `MAP_*` flags the mapping was made with. */
  readonly flags: number;
  /** The descriptor given to mmap (-1 for anonymous memory); it may since be closed. */
  readonly fd: number;
  /** The file offset given to mmap. */
  readonly offset: number;
  /** False once {@link NativeMapping.unmap} ran. */
  readonly isMapped: boolean;
  /** How many handed-out ArrayBuffers are still alive and attached. */
  readonly viewCount: number;
  /**
   * An ArrayBuffer over `[offset, offset+length)` of the mapping (default:
   * all of it), detached by unmap. Mappings without both PROT_READ and
   * PROT_WRITE refuse with EACCES (a store would kill the process): use
   * read/write. At most 4 GiB per buffer.
   */
  buffer(offset?: number, length?: number): ArrayBuffer;
  /**
   * Detaches every buffer, then unmaps. Returns false if already unmapped.
   * Throws EBUSY while a preallocation runs; cancels pending futex waits.
   */
  unmap(): boolean;
  /** Copies `length` bytes out of the mapping (needs PROT_READ). */
  read(offset: number, length: number): Buffer;
  /** Copies bytes into the mapping (needs PROT_WRITE). */
  write(offset: number, data: ArrayBufferView | ArrayBuffer): void;
}

/** What {@link NativeAddon.mkstemp} made: an open descriptor and the file's name. */
export interface MkstempResult {
  /** The new file's descriptor (the caller closes it). */
  fd: number;
  /** The path made from the template (the caller unlinks it). */
  path: string;
}

/** A page's NUMA memory policy, as `get_mempolicy(2)` reports it. */
export interface Mempolicy {
  /** The policy (`MPOL_DEFAULT`, `MPOL_BIND`, ...). */
  mode: number;
  /** The host nodes in the policy's node mask, ascending. */
  nodes: number[];
}

/** A unix socket peer's credentials (`struct ucred` of `SO_PEERCRED`). */
export interface PeerCred {
  /** The peer's process id when it connected. */
  pid: number;
  /** The peer's effective user id. */
  uid: number;
  /** The peer's effective group id. */
  gid: number;
}

/** What {@link NativeAddon.recvmsg} received. */
export interface RecvmsgResult {
  /** The bytes received; empty at end of stream. */
  data: Buffer;
  /** Descriptors received (close-on-exec), at most the number asked for. */
  fds: number[];
  /** True if descriptors were lost: the kernel truncated them (MSG_CTRUNC) or more came than asked for (the extra ones are closed). */
  truncatedFds: boolean;
}

/** Called by an {@link NativeFdWatcher}: an error, or the `UV_*` events that are ready. */
export type FdWatcherCallback = (error: OsError | null, events: number) => void;

/**
 * Readiness watcher on the event loop (libuv `uv_poll_t`). One watcher per
 * descriptor; close the watcher before closing its descriptor. close() is
 * safe from inside the callback.
 */
export interface NativeFdWatcher {
  /** The watched descriptor. */
  readonly fd: number;
  /** True between start() and stop()/close(). */
  readonly active: boolean;
  /** True once close() was called. */
  readonly closed: boolean;
  /** Starts (or changes) watching; `events` defaults to the constructor's. */
  start(events?: number): void;
  /** Stops watching; start() may be called again. */
  stop(): void;
  /** Stops for good and releases the handle. Idempotent. */
  close(): void;
}

/** The constructor of {@link NativeFdWatcher}. */
export interface NativeFdWatcherClass {
  /** Watches `fd` for `events` (`UV_READABLE` ...); call start() to begin. */
  new (fd: number, events: number, callback: FdWatcherCallback): NativeFdWatcher;
}

/** One result of {@link NativeAddon.getaddrinfo}. */
export interface ResolvedAddress {
  /** AF_INET or AF_INET6. */
  family: number;
  /** The raw `struct sockaddr`, port included (network byte order at offset 2). */
  addr: Buffer;
}

/** The numeric form of a socket address. */
export interface NameInfo {
  /** The address (`127.0.0.1`, `::1`). */
  host: string;
  /** The port, as digits. */
  service: string;
}

/** The outcome of a futex wait. */
export type FutexWaitResult = 'ok' | 'not-equal' | 'timed-out';

/** The functions the compiled addon exports. Numbers are Linux's. */
export interface NativeAddon {
  /** Version of the JS/native interface; bumped when the surface changes. */
  abiVersion(): number;
  /** Registers the class every errno error is created as (called by the loader). */
  setErrorClass(cls: new (errno: number, syscall: string, code?: string) => Error): void;
  /** The host's values of the constants this package hard-codes (for checking). */
  readonly constants: Readonly<Record<string, number>>;

  /** glibc's English text for an errno ("No such file or directory"). */
  strerror(errno: number): string;
  /** The symbolic name of an errno ("ENOENT"). */
  errnoName(errno: number): string;
  /** `getpid(2)`. */
  getpid(): number;
  /** `sysconf(_SC_PAGESIZE)`. */
  getPageSize(): number;
  /** `sysconf(3)`. */
  sysconf(name: number): number;
  /**
   * `malloc_trim(3)`: hands the C allocator's free memory back to the OS,
   * keeping `pad` bytes (default 0) at the top of the heap; true when
   * something was released (always false without glibc).
   */
  mallocTrim(pad?: number): boolean;
  /** V8's low-memory notification: a full, compacting collection, now. */
  lowMemoryNotification(): void;
  /** The CPUs a process (0: this one) may run on (`sched_getaffinity(2)`). */
  schedGetaffinity(pid?: number): number[];

  /** `memfd_create(2)`; returns the descriptor. */
  memfdCreate(name: string, flags: number): number;
  /** `fcntl(F_ADD_SEALS)`. */
  fcntlAddSeals(fd: number, seals: number): void;
  /** `fcntl(F_GET_SEALS)`. */
  fcntlGetSeals(fd: number): number;
  /** `fcntl(F_GETFL)`. */
  fcntlGetFl(fd: number): number;
  /** `fcntl(F_SETFL)`. */
  fcntlSetFl(fd: number, flags: number): void;
  /** `fcntl(F_GETFD)`. */
  fcntlGetFd(fd: number): number;
  /** `fcntl(F_SETFD)`. */
  fcntlSetFd(fd: number, flags: number): void;
  /** `shm_open(3)`. */
  shmOpen(name: string, oflag: number, mode: number): number;
  /** `shm_unlink(3)`. */
  shmUnlink(name: string): void;
  /** `open(2)`. */
  open(path: string, flags: number, mode?: number): number;
  /** `close(2)` (EINTR is not an error: Linux has released the descriptor). */
  close(fd: number): void;
  /** `fcntl(F_DUPFD_CLOEXEC)`: a close-on-exec duplicate. */
  dup(fd: number): number;
  /** `ftruncate(2)`. */
  ftruncate(fd: number, length: number | bigint): void;
  /** `fallocate(2)`. */
  fallocate(fd: number, mode: number, offset: number | bigint, length: number | bigint): void;
  /** `fstat(2)`. */
  fstat(fd: number): NativeStat;
  /** `stat(2)`. */
  stat(path: string): NativeStat;
  /** `fstatfs(2)`. */
  fstatfs(fd: number): NativeStatfs;
  /** `statfs(2)`. */
  statfs(path: string): NativeStatfs;
  /** `unlink(2)`. */
  unlink(path: string): void;
  /** `flock(2)`; with LOCK_NB, false when the lock is held elsewhere. */
  flock(fd: number, operation: number): boolean;
  /** `mkostemp(3)` (flags default to O_CLOEXEC): the descriptor and the path made from `template` (ending in XXXXXX). */
  mkstemp(template: string, flags?: number): MkstempResult;
  /** `pread(2)` into `buffer`; returns the byte count. */
  pread(fd: number, buffer: ArrayBufferView, offset: number | bigint): number;
  /** `pwrite(2)`; returns the byte count. */
  pwrite(fd: number, data: ArrayBufferView, offset: number | bigint): number;
  /** `read(2)` into `buffer`; the byte count, or null on EAGAIN. */
  read(fd: number, buffer: ArrayBufferView): number | null;
  /** `write(2)`; the byte count, or null on EAGAIN. */
  write(fd: number, data: ArrayBufferView): number | null;

  /** `mmap(2)` at a kernel-chosen address (MAP_FIXED is refused). */
  mmap(
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number | bigint,
  ): NativeMapping;
  /**
   * As {@link NativeAddon.mmap}, at an address that is a multiple of
   * `align` (a power of two, at least the page size; RangeError
   * otherwise), as QEMU's qemu_ram_mmap places guest RAM. ENOMEM when
   * `length + align` bytes of address space are not available.
   */
  mmapAligned(
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number | bigint,
    align: number | bigint,
  ): NativeMapping;
  /** `mlockall(2)` with MCL_* flags. */
  mlockall(flags: number): void;
  /** `madvise(2)` on `[offset, offset+length)` of a mapping. */
  madvise(mapping: NativeMapping, offset: number, length: number, advice: number): void;
  /** One synchronous `madvise(MADV_POPULATE_WRITE)` (default: the whole mapping) on the calling thread. */
  madvisePopulateWriteSync(mapping: NativeMapping, offset?: number, length?: number): void;
  /** `msync(2)`. */
  msync(mapping: NativeMapping, offset: number, length: number, flags: number): void;
  /**
   * `mbind(2)` through the raw system call; `nodes` are node numbers,
   * `maxnode` as the kernel takes it (widened to cover the highest node).
   * Default range: the whole mapping.
   */
  mbind(
    mapping: NativeMapping,
    mode: number,
    nodes: readonly number[],
    maxnode: number,
    flags: number,
    offset?: number,
    length?: number,
  ): void;
  /** `get_mempolicy(MPOL_F_ADDR)` for the page at `offset`. */
  getMempolicy(mapping: NativeMapping, offset?: number): Mempolicy;
  /**
   * Preallocates `[offset, offset+length)` on `threads` worker threads.
   * `method`: 0 = MADV_POPULATE_WRITE, falling back to touching pages
   * when the kernel lacks it; 1 = MADV_POPULATE_WRITE only; 2 = touch
   * pages only. `onProgress(done, total)` is called on the JS thread a few
   * times a second and once at the end. `cpus` pins the threads (QEMU's
   * prealloc-context). Rejects with the errno of the first failure
   * (touching reports SIGBUS as EFAULT).
   */
  prealloc(
    mapping: NativeMapping,
    offset: number,
    length: number,
    threads: number,
    pageSize: number,
    onProgress?: ((done: number, total: number) => void) | null,
    method?: number,
    cpus?: readonly number[] | null,
  ): Promise<void>;

  /**
   * Starts a context thread: a real thread that only waits until
   * {@link NativeAddon.contextThreadStop}. Returns its tid.
   */
  contextThreadCreate(): number;
  /** Stops and joins the context thread `tid` (ESRCH if there is none). */
  contextThreadStop(tid: number): void;
  /** `sched_setaffinity(tid, mask of cpus)` (tid 0: the calling thread). */
  schedSetaffinity(tid: number, cpus: readonly number[]): void;
  /** `sched_getaffinity(tid)`: the CPUs in the mask, ascending. */
  schedGetaffinity(tid: number): number[];

  /** Sequentially consistent 32-bit load at a 4-byte-aligned offset. */
  atomicLoad32(mapping: NativeMapping, offset: number): number;
  /** Sequentially consistent 32-bit store. */
  atomicStore32(mapping: NativeMapping, offset: number, value: number): void;
  /** Atomic add; returns the previous value. */
  atomicAdd32(mapping: NativeMapping, offset: number, value: number): number;

  /**
   * Copies `target.byteLength` bytes at `offset` of the mapping into
   * `target`, surviving a fault: returns 0, or the errno (EFAULT when the
   * memory faulted, e.g. SIGBUS because another process shrank the file,
   * or was unmapped; EACCES without PROT_READ). A range outside the
   * mapping is a RangeError.
   */
  guardedRead(mapping: NativeMapping, offset: number, target: ArrayBufferView): number;
  /** Copies `source` into the mapping at `offset`, as {@link NativeAddon.guardedRead} (EACCES without PROT_WRITE). */
  guardedWrite(mapping: NativeMapping, offset: number, source: ArrayBufferView): number;
  /** A full memory barrier that touches no memory. */
  fence(): void;
  /** Atomic or; returns the previous value. */
  atomicOr32(mapping: NativeMapping, offset: number, value: number): number;
  /** Atomic and; returns the previous value. */
  atomicAnd32(mapping: NativeMapping, offset: number, value: number): number;
  /** Atomic exchange; returns the previous value. */
  atomicExchange32(mapping: NativeMapping, offset: number, value: number): number;
  /** Compare-and-swap; returns the previous value (equal to `expected` on success). */
  atomicCompareExchange32(
    mapping: NativeMapping,
    offset: number,
    expected: number,
    value: number,
  ): number;
  /** Sequentially consistent 64-bit load at an 8-byte-aligned offset. */
  atomicLoad64(mapping: NativeMapping, offset: number): bigint;
  /** 64-bit store. */
  atomicStore64(mapping: NativeMapping, offset: number, value: bigint): void;
  /** 64-bit add; returns the previous value. */
  atomicAdd64(mapping: NativeMapping, offset: number, value: bigint): bigint;
  /** 64-bit compare-and-swap; returns the previous value. */
  atomicCompareExchange64(
    mapping: NativeMapping,
    offset: number,
    expected: bigint,
    value: bigint,
  ): bigint;
  /** `FUTEX_WAKE` (shared, works across processes); returns how many waiters woke. */
  futexWake(mapping: NativeMapping, offset: number, count: number): number;
  /**
   * `FUTEX_WAIT` (shared) on a worker thread. `timeoutMs` undefined or
   * negative waits forever. Rejects with ECANCELED if the mapping is
   * unmapped meanwhile. While pending it keeps the process alive unless
   * `keepAlive` is false.
   */
  futexWaitAsync(
    mapping: NativeMapping,
    offset: number,
    expected: number,
    timeoutMs?: number,
    keepAlive?: boolean,
  ): Promise<FutexWaitResult>;

  /** `eventfd(2)`. */
  eventfd(initval: number, flags: number): number;
  /** Reads an eventfd counter; null on EAGAIN. */
  eventfdRead(fd: number): bigint | null;
  /** Adds to an eventfd counter; false on EAGAIN (the counter would overflow). */
  eventfdWrite(fd: number, value: bigint): boolean;
  /** `pidfd_open(2)` (close-on-exec); throws ENOSYS where the kernel lacks it. */
  pidfdOpen(pid: number): number;

  /** `socket(2)`. */
  socket(domain: number, type: number, protocol: number): number;
  /** `socketpair(2)`. */
  socketpair(domain: number, type: number, protocol: number): [number, number];
  /** `bind(2)` to a unix socket path. */
  bind(fd: number, path: string): void;
  /** `listen(2)`. */
  listen(fd: number, backlog: number): void;
  /** `accept4(2)`; null on EAGAIN. */
  accept4(fd: number, flags: number): number | null;
  /** `connect(2)` to a unix socket path; EINPROGRESS/EAGAIN are thrown like any errno. */
  connect(fd: number, path: string): void;
  /** `sendmsg(2)` with MSG_NOSIGNAL and the descriptors as SCM_RIGHTS; returns bytes sent (EAGAIN is thrown). */
  sendmsg(fd: number, data: ArrayBufferView, fds?: readonly number[]): number;
  /** `recvmsg(2)` with MSG_CMSG_CLOEXEC; null on EAGAIN. */
  recvmsg(fd: number, maxBytes: number, maxFds: number): RecvmsgResult | null;
  /** `shutdown(2)`. */
  shutdown(fd: number, how: number): void;
  /** `getsockopt(2)` for an int option, e.g. SO_ERROR. */
  getsockoptInt(fd: number, level: number, name: number): number;
  /** `setsockopt(2)` for an int option. */
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  /** The unix socket path of a socket (`getsockname(2)`); '' when unnamed. */
  getsockname(fd: number): string;
  /** The unix socket path of the peer (`getpeername(2)`); '' when unnamed. */
  getpeername(fd: number): string;
  /** `SO_PEERCRED`: the peer process's credentials. */
  getPeerCred(fd: number): PeerCred;
  /**
   * `getaddrinfo(3)` on the thread pool; rejects with an Error whose
   * message is `gai_strerror`'s text (and `gaiCode`).
   */
  getaddrinfo(
    host: string | null,
    service: string | null,
    flags: number,
    family: number,
    socktype: number,
  ): Promise<ResolvedAddress[]>;
  /** `bind(2)` to a raw socket address (as {@link getaddrinfo} gives it). */
  bindAddr(fd: number, addr: Uint8Array): void;
  /** `connect(2)` to a raw socket address; EINPROGRESS is thrown like any errno. */
  connectAddr(fd: number, addr: Uint8Array): void;
  /** The raw local (or, with `peer`, remote) address of a socket. */
  getsockAddr(fd: number, peer: boolean): Buffer;
  /** `getnameinfo(3)` with NI_NUMERICHOST and NI_NUMERICSERV. */
  nameinfo(addr: Uint8Array): NameInfo;

  /** Readiness watcher on the event loop. */
  FdWatcher: NativeFdWatcherClass;
}

/** The interface version this TypeScript code was written against. */
export const NATIVE_ABI_VERSION = 7;

function findPackageRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`tsqom: cannot find the package root above ${from}`);
    dir = up;
  }
}

function loadAddon(): NativeAddon {
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  const candidates = ['build/Release/tsqom_native.node', 'build/Debug/tsqom_native.node'];
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const rel of candidates) {
    const path = join(root, rel);
    if (!existsSync(path)) {
      tried.push(`${path}: not built`);
      continue;
    }
    try {
      const addon = require(path) as NativeAddon;
      const abi = addon.abiVersion();
      if (abi !== NATIVE_ABI_VERSION) {
        throw new Error(`interface version ${abi}, expected ${NATIVE_ABI_VERSION} (rebuild it)`);
      }
      addon.setErrorClass(OsError);
      return addon;
    } catch (e) {
      tried.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(
    `tsqom: the native addon could not be loaded; run \`npm install\` (or \`npx node-gyp rebuild\`) ` +
      `in ${root}.\n  ${tried.join('\n  ')}`,
  );
}

let cached: NativeAddon | undefined;

/** Loads the native addon once and returns it; throws a message that says what failed. */
export function native(): NativeAddon {
  cached ??= loadAddon();
  return cached;
}

export { OsError, strerror, errnoName, isErrno } from './errors.js';
export * from './constants.js';
export { HostOs, HOST_OS } from './host.js';
export type { PreallocOptions, MappingLike } from './host.js';
export { MappedMemory } from './mapping.js';
