/**
 * The incremental flat view against a full render: 100,000 random changes
 * (add, delete, priority, alias offset, move, resize, enable, readonly,
 * unmergeable, some batched in one transaction) on real memory regions in
 * an address space; after every commit the view in use must equal
 * generateMemoryTopology of the same tree, range for range, and two
 * listeners (one told only about changes, one with regionNop as QEMU's)
 * must have followed it exactly.
 */
import test from 'ava';
import {
  type FlatRange,
  type MemoryListener,
  type MemoryRegion,
  type MemoryRegionSection,
  addressSpaceInit,
  addressSpaceDestroy,
  generateMemoryTopology,
  memoryListenerRegister,
  memoryListenerUnregister,
  memoryRegionAddSubregionOverlap,
  memoryRegionDelSubregion,
  memoryRegionGetFlatviewRoot,
  memoryRegionInit,
  memoryRegionInitAlias,
  memoryRegionInitIo,
  memoryRegionNew,
  memoryRegionSetAddress,
  memoryRegionSetAliasOffset,
  memoryRegionSetEnabled,
  memoryRegionSetReadonly,
  memoryRegionSetSize,
  memoryRegionSetUnmergeable,
  memoryRegionTransactionBegin,
  memoryRegionTransactionCommit,
} from '../../src/system/index.js';
import { newOwner } from '../helpers/system/regions.js';

const STEPS = 100_000;

function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function key(r: {
  mr: MemoryRegion;
  start: bigint;
  size: bigint;
  offset: bigint;
  readonly: boolean;
  unmergeable: boolean;
}): string {
  return `${r.start}+${r.size}:${r.mr.name}@${r.offset}${r.readonly ? 'r' : ''}${r.unmergeable ? 'u' : ''}`;
}

function rangeKey(r: FlatRange<MemoryRegion>): string {
  return key({ ...r, offset: r.offsetInRegion });
}

function sectionKey(s: MemoryRegionSection): string {
  return key({ ...s, start: s.offsetWithinAddressSpace, offset: s.offsetWithinRegion });
}

function sameRange(a: FlatRange<MemoryRegion>, b: FlatRange<MemoryRegion>): boolean {
  return (
    a.mr === b.mr &&
    a.start === b.start &&
    a.size === b.size &&
    a.offsetInRegion === b.offsetInRegion &&
    a.readonly === b.readonly &&
    a.nonvolatile === b.nonvolatile &&
    a.unmergeable === b.unmergeable &&
    a.romdMode === b.romdMode &&
    a.dirtyLogMask === b.dirtyLogMask
  );
}

test('the incremental flat view equals a full render after each of 100,000 random changes', (t) => {
  const rand = prng(20240614);
  const owner = newOwner();
  const named = (mr: MemoryRegion, name: string): MemoryRegion => {
    mr.name = name;
    return mr;
  };
  const root = named(memoryRegionInit(memoryRegionNew(), null, null, 0x40000n), 'root');
  // Containers nest only into lower-numbered ones (no cycles); aliases go
  // only into the root, so no alias ever renders itself.
  const containers = [0, 1, 2].map((i) =>
    named(memoryRegionInit(memoryRegionNew(), null, null, BigInt(0x4000 << i)), `c${i}`),
  );
  const leaves = Array.from({ length: 40 }, (_, i) =>
    named(
      memoryRegionInitIo(memoryRegionNew(), null, null, null, BigInt(0x400 * (1 + (i % 6)))),
      `l${i}`,
    ),
  );
  const targets = [...containers, ...leaves.slice(0, 6)];
  const aliases = Array.from({ length: 8 }, (_, i) =>
    named(
      memoryRegionInitAlias(
        memoryRegionNew(),
        null,
        null,
        targets[i % targets.length],
        BigInt(0x400 * (i % 3)),
        BigInt(0x800 * (1 + (i % 4))),
      ),
      `a${i}`,
    ),
  );
  const all = [...containers, ...leaves, ...aliases];
  const as = addressSpaceInit(root, 'incremental');

  // Told only about changes: keeps the map by address.
  const model = new Map<bigint, string>();
  let listenerError = '';
  const changes: MemoryListener = {
    regionAdd: (s) => {
      if (model.has(s.offsetWithinAddressSpace)) listenerError ||= `add over ${sectionKey(s)}`;
      model.set(s.offsetWithinAddressSpace, sectionKey(s));
    },
    regionDel: (s) => {
      if (model.get(s.offsetWithinAddressSpace) !== sectionKey(s)) {
        listenerError ||= `del of unknown ${sectionKey(s)}`;
      }
      model.delete(s.offsetWithinAddressSpace);
    },
  };
  // QEMU's listener shape: add + nop must list the whole new view, in order.
  let walk: string[] = [];
  let walked = 0;
  const full: MemoryListener = {
    begin: () => {
      walk = [];
    },
    regionAdd: (s) => walk.push(sectionKey(s)),
    regionNop: (s) => walk.push(sectionKey(s)),
    commit: () => {
      walked++;
      const want = as.currentMap.ranges.map(rangeKey);
      if (walk.join() !== want.join()) listenerError ||= `add/nop walk differs at ${walked}`;
    },
  };
  memoryListenerRegister(changes, as);
  memoryListenerRegister(full, as);

  const parentOk = (r: MemoryRegion, c: MemoryRegion): boolean => {
    if (r.alias) return c === root;
    const ri = containers.indexOf(r);
    const ci = containers.indexOf(c);
    return ri < 0 ? true : c === root || (ci >= 0 && ci < ri);
  };
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)];
  const mapped = (): MemoryRegion[] => all.filter((r) => r.container);

  let ops: string[] = [];
  const nm = (r: MemoryRegion): string => r.name ?? '?';
  const change = (): void => {
    const op = rand(100);
    ops.push(String(op));
    if (op < 40) {
      const free = all.filter((r) => !r.container);
      if (!free.length) return;
      const r = pick(free);
      const cs = [root, ...containers].filter((c) => parentOk(r, c));
      const c = pick(cs);
      const span = Number(c.size / 0x400n);
      const at = BigInt(0x400 * rand(span));
      const prio = rand(5) - 2;
      ops.push(`add ${nm(r)} to ${nm(c)} at ${at.toString(16)} prio ${prio}`);
      memoryRegionAddSubregionOverlap(c, at, r, prio);
    } else if (op < 70) {
      const m = mapped();
      if (m.length) {
        const r = pick(m);
        ops.push(`del ${nm(r)}`);
        memoryRegionDelSubregion(r.container!, r);
      }
    } else if (op < 78) {
      // A new priority: out and in again, in one transaction.
      const m = mapped();
      if (!m.length) return;
      const r = pick(m);
      const c = r.container!;
      const addr = r.addr;
      ops.push(`reprio ${nm(r)}`);
      memoryRegionTransactionBegin();
      try {
        memoryRegionDelSubregion(c, r);
        memoryRegionAddSubregionOverlap(c, addr, r, rand(5) - 2);
      } finally {
        memoryRegionTransactionCommit();
      }
    } else if (op < 86) {
      const a = pick(aliases);
      ops.push(`alias offset ${nm(a)}`);
      memoryRegionSetAliasOffset(a, BigInt(0x400 * rand(8)));
    } else if (op < 89) {
      const m = mapped();
      if (m.length) {
        const r = pick(m);
        ops.push(`move ${nm(r)}`);
        memoryRegionSetAddress(r, BigInt(0x400 * rand(Number(r.container!.size / 0x400n))));
      }
    } else if (op < 92) {
      const r = pick([...leaves, ...aliases]);
      ops.push(`size ${nm(r)}`);
      memoryRegionSetSize(r, BigInt(0x400 * (1 + rand(8))));
    } else if (op < 95) {
      const r = pick(all);
      ops.push(`enable ${nm(r)} ${!r.enabled}`);
      memoryRegionSetEnabled(r, !r.enabled);
    } else if (op < 97) {
      const r = pick(all);
      ops.push(`readonly ${nm(r)}`);
      memoryRegionSetReadonly(r, !r.readonly);
    } else {
      const r = pick(all);
      ops.push(`unmergeable ${nm(r)}`);
      memoryRegionSetUnmergeable(r, !r.unmergeable);
    }
  };

  let failures = 0;
  let compared = 0;
  for (let step = 0; step < STEPS;) {
    // Mostly one change per commit, sometimes several in one transaction.
    const batch = rand(10) === 0 ? 2 + rand(6) : 1;
    ops = [];
    memoryRegionTransactionBegin();
    try {
      for (let k = 0; k < batch && step < STEPS; k++, step++) change();
    } finally {
      memoryRegionTransactionCommit();
    }
    const want = generateMemoryTopology(memoryRegionGetFlatviewRoot(root));
    const got = as.currentMap;
    compared++;
    const ok =
      got.nr === want.ranges.length &&
      got.ranges.length === want.ranges.length &&
      got.ranges.every((r, i) => sameRange(r, want.ranges[i])) &&
      model.size === got.nr;
    if (!ok && failures++ < 3) {
      t.fail(
        `step ${step} (${ops.join(', ')}): incremental ${got.ranges.map(rangeKey).join(' ')} ` +
          `full ${want.ranges.map(rangeKey).join(' ')}`,
      );
    }
    if (compared % 97 === 0) {
      const m = [...model.values()].sort().join();
      const v = got.ranges.map(rangeKey).sort().join();
      if (m !== v && failures++ < 3) t.fail(`step ${step}: listener model differs from the view`);
    }
  }
  t.is(listenerError, '');
  t.is(failures, 0);
  t.true(compared > STEPS / 2);
  t.log(`${compared} commits compared, ${walked} walked by the listeners`);
  t.true(walked > STEPS / 4);

  memoryListenerUnregister(changes);
  memoryListenerUnregister(full);
  t.is(model.size, 0);
  addressSpaceDestroy(as);
  for (const r of [...aliases, ...leaves, ...containers]) {
    if (r.container) memoryRegionDelSubregion(r.container, r);
  }
  for (const r of [...aliases, ...leaves, ...containers, root]) r.unref();
  owner.unref();
});
