/**
 * The ordered list of a container's subregions, in QEMU's order: higher
 * priority first and, among equal priorities, the most recently added
 * first. QEMU keeps a plain list and scans it; with thousands of regions
 * of one priority in one container (VIRTIO shared memory mappings) that
 * makes every add and delete cost O(n). Here each priority group keeps its
 * own head, so adding and deleting cost O(1) plus a scan of the distinct
 * priorities, which are few.
 *
 * Given the extent of its items, the list also keeps them in an interval
 * tree (built once the list is long enough to be worth it), so that the
 * subregions touching an address range are found in O(log n + k): a flat
 * view rendering part of a container with 100,000 subregions visits only
 * the few that matter.
 * @module
 */

interface Node<T> {
  readonly item: T;
  readonly priority: number;
  /** Insertion number: among equal priorities the higher comes first. */
  readonly seq: number;
  prev: Node<T> | null;
  next: Node<T> | null;
  /** The item's interval tree node, when the tree exists. */
  iv: IvNode<T> | null;
}

/** An interval tree node: a treap keyed by (start, seq), with the largest end below it. */
interface IvNode<T> {
  readonly node: Node<T>;
  readonly start: bigint;
  readonly end: bigint;
  readonly p: number;
  maxEnd: bigint;
  l: IvNode<T> | null;
  r: IvNode<T> | null;
}

/** Where an item lies: `[start, end)`. */
export type SubregionExtent<T> = (item: T) => readonly [start: bigint, end: bigint];

/** Lists shorter than this are filtered by a scan instead of an interval tree. */
const INDEX_MIN = 32;

let ivSeed = 0x2545f491;
function ivPriority(): number {
  let x = ivSeed;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  ivSeed = x >>> 0;
  return ivSeed;
}

function ivBefore<T>(a: IvNode<T>, start: bigint, seq: number): boolean {
  return a.start < start || (a.start === start && a.node.seq < seq);
}

function ivFix<T>(n: IvNode<T>): void {
  let m = n.end;
  if (n.l && n.l.maxEnd > m) m = n.l.maxEnd;
  if (n.r && n.r.maxEnd > m) m = n.r.maxEnd;
  n.maxEnd = m;
}

function ivInsert<T>(t: IvNode<T> | null, n: IvNode<T>): IvNode<T> {
  if (!t) return n;
  if (n.p > t.p) {
    const [a, b] = ivSplit(t, n.start, n.node.seq);
    n.l = a;
    n.r = b;
    ivFix(n);
    return n;
  }
  if (ivBefore(n, t.start, t.node.seq)) t.l = ivInsert(t.l, n);
  else t.r = ivInsert(t.r, n);
  ivFix(t);
  return t;
}

function ivSplit<T>(
  t: IvNode<T> | null,
  start: bigint,
  seq: number,
): [IvNode<T> | null, IvNode<T> | null] {
  if (!t) return [null, null];
  if (ivBefore(t, start, seq)) {
    const [a, b] = ivSplit(t.r, start, seq);
    t.r = a;
    ivFix(t);
    return [t, b];
  }
  const [a, b] = ivSplit(t.l, start, seq);
  t.l = b;
  ivFix(t);
  return [a, t];
}

function ivJoin<T>(a: IvNode<T> | null, b: IvNode<T> | null): IvNode<T> | null {
  if (!a) return b;
  if (!b) return a;
  if (a.p >= b.p) {
    a.r = ivJoin(a.r, b);
    ivFix(a);
    return a;
  }
  b.l = ivJoin(a, b.l);
  ivFix(b);
  return b;
}

function ivRemove<T>(t: IvNode<T> | null, n: IvNode<T>): IvNode<T> | null {
  if (!t) return null;
  if (t === n) return ivJoin(t.l, t.r);
  if (ivBefore(n, t.start, t.node.seq)) t.l = ivRemove(t.l, n);
  else t.r = ivRemove(t.r, n);
  ivFix(t);
  return t;
}

function ivQuery<T>(t: IvNode<T> | null, start: bigint, end: bigint, out: Node<T>[]): void {
  while (t && t.maxEnd > start) {
    ivQuery(t.l, start, end, out);
    if (t.start >= end) return;
    if (t.end > start) out.push(t.node);
    t = t.r;
  }
}

interface Group<T> {
  first: Node<T>;
  last: Node<T>;
}

/** Subregions in QEMU's visiting order; iterate it, or use `length`, `at`. */
export class SubregionList<T extends object> implements Iterable<T> {
  private head: Node<T> | null = null;
  private tail: Node<T> | null = null;
  /**
   * Item to node; a removed item's entry is set to null rather than
   * deleted (V8's Map.delete costs O(size) on large maps when keys come and
   * go), and the map is rebuilt once the null entries outnumber the live ones.
   */
  private nodes = new Map<T, Node<T> | null>();
  private count = 0;
  private stale = 0;
  private readonly groups = new Map<number, Group<T>>();
  /** Distinct priorities present, highest first. */
  private priorities: number[] = [];
  private seq = 0;
  private ivRoot: IvNode<T> | null = null;
  private indexed = false;
  private readonly extent: SubregionExtent<T> | null;

  /** A list; with `extent`, {@link overlapping} can find items by address. */
  constructor(extent?: SubregionExtent<T>) {
    this.extent = extent ?? null;
  }

  /** How many subregions the list holds. */
  get length(): number {
    return this.count;
  }

  /** Whether `item` is in the list. */
  has(item: T): boolean {
    return !!this.nodes.get(item);
  }

  /** Inserts `item` before every other of the same or lower priority. */
  insert(item: T, priority: number): void {
    const old = this.nodes.get(item);
    if (old) throw new Error('subregion already listed');
    if (old === null) this.stale--;
    this.count++;
    const node: Node<T> = { item, priority, seq: this.seq++, prev: null, next: null, iv: null };
    const group = this.groups.get(priority);
    let before: Node<T> | null;
    if (group) {
      before = group.first;
      group.first = node;
    } else {
      const lower = this.priorities.find((p) => p < priority);
      before = lower === undefined ? null : this.groups.get(lower)!.first;
      this.groups.set(priority, { first: node, last: node });
      this.priorities.push(priority);
      this.priorities.sort((a, b) => b - a);
    }
    if (before) {
      node.next = before;
      node.prev = before.prev;
      if (before.prev) before.prev.next = node;
      else this.head = node;
      before.prev = node;
    } else {
      node.prev = this.tail;
      if (this.tail) this.tail.next = node;
      else this.head = node;
      this.tail = node;
    }
    this.nodes.set(item, node);
    if (this.indexed) this.#ivAdd(node);
  }

  #ivAdd(node: Node<T>): void {
    const [start, end] = this.extent!(node.item);
    const iv: IvNode<T> = { node, start, end, p: ivPriority(), maxEnd: end, l: null, r: null };
    node.iv = iv;
    this.ivRoot = ivInsert(this.ivRoot, iv);
  }

  /** The item's extent changed (its size): re-files it in the interval tree. */
  moved(item: T): void {
    const node = this.nodes.get(item);
    if (!node || !node.iv) return;
    this.ivRoot = ivRemove(this.ivRoot, node.iv);
    node.iv = null;
    this.#ivAdd(node);
  }

  /**
   * The items whose extent intersects `[start, end)`, in list order. Needs
   * the `extent` given to the constructor.
   */
  overlapping(start: bigint, end: bigint): T[] {
    const extent = this.extent;
    if (!extent) throw new Error('subregion list without extents');
    if (!this.indexed) {
      if (this.count < INDEX_MIN) {
        const out: T[] = [];
        for (let n = this.head; n; n = n.next) {
          const [s, e] = extent(n.item);
          if (s < end && e > start) out.push(n.item);
        }
        return out;
      }
      this.indexed = true;
      for (let n = this.head; n; n = n.next) this.#ivAdd(n);
    }
    const found: Node<T>[] = [];
    ivQuery(this.ivRoot, start, end, found);
    found.sort((a, b) => b.priority - a.priority || b.seq - a.seq);
    return found.map((n) => n.item);
  }

  /** Removes `item`; returns whether it was listed. */
  remove(item: T): boolean {
    const node = this.nodes.get(item);
    if (!node) return false;
    this.nodes.set(item, null);
    this.count--;
    if (++this.stale > 64 && this.stale > this.count) {
      const live = new Map<T, Node<T> | null>();
      for (const [k, v] of this.nodes) if (v) live.set(k, v);
      this.nodes = live;
      this.stale = 0;
    }
    if (node.iv) {
      this.ivRoot = ivRemove(this.ivRoot, node.iv);
      node.iv = null;
    }
    const group = this.groups.get(node.priority)!;
    if (group.first === node && group.last === node) {
      this.groups.delete(node.priority);
      this.priorities = this.priorities.filter((p) => p !== node.priority);
    } else if (group.first === node) {
      group.first = node.next!;
    } else if (group.last === node) {
      group.last = node.prev!;
    }
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    return true;
  }

  /** The item at `index` (negative counts from the end); O(1) at either end. */
  at(index: number): T | undefined {
    const n = this.count;
    const i = index < 0 ? n + index : index;
    if (i < 0 || i >= n) return undefined;
    if (i <= n / 2) {
      let node = this.head;
      for (let k = 0; k < i; k++) node = node!.next;
      return node!.item;
    }
    let node = this.tail;
    for (let k = n - 1; k > i; k--) node = node!.prev;
    return node!.item;
  }

  /** Visits the items in order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let node = this.head; node;) {
      const next = node.next; // the visitor may remove the current item
      yield node.item;
      node = next;
    }
  }

  /** The items, in order, as an array. */
  toArray(): T[] {
    return [...this];
  }
}
