import 'reflect-metadata';
import test from 'ava';
import { container } from 'tsyringe';
import {
  HostOs,
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_CLOEXEC,
  OsError,
  PROT_READ,
  PROT_WRITE,
} from '../../src/native/index.js';
import { mapsLineAt, runChild } from '../helpers/native/util.js';

const os = container.resolve(HostOs);

test('unmap detaches every view first: stale views read nothing', (t) => {
  const m = os.mapMemory(1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  const whole = new Uint8Array(m.native.buffer());
  const part = m.view(4096, 100);
  const dv = new DataView(m.native.buffer(8, 8));
  part.fill(0xab);
  t.is(whole[4096], 0xab);
  t.is(m.readU8(4099), 0xab);
  t.is(m.native.viewCount, 3 + 1); // + the accessor window
  t.true(m.unmap());
  t.is(mapsLineAt(m.address), undefined);
  t.is(whole.length, 0);
  t.is(part.length, 0);
  t.is(part[0] as number | undefined, undefined);
  t.is(whole.buffer.byteLength, 0);
  t.throws(() => dv.getUint8(0), { instanceOf: TypeError });
  t.false(m.isMapped);
  const e = t.throws(() => m.readU32(0), { instanceOf: OsError });
  t.is(e?.code, 'EFAULT');
  t.throws(() => m.view(0, 1), { instanceOf: OsError });
  t.throws(() => m.native.buffer(), { instanceOf: OsError });
});

test('views of read-only mappings are refused (a store would kill the process); copies work', (t) => {
  const fd = os.memfdCreate('tsqom-ro', MFD_CLOEXEC);
  try {
    os.ftruncate(fd, 4096);
    const rw = os.mapMemory(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    rw.writeU64(16, 0x0102030405060708n);
    const ro = os.mapMemory(4096, PROT_READ, MAP_SHARED, fd);
    const e = t.throws(() => ro.view(0, 8), { instanceOf: OsError });
    t.is(e?.code, 'EACCES');
    t.is(ro.readU64(16), 0x0102030405060708n);
    t.is(ro.readU8(16), 8);
    t.deepEqual([...ro.read(16, 3)], [8, 7, 6]);
    t.throws(() => ro.writeU8(0, 1), { instanceOf: OsError });
    ro.unmap();
    rw.unmap();
  } finally {
    os.close(fd);
  }
});

test('bounds are checked, and accessors are little-endian', (t) => {
  using m = os.mapMemory(8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  t.throws(() => m.readU32(8190), { instanceOf: RangeError });
  t.throws(() => m.read(-1, 1), { instanceOf: RangeError });
  t.throws(() => m.write(8192, new Uint8Array(1)), { instanceOf: RangeError });
  t.throws(() => m.view(0, 8193), { instanceOf: RangeError });
  t.throws(() => m.native.buffer(1, 8192), { instanceOf: RangeError });
  m.writeU16(0, 0x1234);
  t.deepEqual([...m.read(0, 2)], [0x34, 0x12]);
  m.writeU64(8184, 2n ** 64n - 1n);
  t.is(m.readU64(8184), 2n ** 64n - 1n);
  t.is(m.readU32(8188), 0xffffffff);
  m.write(100, Buffer.from('hello'));
  t.is(Buffer.from(m.read(100, 5)).toString(), 'hello');
});

test('using: disposing unmaps', (t) => {
  let address = 0n;
  {
    using m = os.mapMemory(4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    address = m.address;
    t.truthy(mapsLineAt(address));
  }
  t.is(mapsLineAt(address), undefined);
});

test('a stale view cannot crash the process, however it is used (checked in a child)', async (t) => {
  const r = await runChild(['stale']);
  t.is(r.signal, null, r.stderr);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.lines, [
    'length=0 byteLength=0 v0=undefined after-store=undefined fill=TypeError set=TypeError typedarray=TypeError slice=TypeError read=OsError view=OsError buffer=OsError fresh=0',
  ]);
});

test('garbage collection: a view keeps the memory mapped; it goes once nothing reaches it', async (t) => {
  const r = await runChild(['gc'], undefined, ['--expose-gc']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.lines, [`alive=true sum=${3 * (1 << 20)}`, 'after=false']);
});

test('mappings larger than one ArrayBuffer: accessors work across the 1 GiB windows', (t) => {
  const GiB = 2 ** 30;
  using m = os.mapMemory(
    5 * GiB,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
  );
  t.throws(() => m.native.buffer(), { instanceOf: RangeError });
  m.writeU32(GiB - 2, 0xa1b2c3d4); // spans two windows
  t.is(m.readU32(GiB - 2), 0xa1b2c3d4);
  t.is(m.readU16(GiB), 0xa1b2);
  m.writeU64(4 * GiB + 16, 1n << 60n);
  t.is(m.readU64(4 * GiB + 16), 1n << 60n);
  const v = m.view(4 * GiB, 32);
  t.is(v[16 + 7], 0x10);
  m.write(3 * GiB - 3, Buffer.from('abcdef'));
  t.is(Buffer.from(m.read(3 * GiB - 3, 6)).toString(), 'abcdef');
});
