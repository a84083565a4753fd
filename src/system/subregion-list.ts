/**
 * The ordered list of a container's subregions, in QEMU's order: higher
 * priority first and, among equal priorities, the most recently added
 * first. QEMU keeps a plain list and scans it; with thousands of regions
 * of one priority in one container (VIRTIO shared memory mappings) that
 * makes every add and delete cost O(n). Here each priority group keeps its
 * own head, so adding and deleting cost O(1) plus a scan of the distinct
 * priorities, which are few.
 * @module
 */

interface Node<T> {
  readonly item: T;
  readonly priority: number;
  prev: Node<T> | null;
  next: Node<T> | null;
}

interface Group<T> {
  first: Node<T>;
  last: Node<T>;
}

/** Subregions in QEMU's visiting order; iterate it, or use `length`, `at`. */
export class SubregionList<T extends object> implements Iterable<T> {
  private head: Node<T> | null = null;
  private tail: Node<T> | null = null;
  private readonly nodes = new Map<T, Node<T>>();
  private readonly groups = new Map<number, Group<T>>();
  /** Distinct priorities present, highest first. */
  private priorities: number[] = [];

  /** How many subregions the list holds. */
  get length(): number {
    return this.nodes.size;
  }

  /** Whether `item` is in the list. */
  has(item: T): boolean {
    return this.nodes.has(item);
  }

  /** Inserts `item` before every other of the same or lower priority. */
  insert(item: T, priority: number): void {
    if (this.nodes.has(item)) throw new Error('subregion already listed');
    const node: Node<T> = { item, priority, prev: null, next: null };
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
  }

  /** Removes `item`; returns whether it was listed. */
  remove(item: T): boolean {
    const node = this.nodes.get(item);
    if (!node) return false;
    this.nodes.delete(item);
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
    const n = this.nodes.size;
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
