/**
 * An ordered map from 64-bit offsets to values: an AVL tree, so that
 * insertion, removal and the neighbour queries the shared memory overlap
 * check needs all cost O(log n). QEMU keeps a region's mappings in a list
 * and scans it on every map request; with tens of thousands of mappings
 * that scan dominates, which is why tsqom keeps them ordered instead.
 * @module
 */

interface Node<V> {
  key: bigint;
  value: V;
  left: Node<V> | null;
  right: Node<V> | null;
  height: number;
}

function height<V>(n: Node<V> | null): number {
  return n === null ? 0 : n.height;
}

function update<V>(n: Node<V>): void {
  const l = height(n.left);
  const r = height(n.right);
  n.height = (l > r ? l : r) + 1;
}

function rotateRight<V>(n: Node<V>): Node<V> {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft<V>(n: Node<V>): Node<V> {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

function balance<V>(n: Node<V>): Node<V> {
  update(n);
  const bf = height(n.left) - height(n.right);
  if (bf > 1) {
    if (height(n.left!.left) < height(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (bf < -1) {
    if (height(n.right!.right) < height(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

/**
 * An ordered map keyed by unsigned 64-bit offsets (bigints), with the
 * neighbour queries range checks need: {@link OffsetIndex.floor} (the last
 * key at or below), {@link OffsetIndex.lower} (strictly below) and
 * {@link OffsetIndex.higher} (strictly above). Every operation is
 * O(log n); iteration is in key order.
 */
export class OffsetIndex<V> implements Iterable<[bigint, V]> {
  #root: Node<V> | null = null;
  #size = 0;

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /** The value at exactly `key`, or undefined. */
  get(key: bigint): V | undefined {
    let n = this.#root;
    while (n !== null) {
      if (key < n.key) n = n.left;
      else if (key > n.key) n = n.right;
      else return n.value;
    }
    return undefined;
  }

  /** Whether `key` is present. */
  has(key: bigint): boolean {
    return this.get(key) !== undefined;
  }

  /** The entry with the greatest key `<= key`, or undefined. */
  floor(key: bigint): V | undefined {
    let n = this.#root;
    let best: Node<V> | null = null;
    while (n !== null) {
      if (n.key <= key) {
        best = n;
        n = n.right;
      } else {
        n = n.left;
      }
    }
    return best?.value;
  }

  /** The entry with the greatest key `< key`, or undefined. */
  lower(key: bigint): V | undefined {
    let n = this.#root;
    let best: Node<V> | null = null;
    while (n !== null) {
      if (n.key < key) {
        best = n;
        n = n.right;
      } else {
        n = n.left;
      }
    }
    return best?.value;
  }

  /** The entry with the smallest key `> key`, or undefined. */
  higher(key: bigint): V | undefined {
    let n = this.#root;
    let best: Node<V> | null = null;
    while (n !== null) {
      if (n.key > key) {
        best = n;
        n = n.left;
      } else {
        n = n.right;
      }
    }
    return best?.value;
  }

  /** The entry with the smallest key, or undefined. */
  first(): V | undefined {
    let n = this.#root;
    if (n === null) return undefined;
    while (n.left !== null) n = n.left;
    return n.value;
  }

  /** The entry with the greatest key, or undefined. */
  last(): V | undefined {
    let n = this.#root;
    if (n === null) return undefined;
    while (n.right !== null) n = n.right;
    return n.value;
  }

  /** Adds `key`; throws a RangeError if it is already present (values are never replaced). */
  insert(key: bigint, value: V): void {
    this.#root = this.#insert(this.#root, key, value);
    this.#size++;
  }

  #insert(n: Node<V> | null, key: bigint, value: V): Node<V> {
    if (n === null) return { key, value, left: null, right: null, height: 1 };
    if (key < n.key) n.left = this.#insert(n.left, key, value);
    else if (key > n.key) n.right = this.#insert(n.right, key, value);
    else throw new RangeError(`offset 0x${key.toString(16)} is already in the index`);
    return balance(n);
  }

  /** Removes `key`; returns its value, or undefined if it was absent. */
  delete(key: bigint): V | undefined {
    const out: { value: V | undefined } = { value: undefined };
    this.#root = this.#delete(this.#root, key, out);
    if (out.value !== undefined) this.#size--;
    return out.value;
  }

  #delete(n: Node<V> | null, key: bigint, out: { value: V | undefined }): Node<V> | null {
    if (n === null) return null;
    if (key < n.key) {
      n.left = this.#delete(n.left, key, out);
    } else if (key > n.key) {
      n.right = this.#delete(n.right, key, out);
    } else {
      out.value = n.value;
      if (n.left === null) return n.right;
      if (n.right === null) return n.left;
      // Replace by the successor, removed from the right subtree.
      let s = n.right;
      while (s.left !== null) s = s.left;
      n.right = this.#deleteMin(n.right);
      s.right = n.right;
      s.left = n.left;
      return balance(s);
    }
    return balance(n);
  }

  #deleteMin(n: Node<V>): Node<V> | null {
    if (n.left === null) return n.right;
    n.left = this.#deleteMin(n.left);
    return balance(n);
  }

  /** Removes everything. */
  clear(): void {
    this.#root = null;
    this.#size = 0;
  }

  /** The values in key order. */
  *values(): IterableIterator<V> {
    for (const [, v] of this) yield v;
  }

  /** The entries in key order (an explicit stack: no recursion limit). */
  *[Symbol.iterator](): IterableIterator<[bigint, V]> {
    const stack: Node<V>[] = [];
    let n = this.#root;
    while (n !== null || stack.length > 0) {
      while (n !== null) {
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop()!;
      yield [top.key, top.value];
      n = top.right;
    }
  }

  /**
   * Checks the AVL invariants (ordering, heights, balance, size) and
   * throws if one is broken. For tests; O(n).
   */
  check(): void {
    let count = 0;
    const walk = (n: Node<V> | null, lo: bigint | null, hi: bigint | null): number => {
      if (n === null) return 0;
      count++;
      if ((lo !== null && n.key <= lo) || (hi !== null && n.key >= hi)) {
        throw new Error(`offset index out of order at 0x${n.key.toString(16)}`);
      }
      const l = walk(n.left, lo, n.key);
      const r = walk(n.right, n.key, hi);
      if (Math.abs(l - r) > 1) throw new Error('offset index unbalanced');
      const h = Math.max(l, r) + 1;
      if (h !== n.height) throw new Error('offset index height mismatch');
      return h;
    };
    walk(this.#root, null, null);
    if (count !== this.#size) throw new Error('offset index size mismatch');
  }
}
