import 'reflect-metadata';
import { HOST_OS } from '../../src/native/host.js';
import { MachineContext, hostOs } from '../../src/util/machine-context.js';
import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import {
  HostOs,
  MAP_SHARED,
  MFD_CLOEXEC,
  OsError,
  PROT_READ,
  PROT_WRITE,
  type MappedMemory,
} from '../../src/native/index.js';
import {
  MEMTX_ACCESS_ERROR,
  MEMTX_DECODE_ERROR,
  MEMTX_OK,
  RAM_READONLY,
  RAM_READONLY_FD,
  RAM_SHARED,
  addressSpaceLdl,
  addressSpaceRead,
  addressSpaceStl,
  addressSpaceWrite,
  memoryRegionAddSubregion,
  memoryRegionGetFd,
  memoryRegionGetRamBlock,
  memoryRegionGetRamPtr,
  memoryRegionInitAlias,
  memoryRegionInitRam,
  memoryRegionInitRamFromFd,
  memoryRegionInitRamFromMapping,
  memoryRegionNew,
  mtreeInfo,
  type RamBlock,
} from '../../src/system/index.js';
import { containerRegion, newOwner, scopedAddressSpace } from '../helpers/system/regions.js';

const os = (): HostOs => hostOs();
const SIZE = 64 * 1024;

/**
 * Whether `address` lies inside a mapping (the kernel may merge an
 * anonymous mapping with a neighbour, so it need not start one).
 */
function mapped(address: bigint): boolean {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .some((l) => {
      const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(l);
      return m !== null && BigInt(`0x${m[1]}`) <= address && address < BigInt(`0x${m[2]}`);
    });
}

function fdOpen(fd: number): boolean {
  return existsSync(`/proc/self/fd/${fd}`);
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

function memfd(size = 0): number {
  const fd = os().memfdCreate('tsqom-ram-test', MFD_CLOEXEC);
  if (size) os().ftruncate(fd, size);
  return fd;
}

test.serial(
  'RAM from an fd: accesses hit the mapping; finalize unmaps, detaches views, closes the fd',
  (t) => {
    const fd = memfd();
    const owner = newOwner();
    const root = containerRegion(owner, 'root', 0x100000n);
    const mr = memoryRegionInitRamFromFd(memoryRegionNew(), owner, 'ram0', SIZE, RAM_SHARED, fd, 0);
    // QEMU grows an empty file to the region's size.
    t.is(os().fstat(fd).size, SIZE);
    t.is(memoryRegionGetFd(mr), fd);
    t.is(memoryRegionGetRamBlock(mr), mr.ramBlock as RamBlock);
    t.is(memoryRegionGetRamBlock(mr)!.fdOffsetOf(0x10), 0x10n);
    memoryRegionAddSubregion(root, 0x10000n, mr);
    const block = mr.ramBlock as RamBlock;
    const address = block.host.address;
    t.true(mapped(address));
    const peer: MappedMemory = os().mapMemory(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const view = memoryRegionGetRamPtr(mr);
    {
      using as = scopedAddressSpace(root, 'ram');
      t.is(addressSpaceWrite(as, 0x10010, new Uint8Array([1, 2, 3, 4, 5])), MEMTX_OK);
      t.deepEqual([...peer.read(0x10, 5)], [1, 2, 3, 4, 5]);
      t.deepEqual([...view.subarray(0x10, 0x15)], [1, 2, 3, 4, 5]);
      peer.writeU32(0x100, 0xdeadbeef);
      t.is(addressSpaceLdl(as, 0x10100), 0xdeadbeef);
      addressSpaceStl(as, 0x10200, 0x01020304);
      t.is(peer.readU32(0x200), 0x01020304);
      // A read across the end of RAM: the rest is a hole.
      const r = addressSpaceRead(as, 0x10000 + SIZE - 2, 4);
      t.is(r.result, MEMTX_DECODE_ERROR);
      t.deepEqual([...r.data.subarray(2)], [0, 0]);
      t.is(
        mtreeInfo({ flatview: true }, [as]),
        'FlatView #0\n' +
          ' AS "ram", root: root\n' +
          ' Root memory region: root\n' +
          '  0000000000010000-000000000001ffff (prio 0, ram): ram0\n' +
          '\n',
      );
    }
    owner.unref();
    t.true(mr.finalized);
    t.true(block.freed);
    t.false(mapped(address));
    t.false(fdOpen(fd));
    t.is(view.byteLength, 0);
    // Indexing a detached view reads nothing; methods throw.
    t.is(Reflect.get(view, 0x10) as unknown, undefined);
    t.throws(() => view.at(0x10), { instanceOf: TypeError });
    // The other mapping still sees the data: the memory was shared.
    t.is(peer.readU8(0x10), 1);
    peer.unmap();
  },
);

test.serial(
  'ownsFd: false leaves the descriptor to the caller; offsets map the middle of a file',
  (t) => {
    const fd = memfd(4 * SIZE);
    const owner = newOwner();
    const mr = memoryRegionInitRamFromFd(
      memoryRegionNew(),
      owner,
      'window',
      SIZE,
      RAM_SHARED,
      fd,
      2 * SIZE,
      {
        ownsFd: false,
      },
    );
    const peer = os().mapMemory(4 * SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    peer.writeU8(2 * SIZE + 7, 0x5a);
    t.is(memoryRegionGetRamPtr(mr, 7, 1)[0], 0x5a);
    // Through an alias with an offset too.
    const al = memoryRegionInitAlias(memoryRegionNew(), owner, 'al', mr, 4, 16);
    t.is(memoryRegionGetRamPtr(al, 3, 1)[0], 0x5a);
    owner.unref();
    t.true(fdOpen(fd));
    peer.unmap();
    os().close(fd);
  },
);

test.serial('RAM from an fd: QEMU’s errors, and the region is unparented', (t) => {
  const fds = fdCount();
  const owner = newOwner();
  const small = memfd(4096);
  t.throws(
    () => memoryRegionInitRamFromFd(memoryRegionNew(), owner, 'big', SIZE, RAM_SHARED, small, 0),
    {
      // QEMU 7.2's text without an offset, QEMU 8's with one.
      message: "backing store size 0x1000 does not match 'size' option 0x10000",
    },
  );
  t.throws(
    () =>
      memoryRegionInitRamFromFd(memoryRegionNew(), owner, 'odd', 4096, RAM_SHARED, small, 0x100),
    {
      message:
        "odd backing store size 0x1000 is too small for 'size' option 0x1000 plus 'offset' option 0x100",
    },
  );
  const empty = memfd();
  t.throws(
    () =>
      memoryRegionInitRamFromFd(memoryRegionNew(), owner, 'odd', 4096, RAM_SHARED, empty, 0x100),
    {
      message: 'offset 0x100 must be multiples of page size 0x1000',
    },
  );
  // Nothing was left behind in the owner, and the descriptors stay open.
  t.deepEqual([...owner.children()], []);
  t.true(fdOpen(small));
  t.true(fdOpen(empty));

  // A failing mmap, injected through the HostOs service.
  const real = os();
  class NoMemory extends HostOs {
    override mapMemory(): MappedMemory {
      throw new OsError(12, 'mmap');
    }
  }
  const ctx = new MachineContext().register(HOST_OS, new NoMemory());
  ctx.run(() => {
    t.throws(
      () =>
        memoryRegionInitRamFromFd(memoryRegionNew(), owner, 'nomem', 4096, RAM_SHARED, small, 0),
      {
        message: 'unable to map backing store for guest RAM: Cannot allocate memory',
      },
    );
    t.throws(() => memoryRegionInitRam(memoryRegionNew(), owner, 'anon', 4096), {
      message: "cannot set up guest memory 'anon': Cannot allocate memory",
    });
  });
  t.deepEqual([...owner.children()], []);
  owner.unref();
  real.close(small);
  real.close(empty);
  t.is(fdCount(), fds);
});

test.serial('read-only RAM: RAM_READONLY is a ROM, RAM_READONLY_FD a PROT_READ mapping', (t) => {
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x100000n);
  const fd = memfd(2 * SIZE);
  const peer = os().mapMemory(2 * SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  peer.writeU32(0, 0x11223344);
  peer.writeU32(SIZE, 0x55667788);
  const rom = memoryRegionInitRamFromFd(
    memoryRegionNew(),
    owner,
    'rom',
    SIZE,
    RAM_SHARED | RAM_READONLY,
    fd,
    0,
    {
      ownsFd: false,
    },
  );
  const rofd = memoryRegionInitRamFromFd(
    memoryRegionNew(),
    owner,
    'rofd',
    SIZE,
    RAM_SHARED | RAM_READONLY_FD,
    fd,
    SIZE,
    {
      ownsFd: false,
    },
  );
  t.is((rom.ramBlock as RamBlock).host.native.prot, PROT_READ);
  t.is((rofd.ramBlock as RamBlock).host.native.prot, PROT_READ);
  memoryRegionAddSubregion(root, 0n, rom);
  memoryRegionAddSubregion(root, BigInt(SIZE), rofd);
  {
    using as = scopedAddressSpace(root, 'ro');
    t.is(addressSpaceLdl(as, 0), 0x11223344);
    t.is(addressSpaceLdl(as, SIZE), 0x55667788);
    t.is(addressSpaceWrite(as, 0, new Uint8Array([9])), MEMTX_DECODE_ERROR);
    t.is(addressSpaceWrite(as, SIZE, new Uint8Array([9])), MEMTX_ACCESS_ERROR);
    t.is(peer.readU32(0), 0x11223344);
    t.is(peer.readU32(SIZE), 0x55667788);
    t.is(
      mtreeInfo({}, [as]),
      'address-space: ro\n' +
        '  0000000000000000-00000000000fffff (prio 0, i/o): root\n' +
        '    0000000000000000-000000000000ffff (prio 0, rom): rom\n' +
        '    0000000000010000-000000000001ffff (prio 0, ram): rofd\n' +
        '\n',
    );
    t.throws(() => memoryRegionGetRamPtr(rom), { code: 'EACCES' } as never);
  }
  owner.unref();
  peer.unmap();
  os().close(fd);
});

test.serial('RAM over an existing mapping: borrowed stays mapped, owned is unmapped', (t) => {
  const owner = newOwner();
  const borrowedMap = os().mapMemory(
    2 * SIZE,
    PROT_READ | PROT_WRITE,
    MAP_SHARED | 0x20 /* MAP_ANONYMOUS */,
  );
  const ownedMap = os().mapMemory(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | 0x20);
  const b = memoryRegionInitRamFromMapping(
    memoryRegionNew(),
    owner,
    'borrowed',
    SIZE,
    borrowedMap,
    { offset: SIZE },
  );
  const o = memoryRegionInitRamFromMapping(memoryRegionNew(), owner, 'owned', SIZE, ownedMap, {
    owned: true,
  });
  const root = containerRegion(owner, 'root', 0x100000n);
  memoryRegionAddSubregion(root, 0n, b);
  memoryRegionAddSubregion(root, BigInt(SIZE), o);
  const ov = memoryRegionGetRamPtr(o);
  {
    using as = scopedAddressSpace(root, 'm');
    addressSpaceStl(as, 8, 0xcafef00d);
    addressSpaceStl(as, SIZE + 8, 0x0badf00d);
    t.is(borrowedMap.readU32(SIZE + 8), 0xcafef00d);
    t.is(ownedMap.readU32(8), 0x0badf00d);
  }
  t.throws(
    () =>
      memoryRegionInitRamFromMapping(memoryRegionNew(), owner, 'x', SIZE + 1, ownedMap, {
        offset: 0,
      }),
    {
      instanceOf: RangeError,
    },
  );
  owner.unref();
  t.true(borrowedMap.isMapped);
  t.false(ownedMap.isMapped);
  t.is(ov.byteLength, 0);
  borrowedMap.unmap();
});

test.serial('anonymous RAM (memory_region_init_ram) reads back what was written', (t) => {
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x100000n);
  const ram = memoryRegionInitRam(memoryRegionNew(), owner, 'anon', 10000);
  // The region keeps its size; the block is rounded up to pages.
  t.is(ram.size, 10000n);
  t.is((ram.ramBlock as RamBlock).usedLength, 12288n);
  memoryRegionAddSubregion(root, 0x3000n, ram);
  {
    using as = scopedAddressSpace(root, 'a');
    const data = new Uint8Array(10000).map((_v, i) => i & 0xff);
    t.is(addressSpaceWrite(as, 0x3000, data), MEMTX_OK);
    const r = addressSpaceRead(as, 0x3000, 10000);
    t.deepEqual(r.data, data);
    t.is(r.result, MEMTX_OK);
  }
  const addr = (ram.ramBlock as RamBlock).host.address;
  t.true(mapped(addr));
  owner.unref();
  t.false(mapped(addr));
});
