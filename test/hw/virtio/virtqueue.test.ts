import test from 'ava';
import { BufferGuestMemory } from '../../../src/hw/virtio/guest-memory.js';
import {
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_IN,
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VRING_AVAIL_F_NO_INTERRUPT,
  VRING_DESC_F_INDIRECT,
  VRING_DESC_F_NEXT,
  VRING_DESC_F_WRITE,
  VRING_USED_F_NO_NOTIFY,
  decodeVirtioBlkOuthdr,
  encodeVirtioBlkOuthdr,
} from '../../../src/hw/virtio/standard-headers.js';
import {
  VirtQueue,
  VirtQueueDriver,
  type VringLayout,
  iovFromBuf,
  iovSize,
  iovToBuf,
  vringAvailSize,
  vringDescTableSize,
  vringLayout,
  vringSize,
  vringUsedSize,
} from '../../../src/hw/virtio/virtqueue.js';

const BASE = 0x40000000n;
const INDIRECT = 1n << BigInt(VIRTIO_RING_F_INDIRECT_DESC);
const EVENT_IDX = 1n << BigInt(VIRTIO_RING_F_EVENT_IDX);

function setup(num: number, features = 0n, startIdx = 0) {
  const mem = new BufferGuestMemory(1 << 20, BASE);
  const layout = vringLayout(BASE, num, 4);
  const drv = new VirtQueueDriver<string>(mem, layout, {
    features,
    startIdx,
    indirectTables: { addr: BASE + 0x40000n, entries: 16 },
  });
  const dev = new VirtQueue(mem, layout, { features, lastAvailIdx: startIdx });
  return { mem, layout, drv, dev };
}

/** Guest buffers for request `i`: a 16-byte header, a data buffer and a status byte. */
function bufs(i: number) {
  const at = BASE + 0x80000n + BigInt(i % 64) * 0x1000n;
  return { hdr: at, data: at + 0x100n, status: at + 0x900n };
}

test('layout helpers follow vring_init / vring_size', (t) => {
  t.is(vringDescTableSize(256), 4096);
  t.is(vringAvailSize(256), 6 + 512);
  t.is(vringAvailSize(256, false), 4 + 512);
  t.is(vringUsedSize(256), 6 + 2048);
  t.is(vringUsedSize(256, false), 4 + 2048);
  const l = vringLayout(0x1000n, 256);
  t.deepEqual(l, { num: 256, desc: 0x1000n, avail: 0x2000n, used: 0x3000n });
  // QEMU's formula: ((16*num + 2*(3+num) + align-1) & ~(align-1)) + 2*3 + 8*num
  t.is(vringSize(256), ((16 * 256 + 2 * (3 + 256) + 4095) & ~4095) + 6 + 8 * 256);
  const tight = vringLayout(0n, 4, 4);
  t.deepEqual(tight, { num: 4, desc: 0n, avail: 64n, used: 80n });
  t.throws(() => vringLayout(0n, 3), { instanceOf: RangeError });
  t.throws(() => vringLayout(0n, 65536), { instanceOf: RangeError });
  t.throws(() => vringLayout(0n, 4, 3), { instanceOf: RangeError });
});

for (const [name, features, indirect] of [
  ['chained', 0n, false],
  ['indirect', INDIRECT, true],
  ['chained with event idx', EVENT_IDX, false],
  ['indirect with event idx', INDIRECT | EVENT_IDX, true],
] as const) {
  test(`a virtio-blk read round trip, ${name}`, (t) => {
    const { mem, drv, dev } = setup(16, features);
    const b = bufs(0);
    mem.write(b.hdr, encodeVirtioBlkOuthdr({ type: VIRTIO_BLK_T_IN, ioprio: 0, sector: 7n }));
    const head = drv.add(
      [{ addr: b.hdr, len: 16 }],
      [
        { addr: b.data, len: 512 },
        { addr: b.status, len: 1 },
      ],
      'req',
      { indirect },
    );
    t.is(drv.numFree, indirect ? 15 : 13);
    t.true(drv.kickNeeded());
    t.false(dev.isEmpty());

    const elem = dev.pop();
    if (elem === null) return t.fail(String(dev.error));
    t.is(elem.index, head);
    t.deepEqual(elem.outSg, [{ addr: b.hdr, len: 16 }]);
    t.deepEqual(elem.inSg, [
      { addr: b.data, len: 512 },
      { addr: b.status, len: 1 },
    ]);
    t.is(dev.inuse, 1);
    t.is(dev.pop(), null);
    t.true(dev.isEmpty());

    const hdr = decodeVirtioBlkOuthdr(iovToBuf(mem, elem.outSg));
    t.deepEqual(hdr, { type: VIRTIO_BLK_T_IN, ioprio: 0, sector: 7n });
    const reply = Buffer.alloc(513, 0xab);
    reply[512] = VIRTIO_BLK_S_OK;
    t.is(iovFromBuf(mem, elem.inSg, 0, reply), 513);
    dev.push(elem, 513);
    t.is(dev.inuse, 0);
    t.true(dev.shouldNotify());

    t.deepEqual(drv.getUsed(), { token: 'req', len: 513, id: head });
    t.is(drv.getUsed(), null);
    t.is(drv.numFree, 16);
    t.deepEqual(Buffer.from(mem.read(b.data, 512)), Buffer.alloc(512, 0xab));
    t.is(mem.read(b.status, 1)[0], VIRTIO_BLK_S_OK);
  });
}

test('iov helpers gather and scatter across buffers with offsets', (t) => {
  const mem = new BufferGuestMemory(256);
  const sg = [
    { addr: 10n, len: 3 },
    { addr: 100n, len: 5 },
  ];
  t.is(iovSize(sg), 8);
  t.is(iovFromBuf(mem, sg, 2, Buffer.from('abcdefghij')), 6);
  t.deepEqual(Buffer.from(iovToBuf(mem, sg)), Buffer.from('\0\0abcdef'));
  t.deepEqual(Buffer.from(iovToBuf(mem, sg, 3, 2)), Buffer.from('bc'));
  t.is(iovToBuf(mem, sg, 9).byteLength, 0);
});

test('indices wrap past 65535 on both sides', (t) => {
  const { mem, drv, dev } = setup(4, 0n, 65533);
  t.is(dev.lastAvailIdx, 65533);
  for (let round = 0; round < 12; round++) {
    // Two requests in flight, used in reverse order and flushed together.
    const ids = [0, 1].map((k) => {
      const b = bufs(round * 2 + k);
      return drv.add([{ addr: b.hdr, len: 16 }], [{ addr: b.status, len: 1 }], `r${round}.${k}`);
    });
    const e0 = dev.pop();
    const e1 = dev.pop();
    if (!e0 || !e1) return t.fail(String(dev.error));
    t.deepEqual([e0.index, e1.index], ids);
    dev.fill(e1, 1, 0);
    dev.fill(e0, 2, 1);
    dev.flush(2);
    t.deepEqual(drv.getUsed(), { token: `r${round}.1`, len: 1, id: ids[1] });
    t.deepEqual(drv.getUsed(), { token: `r${round}.0`, len: 2, id: ids[0] });
  }
  const expected = (65533 + 24) & 0xffff;
  t.is(drv.availIdx, expected);
  t.is(dev.lastAvailIdx, expected);
  t.is(dev.usedIdx, expected);
  t.is(mem.readU16(BigInt(vringLayout(BASE, 4, 4).avail) + 2n), expected);
  t.is(mem.readU16(BigInt(vringLayout(BASE, 4, 4).used) + 2n), expected);
  t.true(expected < 100);
});

test('event idx: the driver kicks only when avail_event is passed', (t) => {
  const { drv, dev } = setup(8, EVENT_IDX);
  const add = (i: number) => {
    const b = bufs(i);
    drv.add([{ addr: b.hdr, len: 16 }], [], `k${i}`);
  };
  add(0);
  t.true(drv.kickNeeded(), 'first buffer after start');
  add(1);
  t.false(drv.kickNeeded(), 'the device has not caught up: it will see this one');
  t.truthy(dev.pop());
  t.truthy(dev.pop());
  add(2);
  t.true(drv.kickNeeded(), 'the device consumed everything and waits');
  // The device turns kicks off while it polls: avail_event stops moving.
  dev.setNotification(false);
  t.truthy(dev.pop());
  add(3);
  t.false(drv.kickNeeded());
  dev.setNotification(true);
  t.false(dev.isEmpty(), 're-check after enabling: k3 is there');
  t.truthy(dev.pop());
  add(4);
  t.true(drv.kickNeeded());
  t.false(drv.kickNeeded(), 'nothing new since the last check');
});

test('without event idx: the device suppresses kicks with VRING_USED_F_NO_NOTIFY', (t) => {
  const { mem, layout, drv, dev } = setup(8);
  const b = bufs(0);
  drv.add([{ addr: b.hdr, len: 16 }], [], 'a');
  t.true(drv.kickNeeded());
  dev.setNotification(false);
  t.is(mem.readU16(BigInt(layout.used)) & VRING_USED_F_NO_NOTIFY, VRING_USED_F_NO_NOTIFY);
  drv.add([{ addr: b.hdr, len: 16 }], [], 'b');
  t.false(drv.kickNeeded());
  dev.setNotification(true);
  t.is(mem.readU16(BigInt(layout.used)) & VRING_USED_F_NO_NOTIFY, 0);
  drv.add([{ addr: b.hdr, len: 16 }], [], 'c');
  t.true(drv.kickNeeded());
});

test('event idx: the device interrupts only when used_event is passed', (t) => {
  const { mem, layout, drv, dev } = setup(8, EVENT_IDX);
  const usedEvent = BigInt(layout.avail) + BigInt(4 + 2 * 8);
  const cycle = (n: number) => {
    const elems = [];
    for (let i = 0; i < n; i++) {
      const b = bufs(i);
      drv.add([{ addr: b.hdr, len: 16 }], [], `i${i}`);
    }
    for (let i = 0; i < n; i++) elems.push(dev.pop());
    return elems;
  };
  const [e0, e1, e2] = cycle(3);
  dev.push(e0!, 0);
  t.true(dev.shouldNotify(), 'first notification');
  dev.push(e1!, 0);
  t.false(dev.shouldNotify(), 'the driver has not collected e0 yet');
  t.truthy(drv.getUsed());
  t.truthy(drv.getUsed());
  t.is(mem.readU16(usedEvent), 2);
  dev.push(e2!, 0);
  t.true(dev.shouldNotify(), 'used index passed used_event');
  t.truthy(drv.getUsed());

  drv.disableCallbacks();
  const [f0, f1] = cycle(2);
  dev.push(f0!, 0);
  t.false(dev.shouldNotify());
  dev.push(f1!, 0);
  t.false(dev.shouldNotify());
  t.false(drv.enableCallbacks(), 'two used buffers are pending');
  t.truthy(drv.getUsed());
  t.truthy(drv.getUsed());
  t.true(drv.enableCallbacks());
  const [g0] = cycle(1);
  dev.push(g0!, 0);
  t.true(dev.shouldNotify());
});

test('without event idx: the driver suppresses interrupts with VRING_AVAIL_F_NO_INTERRUPT', (t) => {
  const { mem, layout, drv, dev } = setup(8);
  const b = bufs(0);
  drv.disableCallbacks();
  t.is(mem.readU16(BigInt(layout.avail)) & VRING_AVAIL_F_NO_INTERRUPT, VRING_AVAIL_F_NO_INTERRUPT);
  drv.add([{ addr: b.hdr, len: 16 }], [], 'a');
  dev.push(dev.pop()!, 0);
  t.false(dev.shouldNotify());
  t.false(drv.enableCallbacks());
  t.truthy(drv.getUsed());
  drv.add([{ addr: b.hdr, len: 16 }], [], 'b');
  dev.push(dev.pop()!, 0);
  t.true(dev.shouldNotify());
});

test('VIRTIO_F_NOTIFY_ON_EMPTY overrides suppression when the queue drains', (t) => {
  const { drv, dev } = setup(8, 1n << BigInt(VIRTIO_F_NOTIFY_ON_EMPTY));
  const b = bufs(0);
  drv.disableCallbacks();
  drv.add([{ addr: b.hdr, len: 16 }], [], 'a');
  drv.add([{ addr: b.hdr, len: 16 }], [], 'b');
  const e = dev.pop()!;
  dev.push(e, 0);
  t.false(dev.shouldNotify(), 'one still available');
  dev.push(dev.pop()!, 0);
  t.true(dev.shouldNotify(), 'empty and nothing in use');
});

test('vring base: get/set last_avail_idx, unpop, detach and restore', (t) => {
  const { drv, dev, mem, layout } = setup(8);
  for (let i = 0; i < 3; i++) drv.add([{ addr: bufs(i).hdr, len: 16 }], [], `u${i}`);
  const e0 = dev.pop()!;
  const e1 = dev.pop()!;
  t.is(dev.lastAvailIdx, 2);
  dev.unpop(e1);
  t.is(dev.lastAvailIdx, 1);
  t.is(dev.inuse, 1);
  t.is(dev.pop()!.index, e1.index);
  dev.detachElement(e0);
  t.is(dev.inuse, 1);
  // A new back-end picks up where the old one stopped (SET_VRING_BASE).
  const dev2 = new VirtQueue(mem, layout as VringLayout);
  dev2.lastAvailIdx = dev.lastAvailIdx;
  t.is(dev2.pop()!.index, 2);
  // After a crash, restart from the used index: everything unused is popped again.
  const dev3 = new VirtQueue(mem, layout, { lastAvailIdx: 3 });
  dev3.restoreLastAvailIdx();
  t.is(dev3.lastAvailIdx, 0);
  t.is(dev3.pop()!.index, e0.index);
  dev3.push(e0, 0);
  dev.updateUsedIdx();
  t.is(dev.usedIdx, 1);
  t.deepEqual(drv.getUsed(), { token: 'u0', len: 0, id: e0.index });
});

test('the driver checks what it is given', (t) => {
  const { drv } = setup(4, 0n);
  const b = bufs(0);
  t.throws(() => drv.add([], [], 'x'), { instanceOf: RangeError });
  t.throws(() => drv.add([{ addr: b.hdr, len: -1 }], [], 'x'), { instanceOf: RangeError });
  t.throws(() => drv.add([{ addr: b.hdr, len: 1 }], [], 'x', { indirect: true }), {
    message: /not negotiated/,
  });
  for (let i = 0; i < 4; i++) drv.add([{ addr: b.hdr, len: 1 }], [], `f${i}`);
  t.is(drv.numFree, 0);
  t.throws(() => drv.add([{ addr: b.hdr, len: 1 }], [], 'x'), { message: 'virtqueue full' });
  const ind = setup(4, INDIRECT).drv;
  const many = Array.from({ length: 17 }, () => ({ addr: b.hdr, len: 1 }));
  t.throws(() => ind.add(many, [], 'x', { indirect: true }), { instanceOf: RangeError });
  const mem = new BufferGuestMemory(64);
  t.throws(() => new VirtQueueDriver(mem, vringLayout(0n, 16, 4)), {
    message: 'descriptor table is not in guest memory',
  });
});

test('the driver refuses used ids that are not outstanding heads', (t) => {
  const { mem, layout, drv } = setup(8);
  const used = BigInt(layout.used);
  drv.add(
    [
      { addr: bufs(0).hdr, len: 1 },
      { addr: bufs(0).data, len: 1 },
    ],
    [],
    'a',
  );
  mem.writeU32(used + 4n, 99);
  mem.writeU16(used + 2n, 1);
  t.throws(() => drv.getUsed(), { message: 'id 99 out of range' });
  mem.writeU32(used + 4n, 1); // the second descriptor of the chain, not its head
  t.throws(() => drv.getUsed(), { message: 'id 1 is not a head!' });
  mem.writeU32(used + 4n, 0);
  t.deepEqual(drv.getUsed(), { token: 'a', len: 0, id: 0 });
});

test('descriptor flags in memory are what the spec says', (t) => {
  const { mem, layout, drv } = setup(8, INDIRECT);
  drv.add([{ addr: 0x1000n, len: 16 }], [{ addr: 0x2000n, len: 4 }], 'c');
  const desc = BigInt(layout.desc);
  t.is(mem.readU64(desc), 0x1000n);
  t.is(mem.readU32(desc + 8n), 16);
  t.is(mem.readU16(desc + 12n), VRING_DESC_F_NEXT);
  const next = mem.readU16(desc + 14n);
  t.is(mem.readU64(desc + 16n * BigInt(next)), 0x2000n);
  t.is(mem.readU16(desc + 16n * BigInt(next) + 12n), VRING_DESC_F_WRITE);
  const head = drv.add([{ addr: 0x3000n, len: 8 }], [{ addr: 0x4000n, len: 8 }], 'i', {
    indirect: true,
  });
  const hd = desc + 16n * BigInt(head);
  t.is(mem.readU16(hd + 12n), VRING_DESC_F_INDIRECT);
  t.is(mem.readU32(hd + 8n), 32);
  const table = mem.readU64(hd);
  t.is(mem.readU16(table + 12n), VRING_DESC_F_NEXT);
  t.is(mem.readU16(table + 14n), 1);
  t.is(mem.readU16(table + 16n + 12n), VRING_DESC_F_WRITE);
  // Avail ring entries point at the heads.
  const avail = BigInt(layout.avail);
  t.is(mem.readU16(avail + 2n), 2);
  t.is(mem.readU16(avail + 4n), 0);
  t.is(mem.readU16(avail + 6n), head);
});
