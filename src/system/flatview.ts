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
  /**
   * Optional: the subregions that intersect `[start, end)` (offsets inside
   * this region), in the order of {@link subregions}. Rendering part of a
   * large container then visits only these.
   */
  subregionsIn?(start: bigint, end: bigint): Iterable<M>;
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
  readonly size: bigint;
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

// ---------------------------------------------------------------------------
// The ranges of a view: a persistent treap ordered by start address. A
// commit that changes a few ranges copies only the O(log n) nodes on their
// paths, so the previous view stays intact (listeners and accessors that
// still hold it see what it was) and the new one costs what changed.

/** A node of a view's persistent treap (shared between views; never modified). */
export interface FlatRangeNode<M> {
  /** The range. */
  readonly v: FlatRange<M>;
  /** Ranges before it. */
  readonly l: FlatRangeNode<M> | null;
  /** Ranges after it. */
  readonly r: FlatRangeNode<M> | null;
  /** Heap priority (higher nearer the root). */
  readonly p: number;
}

let prngState = 0x9e3779b9;
/** Deterministic priorities keep runs reproducible (xorshift32). */
function nextPriority(): number {
  let x = prngState;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  prngState = x >>> 0;
  return prngState;
}

function mk<M>(
  v: FlatRange<M>,
  l: FlatRangeNode<M> | null,
  r: FlatRangeNode<M> | null,
  p: number,
): FlatRangeNode<M> {
  return { v, l, r, p };
}

/** Splits into ranges starting before `key` and the others (copying only the path). */
function split<M>(
  t: FlatRangeNode<M> | null,
  key: bigint,
): [FlatRangeNode<M> | null, FlatRangeNode<M> | null] {
  if (!t) return [null, null];
  if (t.v.start < key) {
    const [a, b] = split(t.r, key);
    return [mk(t.v, t.l, a, t.p), b];
  }
  const [a, b] = split(t.l, key);
  return [a, mk(t.v, b, t.r, t.p)];
}

/** Joins two trees where every range of `a` comes before every range of `b`. */
function join<M>(a: FlatRangeNode<M> | null, b: FlatRangeNode<M> | null): FlatRangeNode<M> | null {
  if (!a) return b;
  if (!b) return a;
  if (a.p >= b.p) return mk(a.v, a.l, join(a.r, b), a.p);
  return mk(b.v, join(a, b.l), b.r, b.p);
}

/** A tree of sorted ranges in O(n) (the rightmost-spine construction). */
function build<M>(ranges: readonly FlatRange<M>[]): FlatRangeNode<M> | null {
  interface Mut {
    v: FlatRange<M>;
    l: Mut | null;
    r: Mut | null;
    p: number;
  }
  const spine: Mut[] = [];
  for (const v of ranges) {
    const n: Mut = { v, l: null, r: null, p: nextPriority() };
    let last: Mut | null = null;
    while (spine.length && spine[spine.length - 1].p < n.p) last = spine.pop()!;
    n.l = last;
    if (spine.length) spine[spine.length - 1].r = n;
    spine.push(n);
  }
  return spine.length ? spine[0] : null;
}

/** The last range starting at or before `key` (`strict`: before). */
function floorNode<M>(
  t: FlatRangeNode<M> | null,
  key: bigint,
  strict: boolean,
): FlatRange<M> | undefined {
  let best: FlatRange<M> | undefined;
  while (t) {
    if (strict ? t.v.start < key : t.v.start <= key) {
      best = t.v;
      t = t.r;
    } else {
      t = t.l;
    }
  }
  return best;
}

/** The first range starting at or after `key` (`strict`: after). */
function ceilNode<M>(
  t: FlatRangeNode<M> | null,
  key: bigint,
  strict: boolean,
): FlatRange<M> | undefined {
  let best: FlatRange<M> | undefined;
  while (t) {
    if (strict ? t.v.start > key : t.v.start >= key) {
      best = t.v;
      t = t.l;
    } else {
      t = t.r;
    }
  }
  return best;
}

function collect<M>(t: FlatRangeNode<M> | null, out: FlatRange<M>[]): void {
  const stack: FlatRangeNode<M>[] = [];
  for (let n = t; n || stack.length;) {
    while (n) {
      stack.push(n);
      n = n.l;
    }
    const top = stack.pop()!;
    out.push(top.v);
    n = top.r;
  }
}

/**
 * A rendered memory map: disjoint ranges sorted by address (QEMU's
 * FlatView). Views are immutable: a change makes a new view that shares
 * what did not change with the old one.
 */
export class FlatView<M> {
  /** The region the view was rendered from (after {@link memoryRegionGetFlatviewRoot}), or null. */
  readonly root: M | null;
  /** How many ranges the view holds. */
  readonly nr: number;
  /** The ranges as a persistent treap ordered by address (shared with other views). */
  readonly tree: FlatRangeNode<M> | null;
  #ranges: readonly FlatRange<M>[] | null = null;

  /** A view over `tree`; use {@link generateMemoryTopology} or {@link flatviewUpdate}. */
  constructor(root: M | null, tree: FlatRangeNode<M> | null, nr: number) {
    this.root = root;
    this.tree = tree;
    this.nr = nr;
  }

  /** A view holding `ranges`, which must be sorted and disjoint. */
  static fromRanges<M>(root: M | null, ranges: readonly FlatRange<M>[]): FlatView<M> {
    const v = new FlatView<M>(root, build(ranges), ranges.length);
    v.#ranges = ranges.slice();
    return v;
  }

  /** The ranges in address order (an array built on first use: O(n), then cached). */
  get ranges(): readonly FlatRange<M>[] {
    if (!this.#ranges) {
      const out: FlatRange<M>[] = [];
      collect(this.tree, out);
      this.#ranges = out;
    }
    return this.#ranges;
  }

  /** The ranges in address order, walking the tree (no array is built). */
  *[Symbol.iterator](): IterableIterator<FlatRange<M>> {
    if (this.#ranges) {
      yield* this.#ranges;
      return;
    }
    const stack: FlatRangeNode<M>[] = [];
    for (let n = this.tree; n || stack.length;) {
      while (n) {
        stack.push(n);
        n = n.l;
      }
      const top = stack.pop()!;
      yield top.v;
      n = top.r;
    }
  }
}

function intersects(s1: bigint, z1: bigint, s2: bigint, z2: bigint): boolean {
  const contains = (s: bigint, z: bigint, a: bigint): boolean => a >= s && a < s + z;
  return contains(s1, z1, s2) || contains(s2, z2, s1);
}

const CHUNK_MAX = 512;

/**
 * The ranges rendering has produced so far: sorted, disjoint, kept in
 * chunks so that an insertion in the middle moves at most a chunk (a
 * plain array would make a full render of n subregions O(n^2)).
 */
export class RenderBuffer<M> {
  readonly #chunks: FlatRange<M>[][] = [[]];

  /** Position of the first range that ends after `addr` (or the end). */
  locate(addr: bigint): [number, number] {
    const chunks = this.#chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = chunks[mid];
      const last = c[c.length - 1];
      if (last && last.start + last.size <= addr) lo = mid + 1;
      else hi = mid;
    }
    if (lo === chunks.length) return [lo - 1, chunks[lo - 1].length];
    const c = chunks[lo];
    let a = 0;
    let b = c.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const r = c[mid];
      if (r.start + r.size <= addr) a = mid + 1;
      else b = mid;
    }
    return [lo, a];
  }

  /** The range at a position (undefined past the end); the position is normalised. */
  at(pos: [number, number]): FlatRange<M> | undefined {
    const chunks = this.#chunks;
    if (pos[1] >= chunks[pos[0]].length && pos[0] + 1 < chunks.length) {
      pos[0]++;
      pos[1] = 0;
    }
    return chunks[pos[0]][pos[1]];
  }

  /** Inserts `r` at `pos`; `pos` then designates the range after it. */
  insert(pos: [number, number], r: FlatRange<M>): void {
    const chunks = this.#chunks;
    const c = chunks[pos[0]];
    c.splice(pos[1], 0, r);
    pos[1]++;
    if (c.length > CHUNK_MAX) {
      const half = c.length >>> 1;
      chunks.splice(pos[0] + 1, 0, c.splice(half));
      if (pos[1] >= half) {
        pos[0]++;
        pos[1] -= half;
      }
    }
  }

  /** The ranges, in order. */
  toArray(): FlatRange<M>[] {
    return this.#chunks.length === 1
      ? this.#chunks[0]
      : ([] as FlatRange<M>[]).concat(...this.#chunks);
  }
}

/**
 * Renders `mr` into `out`, the sorted, disjoint ranges so far (QEMU's
 * render_memory_region). Ranges already in `out` obscure `mr`: subregions
 * are rendered first in priority order, and the region's own backing only
 * fills the gaps they leave. Only `[clipStart, clipStart + clipSize)` is
 * rendered; where the clip covers part of a container, only the
 * subregions that intersect it are visited (when the region can say which:
 * {@link RenderableRegion.subregionsIn}).
 */
export function renderMemoryRegion<M extends RenderableRegion<M>>(
  out: RenderBuffer<M>,
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
      out,
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

  const whole = clipStart === base && clipSize === mr.size;
  const subs =
    !whole && mr.subregionsIn
      ? mr.subregionsIn(clipStart - base, clipStart + clipSize - base)
      : mr.subregions;
  for (const sub of subs) {
    renderMemoryRegion(out, sub, base, clipStart, clipSize, readonly, nonvolatile, unmergeable);
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

  const pos = out.locate(base);
  for (let r = out.at(pos); r && remain !== 0n; r = out.at(pos)) {
    if (base < r.start) {
      const gap = r.start - base;
      const now = remain < gap ? remain : gap;
      out.insert(pos, make(base, now, offsetInRegion));
      base += now;
      offsetInRegion += now;
      remain -= now;
      if (remain === 0n) break;
    }
    const lim = base + remain;
    const rEnd = r.start + r.size;
    const now = (lim < rEnd ? lim : rEnd) - base;
    base += now;
    offsetInRegion += now;
    remain -= now;
    pos[1]++;
  }
  if (remain !== 0n) {
    out.insert(pos, make(base, remain, offsetInRegion));
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

/**
 * Merges adjacent ranges of a sorted list that continue each other (QEMU's
 * flatview_simplify). Ranges are replaced, never modified: views share them.
 */
export function flatviewSimplify<M>(ranges: FlatRange<M>[]): void {
  let w = 0;
  for (let i = 0; i < ranges.length;) {
    let j = i + 1;
    let size = ranges[i].size;
    while (j < ranges.length && canMerge(ranges[j - 1], ranges[j])) {
      size += ranges[j].size;
      ++j;
    }
    ranges[w++] = j === i + 1 ? ranges[i] : { ...ranges[i], size };
    i = j;
  }
  ranges.length = w;
}

/**
 * Renders a whole tree from address 0 with a clip of [0, 2^64) and merges
 * what can be merged (QEMU's generate_memory_topology, without the dispatch
 * tree: lookups search the view's ordered ranges). A null root gives the
 * empty view.
 */
export function generateMemoryTopology<M extends RenderableRegion<M>>(root: M | null): FlatView<M> {
  const buf = new RenderBuffer<M>();
  if (root) renderMemoryRegion(buf, root, 0n, 0n, INT128_2_64, false, false, false);
  const ranges = buf.toArray();
  flatviewSimplify(ranges);
  return FlatView.fromRanges(root, ranges);
}

/** One replaced stretch of a view: the ranges it held and the ones it holds now. */
export interface FlatViewSpan<M> {
  /** First address of the stretch. */
  readonly start: bigint;
  /** First address after it. */
  readonly end: bigint;
  /** The old view's ranges in the stretch, in address order. */
  readonly removed: readonly FlatRange<M>[];
  /** The new view's ranges in the stretch, in address order. */
  readonly added: readonly FlatRange<M>[];
}

/** The result of {@link flatviewUpdate}. */
export interface FlatViewUpdate<M> {
  /** The new view (the old one itself when nothing changed). */
  readonly view: FlatView<M>;
  /** What changed, in address order; ranges outside these stretches are the old view's. */
  readonly spans: readonly FlatViewSpan<M>[];
}

/** Whether a full render could make one piece of `a` and `b` (unmergeable aside). */
function continues<M>(a: FlatRange<M>, b: FlatRange<M>): boolean {
  return (
    a.start + a.size === b.start &&
    a.mr === b.mr &&
    a.offsetInRegion + a.size === b.offsetInRegion &&
    a.dirtyLogMask === b.dirtyLogMask &&
    a.romdMode === b.romdMode &&
    a.readonly === b.readonly &&
    a.nonvolatile === b.nonvolatile &&
    a.unmergeable === b.unmergeable
  );
}

function sameRange<M>(a: FlatRange<M>, b: FlatRange<M>): boolean {
  return flatrangeEqual(a, b) && a.dirtyLogMask === b.dirtyLogMask;
}

/**
 * Renders again only the address intervals `dirty` (half-open
 * `[start, end)` pairs, in any order) of `view`, whose root must still be
 * the tree's flat view root, and returns the view a full
 * {@link generateMemoryTopology} would give. Each interval is first widened
 * to the old ranges it cuts, then, while the ranges just outside it could
 * continue the ones rendered at its edges, to those ranges too; so the
 * pieces and merges match a full render exactly. The cost is that of the
 * regions and ranges in the intervals, plus O(log n) per interval.
 */
export function flatviewUpdate<M extends RenderableRegion<M>>(
  view: FlatView<M>,
  dirty: readonly (readonly [bigint, bigint])[],
): FlatViewUpdate<M> {
  const root = view.root;
  if (!root) return { view, spans: [] };
  const ivs = dirty
    .filter(([s, e]) => e > s)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let tree = view.tree;
  let nr = view.nr;
  const spans: FlatViewSpan<M>[] = [];
  for (let k = 0; k < ivs.length; k++) {
    let lo = ivs[k][0];
    let hi = ivs[k][1];
    let pieces: FlatRange<M>[];
    for (;;) {
      // Old ranges cut by the interval are replaced whole; intervals that
      // touch it join it. Repeat until neither widens it any more.
      for (let grew = true; grew;) {
        grew = false;
        const a = floorNode(tree, lo, false);
        if (a && a.start < lo && a.start + a.size > lo) {
          lo = a.start;
          grew = true;
        }
        const b = floorNode(tree, hi, true);
        if (b && b.start + b.size > hi) {
          hi = b.start + b.size;
          grew = true;
        }
        while (k + 1 < ivs.length && ivs[k + 1][0] <= hi) {
          if (ivs[k + 1][1] > hi) hi = ivs[k + 1][1];
          k++;
          grew = true;
        }
      }
      const buf = new RenderBuffer<M>();
      renderMemoryRegion(buf, root, 0n, lo, hi - lo, false, false, false);
      pieces = buf.toArray();
      let widened = false;
      const first = pieces[0];
      const prev = first && first.start === lo ? floorNode(tree, lo, true) : undefined;
      if (prev && continues(prev, first)) {
        lo = prev.start;
        widened = true;
      }
      const last = pieces[pieces.length - 1];
      const next = last && last.start + last.size === hi ? ceilNode(tree, hi, false) : undefined;
      if (next && continues(last, next)) {
        hi = next.start + next.size;
        widened = true;
      }
      if (!widened) break;
    }
    flatviewSimplify(pieces);
    const [left, rest] = split(tree, lo);
    const [mid, right] = split(rest, hi);
    const removed: FlatRange<M>[] = [];
    collect(mid, removed);
    if (removed.length === pieces.length && removed.every((r, i) => sameRange(r, pieces[i]))) {
      continue; // Nothing changed here: keep the old tree (and its range objects).
    }
    tree = join(left, join(build(pieces), right));
    nr += pieces.length - removed.length;
    spans.push({ start: lo, end: hi, removed, added: pieces });
  }
  if (!spans.length) return { view, spans };
  return { view: new FlatView(root, tree, nr), spans };
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
  return flatrangesDiff(oldView ? oldView.ranges : [], newView.ranges);
}

/** {@link flatviewDiff} of two sorted lists of ranges (e.g. a {@link FlatViewSpan}'s). */
export function flatrangesDiff<M>(
  olds: readonly FlatRange<M>[],
  news: readonly FlatRange<M>[],
): FlatViewDiff<M> {
  const removed: FlatRange<M>[] = [];
  const added: FlatRange<M>[] = [];
  const kept: [FlatRange<M>, FlatRange<M>][] = [];
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

/** The range that contains `addr`, or undefined (O(log n); QEMU's flatview_lookup). */
export function flatviewLookup<M>(view: FlatView<M>, addr: bigint): FlatRange<M> | undefined {
  const r = floorNode(view.tree, addr, false);
  return r && addr < r.start + r.size ? r : undefined;
}

/**
 * The first range that starts after `addr` (for a lookup miss: where the
 * unassigned gap containing `addr` ends), or undefined.
 */
export function flatviewNextRange<M>(view: FlatView<M>, addr: bigint): FlatRange<M> | undefined {
  return ceilNode(view.tree, addr, true);
}
