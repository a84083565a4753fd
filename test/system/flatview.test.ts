import test from 'ava';
import {
  INT128_2_64,
  flatviewDiff,
  flatviewLookup,
  flatviewNextRange,
  generateMemoryTopology,
  memoryRegionGetFlatviewRoot,
  type FlatView,
  type RenderableRegion,
} from '../../src/system/flatview.js';
import { mtreeFormat, type MtreeNaming, type PrintableRegion } from '../../src/system/mtree.js';

/** A plain-object region, enough for the pure algorithms. */
interface R extends PrintableRegion<R> {
  name: string;
  enabled: boolean;
  addr: bigint;
  size: bigint;
  priority: number;
  alias: R | null;
  aliasOffset: bigint;
  subregions: R[];
  terminates: boolean;
  readonly: boolean;
  nonvolatile: boolean;
  unmergeable: boolean;
  romdMode: boolean;
  dirtyLogMask: number;
  ram: boolean;
  ramDevice: boolean;
  romDevice: boolean;
}

function region(name: string, size: bigint, extra: Partial<R> = {}): R {
  return {
    name,
    enabled: true,
    addr: 0n,
    size,
    priority: 0,
    alias: null,
    aliasOffset: 0n,
    subregions: [],
    terminates: false,
    readonly: false,
    nonvolatile: false,
    unmergeable: false,
    romdMode: true,
    dirtyLogMask: 0,
    ram: false,
    ramDevice: false,
    romDevice: false,
    ...extra,
  };
}
const io = (name: string, size: bigint, extra: Partial<R> = {}): R =>
  region(name, size, { terminates: true, ...extra });
const ram = (name: string, size: bigint, extra: Partial<R> = {}): R =>
  region(name, size, { terminates: true, ram: true, ...extra });

/** Same insertion rule as memory_region_update_container_subregions. */
function add(parent: R, addr: bigint, sub: R, priority = 0): void {
  sub.addr = addr;
  sub.priority = priority;
  const at = parent.subregions.findIndex((o) => priority >= o.priority);
  if (at < 0) parent.subregions.push(sub);
  else parent.subregions.splice(at, 0, sub);
}

const naming: MtreeNaming<R> = { name: (mr) => mr.name, owner: () => ' orphan' };

function show(view: FlatView<R>): string[] {
  return view.ranges.map(
    (r) =>
      `${r.start.toString(16)}+${r.size.toString(16)}:${r.mr.name}@${r.offsetInRegion.toString(16)}`,
  );
}

function docExample(bHasIo: boolean): R {
  const a = region('A', 0x8000n);
  const b = bHasIo ? io('B', 0x4000n) : region('B', 0x4000n);
  const c = io('C', 0x6000n);
  add(b, 0n, io('D', 0x1000n));
  add(b, 0x2000n, io('E', 0x1000n));
  add(a, 0x2000n, b, 2);
  add(a, 0n, c, 1);
  return a;
}

test('memory.rst priority example: container B leaves holes for C', (t) => {
  const view = generateMemoryTopology(docExample(false));
  t.deepEqual(show(view), [
    '0+2000:C@0',
    '2000+1000:D@0',
    '3000+1000:C@3000',
    '4000+1000:E@0',
    '5000+1000:C@5000',
  ]);
});

test('memory.rst priority example: B with its own MMIO fills its holes', (t) => {
  const view = generateMemoryTopology(docExample(true));
  t.deepEqual(show(view), [
    '0+2000:C@0',
    '2000+1000:D@0',
    '3000+1000:B@1000',
    '4000+1000:E@0',
    '5000+1000:B@3000',
  ]);
});

test('equal priority: the most recently added wins; lower priority shows through', (t) => {
  const root = region('root', INT128_2_64);
  add(root, 0n, io('first', 0x1000n));
  add(root, 0x800n, io('second', 0x1000n));
  add(root, 0n, io('low', 0x4000n), -1);
  t.deepEqual(show(generateMemoryTopology(root)), [
    '0+800:first@0',
    '800+1000:second@0',
    '1800+2800:low@1800',
  ]);
});

test('aliases render their target window at the alias address, with merging', (t) => {
  const root = region('system', INT128_2_64);
  const backing = ram('ram', 0x10000n);
  const lo = region('lo', 0x4000n, { alias: backing, aliasOffset: 0n });
  const hi = region('hi', 0x4000n, { alias: backing, aliasOffset: 0x4000n });
  add(root, 0n, lo);
  add(root, 0x4000n, hi);
  // The two halves continue each other in the same region: merged.
  t.deepEqual(show(generateMemoryTopology(root)), ['0+8000:ram@0']);
  hi.aliasOffset = 0x8000n;
  t.deepEqual(show(generateMemoryTopology(root)), ['0+4000:ram@0', '4000+4000:ram@8000']);
  // An alias larger than what is left of its target is clipped to the target.
  const tail = region('tail', 0x8000n, { alias: backing, aliasOffset: 0xc000n });
  add(root, 0x100000n, tail);
  t.deepEqual(show(generateMemoryTopology(root)).slice(2), ['100000+4000:ram@c000']);
});

test('disabled regions hide their subtree; readonly and nonvolatile propagate', (t) => {
  const root = region('system', INT128_2_64);
  const box = region('box', 0x2000n, { readonly: true, nonvolatile: true });
  add(box, 0n, ram('r', 0x1000n));
  add(root, 0x1000n, box);
  const off = io('off', 0x1000n, { enabled: false });
  add(root, 0x8000n, off, 5);
  add(root, 0x8000n, io('under', 0x1000n));
  const view = generateMemoryTopology(root);
  t.deepEqual(show(view), ['1000+1000:r@0', '8000+1000:under@0']);
  t.true(view.ranges[0].readonly);
  t.true(view.ranges[0].nonvolatile);
  t.false(view.ranges[1].readonly);
});

test('2^64 sizes and ranges ending at ffffffffffffffff', (t) => {
  const root = io('all', INT128_2_64);
  add(root, 0xfffffffffffff000n, ram('top', 0x1000n));
  const view = generateMemoryTopology(root);
  t.deepEqual(show(view), ['0+fffffffffffff000:all@0', 'fffffffffffff000+1000:top@0']);
  t.is(flatviewLookup(view, 0xffffffffffffffffn)?.mr.name, 'top');
  t.is(flatviewLookup(view, 5n)?.mr.name, 'all');
  // A region sticking out of the 64-bit space is clipped.
  const root2 = region('system', INT128_2_64);
  add(root2, 0xfffffffffffff000n, ram('big', 0x2000n));
  t.deepEqual(show(generateMemoryTopology(root2)), ['fffffffffffff000+1000:big@0']);
});

test('unmergeable ranges stay separate', (t) => {
  const root = region('system', INT128_2_64);
  const backing = ram('ram', 0x2000n);
  const a1 = region('a1', 0x1000n, { alias: backing, unmergeable: true });
  const a2 = region('a2', 0x1000n, { alias: backing, aliasOffset: 0x1000n });
  add(root, 0n, a1);
  add(root, 0x1000n, a2);
  t.is(generateMemoryTopology(root).ranges.length, 2);
});

test('flat view roots skip lone full-size children and full aliases', (t) => {
  const system = region('system', INT128_2_64);
  t.is(memoryRegionGetFlatviewRoot(system), null);
  const m = ram('m', 0x1000000n);
  add(system, 0n, m);
  t.is(memoryRegionGetFlatviewRoot(system), m);
  const other = ram('o', 0x1000n);
  add(system, 0x2000000n, other);
  t.is(memoryRegionGetFlatviewRoot(system), system);
  const al = region('al', INT128_2_64, { alias: system });
  t.is(memoryRegionGetFlatviewRoot(al), system);
  al.aliasOffset = 1n;
  t.is(memoryRegionGetFlatviewRoot(al), al);
});

test('diff: removed, added and kept ranges in address order', (t) => {
  const root = region('system', INT128_2_64);
  const a = io('a', 0x1000n);
  const b = io('b', 0x1000n);
  add(root, 0n, a);
  add(root, 0x1000n, b);
  const v1 = generateMemoryTopology(root);
  b.addr = 0x3000n;
  const c = io('c', 0x1000n);
  add(root, 0x5000n, c);
  const v2 = generateMemoryTopology(root);
  const d = flatviewDiff(v1, v2);
  t.deepEqual(
    d.removed.map((r) => r.mr.name),
    ['b'],
  );
  t.deepEqual(
    d.added.map((r) => `${r.mr.name}@${r.start.toString(16)}`),
    ['b@3000', 'c@5000'],
  );
  t.deepEqual(
    d.kept.map(([o]) => o.mr.name),
    ['a'],
  );
  t.is(flatviewNextRange(v2, 0x1800n)?.mr.name, 'b');
  t.is(flatviewNextRange(v2, 0x6000n), undefined);
});

function mtreeOf(root: R, flatview = false, disabled = false): string {
  const view = generateMemoryTopology(memoryRegionGetFlatviewRoot(root));
  return mtreeFormat([{ name: 'memory', root, currentMap: view }], { flatview, disabled }, naming);
}

test('info mtree: aliases, sorting by address then priority, memory-region sections', (t) => {
  const system = region('system', INT128_2_64);
  const pcram = ram('pc.ram', 0x1000000n);
  const pci = region('pci', INT128_2_64);
  const bios = ram('pc.bios', 0x40000n, { readonly: true });
  add(pci, 0xfffc0000n, bios);
  add(pci, 0xe0000n, region('isa-bios', 0x20000n, { alias: bios, aliasOffset: 0x20000n }), 1);
  add(system, 0n, region('ram-below-4g', 0x1000000n, { alias: pcram }));
  add(system, 0n, pci, -1);
  add(system, 0xa0000n, region('smram-region', 0x20000n, { alias: pci, aliasOffset: 0xa0000n }), 1);
  add(system, 0xfee00000n, io('apic-msi', 0x100000n), 4096);
  const off = io('gone', 0x1000n);
  add(system, 0x10000000n, off);
  off.enabled = false;
  t.is(
    mtreeOf(system),
    'address-space: memory\n' +
      '  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n' +
      '    0000000000000000-0000000000ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000000ffffff\n' +
      '    0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n' +
      '      00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff\n' +
      '      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n' +
      '    00000000000a0000-00000000000bffff (prio 1, i/o): alias smram-region @pci 00000000000a0000-00000000000bffff\n' +
      '    00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n' +
      '\n' +
      'memory-region: pc.ram\n' +
      '  0000000000000000-0000000000ffffff (prio 0, ram): pc.ram\n' +
      '\n' +
      'memory-region: pc.bios\n' +
      // QEMU prints an alias target at its own address and priority.
      '  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n' +
      '\n' +
      'memory-region: pci\n' +
      '  0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n' +
      '    00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff\n' +
      '    00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n' +
      '\n',
  );
  t.true(
    mtreeOf(system, false, true).includes(
      '00000010000000-0000000010000fff (prio 0, i/o): gone [disabled]\n',
    ),
  );
  t.is(
    mtreeOf(system, true),
    'FlatView #0\n' +
      ' AS "memory", root: system\n' +
      ' Root memory region: system\n' +
      // smram-region aliases a hole of the pure container pci: pc.ram shows through.
      '  0000000000000000-0000000000ffffff (prio 0, ram): pc.ram\n' +
      '  00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n' +
      '  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n' +
      '\n',
  );
});

test('info mtree -f: empty views and overflow markers', (t) => {
  const system = region('system', INT128_2_64);
  t.is(
    mtreeOf(system, true),
    'FlatView #0\n AS "memory", root: system\n Root memory region: (none)\n  No rendered FlatView\n\n',
  );
  const c = region('c', 0x2000n);
  add(system, 0xfffffffffffff000n, c);
  t.true(
    mtreeOf(system).includes(
      '[DETECTED OVERFLOW!]     fffffffffffff000-0000000000000fff (prio 0, i/o): c\n',
    ),
  );
});

test('disabled containers still print their enabled children; alias targets queue even when hidden', (t) => {
  const system = region('system', INT128_2_64);
  const box = region('box', 0x1000n, { enabled: false });
  add(box, 0n, io('kid', 0x100n));
  add(system, 0x1000n, box);
  const target = io('target', 0x100n);
  add(system, 0x2000n, region('hidden', 0x100n, { alias: target, enabled: false }));
  t.is(
    mtreeOf(system),
    'address-space: memory\n' +
      '  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n' +
      '      0000000000001000-00000000000010ff (prio 0, i/o): kid\n' +
      '\n' +
      'memory-region: target\n' +
      '  0000000000000000-00000000000000ff (prio 0, i/o): target\n' +
      '\n',
  );
});

// Keep the structural type honest: R must satisfy RenderableRegion<R>.
const _check: RenderableRegion<R> = region('x', 1n);
void _check;
