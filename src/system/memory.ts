/**
 * The memory API (QEMU's system/memory.c and include/system/memory.h):
 * `MemoryRegion` as the QOM type `memory-region`, subregions with
 * priorities, aliases, transactions, address spaces, memory listeners,
 * I/O dispatch, and `info mtree`.
 *
 * Names are QEMU's in camelCase (`memory_region_add_subregion` is
 * {@link memoryRegionAddSubregion}). Addresses and sizes are bigints;
 * functions also accept numbers. A size argument of UINT64_MAX means 2^64,
 * as in QEMU.
 *
 * Topology changes only record what they touched; when the outermost
 * transaction commits (each mutator runs its own transaction when none is
 * open), the address intervals those changes reach in each flat view are
 * rendered again, the rest of the view is kept, and listeners are told
 * the ranges that changed. Where QEMU renders every view whole at each
 * commit, the cost here follows the size of the change, not of the map.
 * @module
 */
import { trace } from '../util/trace.js';
import { SubregionList } from './subregion-list.js';
import {
  QomError,
  QomObject,
  TYPE_OBJECT,
  containerGet,
  objectGetRoot,
  objectNew,
  QomType,
} from '../qom/index.js';
import {
  INT128_2_64,
  UINT64_MAX,
  flatrangesDiff,
  flatviewDiff,
  flatviewUpdate,
  generateMemoryTopology,
  memoryRegionGetFlatviewRoot,
  type FlatRange,
  type FlatView,
  type FlatViewSpan,
} from './flatview.js';
import { mtreeFormat, type MtreeFlags, type MtreeNaming, type PrintableRegion } from './mtree.js';
import { unassignedIoOps } from './ioport.js';

const traceMemory = trace('memory');

// Node before 20.4 lacks Symbol.dispose, which `using` and memoryRegionTransaction() need;
// later versions define it as this registered symbol.
if (typeof (Symbol as { dispose?: symbol }).dispose !== 'symbol') {
  Object.defineProperty(Symbol, 'dispose', { value: Symbol.for('nodejs.dispose') });
}

/** The QOM type name of memory regions. */
export const TYPE_MEMORY_REGION = 'memory-region';

/** QEMU's TYPE_DEVICE: `info mtree -o` prints owners of this type as `dev`. */
const TYPE_DEVICE = 'device';

/** A guest physical address or a size: bigint, or a number for convenience. */
export type Hwaddr = bigint | number;

// ---------------------------------------------------------------------------
// Memory transaction results

/** A memory transaction's result: a bit mask of the MEMTX_* values (QEMU's MemTxResult). */
export type MemTxResult = number;
/** The access succeeded. */
export const MEMTX_OK = 0;
/** A device returned an error. */
export const MEMTX_ERROR = 1 << 0;
/** Nothing at that address, or the region refused the access (size, alignment). */
export const MEMTX_DECODE_ERROR = 1 << 1;
/** The access was not permitted. */
export const MEMTX_ACCESS_ERROR = 1 << 2;

// ---------------------------------------------------------------------------
// RAM flags (include/system/memory.h)

/** RAM was preallocated or comes from elsewhere: never unmapped by the region. */
export const RAM_PREALLOC = 1 << 0;
/** A shared mapping (MAP_SHARED). */
export const RAM_SHARED = 1 << 1;
/** Resizeable RAM. */
export const RAM_RESIZEABLE = 1 << 2;
/** userfaultfd zero pages. */
export const RAM_UF_ZEROPAGE = 1 << 3;
/** Migratable RAM. */
export const RAM_MIGRATABLE = 1 << 4;
/** Persistent memory (MAP_SYNC when shared). */
export const RAM_PMEM = 1 << 5;
/** userfaultfd write protection. */
export const RAM_UF_WRITEPROTECT = 1 << 6;
/** Do not reserve swap space (MAP_NORESERVE). */
export const RAM_NORESERVE = 1 << 7;
/** Protected (confidential guest) memory. */
export const RAM_PROTECTED = 1 << 8;
/** The fd is a named file. */
export const RAM_NAMED_FILE = 1 << 9;
/** The region is read-only (a ROM for the guest; the mapping is PROT_READ). */
export const RAM_READONLY = 1 << 10;
/** The fd is read-only: the mapping is PROT_READ, the region stays RAM. */
export const RAM_READONLY_FD = 1 << 11;
/** guest_memfd backed. */
export const RAM_GUEST_MEMFD = 1 << 12;
/** A private mapping even where shared is the default. */
export const RAM_PRIVATE = 1 << 13;

// ---------------------------------------------------------------------------
// I/O callbacks

/** Byte order of a device's registers (QEMU's `enum device_endian`); native is little (x86). */
export type DeviceEndian = 'native' | 'little' | 'big';

/** Access constraints (QEMU's `MemoryRegionOps.valid` / `.impl`). */
export interface MemoryRegionAccessSizes {
  /** Smallest access in bytes (0: 1). */
  readonly minAccessSize?: number;
  /** Largest access in bytes (0: 4 for `impl`; no limit for `valid`). */
  readonly maxAccessSize?: number;
  /** Whether unaligned accesses are allowed. */
  readonly unaligned?: boolean;
}

/** `valid` constraints may also veto an access. */
export interface MemoryRegionValidSizes extends MemoryRegionAccessSizes {
  /** Returns false to refuse an access (a decode error for the initiator). */
  accepts?(addr: bigint, size: number, isWrite: boolean): boolean;
}

/**
 * The callbacks of an I/O region (QEMU's MemoryRegionOps). `addr` is the
 * offset in the region; values are little-endian or big-endian as
 * `endianness` says. Accesses the device does not implement are split or
 * widened according to `impl`, as QEMU's access_with_adjusted_size does.
 */
export interface MemoryRegionOps {
  /** Reads `size` bytes (1, 2, 4 or 8); missing: reads give 0. */
  read?(addr: bigint, size: number): bigint | number;
  /** Writes `size` bytes; missing: writes are dropped. */
  write?(addr: bigint, value: bigint, size: number): void;
  /** Register byte order (default `native`, little-endian). */
  readonly endianness?: DeviceEndian;
  /** What the guest may do; anything else is a decode error. */
  readonly valid?: MemoryRegionValidSizes;
  /** What the callbacks implement. */
  readonly impl?: MemoryRegionAccessSizes;
}

/** QEMU's unassigned_mem_ops: refuses every access (reads 0, writes dropped, decode error). */
export const unassignedMemOps: MemoryRegionOps = Object.freeze({
  valid: Object.freeze({ accepts: () => false }),
  endianness: 'native' as const,
});

// ---------------------------------------------------------------------------
// RAM backing, filled in by physmem.ts

/**
 * What a RAM region needs from its RAM block (QEMU's RAMBlock), kept
 * abstract so memory.ts does not depend on the native layer.
 */
export interface RamBackend {
  /** The RAM_* flags. */
  readonly flags: number;
  /** The descriptor the memory was mapped from, or -1. */
  readonly fd: number;
  /** Whether the mapping is PROT_READ only. */
  readonly readonlyMapping: boolean;
  /** Copies bytes out of the block (offset relative to the region). */
  read(offset: number, length: number): Uint8Array;
  /** Copies bytes into the block. */
  write(offset: number, data: Uint8Array): void;
  /** A live view, detached when the block is freed. */
  view(offset: number, length: number): Uint8Array;
  /** Releases the memory (QEMU's qemu_ram_free). */
  free(): void;
}

// ---------------------------------------------------------------------------
// MemoryRegion

function destructorNone(_mr: MemoryRegion): void {}

function destructorRam(mr: MemoryRegion): void {
  const rb = mr.ramBlock;
  mr.ramBlock = null;
  rb?.free();
}

/**
 * A memory region (QEMU's MemoryRegion): a container, RAM, an I/O region
 * with callbacks, or an alias of part of another region. Create one with
 * {@link memoryRegionNew} and initialise it with one of the
 * `memoryRegionInit*` functions; a named region becomes the child
 * `<name>[N]` of its owner (or of `/machine/unattached`), which keeps it
 * alive. The fields mirror QEMU's struct and are read-only by convention:
 * change them through the functions, which keep flat views up to date.
 */
@QomType({ name: TYPE_MEMORY_REGION, parent: TYPE_OBJECT })
export class MemoryRegion extends QomObject implements PrintableRegion<MemoryRegion> {
  /** In ROMD mode (ROM devices: reads go to RAM). */
  romdMode = true;
  /** RAM-backed. */
  ram = false;
  /** Read-only for the guest. */
  readonly: boolean = false;
  /** Non-volatile memory. */
  nonvolatile = false;
  /** ROM device (RAM reads, I/O writes). */
  romDevice = false;
  /** Device memory mapped into the host, accessed as I/O. */
  ramDevice = false;
  /** Visible (disabled regions do not hide lower-priority siblings). */
  enabled = true;
  /** Has its own backing (RAM or I/O); false for containers and aliases. */
  terminates = false;
  /** Never merged with neighbours in flat views. */
  unmergeable = false;
  /** The RAM block of a RAM region. */
  ramBlock: RamBackend | null = null;
  /** The object the region belongs to (its lifetime is the owner's). */
  owner: QomObject | null = null;
  /** The I/O callbacks. */
  ops: MemoryRegionOps = unassignedMemOps;
  /** The region this one is mapped into, or null. */
  container: MemoryRegion | null = null;
  /** How many aliases mapped into containers point (directly or not) to this region. */
  mappedViaAlias = 0;
  /** Size, 0..2^64. */
  size = 0n;
  /** Offset inside the container. */
  addr = 0n;
  /** Runs at finalization (frees the RAM of RAM regions). */
  destructor: (mr: MemoryRegion) => void = destructorNone;
  /** RAM alignment. */
  align = 0n;
  /** The aliased region, or null. */
  alias: MemoryRegion | null = null;
  /** Where the alias starts inside `alias`. */
  aliasOffset = 0n;
  /** Priority inside the container (signed 32-bit). */
  priority = 0;
  /** Subregions, highest priority first (among equal priorities, the most recently added first). */
  readonly subregions = new SubregionList<MemoryRegion>((r) => [r.addr, r.addr + r.size]);
  /** The name given at init (null: the QOM path component is used). */
  name: string | null = null;
  /** Dirty logging clients. */
  dirtyLogMask = 0;

  /** The subregions that intersect `[start, end)` (offsets in this region), in list order. */
  subregionsIn(start: bigint, end: bigint): Iterable<MemoryRegion> {
    return this.subregions.overlapping(start, end);
  }

  /** QEMU's memory_region_initfn: the `container`, `addr`, `priority` and `size` properties. */
  override instanceInit(): void {
    this.propertyAddLink('container', TYPE_MEMORY_REGION, () => this.container, null);
    this.propertyAddUint64('addr', () => this.addr);
    this.propertyAdd('priority', 'uint32', (_o, v, name) => v.typeInt32(name, this.priority | 0));
    this.propertyAddUint64('size', () => memoryRegionSize(this));
  }

  /**
   * QEMU's memory_region_finalize: leaves the container, drops the
   * subregions, then runs the destructor (RAM: unmap, close the fd it owns).
   * Where QEMU assumes a finalized region is no longer visible, tsqom
   * renders the address spaces again if it still was, so no flat view
   * keeps pointing at freed memory.
   */
  override instanceFinalize(): void {
    const wasVisible = this.enabled;
    this.enabled = false;
    memoryRegionTransactionBegin();
    try {
      // Mapped aliases or address spaces may still reach us: render again so nothing does.
      if (wasVisible && (this.container || this.mappedViaAlias > 0)) markRegionDirty(this);
      if (wasVisible && reachedFromAddressSpaceRoot(this)) markAllDirty();
      if (this.container) memoryRegionDelSubregion(this.container, this);
      while (this.subregions.length) memoryRegionDelSubregion(this, this.subregions.at(-1)!);
    } finally {
      memoryRegionTransactionCommit();
    }
    if (this.alias) aliasesOf.get(this.alias)?.delete(this);
    aliasesOf.delete(this);
    this.destructor(this);
  }
}

/** A new, uninitialised region (reference count 1): pass it to a `memoryRegionInit*` function. */
export function memoryRegionNew(): MemoryRegion {
  return objectNew(MemoryRegion);
}

function u64(v: Hwaddr, what: string): bigint {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  if (b < 0n || b > UINT64_MAX) throw new RangeError(`${what} ${v} is not a 64-bit unsigned value`);
  return b;
}

function sizeArg(v: Hwaddr): bigint {
  const s = u64(v, 'size');
  return s === UINT64_MAX ? INT128_2_64 : s;
}

function needEscape(c: string): boolean {
  return c === '/' || c === '[' || c === '\\' || c === ']';
}

/**
 * QEMU's memory_region_escape_name: `/ [ \ ]` become `\xNN` (lower-case
 * hex), so a region name is a valid QOM path component.
 */
export function memoryRegionEscapeName(name: string): string {
  let out = '';
  for (const c of name) {
    out += needEscape(c) ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c;
  }
  return out;
}

/**
 * The container `/machine/<name>`, created (with `/machine`) if missing
 * (QEMU's machine_get_container; tsqom has no machine object, so
 * `/machine` is a plain container).
 */
export function machineGetContainer(name: string): QomObject {
  return containerGet(objectGetRoot(), `machine/${name}`);
}

function memoryRegionDoInit(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  size: Hwaddr,
): void {
  mr.size = sizeArg(size);
  mr.name = name;
  mr.owner = owner;
  mr.ramBlock = null;
  if (name !== null) {
    const parent = owner ?? machineGetContainer('unattached');
    parent.propertyAddChild(`${memoryRegionEscapeName(name)}[*]`, mr);
    mr.unref();
  }
}

/**
 * QEMU's memory_region_init: a pure container of `size` bytes (UINT64_MAX
 * means 2^64). With a name, the region becomes the child `<name>[N]` of
 * `owner` (or of `/machine/unattached`), which then holds its only
 * reference; without a name the caller keeps the reference.
 */
export function memoryRegionInit(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  size: Hwaddr,
): MemoryRegion {
  memoryRegionDoInit(mr, owner, name, size);
  return mr;
}

/**
 * QEMU's memory_region_init_io: an I/O region whose accesses go to `ops`
 * (null: QEMU's unassigned_mem_ops).
 */
export function memoryRegionInitIo(
  mr: MemoryRegion,
  owner: QomObject | null,
  ops: MemoryRegionOps | null,
  name: string | null,
  size: Hwaddr,
): MemoryRegion {
  memoryRegionInit(mr, owner, name, size);
  mr.ops = ops ?? unassignedMemOps;
  mr.terminates = true;
  return mr;
}

/**
 * QEMU's memory_region_init_alias: a window of `size` bytes onto `orig`
 * starting at `offset`. An alias cannot have subregions.
 */
export function memoryRegionInitAlias(
  mr: MemoryRegion,
  owner: QomObject | null,
  name: string | null,
  orig: MemoryRegion,
  offset: Hwaddr,
  size: Hwaddr,
): MemoryRegion {
  for (let a: MemoryRegion | null = orig; a; a = a.alias) {
    if (a === mr) throw new QomError('memory region alias loop');
  }
  memoryRegionInit(mr, owner, name, size);
  mr.alias = orig;
  mr.aliasOffset = u64(offset, 'alias offset');
  let set = aliasesOf.get(orig);
  if (!set) aliasesOf.set(orig, (set = new Set()));
  set.add(mr);
  return mr;
}

/**
 * Common tail of the RAM initialisers (physmem.ts): makes `mr` a RAM
 * region backed by `block`. On failure the caller unparents the region,
 * as QEMU does.
 * @internal
 */
export function memoryRegionSetRamBlock(mr: MemoryRegion, block: RamBackend): void {
  mr.ram = true;
  mr.terminates = true;
  mr.destructor = destructorRam;
  mr.ramBlock = block;
}

/** QEMU's memory_region_size: the size, UINT64_MAX for 2^64. */
export function memoryRegionSize(mr: MemoryRegion): bigint {
  return mr.size === INT128_2_64 ? UINT64_MAX : mr.size;
}

/** QEMU's memory_region_name: the init name, else the QOM path component. */
export function memoryRegionName(mr: MemoryRegion): string {
  if (mr.name === null) {
    // QEMU caches the component; printf prints a NULL one as "(null)".
    mr.name = mr.canonicalPathComponent();
    if (mr.name === null) return '(null)';
  }
  return mr.name;
}

/** QEMU's memory_region_owner: the QOM parent. */
export function memoryRegionOwner(mr: MemoryRegion): QomObject | null {
  return mr.parent;
}

/** QEMU's memory_region_ref: takes a reference on the owner (regions have none of their own). */
export function memoryRegionRef(mr: MemoryRegion | null): void {
  mr?.owner?.ref();
}

/** QEMU's memory_region_unref. */
export function memoryRegionUnref(mr: MemoryRegion | null): void {
  mr?.owner?.unref();
}

/** QEMU's memory_region_is_ram. */
export function memoryRegionIsRam(mr: MemoryRegion): boolean {
  return mr.ram;
}

/** QEMU's memory_region_is_rom: RAM that is read-only. */
export function memoryRegionIsRom(mr: MemoryRegion): boolean {
  return mr.ram && mr.readonly;
}

/** QEMU's memory_region_is_romd. */
export function memoryRegionIsRomd(mr: MemoryRegion): boolean {
  return mr.romDevice && mr.romdMode;
}

/** QEMU's memory_region_is_mapped: in a container, or reached through a mapped alias. */
export function memoryRegionIsMapped(mr: MemoryRegion): boolean {
  return !!mr.container || mr.mappedViaAlias > 0;
}

/** QEMU's memory_region_get_fd: the descriptor behind a RAM region (through aliases), or -1. */
export function memoryRegionGetFd(mr: MemoryRegion): number {
  while (mr.alias) mr = mr.alias;
  return mr.ramBlock ? mr.ramBlock.fd : -1;
}

/**
 * The equivalent of QEMU's memory_region_get_ram_ptr: a live view of
 * `length` bytes at `offset` of a RAM region (through aliases). The view is
 * detached when the region is finalized (its length becomes 0), so keep it
 * only while the region lives; a read-only mapping refuses with EACCES.
 */
export function memoryRegionGetRamPtr(
  mr: MemoryRegion,
  offset: Hwaddr = 0,
  length?: Hwaddr,
): Uint8Array {
  let off = u64(offset, 'offset');
  while (mr.alias) {
    off += mr.aliasOffset;
    mr = mr.alias;
  }
  if (!mr.ramBlock) throw new QomError(`memory region '${memoryRegionName(mr)}' is not RAM`);
  const len = length === undefined ? mr.size - off : u64(length, 'length');
  if (off + len > mr.size) {
    throw new RangeError(
      `range [${off}, +${len}) is outside memory region '${memoryRegionName(mr)}'`,
    );
  }
  return mr.ramBlock.view(Number(off), Number(len));
}

// ---------------------------------------------------------------------------
// Transactions

let transactionDepth = 0;
let updatePending = false;
let committing = false;

/**
 * What changed since the last commit: `own` records say that `mr` itself
 * changed (where it renders, `[lo, hi)` being its old or new extent in its
 * own offsets); the others that `mr`'s content changed in `[lo, hi)`.
 */
interface DirtyRecord {
  readonly mr: MemoryRegion;
  readonly lo: bigint;
  readonly hi: bigint;
  readonly own: boolean;
}
let dirtyRecords: DirtyRecord[] = [];
let dirtyAll = false;
/** Past this many changes in one commit, every view is rendered whole. */
const DIRTY_RECORDS_MAX = 4096;
/** Past this many steps to find where changes land, every view is rendered whole. */
const DIRTY_WALK_MAX = 1024;

/** The aliases pointing at each region (for finding where a change shows). */
const aliasesOf = new Map<MemoryRegion, Set<MemoryRegion>>();

/**
 * `mr`'s content changed in `[lo, hi)` (its own offsets). `visible` is
 * QEMU's condition for an update; the change is recorded anyway, since a
 * region hidden now (disabled) may have been visible at the last commit.
 */
function markDirty(mr: MemoryRegion, lo: bigint, hi: bigint, visible = true): void {
  updatePending ||= visible;
  if (dirtyAll) return;
  if (dirtyRecords.length >= DIRTY_RECORDS_MAX) {
    markAllDirty();
    return;
  }
  dirtyRecords.push({ mr, lo, hi, own: false });
}

/** `mr` itself changed (enabled, size, attributes): everywhere it renders, up to `size` bytes. */
function markRegionDirty(mr: MemoryRegion, size: bigint = mr.size): void {
  updatePending = true;
  if (dirtyAll) return;
  if (dirtyRecords.length >= DIRTY_RECORDS_MAX) {
    markAllDirty();
    return;
  }
  dirtyRecords.push({ mr, lo: 0n, hi: size, own: true });
}

function markAllDirty(): void {
  updatePending = true;
  dirtyAll = true;
  dirtyRecords = [];
}

/**
 * Adds the absolute intervals where `[lo, hi)` of `mr` shows to the lists
 * of the flat view roots it reaches (through its containers and through
 * every alias of it or of a container). Returns false when that takes too
 * many steps, and the caller renders everything.
 */
function dirtyWalk(
  mr: MemoryRegion,
  lo: bigint,
  hi: bigint,
  own: boolean,
  roots: Map<MemoryRegion, [bigint, bigint][]>,
  budget: { n: number },
): boolean {
  if (--budget.n < 0) return false;
  if (!own) {
    if (!mr.enabled) return true;
    if (lo < 0n) lo = 0n;
    if (hi > mr.size) hi = mr.size;
  }
  if (hi <= lo) return true;
  const list = roots.get(mr);
  if (list) {
    const a = mr.addr + lo;
    const b = mr.addr + hi;
    if (a < INT128_2_64) list.push([a, b < INT128_2_64 ? b : INT128_2_64]);
  }
  if (mr.container && !dirtyWalk(mr.container, mr.addr + lo, mr.addr + hi, false, roots, budget)) {
    return false;
  }
  const aliases = aliasesOf.get(mr);
  if (aliases) {
    for (const a of aliases) {
      if (!dirtyWalk(a, lo - a.aliasOffset, hi - a.aliasOffset, false, roots, budget)) return false;
    }
  }
  return true;
}

/** QEMU's memory_region_transaction_begin: defers topology updates until the matching commit. */
export function memoryRegionTransactionBegin(): void {
  ++transactionDepth;
}

/**
 * QEMU's memory_region_transaction_commit: at the outermost commit, if
 * anything changed, renders every address space again and calls the
 * listeners (begin, region_del/region_add/region_nop per address space,
 * commit). A listener that changes the topology gets another round. An
 * exception from a listener is rethrown once the update is complete.
 */
export function memoryRegionTransactionCommit(): void {
  if (transactionDepth === 0) {
    throw new QomError('memory_region_transaction_commit without memory_region_transaction_begin');
  }
  if (--transactionDepth !== 0 || committing) return;
  committing = true;
  const errors: unknown[] = [];
  try {
    while (updatePending) {
      updatePending = false;
      if (traceMemory.enabled) {
        traceMemory('memory_region_transaction_commit: %d address spaces', addressSpaces.length);
      }
      const changes = flatviewsUpdate();
      for (const l of memoryListeners) callListener(errors, () => l.begin?.());
      for (const as of addressSpaces) addressSpaceSetFlatview(as, changes, errors);
      for (const l of memoryListeners) callListener(errors, () => l.commit?.());
    }
  } finally {
    committing = false;
  }
  if (errors.length) throw errors[0];
}

function callListener(errors: unknown[], fn: () => void): void {
  try {
    fn();
  } catch (e) {
    errors.push(e);
  }
}

/** The current nesting depth of transactions (0: none open). */
export function memoryRegionTransactionDepth(): number {
  return transactionDepth;
}

/**
 * A scoped transaction: begins now and commits when disposed, also when the
 * scope throws.
 *
 * ```ts
 * {
 *   using _t = memoryRegionTransaction();
 *   memoryRegionDelSubregion(container, old);
 *   memoryRegionAddSubregion(container, 0x1000n, replacement);
 * } // committed here: listeners see one update
 * ```
 */
export function memoryRegionTransaction(): Disposable {
  memoryRegionTransactionBegin();
  let open = true;
  return {
    [Symbol.dispose](): void {
      if (!open) return;
      open = false;
      memoryRegionTransactionCommit();
    },
  };
}

/**
 * Runs `fn` inside a transaction and commits even when it throws. `fn`
 * must be synchronous: the commit happens when it returns, not when a
 * promise it returns settles.
 */
export function withTransaction<T>(fn: () => T): T {
  memoryRegionTransactionBegin();
  try {
    return fn();
  } finally {
    memoryRegionTransactionCommit();
  }
}

// ---------------------------------------------------------------------------
// Subregions

function updateContainerSubregions(sub: MemoryRegion): void {
  const mr = sub.container!;
  memoryRegionTransactionBegin();
  try {
    if (mr.owner !== sub.owner) memoryRegionRef(sub);
    mr.subregions.insert(sub, sub.priority);
    markDirty(mr, sub.addr, sub.addr + sub.size, mr.enabled && sub.enabled);
  } finally {
    memoryRegionTransactionCommit();
  }
}

function addSubregionCommon(mr: MemoryRegion, offset: bigint, sub: MemoryRegion): void {
  if (sub.container) {
    throw new QomError(
      `memory region '${memoryRegionName(sub)}' is already mapped in '${memoryRegionName(sub.container)}'`,
    );
  }
  if (mr.alias)
    throw new QomError(
      `memory region '${memoryRegionName(mr)}' is an alias and cannot hold subregions`,
    );
  for (let c: MemoryRegion | null = mr; c; c = c.container) {
    if (c === sub)
      throw new QomError(`memory region '${memoryRegionName(sub)}' cannot contain itself`);
  }
  sub.container = mr;
  for (let a = sub.alias; a; a = a.alias) a.mappedViaAlias++;
  sub.addr = offset;
  updateContainerSubregions(sub);
}

/**
 * QEMU's memory_region_add_subregion: maps `sub` at `offset` in `mr` with
 * priority 0. A region can be mapped once (use aliases to map it twice).
 */
export function memoryRegionAddSubregion(
  mr: MemoryRegion,
  offset: Hwaddr,
  sub: MemoryRegion,
): void {
  const off = u64(offset, 'offset');
  sub.priority = 0;
  addSubregionCommon(mr, off, sub);
}

/**
 * QEMU's memory_region_add_subregion_overlap: maps `sub` with a priority;
 * where siblings overlap, the highest priority wins, and among equal
 * priorities the most recently added.
 */
export function memoryRegionAddSubregionOverlap(
  mr: MemoryRegion,
  offset: Hwaddr,
  sub: MemoryRegion,
  priority: number,
): void {
  const off = u64(offset, 'offset');
  if (!Number.isInteger(priority) || priority < -0x80000000 || priority > 0x7fffffff) {
    throw new RangeError(`priority ${priority} is not a 32-bit signed integer`);
  }
  sub.priority = priority;
  addSubregionCommon(mr, off, sub);
}

/** QEMU's memory_region_del_subregion: unmaps `sub` from `mr`. */
export function memoryRegionDelSubregion(mr: MemoryRegion, sub: MemoryRegion): void {
  if (sub.container !== mr) {
    throw new QomError(
      `memory region '${memoryRegionName(sub)}' is not a subregion of '${memoryRegionName(mr)}'`,
    );
  }
  memoryRegionTransactionBegin();
  try {
    sub.container = null;
    for (let a = sub.alias; a; a = a.alias) a.mappedViaAlias--;
    mr.subregions.remove(sub);
    markDirty(mr, sub.addr, sub.addr + sub.size, mr.enabled && sub.enabled);
    if (mr.owner !== sub.owner) memoryRegionUnref(sub);
  } finally {
    memoryRegionTransactionCommit();
  }
}

/** QEMU's memory_region_set_enabled: a disabled region does not hide lower-priority siblings. */
export function memoryRegionSetEnabled(mr: MemoryRegion, enabled: boolean): void {
  if (enabled === mr.enabled) return;
  withTransaction(() => {
    mr.enabled = enabled;
    markRegionDirty(mr);
  });
}

/** QEMU's memory_region_set_size (UINT64_MAX means 2^64). */
export function memoryRegionSetSize(mr: MemoryRegion, size: Hwaddr): void {
  const s = sizeArg(size);
  if (s === mr.size) return;
  withTransaction(() => {
    const old = mr.size;
    mr.size = s;
    mr.container?.subregions.moved(mr);
    markRegionDirty(mr, old > s ? old : s);
  });
}

/**
 * QEMU's memory_region_set_address: moves the region inside its container
 * (it is removed and added again with its priority, so among equal
 * priorities it becomes the most recent).
 */
export function memoryRegionSetAddress(mr: MemoryRegion, addr: Hwaddr): void {
  const a = u64(addr, 'address');
  if (a === mr.addr) return;
  const container = mr.container;
  if (!container) {
    mr.addr = a;
    return;
  }
  withTransaction(() => {
    memoryRegionRef(mr);
    try {
      memoryRegionDelSubregion(container, mr);
      addSubregionCommon(container, a, mr);
    } finally {
      memoryRegionUnref(mr);
    }
  });
}

/** QEMU's memory_region_set_alias_offset. */
export function memoryRegionSetAliasOffset(mr: MemoryRegion, offset: Hwaddr): void {
  if (!mr.alias) throw new QomError(`memory region '${memoryRegionName(mr)}' is not an alias`);
  const o = u64(offset, 'alias offset');
  if (o === mr.aliasOffset) return;
  withTransaction(() => {
    mr.aliasOffset = o;
    if (mr.enabled) markRegionDirty(mr);
  });
}

/** QEMU's memory_region_set_readonly. */
export function memoryRegionSetReadonly(mr: MemoryRegion, readonly: boolean): void {
  if (mr.readonly === readonly) return;
  withTransaction(() => {
    mr.readonly = readonly;
    if (mr.enabled) markRegionDirty(mr);
  });
}

/** QEMU's memory_region_set_nonvolatile. */
export function memoryRegionSetNonvolatile(mr: MemoryRegion, nonvolatile: boolean): void {
  if (mr.nonvolatile === nonvolatile) return;
  withTransaction(() => {
    mr.nonvolatile = nonvolatile;
    if (mr.enabled) markRegionDirty(mr);
  });
}

/** QEMU's memory_region_set_unmergeable. */
export function memoryRegionSetUnmergeable(mr: MemoryRegion, unmergeable: boolean): void {
  if (mr.unmergeable === unmergeable) return;
  withTransaction(() => {
    mr.unmergeable = unmergeable;
    if (mr.enabled) markRegionDirty(mr);
  });
}

// ---------------------------------------------------------------------------
// Address spaces and listeners

/**
 * A piece of a flat view as listeners receive it (QEMU's
 * MemoryRegionSection): `size` bytes of `mr` starting at
 * `offsetWithinRegion`, mapped at `offsetWithinAddressSpace`.
 */
export interface MemoryRegionSection {
  /** The backing region (never an alias). */
  readonly mr: MemoryRegion;
  /** The flat view the section belongs to. */
  readonly fv: FlatView<MemoryRegion>;
  /** Offset inside `mr`. */
  readonly offsetWithinRegion: bigint;
  /** Size in bytes (up to 2^64). */
  readonly size: bigint;
  /** Address in the address space. */
  readonly offsetWithinAddressSpace: bigint;
  /** Read-only (from `mr` or a region above it). */
  readonly readonly: boolean;
  /** Non-volatile. */
  readonly nonvolatile: boolean;
  /** Unmergeable. */
  readonly unmergeable: boolean;
}

/**
 * Callbacks on topology changes (the part of QEMU's MemoryListener that
 * tsqom uses). `begin` and `commit` run for every registered listener at
 * each update; the region callbacks only for changes in the listener's
 * address space: `regionDel` for ranges that went away or changed (in
 * reverse registration order), then `regionAdd` for new ones and
 * `regionNop` for unchanged ones (forward order, address order).
 *
 * An update costs what changed, unless a listener of the address space
 * implements `regionNop`: every unchanged range is then visited, as in
 * QEMU, which is linear in the size of the map. Leave it out to be told
 * only about changes.
 */
export interface MemoryListener {
  /** Lower priorities are called first (forward order). */
  readonly priority?: number;
  /** A name, for debugging. */
  readonly name?: string;
  /** An update starts. */
  begin?(): void;
  /** An update ends. */
  commit?(): void;
  /** A range appeared (or changed). */
  regionAdd?(section: MemoryRegionSection): void;
  /** A range disappeared (or changed). */
  regionDel?(section: MemoryRegionSection): void;
  /** A range is unchanged. */
  regionNop?(section: MemoryRegionSection): void;
}

/**
 * An address space (QEMU's AddressSpace): a root region, rendered into a
 * flat view that accesses and listeners use. Create with
 * {@link addressSpaceInit}.
 */
export class AddressSpace {
  /** The name `info mtree` prints. */
  readonly name: string;
  /** The root region. */
  readonly root: MemoryRegion;
  /** The flat view in use (replaced at each commit that changes the topology). */
  currentMap: FlatView<MemoryRegion>;
  /** The listeners registered on this address space, in call order. */
  readonly listeners: MemoryListener[] = [];
  #destroyed = false;

  /** @internal Use {@link addressSpaceInit}. */
  constructor(root: MemoryRegion, name: string) {
    this.root = root;
    this.name = name;
    this.currentMap = emptyView;
  }

  /** Whether {@link addressSpaceDestroy} ran. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** @internal */
  markDestroyed(): void {
    this.#destroyed = true;
  }
}

const addressSpaces: AddressSpace[] = [];

function reachedFromAddressSpaceRoot(mr: MemoryRegion): boolean {
  for (const as of addressSpaces) {
    for (let r: MemoryRegion | null = as.root; r; r = r.alias) if (r === mr) return true;
  }
  return false;
}
const memoryListeners: MemoryListener[] = [];
const listenerSpaces = new Map<MemoryListener, AddressSpace>();
const emptyView: FlatView<MemoryRegion> = generateMemoryTopology<MemoryRegion>(null);
let flatViews: Map<MemoryRegion | null, FlatView<MemoryRegion>> | null = null;

function flatviewsInit(): Map<MemoryRegion | null, FlatView<MemoryRegion>> {
  if (!flatViews) {
    flatViews = new Map();
    flatViews.set(null, emptyView);
  }
  return flatViews;
}

/** How a commit changed one view: the spans replaced since `base`. */
interface ViewChange {
  readonly base: FlatView<MemoryRegion>;
  readonly spans: readonly FlatViewSpan<MemoryRegion>[];
}

/**
 * The flat views after a commit (QEMU's flatviews_reset, incremental):
 * the views of roots that stayed are updated in the intervals the recorded
 * changes reach; new roots, too many changes or changes that cannot be
 * placed get a full render. Returns the span lists of the updated views.
 */
function flatviewsUpdate(): Map<FlatView<MemoryRegion>, ViewChange> {
  const oldViews = flatviewsInit();
  const records = dirtyRecords;
  let full = dirtyAll;
  dirtyRecords = [];
  dirtyAll = false;

  const physmrs: (MemoryRegion | null)[] = [];
  for (const as of addressSpaces) {
    const p = memoryRegionGetFlatviewRoot(as.root);
    if (!physmrs.includes(p)) physmrs.push(p);
  }
  const roots = new Map<MemoryRegion, [bigint, bigint][]>();
  for (const p of physmrs) if (p && oldViews.has(p)) roots.set(p, []);
  if (!full && roots.size) {
    const budget = { n: DIRTY_WALK_MAX + records.length };
    for (const r of records) {
      if (!dirtyWalk(r.mr, r.lo, r.hi, r.own, roots, budget)) {
        full = true;
        break;
      }
    }
  }

  const views = new Map<MemoryRegion | null, FlatView<MemoryRegion>>();
  views.set(null, emptyView);
  const changes = new Map<FlatView<MemoryRegion>, ViewChange>();
  for (const p of physmrs) {
    if (!p) continue;
    const base = oldViews.get(p);
    if (full || !base) {
      views.set(p, generateMemoryTopology(p));
      continue;
    }
    const u = flatviewUpdate(base, roots.get(p)!);
    views.set(p, u.view);
    if (u.view !== base) changes.set(u.view, { base, spans: u.spans });
  }
  flatViews = views;
  return changes;
}

function sectionFromFlatRange(
  fr: FlatRange<MemoryRegion>,
  fv: FlatView<MemoryRegion>,
): MemoryRegionSection {
  return {
    mr: fr.mr,
    fv,
    offsetWithinRegion: fr.offsetInRegion,
    size: fr.size,
    offsetWithinAddressSpace: fr.start,
    readonly: fr.readonly,
    nonvolatile: fr.nonvolatile,
    unmergeable: fr.unmergeable,
  };
}

/**
 * QEMU's address_space_set_flatview: switches `as` to its new view and
 * tells its listeners. Only changed ranges are walked (regionDel, then
 * regionAdd, in address order), unless a listener implements regionNop:
 * then, as in QEMU, every range of the new view is visited.
 */
function addressSpaceSetFlatview(
  as: AddressSpace,
  changes: Map<FlatView<MemoryRegion>, ViewChange>,
  errors: unknown[],
): void {
  const oldView = as.currentMap;
  const physmr = memoryRegionGetFlatviewRoot(as.root);
  const newView = flatviewsInit().get(physmr)!;
  if (oldView === newView) {
    // Nothing changed here; QEMU, rendering a new view anyway, tells nops.
    if (!as.listeners.some((l) => l.regionNop)) return;
    for (const fr of newView) {
      const s = sectionFromFlatRange(fr, newView);
      for (const l of as.listeners) callListener(errors, () => l.regionNop?.(s));
    }
    return;
  }
  if (as.listeners.length) {
    const c = changes.get(newView);
    const spans =
      c && c.base === oldView
        ? c.spans.map((s) => flatrangesDiff(s.removed, s.added))
        : [flatviewDiff(oldView, newView)];
    for (const d of spans) {
      for (const fr of d.removed) {
        const s = sectionFromFlatRange(fr, oldView);
        for (let i = as.listeners.length - 1; i >= 0; i--) {
          const l = as.listeners[i];
          callListener(errors, () => l.regionDel?.(s));
        }
      }
    }
    if (as.listeners.some((l) => l.regionNop)) {
      // The second pass of QEMU's update: adds and nops, in address order.
      const added = new Set<FlatRange<MemoryRegion>>();
      for (const d of spans) for (const fr of d.added) added.add(fr);
      for (const fr of newView) {
        const s = sectionFromFlatRange(fr, newView);
        const add = added.has(fr);
        for (const l of as.listeners) {
          callListener(errors, () => (add ? l.regionAdd?.(s) : l.regionNop?.(s)));
        }
      }
    } else {
      for (const d of spans) {
        for (const fr of d.added) {
          const s = sectionFromFlatRange(fr, newView);
          for (const l of as.listeners) callListener(errors, () => l.regionAdd?.(s));
        }
      }
    }
  }
  as.currentMap = newView;
}

/**
 * QEMU's address_space_init: a new address space named `name` (null:
 * "anonymous") over `root`, rendered right away. Takes a reference on the
 * root's owner.
 */
export function addressSpaceInit(root: MemoryRegion, name: string | null = null): AddressSpace {
  memoryRegionRef(root);
  const as = new AddressSpace(root, name ?? 'anonymous');
  addressSpaces.push(as);
  const views = flatviewsInit();
  const physmr = memoryRegionGetFlatviewRoot(root);
  if (!views.has(physmr)) views.set(physmr, generateMemoryTopology(physmr));
  as.currentMap = views.get(physmr)!;
  return as;
}

/**
 * QEMU's address_space_destroy: removes the address space. Listeners still
 * registered on it are unregistered first (they see `regionDel` for every
 * range), where QEMU would assert.
 */
export function addressSpaceDestroy(as: AddressSpace): void {
  if (as.destroyed) return;
  while (as.listeners.length) memoryListenerUnregister(as.listeners[0]);
  const i = addressSpaces.indexOf(as);
  if (i >= 0) addressSpaces.splice(i, 1);
  as.markDestroyed();
  as.currentMap = emptyView;
  memoryRegionUnref(as.root);
}

/** Every live address space, in creation order. */
export function addressSpaceList(): readonly AddressSpace[] {
  return addressSpaces;
}

/** QEMU's address_space_to_flatview / address_space_get_flatview: the view in use. */
export function addressSpaceGetFlatview(as: AddressSpace): FlatView<MemoryRegion> {
  return as.currentMap;
}

function insertByPriority(list: MemoryListener[], listener: MemoryListener): void {
  const p = listener.priority ?? 0;
  const last = list[list.length - 1];
  if (!last || p >= (last.priority ?? 0)) {
    list.push(listener);
    return;
  }
  const at = list.findIndex((o) => p < (o.priority ?? 0));
  list.splice(at, 0, listener);
}

/**
 * QEMU's memory_listener_register: attaches `listener` to `as` and replays
 * the current view to it (begin, regionAdd for every range, commit).
 */
export function memoryListenerRegister(listener: MemoryListener, as: AddressSpace): void {
  if (listenerSpaces.has(listener)) throw new QomError('memory listener is already registered');
  if (as.destroyed) throw new QomError(`address space '${as.name}' was destroyed`);
  listenerSpaces.set(listener, as);
  insertByPriority(memoryListeners, listener);
  insertByPriority(as.listeners, listener);
  const view = as.currentMap;
  listener.begin?.();
  for (const fr of view) listener.regionAdd?.(sectionFromFlatRange(fr, view));
  listener.commit?.();
}

/**
 * QEMU's memory_listener_unregister: replays the current view as removals
 * (begin, regionDel for every range, commit), then detaches. Does nothing
 * for a listener that is not registered.
 */
export function memoryListenerUnregister(listener: MemoryListener): void {
  const as = listenerSpaces.get(listener);
  if (!as) return;
  const view = as.currentMap;
  try {
    listener.begin?.();
    for (const fr of view) listener.regionDel?.(sectionFromFlatRange(fr, view));
    listener.commit?.();
  } finally {
    listenerSpaces.delete(listener);
    memoryListeners.splice(memoryListeners.indexOf(listener), 1);
    as.listeners.splice(as.listeners.indexOf(listener), 1);
  }
}

// ---------------------------------------------------------------------------
// The system memory map (QEMU's physmem.c memory_map_init)

let systemMemory: MemoryRegion | null = null;
let systemIo: MemoryRegion | null = null;
let addressSpaceMemoryAs: AddressSpace | null = null;
let addressSpaceIoAs: AddressSpace | null = null;

/**
 * QEMU's memory_map_init, run once on first use: the container `system`
 * (2^64 bytes) as address space `memory`, and the I/O region `io` (64 KiB,
 * reads all ones) as address space `I/O`, both children of
 * `/machine/unattached`, as `qemu-system-x86_64 -M none` has them.
 */
export function memoryMapInit(): void {
  if (systemMemory) return;
  systemMemory = memoryRegionInit(memoryRegionNew(), null, 'system', UINT64_MAX);
  addressSpaceMemoryAs = addressSpaceInit(systemMemory, 'memory');
  systemIo = memoryRegionInitIo(memoryRegionNew(), null, unassignedIoOps, 'io', 65536);
  addressSpaceIoAs = addressSpaceInit(systemIo, 'I/O');
}

/** QEMU's get_system_memory: the root of the `memory` address space. */
export function getSystemMemory(): MemoryRegion {
  memoryMapInit();
  return systemMemory!;
}

/** QEMU's get_system_io: the root of the `I/O` address space. */
export function getSystemIo(): MemoryRegion {
  memoryMapInit();
  return systemIo!;
}

/** QEMU's address_space_memory: the system address space (`memory`). */
export function addressSpaceMemory(): AddressSpace {
  memoryMapInit();
  return addressSpaceMemoryAs!;
}

/** QEMU's address_space_io: the I/O port address space (`I/O`). */
export function addressSpaceIo(): AddressSpace {
  memoryMapInit();
  return addressSpaceIoAs!;
}

// ---------------------------------------------------------------------------
// info mtree

function mtreeExpandOwner(label: string, obj: QomObject): string {
  const dev = obj.dynamicCast(TYPE_DEVICE);
  let s = ` ${label}:{${dev ? 'dev' : 'obj'}`;
  const id = dev ? (dev as unknown as { id?: unknown }).id : undefined;
  if (dev && typeof id === 'string' && id) {
    s += ` id=${id}`;
  } else {
    const path = obj.canonicalPath();
    s += path !== null ? ` path=${path}` : ` type=${obj.typeName}`;
  }
  return s + '}';
}

/** The `-o` annotation of a region (QEMU's mtree_print_mr_owner). */
export function mtreePrintMrOwner(mr: MemoryRegion): string {
  const owner = mr.owner;
  const parent = memoryRegionOwner(mr);
  if (!owner && !parent) return ' orphan';
  let s = '';
  if (owner) s += mtreeExpandOwner('owner', owner);
  if (parent && parent !== owner) s += mtreeExpandOwner('parent', parent);
  return s;
}

/** How `info mtree` names regions and their owners. */
export const mtreeNaming: MtreeNaming<MemoryRegion> = {
  name: memoryRegionName,
  owner: mtreePrintMrOwner,
};

/**
 * QEMU's mtree_info: the text of `info mtree` for every address space
 * (`flatview`: `-f`, `owner`: `-o`, `disabled`: `-D`), with "\n" line
 * ends; the system memory map is set up first if needed. Pass `spaces` to
 * print only some address spaces.
 */
export function mtreeInfo(flags: MtreeFlags = {}, spaces?: readonly AddressSpace[]): string {
  if (!spaces) memoryMapInit();
  return mtreeFormat(spaces ?? addressSpaces, flags, mtreeNaming);
}
