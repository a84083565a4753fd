import test from 'ava';
import {
  MEMTX_DECODE_ERROR,
  MEMTX_OK,
  UINT64_MAX,
  addressSpaceLdl,
  addressSpaceLdlBe,
  addressSpaceLdq,
  addressSpaceRead,
  addressSpaceStl,
  addressSpaceWrite,
  memoryListenerRegister,
  memoryListenerUnregister,
  memoryRegionAddSubregion,
  memoryRegionAddSubregionOverlap,
  memoryRegionDelSubregion,
  memoryRegionEscapeName,
  memoryRegionInitAlias,
  memoryRegionInitIo,
  memoryRegionIsMapped,
  memoryRegionName,
  memoryRegionNew,
  memoryRegionSetAddress,
  memoryRegionSetAliasOffset,
  memoryRegionSetEnabled,
  memoryRegionSetSize,
  memoryRegionSize,
  memoryRegionTransaction,
  memoryRegionTransactionBegin,
  memoryRegionTransactionCommit,
  memoryRegionTransactionDepth,
  mtreeInfo,
  withTransaction,
  type MemoryListener,
  type MemoryRegion,
  type MemoryRegionSection,
} from '../../src/system/index.js';
import {
  objectGetObjectsRoot,
  objectNew,
  objectResolvePath,
  typeGetInfo,
  typeRegister,
} from '../../src/qom/index.js';
import {
  containerRegion,
  letterRegion,
  letters,
  newOwner,
  newOwnerAt,
  scopedAddressSpace,
} from '../helpers/system/regions.js';

function docLayout(bHasIo: boolean): { a: MemoryRegion; dispose(): void } {
  const owner = newOwner();
  const a = containerRegion(owner, 'A', 0x8000n);
  const b = bHasIo ? letterRegion(owner, 'B', 0x4000n) : containerRegion(owner, 'B', 0x4000n);
  const c = letterRegion(owner, 'C', 0x6000n);
  memoryRegionAddSubregion(b, 0n, letterRegion(owner, 'D', 0x1000n));
  memoryRegionAddSubregion(b, 0x2000n, letterRegion(owner, 'E', 0x1000n));
  memoryRegionAddSubregionOverlap(a, 0x2000n, b, 2);
  memoryRegionAddSubregionOverlap(a, 0n, c, 1);
  return { a, dispose: () => owner.unref() };
}

/** One letter per 0x1000 page, sampled at the page's first byte. */
function pages(as: Parameters<typeof addressSpaceRead>[0], count: number): string {
  let s = '';
  for (let i = 0; i < count; i++) s += letters(addressSpaceRead(as, i * 0x1000, 1).data);
  return s;
}

test('memory.rst example: a pure container B shows C through its holes', (t) => {
  const l = docLayout(false);
  {
    using as = scopedAddressSpace(l.a, 'doc');
    t.is(pages(as, 8), 'CCDCEC..');
    t.is(
      mtreeInfo({ flatview: true }, [as]),
      'FlatView #0\n' +
        ' AS "doc", root: A\n' +
        ' Root memory region: A\n' +
        '  0000000000000000-0000000000001fff (prio 1, i/o): C\n' +
        '  0000000000002000-0000000000002fff (prio 0, i/o): D\n' +
        '  0000000000003000-0000000000003fff (prio 1, i/o): C @0000000000003000\n' +
        '  0000000000004000-0000000000004fff (prio 0, i/o): E\n' +
        '  0000000000005000-0000000000005fff (prio 1, i/o): C @0000000000005000\n' +
        '\n',
    );
    const r = addressSpaceRead(as, 0x7000, 4);
    t.is(r.result, MEMTX_DECODE_ERROR);
    t.deepEqual([...r.data], [0, 0, 0, 0]);
  }
  l.dispose();
});

test('memory.rst example: B with its own MMIO answers in its holes', (t) => {
  const l = docLayout(true);
  {
    using as = scopedAddressSpace(l.a, 'doc');
    t.is(pages(as, 8), 'CCDBEB..');
    const r = addressSpaceRead(as, 0x1ffe, 4);
    t.is(letters(r.data), 'CCDD');
    t.is(r.result, MEMTX_OK);
  }
  l.dispose();
});

test('equal priority: the most recently added wins; set_address re-adds', (t) => {
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x10000n);
  const x = letterRegion(owner, 'X', 0x2000n);
  const y = letterRegion(owner, 'Y', 0x2000n);
  memoryRegionAddSubregionOverlap(root, 0n, x, 0);
  memoryRegionAddSubregionOverlap(root, 0x1000n, y, 0);
  {
    using as = scopedAddressSpace(root, 't');
    t.is(pages(as, 4), 'XYY.');
    // Moving X re-adds it: now X is the most recent of the priority-0 regions.
    memoryRegionSetAddress(x, 0x800n);
    t.is(letters(addressSpaceRead(as, 0x800, 1).data), 'X');
    t.is(letters(addressSpaceRead(as, 0x2000, 1).data), 'X');
    t.is(letters(addressSpaceRead(as, 0x2800, 1).data), 'Y');
    t.is(letters(addressSpaceRead(as, 0x3000, 1).data), '.');
    t.is(x.addr, 0x800n);
    t.is(x.propertyGet('addr'), 0x800);
  }
  owner.unref();
});

test('aliases: offsets, partial windows, set_alias_offset, mapped-via-alias', (t) => {
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x100000n);
  const dev = containerRegion(owner, 'dev', 0x4000n);
  memoryRegionAddSubregion(dev, 0n, letterRegion(owner, 'P', 0x1000n));
  memoryRegionAddSubregion(dev, 0x1000n, letterRegion(owner, 'Q', 0x1000n));
  memoryRegionAddSubregion(dev, 0x2000n, letterRegion(owner, 'R', 0x1000n));
  const win = memoryRegionInitAlias(memoryRegionNew(), owner, 'win', dev, 0x1000n, 0x1800n);
  t.false(memoryRegionIsMapped(dev));
  memoryRegionAddSubregion(root, 0x10000n, win);
  t.true(memoryRegionIsMapped(dev));
  {
    using as = scopedAddressSpace(root, 't');
    t.is(letters(addressSpaceRead(as, 0x10000, 1).data), 'Q');
    t.is(letters(addressSpaceRead(as, 0x11000, 1).data), 'R');
    t.is(letters(addressSpaceRead(as, 0x117ff, 2).data), 'R.');
    memoryRegionSetAliasOffset(win, 0n);
    t.is(letters(addressSpaceRead(as, 0x10000, 1).data), 'P');
    t.is(letters(addressSpaceRead(as, 0x11000, 1).data), 'Q');
    // An alias larger than what is left of its target is clipped.
    memoryRegionSetAliasOffset(win, 0x3000n);
    t.is(letters(addressSpaceRead(as, 0x10000, 0x1800).data.subarray(0, 1)), '.');
    t.is(
      mtreeInfo({}, [as]),
      'address-space: t\n' +
        '  0000000000000000-00000000000fffff (prio 0, i/o): root\n' +
        '    0000000000010000-00000000000117ff (prio 0, i/o): alias win @dev 0000000000003000-00000000000047ff\n' +
        '\n' +
        'memory-region: dev\n' +
        '  0000000000000000-0000000000003fff (prio 0, i/o): dev\n' +
        '    0000000000000000-0000000000000fff (prio 0, i/o): P\n' +
        '    0000000000001000-0000000000001fff (prio 0, i/o): Q\n' +
        '    0000000000002000-0000000000002fff (prio 0, i/o): R\n' +
        '\n',
    );
    memoryRegionDelSubregion(root, win);
    t.false(memoryRegionIsMapped(dev));
    t.is(addressSpaceRead(as, 0x10000, 1).result, MEMTX_DECODE_ERROR);
  }
  owner.unref();
});

test('disabled regions, set_enabled, set_size and del_subregion', (t) => {
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x10000n);
  const hi = letterRegion(owner, 'H', 0x1000n);
  const lo = letterRegion(owner, 'L', 0x4000n);
  memoryRegionAddSubregionOverlap(root, 0n, hi, 1);
  memoryRegionAddSubregionOverlap(root, 0n, lo, 0);
  {
    using as = scopedAddressSpace(root, 't');
    t.is(pages(as, 5), 'HLLL.');
    memoryRegionSetEnabled(hi, false);
    t.is(pages(as, 5), 'LLLL.');
    t.is(
      mtreeInfo({}, [as]),
      'address-space: t\n' +
        '  0000000000000000-000000000000ffff (prio 0, i/o): root\n' +
        '    0000000000000000-0000000000003fff (prio 0, i/o): L\n' +
        '\n',
    );
    t.is(
      mtreeInfo({ disabled: true }, [as]),
      'address-space: t\n' +
        '  0000000000000000-000000000000ffff (prio 0, i/o): root\n' +
        '    0000000000000000-0000000000000fff (prio 1, i/o): H [disabled]\n' +
        '    0000000000000000-0000000000003fff (prio 0, i/o): L\n' +
        '\n',
    );
    memoryRegionSetEnabled(hi, true);
    memoryRegionSetSize(hi, 0x2000n);
    t.is(pages(as, 5), 'HHLL.');
    t.is(hi.propertyGet('size'), 0x2000);
    memoryRegionSetSize(lo, UINT64_MAX);
    t.is(memoryRegionSize(lo), UINT64_MAX);
    t.is(lo.size, 1n << 64n);
    t.is(pages(as, 17), 'HHLLLLLLLLLLLLLL.');
    memoryRegionDelSubregion(root, hi);
    t.is(pages(as, 2), 'LL');
    t.is(hi.container, null);
    t.throws(() => memoryRegionDelSubregion(root, hi), {
      message: "memory region 'H' is not a subregion of 'root'",
    });
    t.throws(() => memoryRegionAddSubregion(root, 0n, lo), {
      message: "memory region 'L' is already mapped in 'root'",
    });
  }
  owner.unref();
});

/** A listener recording its calls as short strings. */
function recorder(log: string[], name = ''): MemoryListener {
  const fmt = (s: MemoryRegionSection): string =>
    `${memoryRegionName(s.mr)}@${s.offsetWithinAddressSpace.toString(16)}+${s.size.toString(16)}`;
  return {
    name,
    begin: () => log.push(`${name}begin`),
    commit: () => log.push(`${name}commit`),
    regionAdd: (s) => log.push(`${name}add ${fmt(s)}`),
    regionDel: (s) => log.push(`${name}del ${fmt(s)}`),
    regionNop: (s) => log.push(`${name}nop ${fmt(s)}`),
  };
}

test('transactions: listeners run once, at the outermost commit, with the diff', (t) => {
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x100000n);
  const a = letterRegion(owner, 'a', 0x1000n);
  memoryRegionAddSubregion(root, 0n, a);
  const log: string[] = [];
  using as = scopedAddressSpace(root, 't');
  const l = recorder(log);
  memoryListenerRegister(l, as);
  t.deepEqual(log, ['begin', 'add a@0+1000', 'commit']);
  log.length = 0;

  memoryRegionTransactionBegin();
  memoryRegionTransactionBegin();
  const b = letterRegion(owner, 'b', 0x1000n);
  memoryRegionAddSubregion(root, 0x2000n, b);
  memoryRegionSetAddress(a, 0x4000n);
  memoryRegionTransactionCommit();
  t.deepEqual(log, []);
  t.is(memoryRegionTransactionDepth(), 1);
  // Nothing visible changed yet for accesses either.
  t.is(letters(addressSpaceRead(as, 0, 1).data), 'a');
  memoryRegionTransactionCommit();
  t.is(memoryRegionTransactionDepth(), 0);
  t.deepEqual(log, ['begin', 'del a@0+1000', 'add b@2000+1000', 'add a@4000+1000', 'commit']);
  log.length = 0;

  // A change that leaves the view as it was: listeners see nops only.
  memoryRegionSetEnabled(b, false);
  memoryRegionSetEnabled(b, true);
  t.deepEqual(log, [
    'begin',
    'del b@2000+1000',
    'nop a@4000+1000',
    'commit',
    'begin',
    'add b@2000+1000',
    'nop a@4000+1000',
    'commit',
  ]);
  log.length = 0;

  // No change at all: no update.
  withTransaction(() => memoryRegionSetEnabled(b, true));
  t.deepEqual(log, []);

  memoryListenerUnregister(l);
  t.deepEqual(log, ['begin', 'del b@2000+1000', 'del a@4000+1000', 'commit']);
  t.throws(() => memoryRegionTransactionCommit(), {
    message: 'memory_region_transaction_commit without memory_region_transaction_begin',
  });
  owner.unref();
});

test('a `using` transaction commits when its scope throws; withTransaction too', (t) => {
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x100000n);
  const log: string[] = [];
  using as = scopedAddressSpace(root, 't');
  const l = recorder(log);
  memoryListenerRegister(l, as);
  log.length = 0;
  const boom = (): void => {
    using _t = memoryRegionTransaction();
    memoryRegionAddSubregion(root, 0n, letterRegion(owner, 'x', 0x1000n));
    memoryRegionAddSubregion(root, 0x1000n, letterRegion(owner, 'y', 0x1000n));
    t.deepEqual(log, []);
    throw new Error('boom');
  };
  t.throws(boom, { message: 'boom' });
  t.is(memoryRegionTransactionDepth(), 0);
  t.deepEqual(log, ['begin', 'add x@0+1000', 'add y@1000+1000', 'commit']);
  log.length = 0;
  t.throws(
    () =>
      withTransaction(() => {
        memoryRegionAddSubregion(root, 0x8000n, letterRegion(owner, 'z', 0x1000n));
        throw new Error('bang');
      }),
    { message: 'bang' },
  );
  t.is(memoryRegionTransactionDepth(), 0);
  t.deepEqual(log, ['begin', 'nop x@0+1000', 'nop y@1000+1000', 'add z@8000+1000', 'commit']);
  memoryListenerUnregister(l);
  owner.unref();
});

test('listeners on other address spaces see begin/commit only; priorities order calls', (t) => {
  const owner = newOwner();
  const r1 = containerRegion(owner, 'r1', 0x10000n);
  const r2 = containerRegion(owner, 'r2', 0x10000n);
  using as1 = scopedAddressSpace(r1, 'one');
  using as2 = scopedAddressSpace(r2, 'two');
  const log: string[] = [];
  const hi: MemoryListener = { ...recorder(log, 'hi:'), priority: 10 };
  const lo: MemoryListener = { ...recorder(log, 'lo:'), priority: -10 };
  const other = recorder(log, 'other:');
  memoryListenerRegister(hi, as1);
  memoryListenerRegister(lo, as1);
  memoryListenerRegister(other, as2);
  log.length = 0;
  memoryRegionAddSubregion(r1, 0n, letterRegion(owner, 'q', 0x100n));
  t.deepEqual(log, [
    'lo:begin',
    'other:begin',
    'hi:begin',
    'lo:add q@0+100',
    'hi:add q@0+100',
    'lo:commit',
    'other:commit',
    'hi:commit',
  ]);
  log.length = 0;
  memoryRegionDelSubregion(r1, r1.subregions.at(0)!);
  // region_del runs in reverse order.
  t.deepEqual(
    log.filter((s) => s.includes('del')),
    ['hi:del q@0+100', 'lo:del q@0+100'],
  );
  for (const l of [hi, lo, other]) memoryListenerUnregister(l);
  owner.unref();
});

test('QOM: regions are children <escaped name>[N] of their owner with addr/size/priority/container', (t) => {
  const objects = objectGetObjectsRoot();
  const owner = newOwnerAt(objects, 'mrtest-owner');
  const root = containerRegion(owner, 'root', 0x10000n);
  const a = letterRegion(owner, 'dev', 0x100n);
  const b = letterRegion(owner, 'dev', 0x100n);
  const odd = containerRegion(owner, 'a/b[c]\\d', 0x100n);
  t.is(memoryRegionEscapeName('a/b[c]\\d'), 'a\\x2fb\\x5bc\\x5d\\x5cd');
  t.is(a.canonicalPath(), '/objects/mrtest-owner/dev[0]');
  t.is(b.canonicalPath(), '/objects/mrtest-owner/dev[1]');
  t.is(odd.canonicalPath(), '/objects/mrtest-owner/a\\x2fb\\x5bc\\x5d\\x5cd[0]');
  t.is(memoryRegionName(odd), 'a/b[c]\\d');
  t.is(a.refcount, 1);
  memoryRegionAddSubregionOverlap(root, 0x40n, a, -7);
  t.is(a.propertyGetType('addr'), 'uint64');
  t.is(a.propertyGetType('size'), 'uint64');
  t.is(a.propertyGetType('priority'), 'uint32');
  t.is(a.propertyGetType('container'), 'link<memory-region>');
  t.is(a.propertyGet('addr'), 0x40);
  t.is(a.propertyGet('size'), 0x100);
  t.is(a.propertyGet('priority'), -7);
  t.is(a.propertyGet('container'), '/objects/mrtest-owner/root[0]');
  t.is(b.propertyGet('container'), '');
  t.is(a.propertyGet('type'), 'memory-region');
  t.is(objectResolvePath('/objects/mrtest-owner/dev[0]/container').obj, root);
  t.throws(() => a.propertySet('addr', 5), {
    message: "Property 'memory-region.addr' is not writable",
  });
  // A 2^64 region reports UINT64_MAX as its size.
  const big = containerRegion(owner, 'big', UINT64_MAX);
  t.is(big.propertyGet('size'), UINT64_MAX);
  // No owner: /machine/unattached.
  const orphan = containerRegion(null, 'mrtest-orphan', 0x10n);
  t.is(orphan.canonicalPath(), '/machine/unattached/mrtest-orphan[0]');
  orphan.unparent();
  t.true(orphan.finalized);
  // No name: not in the tree; the caller holds the reference and the name is "(null)".
  const anon = memoryRegionInitIo(memoryRegionNew(), owner, null, null, 0x10n);
  t.is(anon.parent, null);
  t.is(memoryRegionName(anon), '(null)');
  anon.unref();
  owner.unparent();
  t.true(a.finalized);
  t.true(root.finalized);
});

test('finalizing an owner unmaps its regions from other owners’ containers', (t) => {
  const sysOwner = newOwner();
  const root = containerRegion(sysOwner, 'root', 0x10000n);
  const devOwner = newOwner();
  const dev = letterRegion(devOwner, 'D', 0x1000n);
  memoryRegionAddSubregion(root, 0x1000n, dev);
  // The container keeps the device's owner alive (memory_region_ref).
  t.is(devOwner.refcount, 2);
  using as = scopedAddressSpace(root, 't');
  const log: string[] = [];
  const l = recorder(log);
  memoryListenerRegister(l, as);
  log.length = 0;
  memoryRegionDelSubregion(root, dev);
  t.is(devOwner.refcount, 1);
  t.deepEqual(log, ['begin', 'del D@1000+1000', 'commit']);
  // Mapped again and finalized through its own owner's container relation.
  const sub = letterRegion(sysOwner, 'S', 0x1000n);
  memoryRegionAddSubregion(root, 0x2000n, sub);
  log.length = 0;
  sub.unparent();
  t.true(sub.finalized);
  t.is(root.subregions.length, 0);
  t.deepEqual(log, ['begin', 'del S@2000+1000', 'commit']);
  memoryListenerUnregister(l);
  devOwner.unref();
  t.true(dev.finalized);
  sysOwner.unref();
});

test('I/O dispatch: access splitting, big-endian devices, valid sizes, unassigned', (t) => {
  const owner = newOwner();
  const root = containerRegion(owner, 'root', 0x10000n);
  const calls: string[] = [];
  const bytewise = memoryRegionInitIo(
    memoryRegionNew(),
    owner,
    {
      read: (addr, size) => {
        calls.push(`r${addr}/${size}`);
        return 0x10n + addr;
      },
      write: (addr, value, size) => {
        calls.push(`w${addr}/${size}=${value.toString(16)}`);
      },
      impl: { maxAccessSize: 1 },
    },
    'bytewise',
    0x100n,
  );
  const be = memoryRegionInitIo(
    memoryRegionNew(),
    owner,
    { read: () => 0x11223344n, endianness: 'big', impl: { minAccessSize: 4, maxAccessSize: 4 } },
    'be',
    0x100n,
  );
  const strict = memoryRegionInitIo(
    memoryRegionNew(),
    owner,
    { read: () => 0xabn, valid: { minAccessSize: 2, maxAccessSize: 2 } },
    'strict',
    0x100n,
  );
  memoryRegionAddSubregion(root, 0n, bytewise);
  memoryRegionAddSubregion(root, 0x100n, be);
  memoryRegionAddSubregion(root, 0x200n, strict);
  using as = scopedAddressSpace(root, 't');
  // A 4-byte little-endian load assembled from four 1-byte callbacks.
  t.is(addressSpaceLdl(as, 4), 0x17161514);
  t.deepEqual(calls, ['r4/1', 'r5/1', 'r6/1', 'r7/1']);
  calls.length = 0;
  addressSpaceStl(as, 8, 0xa1b2c3d4);
  t.deepEqual(calls, ['w8/1=d4', 'w9/1=c3', 'w10/1=b2', 'w11/1=a1']);
  // A big-endian device: host-order reads see swapped bytes, _be loads do not.
  t.is(addressSpaceLdl(as, 0x100), 0x44332211);
  t.is(addressSpaceLdlBe(as, 0x100), 0x11223344);
  // valid sizes: 4-byte loads are refused by a 2-byte-only device.
  const out: { result?: number } = {};
  t.is(addressSpaceLdl(as, 0x200, out), 0);
  t.is(out.result, MEMTX_DECODE_ERROR);
  // address_space_read picks the access size the device allows (valid max 2).
  const r = addressSpaceRead(as, 0x200, 4);
  t.deepEqual([...r.data], [0xab, 0, 0xab, 0]);
  t.is(r.result, MEMTX_OK);
  // Holes: zeros and a decode error; writes are dropped.
  t.is(addressSpaceLdq(as, 0x8000, out), 0n);
  t.is(out.result, MEMTX_DECODE_ERROR);
  t.is(addressSpaceWrite(as, 0x8000, new Uint8Array([1, 2, 3])), MEMTX_DECODE_ERROR);
  owner.unref();
});

test('info mtree -o: owner, parent, orphan, type-only and device annotations', (t) => {
  // A stand-in for qdev's abstract `device` type if nothing registered it.
  if (!typeGetInfo('device')) typeRegister({ name: 'device', parent: 'object', abstract: true });
  if (!typeGetInfo('mtree-test-dev')) typeRegister({ name: 'mtree-test-dev', parent: 'device' });
  const objects = objectGetObjectsRoot();
  const owner = newOwnerAt(objects, 'mtree-o');
  const root = containerRegion(owner, 'root', 0x10000n);
  const detached = newOwner();
  const dev = objectNew('mtree-test-dev');
  (dev as unknown as { id: string }).id = 'mydev';
  const devPathOnly = objectNew('mtree-test-dev');
  objects.propertyAddChild('mtree-devp', devPathOnly);
  devPathOnly.unref();
  memoryRegionAddSubregion(root, 0x0n, letterRegion(owner, 'own', 0x10n));
  memoryRegionAddSubregion(root, 0x10n, letterRegion(null, 'unattached', 0x10n));
  const anon = memoryRegionInitIo(memoryRegionNew(), null, null, null, 0x10n);
  memoryRegionAddSubregion(root, 0x20n, anon);
  memoryRegionAddSubregion(root, 0x30n, letterRegion(detached, 'det', 0x10n));
  memoryRegionAddSubregion(root, 0x40n, letterRegion(dev, 'devmr', 0x10n));
  memoryRegionAddSubregion(root, 0x50n, letterRegion(devPathOnly, 'devp', 0x10n));
  {
    using as = scopedAddressSpace(root, 'o');
    t.is(
      mtreeInfo({ owner: true }, [as]),
      'address-space: o\n' +
        '  0000000000000000-000000000000ffff (prio 0, i/o): root owner:{obj path=/objects/mtree-o}\n' +
        '    0000000000000000-000000000000000f (prio 0, i/o): own owner:{obj path=/objects/mtree-o}\n' +
        '    0000000000000010-000000000000001f (prio 0, i/o): unattached parent:{obj path=/machine/unattached}\n' +
        '    0000000000000020-000000000000002f (prio 0, i/o): (null) orphan\n' +
        '    0000000000000030-000000000000003f (prio 0, i/o): det owner:{obj type=container}\n' +
        '    0000000000000040-000000000000004f (prio 0, i/o): devmr owner:{dev id=mydev}\n' +
        '    0000000000000050-000000000000005f (prio 0, i/o): devp owner:{dev path=/objects/mtree-devp}\n' +
        '\n',
    );
  }
  for (const mr of [...root.subregions]) memoryRegionDelSubregion(root, mr);
  anon.unref();
  const unattached = objectResolvePath('/machine/unattached/unattached[0]').obj;
  t.truthy(unattached);
  unattached!.unparent();
  detached.unref();
  dev.unref();
  devPathOnly.unparent();
  owner.unparent();
  t.true(root.finalized);
});
