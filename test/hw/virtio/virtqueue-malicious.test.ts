import test from 'ava';
import {
  BufferGuestMemory,
  type GuestMemory,
  type Gpa,
} from '../../../src/hw/virtio/guest-memory.js';
import {
  VIRTIO_RING_F_EVENT_IDX,
  VRING_DESC_F_INDIRECT as IND,
  VRING_DESC_F_NEXT as NEXT,
  VRING_DESC_F_WRITE as WRITE,
} from '../../../src/hw/virtio/standard-headers.js';
import { VirtQueue, type VringLayout, vringLayout } from '../../../src/hw/virtio/virtqueue.js';

const MEM_SIZE = 1 << 20;
const NUM = 16;
const DATA = 0x80000n;
const TABLE = 0x40000n;

/** A ring the test writes by hand, as a hostile driver would. */
class EvilRing {
  readonly mem = new BufferGuestMemory(MEM_SIZE);
  readonly layout: VringLayout;
  readonly errors: string[] = [];
  readonly dev: VirtQueue;
  #idx = 0;

  constructor(num = NUM, features = 0n) {
    this.layout = vringLayout(0n, num, 4);
    this.dev = new VirtQueue(this.mem, this.layout, {
      features,
      onError: (m) => this.errors.push(m),
    });
  }

  desc(i: number, addr: Gpa, len: number, flags: number, next = 0, table = this.layout.desc) {
    const at = BigInt(table) + 16n * BigInt(i);
    this.mem.writeU64(at, BigInt(addr));
    this.mem.writeU32(at + 8n, len);
    this.mem.writeU16(at + 12n, flags);
    this.mem.writeU16(at + 14n, next);
  }

  publish(...heads: number[]) {
    for (const h of heads) {
      this.mem.writeU16(
        BigInt(this.layout.avail) + BigInt(4 + 2 * (this.#idx % this.layout.num)),
        h,
      );
      this.#idx = (this.#idx + 1) & 0xffff;
    }
    this.mem.writeU16(BigInt(this.layout.avail) + 2n, this.#idx);
  }

  setAvailIdx(idx: number) {
    this.#idx = idx;
    this.mem.writeU16(BigInt(this.layout.avail) + 2n, idx);
  }
}

function expectBroken(t: import('ava').ExecutionContext, r: EvilRing, message: string) {
  t.is(r.dev.pop(), null);
  t.true(r.dev.broken);
  t.is(r.dev.error, message);
  t.deepEqual(r.errors, [message]);
  // Broken stays broken, quietly.
  t.is(r.dev.pop(), null);
  t.true(r.dev.isEmpty());
  t.false(r.dev.shouldNotify());
  t.deepEqual(r.errors, [message]);
}

test('a descriptor loop is detected', (t) => {
  const r = new EvilRing();
  r.desc(0, DATA, 8, NEXT, 1);
  r.desc(1, DATA, 8, NEXT, 0);
  r.publish(0);
  expectBroken(t, r, 'Looped descriptor');
});

test('a self-loop through the whole table is detected', (t) => {
  const r = new EvilRing();
  for (let i = 0; i < NUM; i++) r.desc(i, DATA, 8, NEXT, (i + 1) % NUM);
  r.publish(5);
  expectBroken(t, r, 'Looped descriptor');
});

test('a loop in a 32768-entry table ends at the element size limit', (t) => {
  const r = new EvilRing(32768);
  for (let i = 0; i < 32768; i++) r.desc(i, DATA, 8, WRITE | NEXT, (i + 1) % 32768);
  r.publish(0);
  expectBroken(t, r, 'virtio: too many write descriptors in indirect table');
});

test('next out of range', (t) => {
  const r = new EvilRing();
  r.desc(0, DATA, 8, NEXT, NUM);
  r.publish(0);
  expectBroken(t, r, `Desc next is ${NUM}`);
});

test('head index out of range', (t) => {
  const r = new EvilRing();
  r.publish(NUM);
  expectBroken(t, r, `Guest says index ${NUM} is available`);
});

test('the available index jumping more than the queue size', (t) => {
  const r = new EvilRing();
  r.setAvailIdx(NUM + 1);
  expectBroken(t, r, `Guest moved used index from 0 to ${NUM + 1}`);
});

test('an indirect descriptor inside an indirect table', (t) => {
  const r = new EvilRing();
  r.desc(0, TABLE, 32, IND);
  r.desc(0, DATA, 8, NEXT, 1, TABLE);
  r.desc(1, TABLE, 32, IND, 0, TABLE);
  r.publish(0);
  expectBroken(t, r, 'Nested indirect descriptor');
});

test('a loop inside an indirect table', (t) => {
  const r = new EvilRing();
  r.desc(3, TABLE, 48, IND);
  r.desc(0, DATA, 8, NEXT, 1, TABLE);
  r.desc(1, DATA, 8, NEXT, 2, TABLE);
  r.desc(2, DATA, 8, NEXT, 0, TABLE);
  r.publish(3);
  expectBroken(t, r, 'Looped descriptor');
});

test('indirect next beyond its table', (t) => {
  const r = new EvilRing();
  r.desc(0, TABLE, 32, IND);
  r.desc(0, DATA, 8, NEXT, 2, TABLE);
  r.publish(0);
  expectBroken(t, r, 'Desc next is 2');
});

test('indirect table of a bad size', (t) => {
  for (const len of [0, 20, 17]) {
    const r = new EvilRing();
    r.desc(0, TABLE, len, IND);
    r.publish(0);
    expectBroken(t, r, 'Invalid size for indirect buffer table');
  }
});

test('indirect table outside guest memory', (t) => {
  for (const [addr, len] of [
    [BigInt(MEM_SIZE) - 16n, 32],
    [0xfffffffffffffff0n, 32],
    [0n, 0xfffffff0],
  ] as const) {
    const r = new EvilRing();
    r.desc(0, addr, len, IND);
    r.publish(0);
    expectBroken(t, r, 'Cannot map indirect buffer');
  }
});

test('an indirect chain longer than an element may be', (t) => {
  const r = new EvilRing();
  const n = 1100;
  r.desc(0, TABLE, n * 16, IND);
  for (let i = 0; i < n; i++) r.desc(i, DATA, 1, NEXT, i + 1, TABLE);
  r.publish(0);
  expectBroken(t, r, 'virtio: too many write descriptors in indirect table');
});

test('buffers running past the end of memory or wrapping 2^64', (t) => {
  for (const [addr, len] of [
    [BigInt(MEM_SIZE) - 10n, 100],
    [BigInt(MEM_SIZE), 1],
    [0xffffffffffffff00n, 0x200],
    [0xffffffffffffffffn, 0xffffffff],
  ] as const) {
    const r = new EvilRing();
    r.desc(0, DATA, 8, NEXT, 1);
    r.desc(1, addr, len, WRITE);
    r.publish(0);
    expectBroken(t, r, 'virtio: bogus descriptor or out of resources');
  }
});

test('zero-sized buffers', (t) => {
  const r = new EvilRing();
  r.desc(0, DATA, 0, 0);
  r.publish(0);
  expectBroken(t, r, 'virtio: zero sized buffers are not allowed');
});

test('a readable buffer after a writable one', (t) => {
  const r = new EvilRing();
  r.desc(0, DATA, 8, WRITE | NEXT, 1);
  r.desc(1, DATA, 8, 0);
  r.publish(0);
  expectBroken(t, r, 'Incorrect order for descriptors');
});

test('more elements in flight than the queue holds', (t) => {
  const r = new EvilRing(4);
  r.desc(0, DATA, 8, 0);
  r.publish(0, 0, 0, 0);
  for (let i = 0; i < 4; i++) t.truthy(r.dev.pop());
  r.publish(0);
  expectBroken(t, r, 'Virtqueue size exceeded');
});

test('rings outside guest memory break the queue at once with QEMU texts', (t) => {
  const mem = new BufferGuestMemory(4096);
  const cases: [VringLayout, string][] = [
    [
      { num: 512, desc: 0n, avail: 0n, used: 0n },
      'Failed to map descriptor ring for device vhost-user-blk: invalid guest physical address or corrupted queue setup',
    ],
    [
      { num: 16, desc: 0n, avail: 256n, used: 4000n },
      'Failed to map used ring for device vhost-user-blk: possible guest misconfiguration or insufficient memory',
    ],
    [
      { num: 16, desc: 0n, avail: 4090n, used: 512n },
      'Failed to map avalaible ring for device vhost-user-blk: possible queue misconfiguration or overlapping memory region',
    ],
  ];
  for (const [layout, message] of cases) {
    const seen: string[] = [];
    const q = new VirtQueue(mem, layout, { name: 'vhost-user-blk', onError: (m) => seen.push(m) });
    t.true(q.broken);
    t.is(q.error, message);
    t.deepEqual(seen, [message]);
    t.is(q.pop(), null);
  }
  // EVENT_IDX needs the two trailing event words too.
  const exact = { num: 4, desc: 0n, avail: 64n, used: 4096n - 36n };
  t.false(new VirtQueue(mem, exact).broken);
  t.true(new VirtQueue(mem, exact, { features: 1n << BigInt(VIRTIO_RING_F_EVENT_IDX) }).broken);
  t.throws(() => new VirtQueue(mem, { ...exact, num: 5 }), { instanceOf: RangeError });
});

test('memory that disappears under the queue breaks it instead of throwing', (t) => {
  const inner = new BufferGuestMemory(MEM_SIZE);
  let budget = Infinity;
  const flaky: GuestMemory = {
    isMapped: (g, l) => inner.isMapped(g, l),
    read: (g, l) => {
      if (--budget < 0) throw new RangeError('unmapped');
      return inner.read(g, l);
    },
    write: (g, d) => inner.write(g, d),
    readU16: (g) => {
      if (--budget < 0) throw new RangeError('unmapped');
      return inner.readU16(g);
    },
    readU32: (g) => inner.readU32(g),
    readU64: (g) => inner.readU64(g),
    writeU16: (g, v) => inner.writeU16(g, v),
    writeU32: (g, v) => inner.writeU32(g, v),
    writeU64: (g, v) => inner.writeU64(g, v),
  };
  const layout = vringLayout(0n, NUM, 4);
  const errors: string[] = [];
  const q = new VirtQueue(flaky, layout, { onError: (m) => errors.push(m) });
  inner.writeU16(BigInt(layout.avail) + 4n, 0);
  inner.writeU16(BigInt(layout.avail) + 2n, 1);
  inner.writeU64(BigInt(layout.desc), DATA);
  inner.writeU32(BigInt(layout.desc) + 8n, 8);
  budget = 2; // the avail index and the head entry; the descriptor read fails
  t.is(q.pop(), null);
  t.true(q.broken);
  t.deepEqual(errors, ['RangeError: unmapped']);
});

test('random rings never throw and never hang', (t) => {
  let seed = 12345;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  let broken = 0;
  let popped = 0;
  for (let round = 0; round < 300; round++) {
    const r = new EvilRing(8, rnd() & 1 ? 1n << BigInt(VIRTIO_RING_F_EVENT_IDX) : 0n);
    // Random descriptors in the main table and in one indirect table, mostly plausible.
    const field = () => ({
      addr: rnd() % 16 === 0 ? BigInt(rnd()) << 32n : BigInt(rnd() % MEM_SIZE),
      len: rnd() % 16 === 0 ? rnd() : 1 + (rnd() % 64),
      flags: rnd() % 4 === 0 ? rnd() & 7 : rnd() & WRITE,
      next: rnd() % 10,
    });
    for (let i = 0; i < 8; i++) {
      const d = field();
      if (rnd() % 6 === 0) r.desc(i, TABLE, 16 * (rnd() % 5), IND);
      else r.desc(i, d.addr, d.len, d.flags, d.next);
      const e = field();
      r.desc(i, e.addr, e.len, e.flags, e.next, TABLE);
    }
    r.publish(...Array.from({ length: rnd() % 10 }, () => rnd() % 10));
    for (let k = 0; k < 20; k++) {
      const e = r.dev.pop();
      if (e === null) break;
      popped++;
      r.dev.push(e, rnd() % 100);
    }
    if (r.dev.broken) broken++;
    t.true(r.errors.length <= 1);
  }
  t.true(broken > 30, `broken ${broken}`);
  t.true(popped > 100, `popped ${popped}`);
});
