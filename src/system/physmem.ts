/**
 * RAM blocks and guest memory accesses (QEMU's system/physmem.c and
 * memory_ldst.c.inc): RAM regions over anonymous memory, files, descriptors
 * or existing mappings, and reads and writes on an address space, which go
 * straight to RAM or through a region's I/O callbacks.
 *
 * All host calls go through `HostOs`, resolved from tsyringe's container at
 * each allocation, so tests and embedders can substitute it.
 * @module
 */
import { errorReport, warnReport } from '../util/error-report.js';
import { hostOs } from '../util/machine-context.js';
import 'reflect-metadata';
import { readFileSync, readlinkSync } from 'node:fs';
import { QomError, errorAppendHint, type QomObject } from '../qom/index.js';
import {
  HUGETLBFS_MAGIC,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_SYNC,
  MappedMemory,
  O_CREAT,
  O_EXCL,
  O_RDONLY,
  O_RDWR,
  O_CLOEXEC,
  OsError,
  PROT_READ,
  PROT_WRITE,
  type NativeMapping,
} from '../native/index.js';
import { isErrno } from '../native/errors.js';
import { flatviewLookup, flatviewNextRange } from './flatview.js';
import {
  MEMTX_ACCESS_ERROR,
  MEMTX_DECODE_ERROR,
  MEMTX_ERROR,
  MEMTX_OK,
  RAM_NORESERVE,
  RAM_PMEM,
  RAM_PREALLOC,
  RAM_PRIVATE,
  RAM_READONLY,
  RAM_READONLY_FD,
  RAM_SHARED,
  memoryRegionName,
  memoryRegionSetRamBlock,
  memoryRegionInit,
  unassignedMemOps,
  type AddressSpace,
  type DeviceEndian,
  type Hwaddr,
  type MemTxResult,
  type MemoryRegion,
  type MemoryRegionOps,
  type RamBackend,
} from './memory.js';

const TARGET_PAGE_SIZE = 4096n;

function hex(v: bigint | number): string {
  return BigInt.asUintN(64, BigInt(v)).toString(16);
}

function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

function toBig(v: Hwaddr): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

/**
 * QEMU's ram_list: every live RAM block, largest first (a new block goes
 * after the blocks of its size), which is the order `info ramblock` prints.
 */
const ramList: RamBlock[] = [];

/** QEMU aligns block offsets to a bitmap word: 64 target pages. */
const RAM_OFFSET_ALIGN = 64n * TARGET_PAGE_SIZE;
const RAM_ADDR_MAX = (1n << 64n) - 1n;

/**
 * QEMU's find_ram_offset: the end of some block (aligned) that starts the
 * smallest gap the new block fits in; 0 only for the first block (the
 * space before the lowest block is never reused, as in QEMU).
 */
function findRamOffset(size: bigint): bigint {
  if (ramList.length === 0) return 0n;
  let offset = RAM_ADDR_MAX;
  let mingap = RAM_ADDR_MAX;
  for (const block of ramList) {
    const candidate = alignUp(block.offset + block.maxLength, RAM_OFFSET_ALIGN);
    let next = RAM_ADDR_MAX;
    for (const b of ramList) if (b.offset >= candidate && b.offset < next) next = b.offset;
    const gap = next - candidate;
    if (gap >= size && gap < mingap) {
      offset = candidate;
      mingap = gap;
    }
  }
  // QEMU aborts when no gap fits; 2^64 bytes of RAM blocks cannot exist here.
  return offset;
}

/** The live RAM blocks in QEMU's ram_list order (largest first). */
export function ramBlockList(): readonly RamBlock[] {
  return ramList;
}

/**
 * QEMU's RAMBlock: the memory behind a RAM region. It owns its mapping
 * unless it was given a borrowed one (RAM_PREALLOC), and closes its
 * descriptor at the end when it owns it.
 */
export class RamBlock implements RamBackend {
  /** The region it backs. */
  readonly mr: MemoryRegion;
  /** Bytes in use (the region's size rounded up to pages). */
  readonly usedLength: bigint;
  /** Bytes mapped. */
  readonly maxLength: bigint;
  /** RAM_* flags. */
  readonly flags: number;
  /** The mapped descriptor, or -1. */
  readonly fd: number;
  /** Offset of the mapping in the file. */
  readonly fdOffset: bigint;
  /** Page size of the memory (the huge page size on hugetlbfs). */
  readonly pageSize: number;
  /** The mapping. */
  readonly host: MappedMemory;
  /** Where the block starts inside `host`. */
  readonly hostOffset: number;
  /** Whether the mapping lacks PROT_WRITE. */
  readonly readonlyMapping: boolean;
  /** Whether {@link RamBlock.free} unmaps `host`. */
  readonly ownsMapping: boolean;
  /** Whether {@link RamBlock.free} closes `fd`. */
  readonly ownsFd: boolean;
  /** QEMU's ram_addr_t offset of the block in the RAM address space (`info ramblock`). */
  readonly offset: bigint;
  #freed = false;

  /** @internal Made by the qemuRamAlloc* functions. */
  constructor(init: {
    mr: MemoryRegion;
    usedLength: bigint;
    maxLength: bigint;
    flags: number;
    fd: number;
    fdOffset: bigint;
    pageSize: number;
    host: MappedMemory;
    hostOffset: number;
    ownsMapping: boolean;
    ownsFd: boolean;
  }) {
    this.mr = init.mr;
    this.usedLength = init.usedLength;
    this.maxLength = init.maxLength;
    this.flags = init.flags;
    this.fd = init.fd;
    this.fdOffset = init.fdOffset;
    this.pageSize = init.pageSize;
    this.host = init.host;
    this.hostOffset = init.hostOffset;
    this.readonlyMapping = (init.host.native.prot & PROT_WRITE) === 0;
    this.ownsMapping = init.ownsMapping;
    this.ownsFd = init.ownsFd;
    // QEMU's ram_block_add: an offset in the RAM address space, and a place
    // in the list after the blocks at least as large.
    this.offset = findRamOffset(this.maxLength);
    const at = ramList.findIndex((b) => b.maxLength < this.maxLength);
    ramList.splice(at < 0 ? ramList.length : at, 0, this);
  }

  /** Whether {@link RamBlock.free} ran. */
  get freed(): boolean {
    return this.#freed;
  }

  /** The address in this process of byte `offset` of the block (vhost-user's userspace_addr). */
  hostAddress(offset: Hwaddr = 0): bigint {
    return this.host.address + BigInt(this.hostOffset) + toBig(offset);
  }

  /** The file offset of byte `offset` of the block (vhost-user's mmap_offset). */
  fdOffsetOf(offset: Hwaddr = 0): bigint {
    return this.fdOffset + toBig(offset);
  }

  /** Copies bytes out of the block. */
  read(offset: number, length: number): Uint8Array {
    try {
      return this.host.read(this.hostOffset + offset, length);
    } catch (e) {
      this.#reportFault(e, offset, length);
      throw e;
    }
  }

  /** Copies bytes into the block. */
  write(offset: number, data: Uint8Array): void {
    try {
      this.host.write(this.hostOffset + offset, data);
    } catch (e) {
      this.#reportFault(e, offset, data.length);
      throw e;
    }
  }

  #faultReported = false;

  // Guarded (foreign) memory that faulted: its owner shrank the file under
  // the mapping. Said once per block; every such access fails.
  #reportFault(e: unknown, offset: number, length: number): void {
    if (this.#faultReported || !this.host.guarded || !isErrno(e, 'EFAULT') || !this.host.isMapped) {
      return;
    }
    this.#faultReported = true;
    errorReport(
      `memory region '${memoryRegionName(this.mr)}': access to [0x${hex(offset)}, +0x${hex(length)}) ` +
        `failed: ${e.strerror} (the memory's owner shrank it); such accesses fail from now on`,
    );
  }

  /** A live view, detached when an owned mapping is unmapped. */
  view(offset: number, length: number): Uint8Array {
    return this.host.view(this.hostOffset + offset, length);
  }

  /** QEMU's qemu_ram_free: unmaps an owned mapping (detaching views) and closes an owned fd. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    const i = ramList.indexOf(this);
    if (i >= 0) ramList.splice(i, 1);
    try {
      if (this.ownsMapping) this.host.unmap();
    } finally {
      if (this.ownsFd && this.fd >= 0) hostOs().close(this.fd);
    }
  }
}

/** QEMU's qemu_fd_getpagesize: the huge page size on hugetlbfs, else the host page size. */
export function qemuFdGetpagesize(fd: number): number {
  const os = hostOs();
  if (fd !== -1) {
    try {
      const fs = os.fstatfs(fd);
      if (fs.type === HUGETLBFS_MAGIC) return fs.bsize;
    } catch {
      // QEMU falls back to the host page size.
    }
  }
  return os.pageSize();
}

function getFileSize(fd: number): bigint {
  try {
    return BigInt(hostOs().fstat(fd).size);
  } catch (e) {
    return isErrno(e) ? -BigInt(e.errno) : -22n;
  }
}

function mapNoreserveEffective(fd: number, readonly: boolean, shared: boolean): boolean {
  if (qemuFdGetpagesize(fd) !== hostOs().pageSize()) return true;
  if (readonly || (shared && fd >= 0)) return true;
  const path = '/proc/sys/vm/overcommit_memory';
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch {
    errorReport(`Skipping reservation of swap space is not supported: Could not read: "${path}"`);
    return false;
  }
  const m = /^(\d+)\n?$/.exec(content);
  if (m) {
    if (m[1] === '2') {
      errorReport(`Skipping reservation of swap space is not supported: "${path}" is "2"`);
      return false;
    }
    return true;
  }
  errorReport(`Skipping reservation of swap space is not supported: Could not read: "${path}"`);
  return false;
}

/**
 * QEMU's qemu_ram_mmap (without the guard page): maps `size` bytes of `fd`
 * at `offset`, at an address aligned to `align` when that is more than a
 * page (QEMU's `mr->align`, e.g. memory-backend-file's `align`).
 */
function qemuRamMmap(
  fd: number,
  size: bigint,
  flags: number,
  offset: bigint,
  align = 0n,
): MappedMemory {
  const os = hostOs();
  const readonly =
    (flags & RAM_READONLY) !== 0 || ((flags & RAM_READONLY_FD) !== 0 && (flags & RAM_SHARED) !== 0);
  const shared = (flags & RAM_SHARED) !== 0;
  const noreserve = (flags & RAM_NORESERVE) !== 0;
  if (noreserve && !mapNoreserveEffective(fd, readonly, shared)) {
    throw new OsError(22 /* EINVAL */, 'mmap');
  }
  const prot = PROT_READ | (readonly ? 0 : PROT_WRITE);
  const mflags =
    (fd === -1 ? MAP_ANONYMOUS : 0) |
    (shared ? MAP_SHARED : MAP_PRIVATE) |
    (noreserve ? MAP_NORESERVE : 0);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new OsError(12 /* ENOMEM */, 'mmap');
  const len = Number(size);
  if (shared && (flags & RAM_PMEM) !== 0) {
    try {
      return os.mapMemory(
        len,
        prot,
        (mflags & ~MAP_SHARED) | MAP_SHARED_VALIDATE | MAP_SYNC,
        fd,
        offset,
      );
    } catch (e) {
      // QEMU retries without MAP_SYNC, warning when the file is not DAX.
      if (isErrno(e, 'EOPNOTSUPP') || isErrno(e, 'ENOTSUP')) {
        let file = '';
        try {
          file = readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          // QEMU prints an empty name then.
        }
        errorReport(
          `Warning: requesting persistence across crashes for backend file ${file} failed. Proceeding ` +
            'without persistence, data might become corrupted in case of host crash.',
        );
        warnReport("Using non DAX backing file with 'pmem=on' option is deprecated");
      }
    }
  }
  if (align > BigInt(os.pageSize())) {
    return os.mapMemoryAligned(len, prot, mflags, fd, offset, align);
  }
  return os.mapMemory(len, prot, mflags, fd, offset);
}

/** Options of {@link qemuRamAllocFromFd} and {@link memoryRegionInitRamFromFd}. */
export interface RamFromFdOptions {
  /**
   * Whether the RAM block closes `fd` when it is freed (default true, as in
   * QEMU, where the RAMBlock owns the descriptor once allocation succeeds).
   * On failure the descriptor is never closed.
   */
  ownsFd?: boolean;
  /** Required alignment (QEMU's `mr->align`, e.g. memory-backend-file's `align`). */
  align?: Hwaddr;
  /** Grow the file when it is smaller than offset + size (QEMU's `grow`). */
  grow?: boolean;
  /**
   * The descriptor belongs to another process (a vhost-user back-end's
   * SHMEM_MAP): it is never grown, `offset + size` must lie inside the
   * file (even an empty one), and every access tsqom makes goes through
   * fault-guarded copies, since the owner can still shrink the file.
   */
  foreign?: boolean;
}

/**
 * QEMU's qemu_ram_alloc_from_fd + file_ram_alloc: maps `size` bytes (rounded
 * up to pages) of `fd` at `offset`; MAP_SHARED with RAM_SHARED, PROT_READ
 * with RAM_READONLY, or with RAM_READONLY_FD on a shared mapping;
 * MAP_NORESERVE with RAM_NORESERVE. An empty file is grown to offset +
 * size, except a foreign one (`opts.foreign`), which must already hold
 * the range. The mapping is aligned to `opts.align` (QEMU's `mr->align`).
 * Throws QEMU's error texts.
 *
 * A private mapping of a read-only descriptor stays writable, as QEMU's
 * (VM templating: `readonly=on,rom=off`; writes stay private). A shared
 * one is PROT_READ: QEMU would ask for a writable shared mapping, which
 * fails (EACCES) on a read-only descriptor and would be wrong for a
 * read-write descriptor handed over as read-only (a VIRTIO shared memory
 * mapping without the RW flag). Guest writes to it get MEMTX_ACCESS_ERROR.
 */
export function qemuRamAllocFromFd(
  size: Hwaddr,
  mr: MemoryRegion,
  ramFlags: number,
  fd: number,
  offset: Hwaddr,
  opts: RamFromFdOptions = {},
): RamBlock {
  const os = hostOs();
  const off = toBig(offset);
  if ((ramFlags & RAM_SHARED) !== 0 && (ramFlags & RAM_PRIVATE) !== 0) {
    throw new QomError('RAM_SHARED and RAM_PRIVATE are mutually exclusive');
  }
  ramFlags &= ~RAM_PRIVATE;
  const hostPage = BigInt(os.pageSize());
  let sz = alignUp(alignUp(toBig(size), TARGET_PAGE_SIZE), hostPage);
  const maxSize = sz;
  if (opts.align !== undefined) mr.align = toBig(opts.align);

  const fileSize = getFileSize(fd);
  if (opts.foreign && fileSize < off + toBig(size)) {
    // QEMU grows an empty file here; someone else's descriptor is refused
    // instead (growing it would change their file, and a read-only one
    // cannot be grown, leaving a mapping past the end of the file).
    throw new QomError(
      `${memoryRegionName(mr)} backing store size 0x${hex(fileSize < 0n ? 0n : fileSize)} is too small for ` +
        `'size' option 0x${hex(toBig(size))} plus 'offset' option 0x${hex(off)}`,
    );
  }
  if (fileSize !== 0n && fileSize < off + maxSize && !opts.grow) {
    // QEMU 7.2 has no offset and its own text; with an offset (QEMU 8's
    // property) the text is QEMU 8's.
    if (off === 0n) {
      throw new QomError(
        `backing store size 0x${hex(fileSize)} does not match 'size' option 0x${hex(maxSize)}`,
      );
    }
    throw new QomError(
      `${memoryRegionName(mr)} backing store size 0x${hex(fileSize)} is too small for 'size' option ` +
        `0x${hex(maxSize)} plus 'offset' option 0x${hex(off)}`,
    );
  }

  // file_ram_alloc
  const pageSize = qemuFdGetpagesize(fd);
  const ps = BigInt(pageSize);
  if (mr.align % ps !== 0n) {
    throw new QomError(`alignment 0x${hex(mr.align)} must be multiples of page size 0x${hex(ps)}`);
  } else if (mr.align !== 0n && (mr.align & (mr.align - 1n)) !== 0n) {
    throw new QomError(`alignment 0x${hex(mr.align)} must be a power of two`);
  } else if (off % ps !== 0n) {
    throw new QomError(`offset 0x${hex(off)} must be multiples of page size 0x${hex(ps)}`);
  }
  mr.align = mr.align > ps ? mr.align : ps;
  if (sz < ps) {
    throw new QomError(
      `memory size 0x${hex(sz)} must be equal to or larger than page size 0x${hex(ps)}`,
    );
  }
  sz = alignUp(sz, ps);
  if (fileSize < off + maxSize && !opts.foreign) {
    try {
      os.ftruncate(fd, BigInt.asUintN(64, off + sz));
    } catch (e) {
      // QEMU only reports it (perror): mmap will fail if it matters.
      errorReport(`ftruncate: ${isErrno(e) ? e.strerror : String(e)}`);
    }
  }
  let host: MappedMemory;
  try {
    host = qemuRamMmap(fd, sz, ramFlags, off, mr.align);
  } catch (e) {
    throw new QomError(
      `unable to map backing store for guest RAM: ${isErrno(e) ? e.strerror : (e as Error).message}`,
    );
  }
  if (opts.foreign) host.guard();
  return new RamBlock({
    mr,
    usedLength: sz,
    maxLength: sz,
    flags: ramFlags,
    fd,
    fdOffset: off,
    pageSize,
    host,
    hostOffset: 0,
    ownsMapping: true,
    ownsFd: opts.ownsFd ?? true,
  });
}

/**
 * The RAM block behind a region (QEMU's `mr->ram_block`), following
 * aliases, or null for containers and I/O regions. Listeners use it to
 * find the fd, file offset and host address of a section.
 */
export function memoryRegionGetRamBlock(mr: MemoryRegion): RamBlock | null {
  while (mr.alias) mr = mr.alias;
  return mr.ramBlock instanceof RamBlock ? mr.ramBlock : null;
}

function ramInitFailed(mr: MemoryRegion, e: unknown): never {
  mr.size = 0n;
  mr.ramBlock = null;
  mr.unparent();
  throw e;
}

function ramRegionSetup(mr: MemoryRegion, ramFlags: number): void {
  mr.ram = true;
  mr.readonly = (ramFlags & RAM_READONLY) !== 0;
  mr.terminates = true;
}

/**
 * QEMU's memory_region_init_ram_from_fd: a RAM region over `size` bytes of
 * `fd` at `offset` (see {@link qemuRamAllocFromFd} for the flags). The fd is
 * not duplicated: by default the region closes it when it is finalized
 * (`ownsFd: false` leaves it to the caller). On failure the region is
 * unparented and QEMU's error thrown, and the fd stays open.
 */
export function memoryRegionInitRamFromFd(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  size: Hwaddr,
  ramFlags: number,
  fd: number,
  offset: Hwaddr,
  opts: RamFromFdOptions = {},
): MemoryRegion {
  memoryRegionInit(mr, owner, name, size);
  ramRegionSetup(mr, ramFlags);
  let block: RamBlock;
  try {
    block = qemuRamAllocFromFd(size, mr, ramFlags, fd, offset, opts);
  } catch (e) {
    ramInitFailed(mr, e);
  }
  memoryRegionSetRamBlock(mr, block);
  return mr;
}

/** Options of {@link memoryRegionInitRamFromMapping}. */
export interface RamFromMappingOptions {
  /** Whether the region unmaps the mapping when it is finalized (default false: borrowed). */
  owned?: boolean;
  /** Where the region starts inside the mapping (default 0). */
  offset?: number;
  /** RAM_* flags: RAM_READONLY makes the region a ROM; RAM_SHARED is informational. */
  ramFlags?: number;
  /** The descriptor the mapping came from, reported by memoryRegionGetFd (default: the mapping's). */
  fd?: number;
  /** Whether the region closes `fd` when finalized (default false). */
  ownsFd?: boolean;
}

/**
 * RAM over an existing mapping (tsqom's addition, for memory backends and
 * embedders that map memory themselves; QEMU's closest equivalent is
 * memory_region_init_ram_ptr). A borrowed mapping (the default) is left
 * alone when the region is finalized, so views of it stay valid as long as
 * the mapping; an owned one is unmapped, detaching every view.
 */
export function memoryRegionInitRamFromMapping(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  size: Hwaddr,
  mapping: MappedMemory | NativeMapping,
  opts: RamFromMappingOptions = {},
): MemoryRegion {
  const host = mapping instanceof MappedMemory ? mapping : new MappedMemory(mapping);
  const sz = toBig(size);
  const at = opts.offset ?? 0;
  if (!host.isMapped) throw new QomError('cannot use an unmapped mapping as guest RAM');
  if (!Number.isSafeInteger(at) || at < 0 || BigInt(at) + sz > BigInt(host.length)) {
    throw new RangeError(
      `memory region of 0x${hex(sz)} bytes at offset 0x${hex(at)} does not fit the 0x${hex(host.length)}-byte mapping`,
    );
  }
  const flags = (opts.ramFlags ?? 0) | (opts.owned ? 0 : RAM_PREALLOC);
  memoryRegionInit(mr, owner, name, sz);
  ramRegionSetup(mr, flags);
  memoryRegionSetRamBlock(
    mr,
    new RamBlock({
      mr,
      usedLength: sz,
      maxLength: sz,
      flags,
      fd: opts.fd ?? host.native.fd,
      fdOffset: BigInt(host.native.offset + at),
      pageSize: hostOs().pageSize(),
      host,
      hostOffset: at,
      ownsMapping: opts.owned === true,
      ownsFd: opts.ownsFd === true,
    }),
  );
  return mr;
}

/**
 * QEMU's memory_region_init_ram_flags_nomigrate: RAM over anonymous memory
 * (MAP_SHARED with RAM_SHARED, MAP_NORESERVE with RAM_NORESERVE). Throws
 * `cannot set up guest memory '<name>': <strerror>`.
 */
export function memoryRegionInitRamFlagsNomigrate(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  size: Hwaddr,
  ramFlags = 0,
): MemoryRegion {
  memoryRegionInit(mr, owner, name, size);
  mr.ram = true;
  mr.terminates = true;
  let block: RamBlock;
  try {
    const os = hostOs();
    const sz = alignUp(alignUp(toBig(size), TARGET_PAGE_SIZE), BigInt(os.pageSize()));
    let host: MappedMemory;
    try {
      host = qemuRamMmap(-1, sz, ramFlags & ~(RAM_READONLY | RAM_READONLY_FD), 0n);
    } catch (e) {
      throw new QomError(
        `cannot set up guest memory '${memoryRegionName(mr)}': ${isErrno(e) ? e.strerror : (e as Error).message}`,
      );
    }
    block = new RamBlock({
      mr,
      usedLength: sz,
      maxLength: sz,
      flags: ramFlags,
      fd: -1,
      fdOffset: 0n,
      pageSize: os.pageSize(),
      host,
      hostOffset: 0,
      ownsMapping: true,
      ownsFd: false,
    });
  } catch (e) {
    ramInitFailed(mr, e);
  }
  memoryRegionSetRamBlock(mr, block);
  return mr;
}

/** QEMU's memory_region_init_ram (without migration registration): anonymous private RAM. */
export function memoryRegionInitRam(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  size: Hwaddr,
): MemoryRegion {
  return memoryRegionInitRamFlagsNomigrate(mr, owner, name, size, 0);
}

/** QEMU's memory_region_init_rom: anonymous RAM that the guest cannot write. */
export function memoryRegionInitRom(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  size: Hwaddr,
): MemoryRegion {
  memoryRegionInitRamFlagsNomigrate(mr, owner, name, size, 0);
  mr.readonly = true;
  return mr;
}

/** What {@link fileRamOpen} opened. */
interface FileRamOpened {
  fd: number;
  created: boolean;
}

/**
 * QEMU's file_ram_open: opens `path` (read-only with `readonly`), creates it
 * when missing (never read-only), or creates and unlinks a temporary
 * `qemu_back_mem.<name>.XXXXXX` when `path` is a directory. Returns
 * -errno on failure.
 */
function fileRamOpen(path: string, regionName: string, readonly: boolean): FileRamOpened | number {
  const os = hostOs();
  for (;;) {
    let errno: number;
    try {
      const fd = os.open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
      if (readonly) {
        let isDir = false;
        try {
          isDir = (os.fstat(fd).mode & 0o170000) === 0o040000;
        } catch (e) {
          os.close(fd);
          return isErrno(e) ? -e.errno : -5;
        }
        if (isDir) {
          os.close(fd);
          return -21; // EISDIR
        }
      }
      return { fd, created: false };
    } catch (e) {
      if (!isErrno(e)) throw e;
      errno = e.errno;
    }
    if (errno === 2 /* ENOENT */) {
      if (readonly) return -2;
      try {
        const fd = os.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644);
        return { fd, created: true };
      } catch (e) {
        if (!isErrno(e)) throw e;
        errno = e.errno;
      }
    } else if (errno === 21 /* EISDIR */) {
      const sanitized = regionName.replaceAll('/', '_');
      try {
        const { fd, path: filename } = os.mkstemp(`${path}/qemu_back_mem.${sanitized}.XXXXXX`);
        os.unlink(filename);
        return { fd, created: false };
      } catch (e) {
        if (!isErrno(e)) throw e;
        errno = e.errno;
      }
    }
    if (errno !== 17 /* EEXIST */ && errno !== 4 /* EINTR */) return -errno;
  }
}

/**
 * QEMU's memory_region_init_ram_from_file (with qemu_ram_alloc_from_file):
 * RAM over the file `path` (created if missing; a directory gets an
 * unlinked temporary file), opened read-only with RAM_READONLY_FD. The
 * region owns the descriptor. Throws QEMU's texts, e.g.
 * `can't open backing store <path> for guest RAM: <strerror>`.
 */
export function memoryRegionInitRamFromFile(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  size: Hwaddr,
  align: Hwaddr,
  ramFlags: number,
  path: string,
  offset: Hwaddr,
): MemoryRegion {
  memoryRegionInit(mr, owner, name, size);
  ramRegionSetup(mr, ramFlags);
  mr.align = toBig(align);
  let block: RamBlock;
  try {
    const os = hostOs();
    const ro = (ramFlags & RAM_READONLY_FD) !== 0;
    const opened = fileRamOpen(path, memoryRegionName(mr), ro);
    if (typeof opened === 'number') {
      const err = new QomError(
        `can't open backing store ${path} for guest RAM: ${os.strerror(-opened)}`,
      );
      if (!ro && (ramFlags & RAM_SHARED) === 0 && opened === -13 /* EACCES */) {
        const again = fileRamOpen(path, memoryRegionName(mr), true);
        if (typeof again === 'number') throw err;
        os.close(again.fd);
        errorAppendHint(
          err,
          'Consider opening the backing store read-only but still creating writable RAM using ' +
            '\'-object memory-backend-file,readonly=on,rom=off...\' (see "VM templating" documentation)\n',
        );
      }
      throw err;
    }
    try {
      block = qemuRamAllocFromFd(size, mr, ramFlags, opened.fd, offset, { ownsFd: true });
    } catch (e) {
      if (opened.created) {
        try {
          os.unlink(path);
        } catch {
          // QEMU ignores it too.
        }
      }
      os.close(opened.fd);
      throw e;
    }
  } catch (e) {
    ramInitFailed(mr, e);
  }
  memoryRegionSetRamBlock(mr, block);
  return mr;
}

// ---------------------------------------------------------------------------
// Dispatch (memory.c: memory_region_dispatch_read/write, access_with_adjusted_size)

const MASK64 = (1n << 64n) - 1n;

function deviceBigEndian(e: DeviceEndian | undefined): boolean {
  return e === 'big';
}

/** QEMU's memory_region_access_valid. */
export function memoryRegionAccessValid(
  mr: MemoryRegion,
  addr: bigint,
  size: number,
  isWrite: boolean,
): boolean {
  const valid = mr.ops.valid;
  if (valid?.accepts && !valid.accepts(addr, size, isWrite)) return false;
  if (!valid?.unaligned && (addr & BigInt(size - 1)) !== 0n) return false;
  if (!valid?.maxAccessSize) return true;
  return !(size > valid.maxAccessSize || size < (valid.minAccessSize ?? 0));
}

function bswap(v: bigint, size: number): bigint {
  let r = 0n;
  for (let i = 0; i < size; i++) {
    r = (r << 8n) | ((v >> BigInt(i * 8)) & 0xffn);
  }
  return r;
}

function adjustEndianness(
  mr: MemoryRegion,
  value: bigint,
  size: number,
  bigEndian: boolean,
): bigint {
  return bigEndian !== deviceBigEndian(mr.ops.endianness) && size > 1 ? bswap(value, size) : value;
}

type Accessor = (
  mr: MemoryRegion,
  addr: bigint,
  value: { v: bigint },
  size: number,
  shift: number,
  mask: bigint,
) => void;

const readAccessor: Accessor = (mr, addr, value, size, shift, mask) => {
  const raw = mr.ops.read ? mr.ops.read(addr, size) : 0;
  const tmp = BigInt.asUintN(64, typeof raw === 'bigint' ? raw : BigInt(raw));
  value.v |= shift >= 0 ? (tmp & mask) << BigInt(shift) : (tmp & mask) >> BigInt(-shift);
  value.v &= MASK64;
};

const writeAccessor: Accessor = (mr, addr, value, size, shift, mask) => {
  const tmp = shift >= 0 ? (value.v >> BigInt(shift)) & mask : (value.v << BigInt(-shift)) & mask;
  mr.ops.write?.(addr, tmp, size);
};

function accessWithAdjustedSize(
  addr: bigint,
  value: { v: bigint },
  size: number,
  min: number | undefined,
  max: number | undefined,
  fn: Accessor,
  mr: MemoryRegion,
): MemTxResult {
  const accessSizeMin = min || 1;
  const accessSizeMax = max || 4;
  const accessSize = Math.max(Math.min(size, accessSizeMax), accessSizeMin);
  const mask = (1n << BigInt(accessSize * 8)) - 1n;
  if (deviceBigEndian(mr.ops.endianness)) {
    for (let i = 0; i < size; i += accessSize) {
      fn(mr, addr + BigInt(i), value, accessSize, (size - accessSize - i) * 8, mask);
    }
  } else {
    for (let i = 0; i < size; i += accessSize) {
      fn(mr, addr + BigInt(i), value, accessSize, i * 8, mask);
    }
  }
  return MEMTX_OK;
}

/** The value and result of a read. */
export interface MemTxValue<T> {
  /** The value read (0 on a decode error). */
  readonly value: T;
  /** The transaction result. */
  readonly result: MemTxResult;
}

/**
 * QEMU's memory_region_dispatch_read: a `size`-byte read at offset `addr`
 * of `mr` (through aliases), through its callbacks; `bigEndian` is the
 * byte order the initiator wants the value in (default: host order,
 * little-endian). Refused accesses read 0 with MEMTX_DECODE_ERROR.
 */
export function memoryRegionDispatchRead(
  mr: MemoryRegion,
  addr: Hwaddr,
  size: number,
  bigEndian = false,
): MemTxValue<bigint> {
  let a = toBig(addr);
  while (mr.alias) {
    a = (a + mr.aliasOffset) & MASK64;
    mr = mr.alias;
  }
  if (!memoryRegionAccessValid(mr, a, size, false))
    return { value: 0n, result: MEMTX_DECODE_ERROR };
  const value = { v: 0n };
  const r = accessWithAdjustedSize(
    a,
    value,
    size,
    mr.ops.impl?.minAccessSize,
    mr.ops.impl?.maxAccessSize,
    readAccessor,
    mr,
  );
  return { value: adjustEndianness(mr, value.v, size, bigEndian), result: r };
}

/**
 * QEMU's memory_region_dispatch_write: a `size`-byte write of `value` at
 * offset `addr` of `mr` (through aliases). Refused accesses are dropped
 * with MEMTX_DECODE_ERROR.
 */
export function memoryRegionDispatchWrite(
  mr: MemoryRegion,
  addr: Hwaddr,
  value: bigint | number,
  size: number,
  bigEndian = false,
): MemTxResult {
  let a = toBig(addr);
  while (mr.alias) {
    a = (a + mr.aliasOffset) & MASK64;
    mr = mr.alias;
  }
  if (!memoryRegionAccessValid(mr, a, size, true)) return MEMTX_DECODE_ERROR;
  const mask = size >= 8 ? MASK64 : (1n << BigInt(size * 8)) - 1n;
  const v = adjustEndianness(mr, BigInt.asUintN(64, BigInt(value)) & mask, size, bigEndian);
  return accessWithAdjustedSize(
    a,
    { v },
    size,
    mr.ops.impl?.minAccessSize,
    mr.ops.impl?.maxAccessSize,
    writeAccessor,
    mr,
  );
}

// ---------------------------------------------------------------------------
// Address space accesses (physmem.c flatview_read/flatview_write)

/** Where an address lands: a region (null: nothing mapped), the offset in it, and the bytes left there. */
interface Translation {
  mr: MemoryRegion | null;
  mrAddr: bigint;
  avail: bigint;
}

function translate(as: AddressSpace, addr: bigint): Translation {
  const fv = as.currentMap;
  const fr = flatviewLookup(fv, addr);
  if (fr) {
    return {
      mr: fr.mr,
      mrAddr: addr - fr.start + fr.offsetInRegion,
      avail: fr.start + fr.size - addr,
    };
  }
  const next = flatviewNextRange(fv, addr);
  return { mr: null, mrAddr: addr, avail: (next ? next.start : 1n << 64n) - addr };
}

function supportsDirectAccess(mr: MemoryRegion): boolean {
  if (mr.romDevice && mr.romdMode) return true;
  if (!mr.ram) return false;
  return !mr.ramDevice;
}

/** QEMU's memory_access_is_direct: RAM that a plain copy may reach. */
export function memoryAccessIsDirect(mr: MemoryRegion, isWrite: boolean): boolean {
  if (!supportsDirectAccess(mr)) return false;
  if (isWrite) return !mr.readonly && !mr.romDevice;
  return true;
}

function pow2floor(v: number): number {
  return v <= 0 ? 0 : 2 ** Math.floor(Math.log2(v));
}

/** QEMU's memory_access_size: the largest access that the region's limits and `addr`'s alignment allow. */
export function memoryAccessSize(ops: MemoryRegionOps, l: number, addr: bigint): number {
  let max = ops.valid?.maxAccessSize || 4;
  if (!ops.impl?.unaligned) {
    const low = Number(addr & 0xffn);
    const alignMax = low === 0 ? 256 : low & -low;
    if (alignMax < max) max = alignMax;
  }
  if (l > max) l = max;
  return pow2floor(l);
}

function writeLe(buf: Uint8Array, at: number, size: number, v: bigint): void {
  for (let i = 0; i < size; i++) buf[at + i] = Number((v >> BigInt(i * 8)) & 0xffn);
}

function readLe(buf: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[at + i]);
  return v;
}

function ramBlockOf(mr: MemoryRegion): RamBackend | null {
  return mr.ramBlock;
}

/**
 * QEMU's address_space_read: fills `buf` from `addr` on. RAM is copied;
 * I/O regions are read in the largest accesses they allow; holes read as
 * zeros with MEMTX_DECODE_ERROR. Returns the OR of the results.
 */
export function addressSpaceReadInto(as: AddressSpace, addr: Hwaddr, buf: Uint8Array): MemTxResult {
  let a = toBig(addr);
  let pos = 0;
  let result = MEMTX_OK;
  while (pos < buf.length) {
    const want = buf.length - pos;
    const t = translate(as, a);
    let l = Number(t.avail < BigInt(want) ? t.avail : BigInt(want));
    if (t.mr && memoryAccessIsDirect(t.mr, false) && ramBlockOf(t.mr)) {
      try {
        buf.set(ramBlockOf(t.mr)!.read(Number(t.mrAddr), l), pos);
      } catch {
        buf.fill(0, pos, pos + l);
        result |= MEMTX_ERROR;
      }
    } else if (t.mr) {
      l = memoryAccessSize(t.mr.ops, l, t.mrAddr);
      const r = memoryRegionDispatchRead(t.mr, t.mrAddr, l);
      writeLe(buf, pos, l, r.value);
      result |= r.result;
    } else {
      l = memoryAccessSize(unassignedMemOps, l, t.mrAddr);
      buf.fill(0, pos, pos + l);
      result |= MEMTX_DECODE_ERROR;
    }
    pos += l;
    a = (a + BigInt(l)) & MASK64;
  }
  return result;
}

/** The bytes and result of {@link addressSpaceRead}. */
export interface AddressSpaceReadResult {
  /** The bytes read (zeros where nothing answered). */
  readonly data: Uint8Array;
  /** The OR of the accesses' results. */
  readonly result: MemTxResult;
}

/** {@link addressSpaceReadInto} into a new buffer of `len` bytes. */
export function addressSpaceRead(
  as: AddressSpace,
  addr: Hwaddr,
  len: number,
): AddressSpaceReadResult {
  const data = new Uint8Array(len);
  const result = addressSpaceReadInto(as, addr, data);
  return { data, result };
}

/**
 * QEMU's address_space_write: writes `data` at `addr`. RAM is copied
 * (read-only RAM and holes drop the bytes with MEMTX_DECODE_ERROR; RAM
 * mapped without PROT_WRITE drops them with MEMTX_ACCESS_ERROR); I/O
 * regions get the largest accesses they allow.
 */
export function addressSpaceWrite(as: AddressSpace, addr: Hwaddr, data: Uint8Array): MemTxResult {
  let a = toBig(addr);
  let pos = 0;
  let result = MEMTX_OK;
  while (pos < data.length) {
    const want = data.length - pos;
    const t = translate(as, a);
    let l = Number(t.avail < BigInt(want) ? t.avail : BigInt(want));
    const rb = t.mr ? ramBlockOf(t.mr) : null;
    if (t.mr && memoryAccessIsDirect(t.mr, true) && rb) {
      if (rb.readonlyMapping) {
        result |= MEMTX_ACCESS_ERROR;
      } else {
        try {
          rb.write(Number(t.mrAddr), data.subarray(pos, pos + l));
        } catch {
          result |= MEMTX_ERROR;
        }
      }
    } else if (t.mr) {
      l = memoryAccessSize(t.mr.ops, l, t.mrAddr);
      result |= memoryRegionDispatchWrite(t.mr, t.mrAddr, readLe(data, pos, l), l);
    } else {
      l = memoryAccessSize(unassignedMemOps, l, t.mrAddr);
      result |= MEMTX_DECODE_ERROR;
    }
    pos += l;
    a = (a + BigInt(l)) & MASK64;
  }
  return result;
}

// ---------------------------------------------------------------------------
// ld*/st* (memory_ldst.c.inc)

/** QEMU passes a MemTxResult pointer; here an optional object receives it. */
export interface MemTxResultOut {
  /** Set to the access's result. */
  result?: MemTxResult;
}

function ldInternal(
  as: AddressSpace,
  addr: Hwaddr,
  size: number,
  bigEndian: boolean,
  out?: MemTxResultOut,
): bigint {
  const a = toBig(addr);
  const t = translate(as, a);
  let value: bigint;
  let result: MemTxResult;
  if (!t.mr) {
    value = 0n;
    result = MEMTX_DECODE_ERROR;
  } else if (t.avail < BigInt(size) || !memoryAccessIsDirect(t.mr, false) || !t.mr.ramBlock) {
    const r = memoryRegionDispatchRead(t.mr, t.mrAddr, size, bigEndian);
    value = r.value;
    result = r.result;
  } else {
    try {
      const b = t.mr.ramBlock.read(Number(t.mrAddr), size);
      value = readLe(b, 0, size);
      if (bigEndian) value = bswap(value, size);
      result = MEMTX_OK;
    } catch {
      value = 0n;
      result = MEMTX_ERROR;
    }
  }
  if (out) out.result = result;
  return value;
}

function stInternal(
  as: AddressSpace,
  addr: Hwaddr,
  value: bigint | number,
  size: number,
  bigEndian: boolean,
  out?: MemTxResultOut,
): void {
  const a = toBig(addr);
  const mask = size >= 8 ? MASK64 : (1n << BigInt(size * 8)) - 1n;
  const v = BigInt.asUintN(64, BigInt(value)) & mask;
  const t = translate(as, a);
  let result: MemTxResult;
  if (!t.mr) {
    result = MEMTX_DECODE_ERROR;
  } else if (t.avail < BigInt(size) || !memoryAccessIsDirect(t.mr, true) || !t.mr.ramBlock) {
    result = memoryRegionDispatchWrite(t.mr, t.mrAddr, v, size, bigEndian);
  } else if (t.mr.ramBlock.readonlyMapping) {
    result = MEMTX_ACCESS_ERROR;
  } else {
    const b = new Uint8Array(size);
    writeLe(b, 0, size, bigEndian ? bswap(v, size) : v);
    try {
      t.mr.ramBlock.write(Number(t.mrAddr), b);
      result = MEMTX_OK;
    } catch {
      result = MEMTX_ERROR;
    }
  }
  if (out) out.result = result;
}

/** QEMU's address_space_ldub. */
export function addressSpaceLdub(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): number {
  return Number(ldInternal(as, addr, 1, false, out));
}
/** QEMU's address_space_lduw (target order: little-endian). */
export function addressSpaceLduw(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): number {
  return Number(ldInternal(as, addr, 2, false, out));
}
/** QEMU's address_space_lduw_le. */
export function addressSpaceLduwLe(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): number {
  return Number(ldInternal(as, addr, 2, false, out));
}
/** QEMU's address_space_lduw_be. */
export function addressSpaceLduwBe(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): number {
  return Number(ldInternal(as, addr, 2, true, out));
}
/** QEMU's address_space_ldl (target order: little-endian). */
export function addressSpaceLdl(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): number {
  return Number(ldInternal(as, addr, 4, false, out));
}
/** QEMU's address_space_ldl_le. */
export function addressSpaceLdlLe(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): number {
  return Number(ldInternal(as, addr, 4, false, out));
}
/** QEMU's address_space_ldl_be. */
export function addressSpaceLdlBe(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): number {
  return Number(ldInternal(as, addr, 4, true, out));
}
/** QEMU's address_space_ldq (target order: little-endian). */
export function addressSpaceLdq(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): bigint {
  return ldInternal(as, addr, 8, false, out);
}
/** QEMU's address_space_ldq_le. */
export function addressSpaceLdqLe(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): bigint {
  return ldInternal(as, addr, 8, false, out);
}
/** QEMU's address_space_ldq_be. */
export function addressSpaceLdqBe(as: AddressSpace, addr: Hwaddr, out?: MemTxResultOut): bigint {
  return ldInternal(as, addr, 8, true, out);
}
/** QEMU's address_space_stb. */
export function addressSpaceStb(
  as: AddressSpace,
  addr: Hwaddr,
  value: number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 1, false, out);
}
/** QEMU's address_space_stw (target order: little-endian). */
export function addressSpaceStw(
  as: AddressSpace,
  addr: Hwaddr,
  value: number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 2, false, out);
}
/** QEMU's address_space_stw_le. */
export function addressSpaceStwLe(
  as: AddressSpace,
  addr: Hwaddr,
  value: number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 2, false, out);
}
/** QEMU's address_space_stw_be. */
export function addressSpaceStwBe(
  as: AddressSpace,
  addr: Hwaddr,
  value: number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 2, true, out);
}
/** QEMU's address_space_stl (target order: little-endian). */
export function addressSpaceStl(
  as: AddressSpace,
  addr: Hwaddr,
  value: number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 4, false, out);
}
/** QEMU's address_space_stl_le. */
export function addressSpaceStlLe(
  as: AddressSpace,
  addr: Hwaddr,
  value: number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 4, false, out);
}
/** QEMU's address_space_stl_be. */
export function addressSpaceStlBe(
  as: AddressSpace,
  addr: Hwaddr,
  value: number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 4, true, out);
}
/** QEMU's address_space_stq (target order: little-endian). */
export function addressSpaceStq(
  as: AddressSpace,
  addr: Hwaddr,
  value: bigint | number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 8, false, out);
}
/** QEMU's address_space_stq_le. */
export function addressSpaceStqLe(
  as: AddressSpace,
  addr: Hwaddr,
  value: bigint | number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 8, false, out);
}
/** QEMU's address_space_stq_be. */
export function addressSpaceStqBe(
  as: AddressSpace,
  addr: Hwaddr,
  value: bigint | number,
  out?: MemTxResultOut,
): void {
  stInternal(as, addr, value, 8, true, out);
}
