/**
 * VIRTIO Shared Memory Regions and their dynamic mappings (the
 * SHMEM_MAP series, v11: `VirtioSharedMemory`, `VirtioSharedMemoryMapping`
 * in hw/virtio/virtio.c, and the checks of vhost-user.c's SHMEM_MAP /
 * SHMEM_UNMAP handlers).
 *
 * A device owns a list of regions; each region is a container
 * MemoryRegion named `virtio-shmem-<id>` (the device's QOM child
 * `virtio-shmem-<id>[0]`). A mapping is a reference-counted
 * `virtio-shared-memory-mapping` object: it dup()s the descriptor it is
 * given and owns a RAM MemoryRegion over it, named
 * `virtio-shmem-<id>-<hex offset>`, which is a subregion of the region's
 * container at the mapping's offset. The region holds one reference to
 * each of its mappings; whoever looks a mapping up may take more
 * ({@link VirtioSharedMemoryMapping.hold}), and the memory is unmapped and
 * the duplicate closed only when the last reference goes.
 *
 * Unlike QEMU, which keeps a region's mappings in a list and scans it for
 * every request, tsqom keeps them ordered by offset: the overlap check and
 * the lookups cost O(log n) however many mappings are live.
 *
 * Errors are QEMU's `error_report` texts, thrown as {@link QomError}s (a
 * vhost-user front-end turns them into its u64 reply).
 * @module
 */
import { trace } from '../../util/trace.js';
import { hostOs } from '../../util/machine-context.js';
import 'reflect-metadata';
import { isErrno } from '../../native/errors.js';
import { Owned, QomError, QomObject, TYPE_OBJECT, objectNew, QomType } from '../../qom/index.js';
import {
  type Hwaddr,
  type MemoryRegion,
  RAM_READONLY_FD,
  RAM_SHARED,
  memoryRegionAddSubregion,
  memoryRegionDelSubregion,
  memoryRegionInit,
  memoryRegionNew,
  memoryRegionSize,
  memoryRegionTransactionBegin,
  memoryRegionTransactionCommit,
} from '../../system/memory.js';
import { UINT64_MAX } from '../../system/flatview.js';
import {
  type RamBlock,
  memoryRegionGetRamBlock,
  memoryRegionInitRamFromFd,
} from '../../system/physmem.js';
import {
  VHOST_USER_FLAG_MAP_RW,
  VIRTIO_MAX_SHMEM_REGIONS,
} from './vhost-user/protocol/protocol.js';
import { OffsetIndex } from './virtio-shmem-index.js';

const traceVirtio = trace('virtio');

/** The QOM type of dynamic mappings (not user-creatable, no properties, never in the tree). */
export const TYPE_VIRTIO_SHARED_MEMORY_MAPPING = 'virtio-shared-memory-mapping';

function hex(v: bigint): string {
  return v.toString(16);
}

function u64(v: Hwaddr, what: string): bigint {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  if (b < 0n || b > UINT64_MAX) throw new RangeError(`${what} ${v} is not a 64-bit unsigned value`);
  return b;
}

function checkShmid(shmid: number): void {
  if (!Number.isInteger(shmid) || shmid < 0 || shmid >= VIRTIO_MAX_SHMEM_REGIONS) {
    throw new RangeError(`VIRTIO Shared Memory Region ID ${shmid} is not in 0..255`);
  }
}

/**
 * One dynamic mapping (QEMU's VirtioSharedMemoryMapping): created by
 * {@link virtioSharedMemoryMappingNew} with reference count 1. Its memory
 * stays mapped in this process until the object is finalized, even after
 * it was taken out of its region; reading or writing through it after that
 * throws (EFAULT), and views taken from it are detached (length 0).
 */
@QomType({ name: TYPE_VIRTIO_SHARED_MEMORY_MAPPING, parent: TYPE_OBJECT })
export class VirtioSharedMemoryMapping extends QomObject {
  /** The region ID it was made for. */
  shmid = 0;
  /** Offset inside the VIRTIO Shared Memory Region. */
  offset = 0n;
  /** Length in bytes. */
  len = 0n;
  /** The RAM region over the duplicated descriptor (null once released). */
  mr: MemoryRegion | null = null;
  /** Whether the host mapping is writable (VHOST_USER_FLAG_MAP_RW). */
  writable = false;
  /** The region holding it, while it is mapped there. */
  region: VirtioSharedMemory | null = null;
  #block: RamBlock | null = null;

  /** QEMU's instance_finalize: unparents the region, which unmaps it and closes the duplicate. */
  override instanceFinalize(): void {
    const mr = this.mr;
    this.mr = null;
    if (mr && !mr.finalized) mr.unparent();
  }

  /** @internal Records the RAM block once the region exists. */
  setBlock(block: RamBlock | null): void {
    this.#block = block;
  }

  #memory(offset: number, length: number): RamBlock {
    const b = this.#block;
    if (!b) throw new QomError('VIRTIO Shared Memory mapping has no memory');
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      BigInt(offset + length) > this.len
    ) {
      throw new RangeError(`range [${offset}, +${length}) is outside the ${this.len}-byte mapping`);
    }
    return b;
  }

  /** Where the mapping starts in this process (as /proc/self/maps shows it). */
  get hostAddress(): bigint {
    const b = this.#block;
    if (!b) throw new QomError('VIRTIO Shared Memory mapping has no memory');
    return b.hostAddress();
  }

  /** The duplicated descriptor the memory was mapped from (closed with the mapping). */
  get fd(): number {
    return this.#block?.fd ?? -1;
  }

  /** Whether the memory is still mapped in this process. */
  get isMapped(): boolean {
    return this.#block !== null && !this.#block.freed;
  }

  /** Copies `length` bytes at `offset` (relative to the mapping) out. */
  read(offset: number, length: number): Uint8Array {
    return this.#memory(offset, length).read(offset, length);
  }

  /** Copies `data` in at `offset`; a read-only mapping refuses (EACCES). */
  write(offset: number, data: Uint8Array): void {
    this.#memory(offset, data.length).write(offset, data);
  }

  /**
   * A live view of `[offset, offset+length)` (default: the whole
   * mapping). Only writable mappings give views (EACCES otherwise). The
   * view is detached (length 0) when the memory is unmapped.
   */
  view(offset = 0, length: number = Number(this.len) - offset): Uint8Array {
    return this.#memory(offset, length).view(offset, length);
  }

  /** A new reference, dropped at the end of a `using` scope: `using h = mapping.hold();`. */
  hold(): Owned<this> {
    return Owned.from(this);
  }
}

/**
 * One VIRTIO Shared Memory Region of a device (QEMU's VirtioSharedMemory):
 * its ID, its container region, and its mappings ordered by offset.
 */
export class VirtioSharedMemory {
  /** The region ID (0..255). */
  readonly shmid: number;
  /** The container (`virtio-shmem-<id>`), owned by the device. */
  readonly mr: MemoryRegion;
  /** The device. */
  readonly owner: QomObject;
  readonly #index = new OffsetIndex<VirtioSharedMemoryMapping>();

  /** @internal Use {@link virtioNewShmemRegion}. */
  constructor(owner: QomObject, shmid: number, mr: MemoryRegion) {
    this.owner = owner;
    this.shmid = shmid;
    this.mr = mr;
  }

  /** The region's size (UINT64_MAX stands for 2^64). */
  get size(): bigint {
    return memoryRegionSize(this.mr);
  }

  /** How many mappings are live in the region. */
  get mappingCount(): number {
    return this.#index.size;
  }

  /** The mappings, by offset (borrowed: take a reference to keep one). */
  mappings(): IterableIterator<VirtioSharedMemoryMapping> {
    return this.#index.values();
  }

  /** The mapping covering byte `offset` of the region, or null. O(log n). */
  mappingAt(offset: Hwaddr): VirtioSharedMemoryMapping | null {
    const o = u64(offset, 'offset');
    const m = this.#index.floor(o);
    return m && m.offset + m.len > o ? m : null;
  }

  /**
   * A mapping that overlaps `[offset, offset+len)` with QEMU's
   * `ranges_overlap` arithmetic (last byte = first + len - 1, modulo 2^64,
   * so a zero-length range at offset 0 overlaps everything and one at
   * offset X overlaps a mapping strictly containing X), or null. O(log n).
   */
  findOverlap(offset: Hwaddr, len: Hwaddr): VirtioSharedMemoryMapping | null {
    const o = u64(offset, 'offset');
    const l = u64(len, 'length');
    if (l === 0n) {
      if (o === 0n) return this.#index.first() ?? null;
      const p = this.#index.lower(o);
      return p && p.offset + p.len > o ? p : null;
    }
    const f = this.#index.floor(o);
    if (f && f.offset + f.len > o) return f;
    const h = this.#index.higher(o);
    return h && h.offset < o + l ? h : null;
  }

  /** @internal The ordered index (tests and benchmarks check it). */
  get index(): OffsetIndex<VirtioSharedMemoryMapping> {
    return this.#index;
  }
}

/** What owns VIRTIO Shared Memory Regions: a VirtIODevice. */
export interface VirtioShmemOwner extends QomObject {
  /** The device's regions, in creation order (QEMU's `shmem_list`). */
  readonly shmemList: VirtioSharedMemory[];
}

/**
 * QEMU's virtio_new_shmem_region: a region of `size` bytes (UINT64_MAX
 * means 2^64): a container MemoryRegion named `virtio-shmem-<shmid>`
 * owned by `vdev` (its QOM child `virtio-shmem-<shmid>[0]`), appended to
 * the device's list. Create regions in realize; they live until the
 * device is finalized. An ID outside 0..255 is a RangeError; a second
 * region with the same ID is refused (QEMU would silently shadow it).
 */
export function virtioNewShmemRegion(
  vdev: VirtioShmemOwner,
  shmid: number,
  size: Hwaddr,
): VirtioSharedMemory {
  checkShmid(shmid);
  if (virtioFindShmemRegion(vdev, shmid)) {
    throw new QomError(`VIRTIO Shared Memory Region at ID ${shmid} already exists`);
  }
  const mr = memoryRegionInit(memoryRegionNew(), vdev, `virtio-shmem-${shmid}`, size);
  // The device's child property owns the container; this reference lets
  // finalize drop the mappings before the container goes.
  mr.ref();
  const shmem = new VirtioSharedMemory(vdev, shmid, mr);
  vdev.shmemList.push(shmem);
  return shmem;
}

/** QEMU's virtio_find_shmem_region: the region with this ID, or null. */
export function virtioFindShmemRegion(
  vdev: VirtioShmemOwner,
  shmid: number,
): VirtioSharedMemory | null {
  for (const s of vdev.shmemList) if (s.shmid === shmid) return s;
  return null;
}

/**
 * QEMU's virtio_shared_memory_mapping_new: dup()s `fd` (close-on-exec)
 * and maps `len` bytes of it at `fdOffset`, shared, read-only unless
 * `allowWrite` (RAM_READONLY_FD: the host mapping is PROT_READ, the guest
 * still sees RAM). The descriptor belongs to the back-end: `fdOffset +
 * len` must lie inside its file (`<name> backing store size 0x.. is too
 * small for 'size' option 0x.. plus 'offset' option 0x..`; QEMU would grow
 * an empty file), it is never grown, and the memory is only reached
 * through fault-guarded copies (the back-end can still shrink it). Returns
 * a mapping with reference count 1 that is in no region yet. Throws
 * `Shared memory mapping size cannot be zero`,
 * `Failed to duplicate fd: <strerror>`, or the RAM region's error (e.g.
 * `unable to map backing store for guest RAM: <strerror>`); on failure the
 * duplicate is closed.
 */
export function virtioSharedMemoryMappingNew(
  shmid: number,
  fd: number,
  fdOffset: Hwaddr,
  shmOffset: Hwaddr,
  len: Hwaddr,
  allowWrite: boolean,
): VirtioSharedMemoryMapping {
  checkShmid(shmid);
  const l = u64(len, 'length');
  const off = u64(shmOffset, 'offset');
  const fdOff = u64(fdOffset, 'fd offset');
  if (l === 0n) throw new QomError('Shared memory mapping size cannot be zero');
  const os = hostOs();
  let dupfd: number;
  try {
    dupfd = os.dup(fd);
  } catch (e) {
    throw new QomError(
      `Failed to duplicate fd: ${isErrno(e) ? e.strerror : e instanceof Error ? e.message : String(e)}`,
    );
  }
  const mapping = objectNew(VirtioSharedMemoryMapping);
  mapping.shmid = shmid;
  mapping.offset = off;
  mapping.len = l;
  mapping.writable = allowWrite;
  const mr = memoryRegionNew();
  try {
    memoryRegionInitRamFromFd(
      mr,
      mapping,
      `virtio-shmem-${shmid}-${hex(off)}`,
      l,
      RAM_SHARED | (allowWrite ? 0 : RAM_READONLY_FD),
      dupfd,
      fdOff,
      { foreign: true },
    );
  } catch (e) {
    try {
      os.close(dupfd);
    } finally {
      mapping.unref();
    }
    throw e;
  }
  mapping.mr = mr;
  mapping.setBlock(memoryRegionGetRamBlock(mr));
  return mapping;
}

/**
 * QEMU's virtio_add_shmem_map: puts `mapping` in `shmem` (its region
 * becomes a subregion of the container at its offset) and hands the
 * caller's reference to the region. Throws `VirtioSharedMemoryMapping
 * cannot be NULL`, `VirtioSharedMemoryMapping has no MemoryRegion`,
 * `Memory exceeds the shared memory boundaries`, and (a check QEMU leaves
 * to its caller) `VIRTIO Shared Memory mapping overlap`. The subregion is
 * added in its own transaction, nested in the caller's if one is open.
 */
export function virtioAddShmemMap(
  shmem: VirtioSharedMemory,
  mapping: VirtioSharedMemoryMapping | null,
): void {
  if (!mapping) throw new QomError('VirtioSharedMemoryMapping cannot be NULL');
  if (!mapping.mr) throw new QomError('VirtioSharedMemoryMapping has no MemoryRegion');
  if (mapping.offset + mapping.len > shmem.mr.size) {
    throw new QomError('Memory exceeds the shared memory boundaries');
  }
  if (mapping.region) throw new QomError('VirtioSharedMemoryMapping is already in a region');
  if (shmem.findOverlap(mapping.offset, mapping.len)) {
    throw new QomError('VIRTIO Shared Memory mapping overlap');
  }
  memoryRegionAddSubregion(shmem.mr, mapping.offset, mapping.mr);
  shmem.index.insert(mapping.offset, mapping);
  mapping.region = shmem;
}

/**
 * QEMU's virtio_find_shmem_map: the mapping at exactly `offset` whose
 * size is exactly `size`, or null (borrowed: take a reference to keep it).
 */
export function virtioFindShmemMap(
  shmem: VirtioSharedMemory,
  offset: Hwaddr,
  size: Hwaddr,
): VirtioSharedMemoryMapping | null {
  const m = shmem.index.get(u64(offset, 'offset'));
  return m && m.mr && m.mr.size === u64(size, 'size') ? m : null;
}

function delMapping(shmem: VirtioSharedMemory, m: VirtioSharedMemoryMapping): void {
  memoryRegionDelSubregion(shmem.mr, m.mr!);
  shmem.index.delete(m.offset);
  m.region = null;
  m.unref();
}

/**
 * QEMU's virtio_del_shmem_map: takes the mapping at exactly
 * (`offset`, `size`) out of the region and drops the region's reference
 * (the memory goes when the last reference does). Does nothing if there
 * is no such mapping.
 */
export function virtioDelShmemMap(shmem: VirtioSharedMemory, offset: Hwaddr, size: Hwaddr): void {
  const m = virtioFindShmemMap(shmem, offset, size);
  if (m) delMapping(shmem, m);
}

/**
 * Removes every mapping of `shmem` (device reset and finalize), oldest
 * first, in one transaction.
 */
export function virtioShmemDropMappings(shmem: VirtioSharedMemory): void {
  if (shmem.mappingCount === 0) return;
  memoryRegionTransactionBegin();
  try {
    // The container lists the newest subregion first, and removing from
    // the end of that list is what the memory core does cheapest.
    const subs = shmem.mr.subregions;
    while (subs.length > 0 && shmem.mappingCount > 0) {
      const owner = subs.at(-1)!.owner;
      if (!(owner instanceof VirtioSharedMemoryMapping) || owner.region !== shmem) break;
      delMapping(shmem, owner);
    }
    // Anything else the container holds stays; the index may still list
    // mappings if the container's order was disturbed.
    for (const m of [...shmem.mappings()]) delMapping(shmem, m);
  } finally {
    memoryRegionTransactionCommit();
  }
}

/** A SHMEM_MAP request (the fields of vhost-user's VhostUserMMap). */
export interface VirtioShmemMapRequest {
  /** The region ID. */
  shmid: number;
  /** Offset into the descriptor. */
  fdOffset: Hwaddr;
  /** Offset inside the region. */
  shmOffset: Hwaddr;
  /** Length of the mapping. */
  len: Hwaddr;
  /** VHOST_USER_FLAG_MAP_RW (bit 0) maps read-write; other bits are ignored, as in QEMU. */
  flags?: bigint | number;
}

/** A SHMEM_UNMAP request (fd offset and flags are ignored, as in QEMU). */
export interface VirtioShmemUnmapRequest {
  /** The region ID. */
  shmid: number;
  /** Offset inside the region. */
  shmOffset: Hwaddr;
  /** Length of the mapping. */
  len: Hwaddr;
}

/** Options of {@link virtioShmemMap} and {@link virtioShmemUnmap}. */
export interface VirtioShmemOpOptions {
  /**
   * Called exactly once with the outcome (null on success) before the
   * memory map change is committed: a vhost-user front-end sends its
   * reply here. If it throws, the exception is rethrown after the commit
   * (the map stays done; an unmap is then not performed, as in QEMU).
   */
  beforeCommit?: (error: Error | null) => void;
}

function regionChecks(
  vdev: VirtioShmemOwner,
  shmid: number,
  offset: bigint,
  len: bigint,
  what: 'mmap' | 'unmmap',
): VirtioSharedMemory {
  if (vdev.shmemList.length === 0) {
    throw new QomError(`Device has no VIRTIO Shared Memory Regions. Requested ID: ${shmid}`);
  }
  const shmem = virtioFindShmemRegion(vdev, shmid);
  if (!shmem) {
    throw new QomError(`VIRTIO Shared Memory Region at ID ${shmid} not found or uninitialized`);
  }
  if (offset + len > UINT64_MAX || offset + len > shmem.mr.size) {
    throw new QomError(`Bad offset/len for ${what} ${hex(offset)}+${hex(len)}`);
  }
  return shmem;
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new QomError(String(e));
}

/**
 * Maps `len` bytes of `fd` at `shmOffset` of region `shmid`, with the
 * checks of QEMU's SHMEM_MAP handler, in its order: `Bad fd for map`,
 * `Device has no VIRTIO Shared Memory Regions. Requested ID: %d`,
 * `VIRTIO Shared Memory Region at ID %d not found or uninitialized`,
 * `Bad offset/len for mmap %x+%x` (overflow, or past the region's end),
 * `VIRTIO Shared Memory mapping overlap`, then the mapping's own errors
 * (zero length, dup, mmap). The checks run outside any transaction; the
 * mapping is created and added inside one this function begins (nested
 * in the caller's if one is open), `opts.beforeCommit` runs, then that
 * transaction commits. A failed check never begins or commits anything.
 * Returns the mapping, borrowed from the region.
 */
export function virtioShmemMap(
  vdev: VirtioShmemOwner,
  fd: number,
  req: VirtioShmemMapRequest,
  opts: VirtioShmemOpOptions = {},
): VirtioSharedMemoryMapping {
  const offset = u64(req.shmOffset, 'offset');
  const len = u64(req.len, 'length');
  const fdOffset = u64(req.fdOffset, 'fd offset');
  const flags = u64(req.flags ?? 0, 'flags');
  if (traceVirtio.enabled) {
    traceVirtio(
      'virtio_shmem_map shmid %d fd %d fd_offset 0x%s offset 0x%s len 0x%s flags 0x%s',
      req.shmid,
      fd,
      fdOffset.toString(16),
      offset.toString(16),
      len.toString(16),
      flags.toString(16),
    );
  }
  let shmem: VirtioSharedMemory;
  try {
    if (fd < 0) throw new QomError('Bad fd for map');
    shmem = regionChecks(vdev, req.shmid, offset, len, 'mmap');
    if (shmem.findOverlap(offset, len)) throw new QomError('VIRTIO Shared Memory mapping overlap');
  } catch (e) {
    opts.beforeCommit?.(toError(e));
    throw e;
  }
  let mapping: VirtioSharedMemoryMapping | null = null;
  let error: Error | null = null;
  memoryRegionTransactionBegin();
  try {
    try {
      mapping = virtioSharedMemoryMappingNew(
        req.shmid,
        fd,
        fdOffset,
        offset,
        len,
        (flags & BigInt(VHOST_USER_FLAG_MAP_RW)) !== 0n,
      );
      try {
        virtioAddShmemMap(shmem, mapping);
      } catch (e) {
        mapping.unref();
        mapping = null;
        const err = new QomError('Failed to add shared memory mapping');
        err.cause = e;
        throw err;
      }
    } catch (e) {
      error = toError(e);
    }
    opts.beforeCommit?.(error);
  } finally {
    memoryRegionTransactionCommit();
  }
  if (error) throw error;
  return mapping!;
}

/**
 * Unmaps the mapping at exactly (`shmOffset`, `len`) of region `shmid`,
 * with the checks of QEMU's SHMEM_UNMAP handler: the region checks (the
 * range text says `unmmap`, as QEMU's does), then `Shared memory mapping
 * not found at offset %x with length %x`. `opts.beforeCommit` runs before
 * anything changes; then the mapping is taken out (committed at once, or
 * with the caller's transaction) and the region's reference dropped.
 */
export function virtioShmemUnmap(
  vdev: VirtioShmemOwner,
  req: VirtioShmemUnmapRequest,
  opts: VirtioShmemOpOptions = {},
): void {
  const offset = u64(req.shmOffset, 'offset');
  const len = u64(req.len, 'length');
  if (traceVirtio.enabled) {
    traceVirtio(
      'virtio_shmem_unmap shmid %d offset 0x%s len 0x%s',
      req.shmid,
      offset.toString(16),
      len.toString(16),
    );
  }
  let shmem: VirtioSharedMemory;
  let m: VirtioSharedMemoryMapping | null;
  try {
    shmem = regionChecks(vdev, req.shmid, offset, len, 'unmmap');
    m = virtioFindShmemMap(shmem, offset, len);
    if (!m) {
      throw new QomError(
        `Shared memory mapping not found at offset ${hex(offset)} with length ${hex(len)}`,
      );
    }
  } catch (e) {
    opts.beforeCommit?.(toError(e));
    throw e;
  }
  opts.beforeCommit?.(null);
  delMapping(shmem, m);
}

/**
 * Looks a mapping up by region ID and exact (offset, length) and takes a
 * reference to it, for `using`: the memory outlives an unmap until the
 * reference is dropped. Null if there is no such region or mapping.
 */
export function virtioShmemLookup(
  vdev: VirtioShmemOwner,
  shmid: number,
  offset: Hwaddr,
  len: Hwaddr,
): Owned<VirtioSharedMemoryMapping> | null {
  const shmem = virtioFindShmemRegion(vdev, shmid);
  const m = shmem ? virtioFindShmemMap(shmem, offset, len) : null;
  return m ? Owned.from(m) : null;
}

/**
 * Drops every mapping of every region of `vdev` (what device reset and
 * finalize do), in one transaction.
 */
export function virtioShmemDropAll(vdev: VirtioShmemOwner): void {
  memoryRegionTransactionBegin();
  try {
    for (const s of vdev.shmemList) virtioShmemDropMappings(s);
  } finally {
    memoryRegionTransactionCommit();
  }
}
