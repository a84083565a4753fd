/**
 * The iteration order of QEMU's QDict (qobject/qdict.c) and of the GLib
 * hash tables QEMU's QAPI input visitor uses. Both are visible on the
 * wire: QMP replies list members in QDict order, and when a request has
 * several offending members QEMU reports the first one in hash order.
 * @module
 */
import type { JsonObject } from './qobject.js';
import { encodeModUtf8 } from '../util/unicode.js';

/** Number of buckets in a QDict. */
export const QDICT_BUCKET_MAX = 512;

/** QDict's hash (the gdbm/tdb string hash), over the key's modified-UTF-8 bytes. */
export function tdbHash(bytes: Uint8Array): number {
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    value = (value + (bytes[i] << ((i * 5) % 24))) >>> 0;
  }
  return (Math.imul(1103515243, value) + 12345) >>> 0;
}

const bucketCache = new Map<string, number>();

/** The QDict bucket of a key (cached: keys repeat a lot). */
export function qdictBucket(key: string): number {
  let b = bucketCache.get(key);
  if (b === undefined) {
    b = tdbHash(encodeModUtf8(key)) % QDICT_BUCKET_MAX;
    if (bucketCache.size >= 16384) bucketCache.clear();
    bucketCache.set(key, b);
  }
  return b;
}

/**
 * Orders keys as a QDict built by inserting them in the given order
 * iterates them: by bucket, and within a bucket the latest insertion
 * first.
 */
export function qdictOrder(keys: readonly string[]): string[] {
  const n = keys.length;
  if (n < 2) return keys.slice();
  const buckets = new Array<number>(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    buckets[i] = qdictBucket(keys[i]);
    if (i > 0 && buckets[i] <= buckets[i - 1]) sorted = false;
  }
  if (sorted) return keys.slice();
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => buckets[a] - buckets[b] || b - a);
  return idx.map((i) => keys[i]);
}

/** The keys of a JSON object in the order QEMU's QDict would iterate them. */
export function qdictKeys(obj: JsonObject): string[] {
  return qdictOrder(Object.keys(obj).filter((k) => obj[k] !== undefined));
}

/**
 * Rebuilds `obj` so that its own insertion order is QDict iteration
 * order; code that walks it with `Object.keys` then sees what QEMU's
 * `qdict_first()`/`qdict_next()` would.
 */
export function qdictReorder(obj: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of qdictKeys(obj)) jsonObjectSet(out, k, obj[k]);
  return out;
}

/** Sets a member, including one named `__proto__`, as an own data property. */
export function jsonObjectSet(obj: JsonObject, key: string, value: JsonObject[string]): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    obj[key] = value;
  }
}

/** GLib's `g_str_hash` (djb2 over signed chars). */
export function gStrHash(bytes: Uint8Array): number {
  let h = 5381;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] >= 0x80 ? bytes[i] - 256 : bytes[i];
    h = (Math.imul(h, 33) + c) >>> 0;
  }
  return h;
}

const PRIME_MOD = [
  1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
  262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689,
  268435399, 536870909, 1073741789, 2147483647,
];
const MIN_SHIFT = 3;
const UNUSED = 0;
const TOMBSTONE = 1;

/**
 * A model of GLib 2.74's `GHashTable` with `g_str_hash` keys, reduced to
 * what decides iteration order: open addressing with quadratic probing,
 * tombstones, and in-place resizing. QEMU's QObject input visitor keeps
 * the not-yet-visited members of a struct in one of these, and reports
 * the first survivor as `Parameter '%s' is unexpected`.
 */
export class GHashOrder {
  #size = 1 << MIN_SHIFT;
  #mod = PRIME_MOD[MIN_SHIFT];
  #mask = this.#size - 1;
  #nnodes = 0;
  #noccupied = 0;
  #hashes: number[] = new Array<number>(this.#size).fill(UNUSED);
  #keys: (string | undefined)[] = new Array<string | undefined>(this.#size);

  #setShift(shift: number): void {
    this.#size = 1 << shift;
    this.#mod = PRIME_MOD[shift];
    this.#mask = this.#size - 1;
  }

  static #hashOf(key: string): number {
    const h = gStrHash(encodeModUtf8(key));
    return h <= 1 ? 2 : h;
  }

  #toIndex(hash: number): number {
    return (Math.imul(hash, 11) >>> 0) % this.#mod;
  }

  /** Index of `key`, else of the slot an insertion would use. */
  #lookup(key: string, hash: number): number {
    let idx = this.#toIndex(hash);
    let step = 0;
    let tomb = -1;
    for (let h = this.#hashes[idx]; h !== UNUSED; h = this.#hashes[idx]) {
      if (h === hash && this.#keys[idx] === key) return idx;
      if (h === TOMBSTONE && tomb < 0) tomb = idx;
      step++;
      idx = (idx + step) & this.#mask;
    }
    return tomb >= 0 ? tomb : idx;
  }

  /** `g_hash_table_insert` of a new key. */
  insert(key: string): void {
    const hash = GHashOrder.#hashOf(key);
    const idx = this.#lookup(key, hash);
    const old = this.#hashes[idx];
    if (old >= 2) return;
    this.#hashes[idx] = hash;
    this.#keys[idx] = key;
    this.#nnodes++;
    if (old === UNUSED) {
      this.#noccupied++;
      this.#maybeResize();
    }
  }

  /** `g_hash_table_remove`. */
  remove(key: string): boolean {
    const idx = this.#lookup(key, GHashOrder.#hashOf(key));
    if (this.#hashes[idx] < 2) return false;
    this.#hashes[idx] = TOMBSTONE;
    this.#keys[idx] = undefined;
    this.#nnodes--;
    this.#maybeResize();
    return true;
  }

  /** Whether the table holds `key`. */
  has(key: string): boolean {
    return this.#hashes[this.#lookup(key, GHashOrder.#hashOf(key))] >= 2;
  }

  /** The keys in iteration order. */
  order(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.#size; i++) if (this.#hashes[i] >= 2) out.push(this.#keys[i]!);
    return out;
  }

  /** The first key in iteration order. */
  first(): string | undefined {
    for (let i = 0; i < this.#size; i++) if (this.#hashes[i] >= 2) return this.#keys[i];
    return undefined;
  }

  #maybeResize(): void {
    const occ = this.#noccupied;
    if (
      (this.#size > this.#nnodes * 4 && this.#size > 1 << MIN_SHIFT) ||
      this.#size <= occ + Math.trunc(occ / 16)
    ) {
      this.#resize();
    }
  }

  #resize(): void {
    const oldSize = this.#size;
    let n = Math.trunc(this.#nnodes * 1.333);
    let shift = 0;
    while (n) {
      n >>= 1;
      shift++;
    }
    this.#setShift(Math.max(shift, MIN_SHIFT));
    for (let i = oldSize; i < this.#size; i++) {
      this.#hashes[i] = UNUSED;
      this.#keys[i] = undefined;
    }
    const placed = new Uint8Array(Math.max(oldSize, this.#size));
    for (let i = 0; i < oldSize; i++) {
      let h = this.#hashes[i];
      if (h < 2) {
        this.#hashes[i] = UNUSED;
        continue;
      }
      if (placed[i]) continue;
      this.#hashes[i] = UNUSED;
      let key = this.#keys[i];
      this.#keys[i] = undefined;
      for (;;) {
        let idx = this.#toIndex(h);
        let step = 0;
        while (placed[idx]) {
          step++;
          idx = (idx + step) & this.#mask;
        }
        placed[idx] = 1;
        const replaced = this.#hashes[idx];
        this.#hashes[idx] = h;
        const evicted = this.#keys[idx];
        this.#keys[idx] = key;
        if (replaced < 2) break;
        h = replaced;
        key = evicted;
      }
    }
    this.#hashes.length = this.#size;
    this.#keys.length = this.#size;
    this.#noccupied = this.#nnodes;
  }
}
