import test from 'ava';
import {
  BufferGuestMemory,
  GuestMemoryError,
  gpaToBigInt,
} from '../../../src/hw/virtio/guest-memory.js';

test('little-endian accessors at a non-zero base', (t) => {
  const mem = new BufferGuestMemory(64, 0x1000);
  t.is(mem.size, 64);
  t.is(mem.base, 0x1000n);
  mem.writeU16(0x1000n, 0x1234);
  mem.writeU32(0x1002, 0xdeadbeef);
  mem.writeU64(0x1008n, 0x0102030405060708n);
  t.deepEqual(
    Buffer.from(mem.read(0x1000n, 16)),
    Buffer.from('3412efbeadde00000807060504030201', 'hex'),
  );
  t.is(mem.readU16(0x1000n), 0x1234);
  t.is(mem.readU32(0x1002n), 0xdeadbeef);
  t.is(mem.readU64(0x1008n), 0x0102030405060708n);
  mem.writeU64(0x1010n, -1n);
  t.is(mem.readU64(0x1010n), 0xffffffffffffffffn);
  mem.write(0x103en, Buffer.from([9, 8]));
  t.deepEqual([...mem.bytes.subarray(62)], [9, 8]);
});

test('ranges outside memory are refused, never clipped', (t) => {
  const mem = new BufferGuestMemory(new Uint8Array(32), 0x100n);
  t.true(mem.isMapped(0x100n, 32));
  t.true(mem.isMapped(0x120n, 0));
  t.false(mem.isMapped(0x100n, 33));
  t.false(mem.isMapped(0xffn, 1));
  t.false(mem.isMapped(0xffffffffffffffffn, 2));
  t.false(mem.isMapped(-1, 1));
  t.false(mem.isMapped(0x100n, -1));
  t.false(mem.isMapped(0x100n, 1.5));
  const err = t.throws(() => mem.readU32(0x11en), { instanceOf: GuestMemoryError });
  t.is(err?.gpa, 0x11en);
  t.is(err?.len, 4);
  t.regex(err?.message ?? '', /0x11e\+0x4/);
  t.throws(() => mem.write(0x11fn, Buffer.alloc(2)), { instanceOf: GuestMemoryError });
  t.throws(() => mem.read(0n, 1), { instanceOf: RangeError });
  t.throws(() => gpaToBigInt(-1), { instanceOf: RangeError });
  t.throws(() => gpaToBigInt(-1n), { instanceOf: RangeError });
  t.throws(() => gpaToBigInt(2 ** 60), { instanceOf: RangeError });
  t.is(gpaToBigInt(5), 5n);
});
