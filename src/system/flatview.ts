/**
 * Flat views: a memory region tree rendered into a sorted list of disjoint
 * absolute ranges, as QEMU's system/memory.c does it (`render_memory_region`,
 * `flatview_simplify`, `generate_memory_topology`,
 * `memory_region_get_flatview_root`, `address_space_update_topology_pass`).
 *
 * The algorithm is pure: it works on anything shaped like a memory region
 * ({@link RenderableRegion}), so it can be tested without the object model.
 * Addresses and sizes are bigints: QEMU computes them in 128-bit arithmetic,
 * and sizes of 2^64 (a region created with size UINT64_MAX) are common.
 * @module
 */

/** 2^64 - 1: the largest hwaddr, and the size argument that means 2^64. */
export const UINT64_MAX = (1n << 64n) - 1n;

/** 2^64: the size of a region created with UINT64_MAX, and of the whole address space. */
export const INT128_2_64 = 1n << 64n;

/**
 * What rendering needs from a memory region. `MemoryRegion` implements it;
 * tests may use plain objects.
 */
export interface RenderableRegion<M extends RenderableRegion<M>> {
  /** Disabled regions and their subregions are not rendered. */
  readonly enabled: boolean;
  /** Offset inside the container. */
  readonly addr: bigint;
  /** Size, 0..2^64. */
  readonly size: bigint;
  /** Priority inside the container (signed 32-bit). */
  readonly priority: number;
  /** The region this one aliases, or null. */
  readonly alias: M | null;
  /** Offset of the alias inside its target. */
  readonly aliasOffset: bigint;
  /** Subregions, highest priority first; among equal priorities the most recently added first. */
  readonly subregions: Iterable<M>;
  /** True when the region has its own backing (RAM or I/O); false for pure containers. */
  readonly terminates: boolean;
  /** Read-only (propagates to everything rendered below it). */
  readonly readonly: boolean;
  /** Non-volatile (propagates like `readonly`). */
  readonly nonvolatile: boolean;
  /** Never merged with neighbours in a flat view (propagates). */
  readonly unmergeable: boolean;
  /** ROM device in ROMD mode (direct reads). */
  readonly romdMode: boolean;
  /** Dirty logging clients (a bit mask); ranges with different masks never merge. */
  readonly dirtyLogMask: number;
}

/** A range of a flat view: a piece of one region at an absolute address (QEMU's FlatRange). */
export interface FlatRange<M> {
  /** The terminating region that backs this range. */
  readonly mr: M;
  /** Offset of `start` inside `mr`. */
  readonly offsetInRegion: bigint;
  /** Absolute start address. */
  readonly start: bigint;
  /** Size in bytes (up to 2^64). */
  size: bigint;
  /** Dirty logging mask of `mr` when rendered. */
  readonly dirtyLogMask: number;
  /** ROMD mode of `mr` when rendered. */
  readonly romdMode: boolean;
  /** Read-only, from `mr` or any region above it. */
  readonly readonly: boolean;
  /** Non-volatile, from `mr` or any region above it. */
  readonly nonvolatile: boolean;
  /** Unmergeable, from `mr` or any region above it. */
  readonly unmergeable: boolean;
}

/** A rendered memory map: disjoint ranges sorted by address (QEMU's FlatView). */
export interface FlatView<M> {
  /** The region the view was rendered from (after {@link memoryRegionGetFlatviewRoot}), or null. */
  readonly root: M | null;
  /** The ranges, sorted and disjoint. */
  readonly ranges: FlatRange<M>[];
}

function intersects(s1: bigint, z1: bigint, s2: bigint, z2: bigint): boolean {
  const contains = (s: bigint, z: bigint, a: bigint): boolean => a >= s && a < s + z;
  return contains(s1, z1, s2) || contains(s2, z2, s1);
}

/**
 * Renders `mr` into `view` (QEMU's render_memory_region). Ranges already in
 * the view obscure `mr`: subregions are rendered first in priority order, and
 * the region's own backing only fills the gaps they leave.
 */
export function renderMemoryRegion<M extends RenderableRegion<M>>(
  view: FlatView<M>,
  mr: M,
  base: bigint,
  clipStart: bigint,
  clipSize: bigint,
  readonly: boolean,
  nonvolatile: boolean,
  unmergeable: boolean,
): void {
  if (!mr.enabled) return;
  base += mr.addr;
  readonly ||= mr.readonly;
  nonvolatile ||= mr.nonvolatile;
  unmergeable ||= mr.unmergeable;

  if (!intersects(base, mr.size, clipStart, clipSize)) return;
  const start = base > clipStart ? base : clipStart;
  const endA = base + mr.size;
  const endB = clipStart + clipSize;
  const end = endA < endB ? endA : endB;
  clipStart = start;
  clipSize = end - start;

  if (mr.alias) {
    base -= mr.alias.addr;
    base -= mr.aliasOffset;
    renderMemoryRegion(
      view,
      mr.alias,
      base,
      clipStart,
      clipSize,
      readonly,
      nonvolatile,
      unmergeable,
    );
    return;
  }

  for (const sub of mr.subregions) {
    renderMemoryRegion(view, sub, base, clipStart, clipSize, readonly, nonvolatile, unmergeable);
  }

  if (!mr.terminates) return;

  let offsetInRegion = clipStart - base;
  base = clipStart;
  let remain = clipSize;
  const make = (at: bigint, size: bigint, off: bigint): FlatRange<M> => ({
    mr,
    offsetInRegion: off,
    start: at,
    size,
    dirtyLogMask: mr.dirtyLogMask,
    romdMode: mr.romdMode,
    readonly,
    nonvolatile,
    unmergeable,
  });

  const ranges = view.ranges;
  let i = 0;
  for (; i < ranges.length && remain !== 0n; ++i) {
    const r = ranges[i];
    if (base >= r.start + r.size) continue;
    if (base < r.start) {
      const gap = r.start - base;
      const now = remain < gap ? remain : gap;
      ranges.splice(i, 0, make(base, now, offsetInRegion));
      ++i;
      base += now;
      offsetInRegion += now;
      remain -= now;
    }
    const cur = ranges[i];
    const lim = base + remain;
    const rEnd = cur.start + cur.size;
    const now = (lim < rEnd ? lim : rEnd) - base;
    base += now;
    offsetInRegion += now;
    remain -= now;
  }
  if (remain !== 0n) {
    ranges.splice(i, 0, make(base, remain, offsetInRegion));
  }
}

function canMerge<M>(r1: FlatRange<M>, r2: FlatRange<M>): boolean {
  return (
    r1.start + r1.size === r2.start &&
    r1.mr === r2.mr &&
    r1.offsetInRegion + r1.size === r2.offsetInRegion &&
    r1.dirtyLogMask === r2.dirtyLogMask &&
    r1.romdMode === r2.romdMode &&
    r1.readonly === r2.readonly &&
    r1.nonvolatile === r2.nonvolatile &&
    !r1.unmergeable &&
    !r2.unmergeable
  );
}

/** Merges adjacent ranges that continue each other (QEMU's flatview_simplify). */
export function flatviewSimplify<M>(view: FlatView<M>): void {
  const ranges = view.ranges;
  let i = 0;
  while (i < ranges.length) {
    let j = i + 1;
    while (j < ranges.length && canMerge(ranges[j - 1], ranges[j])) {
      ranges[i].size += ranges[j].size;
      ++j;
    }
    ++i;
    ranges.splice(i, j - i);
  }
}

/**
 * Renders a whole tree from address 0 with a clip of [0, 2^64) and merges
 * what can be merged (QEMU's generate_memory_topology, without the dispatch
 * tree: lookups binary-search the ranges). A null root gives the empty view.
 */
export function generateMemoryTopology<M extends RenderableRegion<M>>(root: M | null): FlatView<M> {
  const view: FlatView<M> = { root, ranges: [] };
  if (root) {
    renderMemoryRegion(view, root, 0n, 0n, INT128_2_64, false, false, false);
  }
  flatviewSimplify(view);
  return view;
}

/**
 * The region whose rendering equals `mr`'s, found by skipping full-size
 * aliases without offset and lone full-size children at address 0, so that
 * address spaces can share flat views (QEMU's memory_region_get_flatview_root).
 * Returns null when nothing enabled is left to render.
 */
export function memoryRegionGetFlatviewRoot<M extends RenderableRegion<M>>(mr: M): M | null {
  let cur: M = mr;
  while (cur.enabled) {
    if (cur.alias) {
      if (cur.aliasOffset === 0n && cur.size >= cur.alias.size) {
        cur = cur.alias;
        continue;
      }
    } else if (!cur.terminates) {
      let found = 0;
      let next: M | null = null;
      for (const child of cur.subregions) {
        if (!child.enabled) continue;
        if (++found > 1) {
          next = null;
          break;
        }
        if (child.addr === 0n && cur.size >= child.size) next = child;
      }
      if (found === 0) return null;
      if (next) {
        cur = next;
        continue;
      }
    }
    return cur;
  }
  return null;
}

/** True when two ranges are the same mapping (QEMU's flatrange_equal; the dirty mask is not compared). */
export function flatrangeEqual<M>(a: FlatRange<M>, b: FlatRange<M>): boolean {
  return (
    a.mr === b.mr &&
    a.start === b.start &&
    a.size === b.size &&
    a.offsetInRegion === b.offsetInRegion &&
    a.romdMode === b.romdMode &&
    a.readonly === b.readonly &&
    a.nonvolatile === b.nonvolatile &&
    a.unmergeable === b.unmergeable
  );
}

/** The result of {@link flatviewDiff}: what a listener must drop, add, and what stayed. */
export interface FlatViewDiff<M> {
  /** Ranges in the old view that are gone or changed, in address order. */
  readonly removed: FlatRange<M>[];
  /** Ranges in the new view that are new or changed, in address order. */
  readonly added: FlatRange<M>[];
  /** Ranges present, unchanged, in both (QEMU calls region_nop for them): [old, new]. */
  readonly kept: [FlatRange<M>, FlatRange<M>][];
}

/**
 * The symmetric difference of two views, walked in address order as QEMU's
 * address_space_update_topology_pass does (its two passes give `removed`
 * and then `added`/`kept`).
 */
export function flatviewDiff<M>(
  oldView: FlatView<M> | null,
  newView: FlatView<M>,
): FlatViewDiff<M> {
  const removed: FlatRange<M>[] = [];
  const added: FlatRange<M>[] = [];
  const kept: [FlatRange<M>, FlatRange<M>][] = [];
  const olds = oldView ? oldView.ranges : [];
  const news = newView.ranges;
  let io = 0;
  let inew = 0;
  while (io < olds.length || inew < news.length) {
    const o = io < olds.length ? olds[io] : undefined;
    const n = inew < news.length ? news[inew] : undefined;
    if (o && (!n || o.start < n.start || (o.start === n.start && !flatrangeEqual(o, n)))) {
      removed.push(o);
      ++io;
    } else if (o && n && flatrangeEqual(o, n)) {
      kept.push([o, n]);
      ++io;
      ++inew;
    } else if (n) {
      added.push(n);
      ++inew;
    }
  }
  return { removed, added, kept };
}

/** The range that contains `addr`, or undefined (binary search; QEMU's flatview_lookup). */
export function flatviewLookup<M>(view: FlatView<M>, addr: bigint): FlatRange<M> | undefined {
  const ranges = view.ranges;
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid];
    if (addr < r.start) hi = mid;
    else if (addr >= r.start + r.size) lo = mid + 1;
    else return r;
  }
  return undefined;
}

/**
 * The first range that starts after `addr` (for a lookup miss: where the
 * unassigned gap containing `addr` ends), or undefined.
 */
export function flatviewNextRange<M>(view: FlatView<M>, addr: bigint): FlatRange<M> | undefined {
  const ranges = view.ranges;
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranges[mid].start <= addr) lo = mid + 1;
    else hi = mid;
  }
  return ranges[lo];
}
