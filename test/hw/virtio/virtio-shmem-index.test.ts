/**
 * The ordered offset index behind the overlap check, against a naive
 * model (a sorted array), under random inserts and deletes.
 */
import test from 'ava';
import { OffsetIndex } from '../../../src/hw/virtio/virtio-shmem-index.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function modelFloor(keys: bigint[], k: bigint): bigint | undefined {
  let r: bigint | undefined;
  for (const x of keys) if (x <= k) r = x;
  return r;
}
function modelLower(keys: bigint[], k: bigint): bigint | undefined {
  let r: bigint | undefined;
  for (const x of keys) if (x < k) r = x;
  return r;
}
function modelHigher(keys: bigint[], k: bigint): bigint | undefined {
  for (const x of keys) if (x > k) return x;
  return undefined;
}

test('random inserts, deletes and neighbour queries agree with a sorted array', (t) => {
  const rnd = prng(42);
  const idx = new OffsetIndex<bigint>();
  let keys: bigint[] = [];
  const SPACE = 2000;
  for (let step = 0; step < 20000; step++) {
    const k = BigInt(Math.floor(rnd() * SPACE)) * 0x1000n;
    if (rnd() < 0.55) {
      if (keys.includes(k)) {
        t.throws(() => idx.insert(k, k), { instanceOf: RangeError });
      } else {
        idx.insert(k, k);
        keys.push(k);
        keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      }
    } else {
      const had = keys.includes(k);
      t.is(idx.delete(k), had ? k : undefined);
      if (had) keys = keys.filter((x) => x !== k);
    }
    if (step % 500 === 0) {
      idx.check();
      const q = BigInt(Math.floor(rnd() * SPACE * 0x1000));
      t.is(idx.floor(q), modelFloor(keys, q));
      t.is(idx.lower(q), modelLower(keys, q));
      t.is(idx.higher(q), modelHigher(keys, q));
      t.is(idx.get(q), keys.includes(q) ? q : undefined);
      t.deepEqual([...idx.values()], keys);
    }
    t.is(idx.size, keys.length);
  }
  idx.check();
  t.is(idx.first(), keys[0]);
  t.is(idx.last(), keys[keys.length - 1]);
  idx.clear();
  t.is(idx.size, 0);
  t.is(idx.first(), undefined);
  t.is(idx.floor(1n << 63n), undefined);
});

test('sequential keys stay balanced (depth ~ log n) and 64-bit keys order exactly', (t) => {
  const idx = new OffsetIndex<number>();
  for (let i = 0; i < 100_000; i++) idx.insert(BigInt(i) * 4096n, i);
  idx.check();
  t.is(idx.size, 100_000);
  t.is(idx.floor(4096n * 50_000n + 5n), 50_000);
  for (let i = 0; i < 100_000; i += 2) idx.delete(BigInt(i) * 4096n);
  idx.check();
  t.is(idx.size, 50_000);
  t.is(idx.first(), 1);
  const big = new OffsetIndex<string>();
  big.insert(0xffffffffffffffffn, 'top');
  big.insert(0xfffffffffffffffen, 'below');
  big.insert(0n, 'zero');
  t.deepEqual(
    [...big],
    [
      [0n, 'zero'],
      [0xfffffffffffffffen, 'below'],
      [0xffffffffffffffffn, 'top'],
    ],
  );
  t.is(big.higher(0xfffffffffffffffen), 'top');
  t.is(big.lower(0xfffffffffffffffen), 'zero');
});
