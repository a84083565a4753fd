/**
 * GuestMemoryMmap: the back-end's view of the front-end's memory table.
 * Serial: the tests count this process's fds and mappings.
 */
import test from 'ava';
import { GuestMemoryMmap } from '../../../../src/hw/virtio/guest-memory-mmap.js';
import { GuestMemoryError } from '../../../../src/hw/virtio/guest-memory.js';
import { MAP_SHARED, MFD_CLOEXEC, PROT_READ, PROT_WRITE } from '../../../../src/native/index.js';
import { os } from '../../../helpers/guest/scripted-frontend.js';
import { fdCount, procMaps } from '../../../helpers/native/util.js';

const mapsOf = (name: string): number => procMaps().filter((l) => l.path.includes(name)).length;

function memfd(name: string, size: number): number {
  const fd = os.memfdCreate(name, MFD_CLOEXEC);
  os.ftruncate(fd, size);
  return fd;
}

test.serial('regions are mapped shared, translated, bounds-checked and unmapped', (t) => {
  const fdsBefore = fdCount();
  const a = memfd('tsqom-gmm-a', 0x1_0000);
  const b = memfd('tsqom-gmm-b', 0x2_0000);
  const c = memfd('tsqom-gmm-c', 0x1000);
  const mem = GuestMemoryMmap.mapRegions(
    [
      // Out of order on purpose; b starts 0x1000 into its file.
      {
        guestPhysAddr: 0x1_0000n,
        memorySize: 0x1_0000n,
        userspaceAddr: 0x5000_0000n,
        mmapOffset: 0x1000n,
      },
      { guestPhysAddr: 0n, memorySize: 0x1_0000n, userspaceAddr: 0x7000_0000n, mmapOffset: 0n },
      {
        guestPhysAddr: 0x10_0000n,
        memorySize: 0x1000n,
        userspaceAddr: 0x9000_0000n,
        mmapOffset: 0n,
      },
    ],
    [b, a, c],
  );
  // The descriptors may go: the mappings keep the memory.
  for (const fd of [a, b, c]) os.close(fd);
  t.is(fdCount(), fdsBefore);
  t.is(mapsOf('tsqom-gmm-'), 3);
  t.deepEqual(
    mem.regions.map((r) => r.gpa),
    [0n, 0x1_0000n, 0x10_0000n],
  );
  t.is(mem.size, 0x2_1000);
  // Contiguous regions: accesses may cross.
  t.true(mem.isMapped(0xfff0n, 0x20));
  mem.write(0xfffen, Uint8Array.of(1, 2, 3, 4));
  t.deepEqual([...mem.read(0xfffen, 4)], [1, 2, 3, 4]);
  t.is(mem.readU16(0x1_0000n), 0x0403);
  mem.writeU64(0x1_0008n, 0x1122334455667788n);
  t.is(mem.readU64(0x1_0008n), 0x1122334455667788n);
  mem.writeU32(0x10_0ffcn, 0xdeadbeef);
  t.is(mem.readU32(0x10_0ffcn), 0xdeadbeef);
  // A scalar may not straddle regions; gaps and the end are not memory.
  t.throws(() => mem.readU32(0xfffen), { instanceOf: GuestMemoryError });
  t.false(mem.isMapped(0x1_fff0n, 0x20));
  t.false(mem.isMapped(0x10_0ffcn, 8));
  t.throws(() => mem.read(0x2_0000n, 1), { instanceOf: GuestMemoryError });
  t.throws(() => mem.writeU16(0x10_1000n, 1), { instanceOf: GuestMemoryError });
  t.false(mem.isMapped(-1, 1));
  t.false(mem.isMapped(0n, -1));
  t.throws(() => mem.read(0n, Number.NaN), { instanceOf: GuestMemoryError });
  t.true(mem.isMapped(0x10_0000n, 0));
  t.is(mem.read(0x10_0000n, 0).length, 0);
  // Front-end addresses translate through the table.
  t.is(mem.qvaToGpa(0x5000_0010n), 0x1_0010n);
  t.is(mem.qvaToGpa(0x7000_ffffn), 0xffffn);
  t.is(mem.qvaToGpa(0x7001_0000n), undefined);
  t.is(mem.qvaToGpa(0n), undefined);
  mem.fence();
  // The region at 0x10000 is the file's bytes from 0x1000.
  const view = mem.regions[1].mapping;
  t.is(view.readU16(0), 0x0403);
  t.true(mem.unmap());
  t.is(mapsOf('tsqom-gmm-'), 0);
  t.false(view.isMapped);
  t.throws(() => mem.read(0n, 1), { instanceOf: GuestMemoryError });
  t.false(mem.isMapped(0n, 1));
  t.false(mem.unmap());
  mem.fence();
});

test.serial('the other side of a shared mapping sees the writes', (t) => {
  const fd = memfd('tsqom-gmm-shared', 0x4000);
  const mem = GuestMemoryMmap.mapRegions(
    [{ guestPhysAddr: 0x8000n, memorySize: 0x4000n, userspaceAddr: 0n, mmapOffset: 0n }],
    [fd],
  );
  const other = os.mapMemory(0x4000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  mem.write(0x8100n, Buffer.from('shared'));
  t.is(Buffer.from(other.read(0x100, 6)).toString(), 'shared');
  other.writeU32(0x200, 42);
  t.is(mem.readU32(0x8200n), 42);
  other.unmap();
  mem.unmap();
  os.close(fd);
});

test.serial('bad tables throw and leave nothing mapped', (t) => {
  const fd = memfd('tsqom-gmm-bad', 0x2000);
  const region = { guestPhysAddr: 0n, memorySize: 0x1000n, userspaceAddr: 0n, mmapOffset: 0n };
  t.throws(
    () => GuestMemoryMmap.mapRegions([region, { ...region, guestPhysAddr: 0x800n }], [fd, fd]),
    { message: 'regions with overlapping guest physical addresses' },
  );
  t.throws(() => GuestMemoryMmap.mapRegions([region], []), { instanceOf: RangeError });
  t.throws(() => GuestMemoryMmap.mapRegions([{ ...region, memorySize: 0n }], [fd]), {
    instanceOf: RangeError,
  });
  t.throws(() =>
    GuestMemoryMmap.mapRegions(
      [region, { ...region, guestPhysAddr: 0x1000n, mmapOffset: 0x123n }],
      [fd, fd],
    ),
  );
  t.throws(() =>
    GuestMemoryMmap.mapRegions([{ ...region, guestPhysAddr: 2n ** 64n - 0x800n }], [fd]),
  );
  t.is(mapsOf('tsqom-gmm-bad'), 0);
  os.close(fd);
});
