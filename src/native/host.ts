/**
 * `HostOs`: the host operating system as a service. Every layer above the
 * native addon calls the OS through it, resolved from tsyringe's container,
 * so embedders and fault-injection tests can register a substitute (for
 * instance a subclass whose `mmap` throws `new OsError(ENOMEM, 'mmap')`).
 * @module
 */
import 'reflect-metadata';
import { type InjectionToken, singleton } from 'tsyringe';
import {
  native,
  type FdWatcherCallback,
  type FutexWaitResult,
  type Mempolicy,
  type MkstempResult,
  type NativeAddon,
  type NativeFdWatcher,
  type NativeMapping,
  type NativeStat,
  type NativeStatfs,
  type PeerCred,
  type ResolvedAddress,
  type NameInfo,
  type RecvmsgResult,
} from './index.js';
import { strerror } from './errors.js';
import { MappedMemory } from './mapping.js';
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  FD_CLOEXEC,
  MFD_HUGE_SHIFT,
  O_CLOEXEC,
  O_NONBLOCK,
  PREALLOC_AUTO,
  PREALLOC_POPULATE,
  PREALLOC_TOUCH,
  SC_NPROCESSORS_ONLN,
} from './constants.js';

/** Options of {@link HostOs.prealloc}. */
export interface PreallocOptions {
  /** Worker threads (default 1); each takes one slice of the range. */
  threads?: number;
  /** Page size of the memory (default: the host's base page size; the huge page size for hugetlb). */
  pageSize?: number;
  /** Start of the range (default 0). */
  offset?: number;
  /** Length of the range (default: up to the end of the mapping). */
  length?: number;
  /** Called on the event loop a few times a second, and once at the end, with the bytes done so far. */
  onProgress?: (done: number, total: number) => void;
  /**
   * `populate` uses MADV_POPULATE_WRITE (Linux 5.14+), which reports
   * failures as errno. `touch` writes one byte per page (reading it first
   * and writing the same value back, so file contents survive, as QEMU
   * does); a SIGBUS while touching is caught and reported as EFAULT, but a
   * process writing the same memory concurrently can lose a store. `auto`
   * (default) populates and falls back to touching when the kernel lacks
   * MADV_POPULATE_WRITE.
   */
  method?: 'auto' | 'populate' | 'touch';
  /** CPUs the worker threads run on (QEMU's prealloc-context); default: inherited. */
  cpus?: readonly number[];
}

/** A mapping as the raw addon made it, or wrapped in a {@link MappedMemory}. */
export type MappingLike = NativeMapping | MappedMemory;

function raw(m: MappingLike): NativeMapping {
  return m instanceof MappedMemory ? m.native : m;
}

/**
 * The host OS: thin, typed, documented wrappers over the native addon.
 * Every failure throws an {@link OsError} with the kernel's errno; no method
 * retries, falls back or decides anything beyond what its comment says, so
 * the policy (and QEMU's error texts) stay in the callers. Code resolves
 * it through the {@link HOST_OS} token from its machine context (see
 * `MachineContext` in tsqom/qom); substitutes for fault injection extend
 * this class.
 */
@singleton()
export class HostOs {
  #cachedPageSize = 0;

  /** The raw addon; substitutes may override this getter or any method. */
  protected get addon(): NativeAddon {
    return native();
  }

  // --- process -------------------------------------------------------------

  /** `getpid(2)`. */
  getpid(): number {
    return this.addon.getpid();
  }

  /** The base page size (`sysconf(_SC_PAGESIZE)`). */
  pageSize(): number {
    this.#cachedPageSize ||= this.addon.getPageSize();
    return this.#cachedPageSize;
  }

  /** Online CPUs (`sysconf(_SC_NPROCESSORS_ONLN)`). */
  onlineCpus(): number {
    return this.addon.sysconf(SC_NPROCESSORS_ONLN);
  }

  /** The CPUs this process may run on (`sched_getaffinity(2)`). */
  cpuAffinity(): number[] {
    return this.addon.schedGetaffinity(0);
  }

  /**
   * Hands memory the process no longer uses back to the OS: a full V8
   * collection (which also frees the memory of unreferenced Buffers), then
   * `malloc_trim(3)` of the C allocator, which otherwise keeps freed
   * chunks below its top for reuse. Synchronous (tens of milliseconds on
   * a small heap); true when the allocator released something.
   */
  releaseFreedMemory(): boolean {
    this.addon.lowMemoryNotification();
    return this.addon.mallocTrim(0);
  }

  /** glibc's English text for an errno. */
  strerror(errno: number): string {
    return strerror(errno);
  }

  // --- descriptors ---------------------------------------------------------

  /**
   * `memfd_create(2)`. For huge pages pass `MFD_HUGETLB` and
   * {@link HostOs.hugetlbFlag} of the page size.
   */
  memfdCreate(name: string, flags: number): number {
    return this.addon.memfdCreate(name, flags);
  }

  /** The `MFD_HUGE_*`/`MAP_HUGE_*` bits selecting a huge page size (a power of two). */
  hugetlbFlag(pageSize: number): number {
    const log2 = Math.log2(pageSize);
    if (!Number.isInteger(log2)) throw new RangeError(`${pageSize} is not a power of 2`);
    return (log2 << MFD_HUGE_SHIFT) >>> 0;
  }

  /** `fcntl(F_ADD_SEALS)`. */
  addSeals(fd: number, seals: number): void {
    this.addon.fcntlAddSeals(fd, seals);
  }

  /** `fcntl(F_GET_SEALS)`. */
  getSeals(fd: number): number {
    return this.addon.fcntlGetSeals(fd);
  }

  /** `shm_open(3)`: `name` starts with `/` and lives in /dev/shm. */
  shmOpen(name: string, oflag: number, mode: number): number {
    return this.addon.shmOpen(name, oflag, mode);
  }

  /** `shm_unlink(3)`. */
  shmUnlink(name: string): void {
    this.addon.shmUnlink(name);
  }

  /** `open(2)`; add `O_CLOEXEC` unless the descriptor must survive exec. */
  open(path: string, flags: number, mode = 0): number {
    return this.addon.open(path, flags, mode);
  }

  /** `close(2)`. */
  close(fd: number): void {
    this.addon.close(fd);
  }

  /** A close-on-exec duplicate (`fcntl(F_DUPFD_CLOEXEC)`). */
  dup(fd: number): number {
    return this.addon.dup(fd);
  }

  /** `ftruncate(2)`. */
  ftruncate(fd: number, length: number | bigint): void {
    this.addon.ftruncate(fd, length);
  }

  /** `fallocate(2)`. */
  fallocate(fd: number, mode: number, offset: number | bigint, length: number | bigint): void {
    this.addon.fallocate(fd, mode, offset, length);
  }

  /** `fstat(2)`. */
  fstat(fd: number): NativeStat {
    return this.addon.fstat(fd);
  }

  /** `stat(2)`. */
  stat(path: string): NativeStat {
    return this.addon.stat(path);
  }

  /** `fstatfs(2)`: `type` is e.g. `HUGETLBFS_MAGIC`, `bsize` then the huge page size. */
  fstatfs(fd: number): NativeStatfs {
    return this.addon.fstatfs(fd);
  }

  /** `statfs(2)`. */
  statfs(path: string): NativeStatfs {
    return this.addon.statfs(path);
  }

  /** `unlink(2)`. */
  unlink(path: string): void {
    this.addon.unlink(path);
  }

  /** `flock(2)`; with LOCK_NB, false when another holder has the lock. */
  flock(fd: number, operation: number): boolean {
    return this.addon.flock(fd, operation);
  }

  /** `mkostemp(3)`: `template` ends in `XXXXXX`; the descriptor is close-on-exec unless `flags` says otherwise. */
  mkstemp(template: string, flags = O_CLOEXEC): MkstempResult {
    return this.addon.mkstemp(template, flags);
  }

  /** `pread(2)`; returns the bytes read. */
  pread(fd: number, buffer: ArrayBufferView, offset: number | bigint): number {
    return this.addon.pread(fd, buffer, offset);
  }

  /** `pwrite(2)`; returns the bytes written. */
  pwrite(fd: number, data: ArrayBufferView, offset: number | bigint): number {
    return this.addon.pwrite(fd, data, offset);
  }

  /** `read(2)`; null on EAGAIN. */
  read(fd: number, buffer: ArrayBufferView): number | null {
    return this.addon.read(fd, buffer);
  }

  /** `write(2)`; null on EAGAIN. */
  write(fd: number, data: ArrayBufferView): number | null {
    return this.addon.write(fd, data);
  }

  /** `fcntl(F_GETFL)`. */
  getStatusFlags(fd: number): number {
    return this.addon.fcntlGetFl(fd);
  }

  /** `fcntl(F_SETFL)`. */
  setStatusFlags(fd: number, flags: number): void {
    this.addon.fcntlSetFl(fd, flags);
  }

  /** Sets or clears O_NONBLOCK. */
  setNonBlocking(fd: number, on: boolean): void {
    const fl = this.addon.fcntlGetFl(fd);
    this.addon.fcntlSetFl(fd, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
  }

  /** Sets or clears FD_CLOEXEC. */
  setCloexec(fd: number, on: boolean): void {
    const fl = this.addon.fcntlGetFd(fd);
    this.addon.fcntlSetFd(fd, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
  }

  // --- memory --------------------------------------------------------------

  /**
   * `mmap(2)` at an address the kernel picks (MAP_FIXED is refused).
   * Anonymous memory: `fd` -1 with MAP_ANONYMOUS.
   */
  mmap(
    length: number,
    prot: number,
    flags: number,
    fd = -1,
    offset: number | bigint = 0,
  ): NativeMapping {
    return this.addon.mmap(length, prot, flags, fd, offset);
  }

  /** {@link HostOs.mmap}, wrapped in a {@link MappedMemory} for safe access. */
  mapMemory(
    length: number,
    prot: number,
    flags: number,
    fd = -1,
    offset: number | bigint = 0,
  ): MappedMemory {
    return new MappedMemory(this.mmap(length, prot, flags, fd, offset));
  }

  /**
   * {@link HostOs.mapMemory} at an address aligned to `align` (a power of
   * two, at least the page size), as QEMU aligns guest RAM.
   */
  mapMemoryAligned(
    length: number,
    prot: number,
    flags: number,
    fd: number,
    offset: number | bigint,
    align: number | bigint,
  ): MappedMemory {
    return new MappedMemory(this.addon.mmapAligned(length, prot, flags, fd, offset, align));
  }

  /** `mlockall(2)`: `flags` of MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT. */
  mlockall(flags: number): void {
    this.addon.mlockall(flags);
  }

  /** `madvise(2)`; unsupported advice surfaces as EINVAL, for the caller to handle. */
  madvise(mapping: MappingLike, offset: number, length: number, advice: number): void {
    this.addon.madvise(raw(mapping), offset, length, advice);
  }

  /** One synchronous `madvise(MADV_POPULATE_WRITE)` on the calling thread (blocks the event loop). */
  populateWriteSync(mapping: MappingLike, offset?: number, length?: number): void {
    this.addon.madvisePopulateWriteSync(raw(mapping), offset, length);
  }

  /** `msync(2)`. */
  msync(mapping: MappingLike, offset: number, length: number, flags: number): void {
    this.addon.msync(raw(mapping), offset, length, flags);
  }

  /**
   * `mbind(2)` on the whole mapping (or `[offset, offset+length)`). `nodes`
   * are host node numbers; `maxnode` is passed to the kernel as given
   * (widened to cover the highest node), as QEMU computes it.
   */
  mbind(
    mapping: MappingLike,
    mode: number,
    nodes: readonly number[],
    maxnode: number,
    flags: number,
    offset?: number,
    length?: number,
  ): void {
    this.addon.mbind(raw(mapping), mode, nodes, maxnode, flags, offset, length);
  }

  /** The NUMA policy of the page at `offset` (`get_mempolicy(MPOL_F_ADDR)`). */
  getMempolicy(mapping: MappingLike, offset = 0): Mempolicy {
    return this.addon.getMempolicy(raw(mapping), offset);
  }

  /**
   * Preallocates memory on worker threads without blocking the event loop.
   * While it runs the mapping refuses to unmap (EBUSY). Rejects with the
   * OsError of the first failure.
   */
  prealloc(mapping: MappingLike, options: PreallocOptions = {}): Promise<void> {
    const m = raw(mapping);
    const offset = options.offset ?? 0;
    const length = options.length ?? m.length - offset;
    const method =
      options.method === 'populate'
        ? PREALLOC_POPULATE
        : options.method === 'touch'
          ? PREALLOC_TOUCH
          : PREALLOC_AUTO;
    return this.addon.prealloc(
      m,
      offset,
      length,
      options.threads ?? 1,
      options.pageSize ?? this.pageSize(),
      options.onProgress ?? null,
      method,
      options.cpus ?? null,
    );
  }

  // --- threads and CPU affinity -------------------------------------------

  /**
   * Starts a context thread (a real OS thread that waits until
   * {@link HostOs.contextThreadStop}) and returns its tid, so its affinity
   * can be set and read like any thread's.
   */
  contextThreadCreate(): number {
    return this.addon.contextThreadCreate();
  }

  /** Stops and joins a context thread made by {@link HostOs.contextThreadCreate}. */
  contextThreadStop(tid: number): void {
    this.addon.contextThreadStop(tid);
  }

  /** `sched_setaffinity(2)`: runs thread `tid` on `cpus` only (errno as the kernel gives it). */
  schedSetaffinity(tid: number, cpus: readonly number[]): void {
    this.addon.schedSetaffinity(tid, cpus);
  }

  /** `sched_getaffinity(2)`: the CPUs thread `tid` may run on. */
  schedGetaffinity(tid: number): number[] {
    return this.addon.schedGetaffinity(tid);
  }

  // --- atomics and futexes on shared memory -------------------------------

  /** Sequentially consistent 32-bit load (offset 4-byte aligned). */
  atomicLoad32(mapping: MappingLike, offset: number): number {
    return this.addon.atomicLoad32(raw(mapping), offset);
  }

  /** Sequentially consistent 32-bit store. */
  atomicStore32(mapping: MappingLike, offset: number, value: number): void {
    this.addon.atomicStore32(raw(mapping), offset, value);
  }

  /** A full memory barrier that touches no memory. */
  fence(): void {
    this.addon.fence();
  }

  /** Atomic add; returns the previous value. */
  atomicAdd32(mapping: MappingLike, offset: number, value: number): number {
    return this.addon.atomicAdd32(raw(mapping), offset, value);
  }

  /** Atomic or; returns the previous value. */
  atomicOr32(mapping: MappingLike, offset: number, value: number): number {
    return this.addon.atomicOr32(raw(mapping), offset, value);
  }

  /** Atomic and; returns the previous value. */
  atomicAnd32(mapping: MappingLike, offset: number, value: number): number {
    return this.addon.atomicAnd32(raw(mapping), offset, value);
  }

  /** Atomic exchange; returns the previous value. */
  atomicExchange32(mapping: MappingLike, offset: number, value: number): number {
    return this.addon.atomicExchange32(raw(mapping), offset, value);
  }

  /** Compare-and-swap; returns the previous value (=== expected on success). */
  atomicCompareExchange32(
    mapping: MappingLike,
    offset: number,
    expected: number,
    value: number,
  ): number {
    return this.addon.atomicCompareExchange32(raw(mapping), offset, expected, value);
  }

  /** Sequentially consistent 64-bit load (offset 8-byte aligned). */
  atomicLoad64(mapping: MappingLike, offset: number): bigint {
    return this.addon.atomicLoad64(raw(mapping), offset);
  }

  /** Sequentially consistent 64-bit store. */
  atomicStore64(mapping: MappingLike, offset: number, value: bigint): void {
    this.addon.atomicStore64(raw(mapping), offset, value);
  }

  /** 64-bit atomic add; returns the previous value. */
  atomicAdd64(mapping: MappingLike, offset: number, value: bigint): bigint {
    return this.addon.atomicAdd64(raw(mapping), offset, value);
  }

  /** 64-bit compare-and-swap; returns the previous value. */
  atomicCompareExchange64(
    mapping: MappingLike,
    offset: number,
    expected: bigint,
    value: bigint,
  ): bigint {
    return this.addon.atomicCompareExchange64(raw(mapping), offset, expected, value);
  }

  /** Wakes up to `count` waiters on the word, in any process mapping it; returns how many woke. */
  futexWake(mapping: MappingLike, offset: number, count = 0x7fffffff): number {
    return this.addon.futexWake(raw(mapping), offset, count);
  }

  /**
   * Waits (on a worker thread) while the word equals `expected`, for up to
   * `timeoutMs` (default: forever). Resolves 'ok' when woken (possibly
   * spuriously: re-check the word), 'not-equal' if the word differed,
   * 'timed-out'. Rejects with ECANCELED if the mapping is unmapped meanwhile.
   * A pending wait keeps the process alive unless `keepAlive` is false.
   */
  futexWait(
    mapping: MappingLike,
    offset: number,
    expected: number,
    timeoutMs?: number,
    keepAlive = true,
  ): Promise<FutexWaitResult> {
    return this.addon.futexWaitAsync(raw(mapping), offset, expected, timeoutMs, keepAlive);
  }

  // --- eventfd -------------------------------------------------------------

  /** `eventfd(2)`; default flags: close-on-exec and nonblocking. */
  eventfd(initval = 0, flags = EFD_CLOEXEC | EFD_NONBLOCK): number {
    return this.addon.eventfd(initval, flags);
  }

  /** Reads (and resets, or decrements with EFD_SEMAPHORE) the counter; null on EAGAIN. */
  eventfdRead(fd: number): bigint | null {
    return this.addon.eventfdRead(fd);
  }

  /** Adds to the counter; false on EAGAIN (it would overflow). */
  eventfdWrite(fd: number, value: bigint = 1n): boolean {
    return this.addon.eventfdWrite(fd, value);
  }

  // --- process descriptors -------------------------------------------------

  /**
   * `pidfd_open(2)`: a descriptor for process `pid` that polls readable
   * once it has exited (Linux 5.3+; ENOSYS before). Close-on-exec.
   */
  pidfdOpen(pid: number): number {
    return this.addon.pidfdOpen(pid);
  }

  // --- unix sockets --------------------------------------------------------

  /** `socket(2)`; include SOCK_CLOEXEC and SOCK_NONBLOCK in `type` for event-loop use. */
  socket(domain: number, type: number, protocol = 0): number {
    return this.addon.socket(domain, type, protocol);
  }

  /** `socketpair(2)`. */
  socketpair(domain: number, type: number, protocol = 0): [number, number] {
    return this.addon.socketpair(domain, type, protocol);
  }

  /** `bind(2)` to a unix socket path. */
  bind(fd: number, path: string): void {
    this.addon.bind(fd, path);
  }

  /** `listen(2)`. */
  listen(fd: number, backlog = 16): void {
    this.addon.listen(fd, backlog);
  }

  /** `accept4(2)`; null on EAGAIN. */
  accept(fd: number, flags: number): number | null {
    return this.addon.accept4(fd, flags);
  }

  /**
   * `connect(2)` to a unix socket path. On a nonblocking socket EAGAIN
   * (backlog full) and EINPROGRESS are thrown like any errno; wait for
   * writability, then read SO_ERROR.
   */
  connect(fd: number, path: string): void {
    this.addon.connect(fd, path);
  }

  /** `sendmsg(2)` with MSG_NOSIGNAL and `fds` as SCM_RIGHTS; returns bytes sent. EAGAIN is thrown (queue and retry). */
  sendmsg(fd: number, data: ArrayBufferView, fds: readonly number[] = []): number {
    return this.addon.sendmsg(fd, data, fds);
  }

  /** `recvmsg(2)` with MSG_CMSG_CLOEXEC; null on EAGAIN, empty data at end of stream. */
  recvmsg(fd: number, maxBytes: number, maxFds: number): RecvmsgResult | null {
    return this.addon.recvmsg(fd, maxBytes, maxFds);
  }

  /** `shutdown(2)`. */
  shutdown(fd: number, how: number): void {
    this.addon.shutdown(fd, how);
  }

  /** `getsockopt(2)` for an int option, e.g. `(SOL_SOCKET, SO_ERROR)`. */
  getsockoptInt(fd: number, level: number, name: number): number {
    return this.addon.getsockoptInt(fd, level, name);
  }

  /** `setsockopt(2)` for an int option. */
  setsockoptInt(fd: number, level: number, name: number, value: number): void {
    this.addon.setsockoptInt(fd, level, name, value);
  }

  /** The socket's own unix path ('' when unnamed). */
  getsockname(fd: number): string {
    return this.addon.getsockname(fd);
  }

  /** The peer's unix path ('' when unnamed). */
  getpeername(fd: number): string {
    return this.addon.getpeername(fd);
  }

  /** The peer process's credentials (`SO_PEERCRED`). */
  getPeerCred(fd: number): PeerCred {
    return this.addon.getPeerCred(fd);
  }

  // --- inet sockets --------------------------------------------------------

  /**
   * `getaddrinfo(3)` (on the thread pool, as it may wait for DNS). Rejects
   * with an Error carrying `gai_strerror`'s text.
   */
  getaddrinfo(
    host: string | null,
    service: string | null,
    flags: number,
    family: number,
    socktype: number,
  ): Promise<ResolvedAddress[]> {
    return this.addon.getaddrinfo(host, service, flags, family, socktype);
  }

  /** `bind(2)` to a raw socket address. */
  bindAddr(fd: number, addr: Uint8Array): void {
    this.addon.bindAddr(fd, addr);
  }

  /** `connect(2)` to a raw socket address; EINPROGRESS is thrown like any errno. */
  connectAddr(fd: number, addr: Uint8Array): void {
    this.addon.connectAddr(fd, addr);
  }

  /** The raw local (or, with `peer`, the remote) address of a socket. */
  getsockAddr(fd: number, peer = false): Buffer {
    return this.addon.getsockAddr(fd, peer);
  }

  /** The numeric host and port of a raw socket address. */
  nameinfo(addr: Uint8Array): NameInfo {
    return this.addon.nameinfo(addr);
  }

  /**
   * Watches `fd` for readiness on the event loop (`UV_READABLE`,
   * `UV_WRITABLE`, ...). Call `start()` on the result; close the watcher
   * before closing `fd`. One watcher per descriptor.
   */
  watch(fd: number, events: number, callback: FdWatcherCallback): NativeFdWatcher {
    return new this.addon.FdWatcher(fd, events, callback);
  }
}

/** The injection token of the OS layer ({@link HostOs}) in a machine context. */
export const HOST_OS: InjectionToken<HostOs> = Symbol.for('tsqom:HostOs');
