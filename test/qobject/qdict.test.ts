import test from 'ava';
import { GHashOrder, qdictOrder, tdbHash, gStrHash } from '../../src/qobject/qdict.js';
import { encodeModUtf8 } from '../../src/util/unicode.js';

// Orders observed from GLib 2.74 itself (g_hash_table_* with g_str_hash).
const GLIB_FIXTURES: Array<{ insert: string[]; remove: string[]; order: string[] }> = [
  { insert: ['a', 'b', 'c'], remove: [], order: ['b', 'a', 'c'] },
  { insert: ['x', 'y', 'z'], remove: [], order: ['z', 'y', 'x'] },
  {
    insert: ['qom-type', 'id', 'size', 'a', 'b', 'c', 'd', 'e'],
    remove: ['qom-type', 'id', 'size'],
    order: ['b', 'a', 'e', 'd', 'c'],
  },
  {
    insert: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
    remove: [],
    order: ['b', 'h', 'a', 'g', 'f', 'e', 'd', 'j', 'c', 'i'],
  },
  {
    insert: Array.from({ length: 40 }, (_, i) => `k${i}`),
    remove: Array.from({ length: 14 }, (_, i) => `k${i * 3}`),
    order: [
      'k4',
      'k14',
      'k35',
      'k5',
      'k25',
      'k20',
      'k10',
      'k26',
      'k16',
      'k31',
      'k1',
      'k37',
      'k11',
      'k7',
      'k17',
      'k32',
      'k2',
      'k22',
      'k38',
      'k28',
      'k8',
      'k23',
      'k13',
      'k29',
      'k19',
      'k34',
    ],
  },
  {
    insert: ['path', 'bogus', 'extra', 'zz', 'yy'],
    remove: ['path'],
    order: ['yy', 'bogus', 'extra', 'zz'],
  },
  { insert: ['é', 'ü', 'ß', 'éx'], remove: [], order: ['ü', 'é', 'ß', 'éx'] },
];

test('GHashOrder iterates as GLib 2.74 does, through growth, tombstones and shrinking', (t) => {
  for (const f of GLIB_FIXTURES) {
    const h = new GHashOrder();
    for (const k of f.insert) h.insert(k);
    for (const k of f.remove) t.true(h.remove(k));
    t.deepEqual(h.order(), f.order, JSON.stringify(f.insert));
    t.is(h.first(), f.order[0]);
  }
});

test('GHashOrder: membership and removal of absent keys', (t) => {
  const h = new GHashOrder();
  h.insert('a');
  h.insert('a');
  t.true(h.has('a'));
  t.false(h.has('b'));
  t.false(h.remove('b'));
  t.true(h.remove('a'));
  t.is(h.first(), undefined);
});

test('QDict order matches what QEMU 7.2 prints', (t) => {
  // VersionTriple is visited major, minor, micro; QEMU prints micro, minor, major.
  t.deepEqual(qdictOrder(['major', 'minor', 'micro']), ['micro', 'minor', 'major']);
  t.deepEqual(qdictOrder(['qemu', 'package']), ['qemu', 'package']);
  t.deepEqual(qdictOrder(['return', 'id']), ['return', 'id']);
  t.deepEqual(qdictOrder(['error', 'id']), ['id', 'error']);
  t.deepEqual(qdictOrder(['class', 'desc']), ['class', 'desc']);
  t.deepEqual(qdictOrder(['event', 'timestamp', 'data']), ['timestamp', 'event', 'data']);
  t.deepEqual(qdictOrder(['seconds', 'microseconds']), ['seconds', 'microseconds']);
});

test('hash functions', (t) => {
  t.is(gStrHash(encodeModUtf8('')), 5381);
  t.is(gStrHash(encodeModUtf8('a')), (5381 * 33 + 97) >>> 0);
  // Non-ASCII bytes are signed chars in g_str_hash.
  t.is(gStrHash(Uint8Array.of(0xc3)), (5381 * 33 - 61) >>> 0);
  t.is(tdbHash(new Uint8Array(0)), 12345);
  t.not(tdbHash(encodeModUtf8('micro')) % 512, tdbHash(encodeModUtf8('major')) % 512);
  // U+0000 is hashed as QEMU stores it, C0 80.
  t.deepEqual([...encodeModUtf8('\0')], [0xc0, 0x80]);
});
