/**
 * The text of HMP's `info mtree` and `info mtree -f`, byte for byte as QEMU
 * prints it (system/memory.c: `mtree_print_mr`, `mtree_print_flatview`,
 * `mtree_info_as`, `mtree_info_flatview`). Lines end in "\n"; the monitor
 * turns them into CRLF.
 *
 * One deliberate difference: QEMU walks GLib hash tables keyed by pointers,
 * so the order of address-space groups and of FlatView blocks changes from
 * run to run. Here groups and views come in the order their first address
 * space was created, which is stable.
 * @module
 */
import type { FlatView, RenderableRegion } from './flatview.js';

/** What the printer needs from a memory region, beyond what rendering needs. */
export interface PrintableRegion<M extends PrintableRegion<M>> extends RenderableRegion<M> {
  /** RAM-backed. */
  readonly ram: boolean;
  /** RAM device (mapped device memory, accessed as I/O). */
  readonly ramDevice: boolean;
  /** ROM device (reads from RAM in ROMD mode, writes go to callbacks). */
  readonly romDevice: boolean;
}

/** Naming hooks: they need the object model, which this module does not import. */
export interface MtreeNaming<M> {
  /** The region's name as memory_region_name() returns it. */
  name(mr: M): string;
  /** The `-o` annotation, with its leading space (" owner:{...}", " parent:{...}", " orphan"). */
  owner(mr: M): string;
}

/** What the printer needs from an address space. */
export interface MtreeAddressSpace<M> {
  /** The address space's name ("memory", "I/O", ...). */
  readonly name: string;
  /** Its root region. */
  readonly root: M;
  /** The flat view it currently uses; address spaces rendering the same root share one. */
  readonly currentMap: FlatView<M>;
}

/** The options of `info mtree`. */
export interface MtreeFlags {
  /** `-f`: print the flat views instead of the trees. */
  readonly flatview?: boolean;
  /** `-o`: annotate regions with their owner and QOM parent. */
  readonly owner?: boolean;
  /** `-D`: also print disabled regions (tree form only). */
  readonly disabled?: boolean;
}

const MASK64 = (1n << 64n) - 1n;

/** `%016llx` of a 64-bit value (wrapping as hwaddr arithmetic does). */
export function hwaddrFmt(v: bigint): string {
  return (v & MASK64).toString(16).padStart(16, '0');
}

/** The last offset of a region of `size` bytes (QEMU's MR_SIZE): size - 1, or 0 for 0. */
function mrSize(size: bigint): bigint {
  return size !== 0n ? (size - 1n) & MASK64 : 0n;
}

/** `%d` of an int32 priority. */
function prio(p: number): string {
  return String(p | 0);
}

/** The region type string of `info mtree` (QEMU's memory_region_type); aliases report their target's. */
export function memoryRegionType<M extends PrintableRegion<M>>(mr: M): string {
  let cur = mr;
  while (cur.alias) cur = cur.alias;
  if (cur.ramDevice) return 'ramd';
  if (cur.romDevice && cur.romdMode) return 'romd';
  if (cur.ram && cur.readonly) return 'rom';
  if (cur.ram) return 'ram';
  return 'i/o';
}

/**
 * Appends one region and its subregions (QEMU's mtree_print_mr). Alias
 * targets go to `aliasQueue` (once each) and are printed afterwards.
 */
export function mtreePrintMr<M extends PrintableRegion<M>>(
  out: string[],
  mr: M,
  level: number,
  base: bigint,
  aliasQueue: M[],
  naming: MtreeNaming<M>,
  owner: boolean,
  displayDisabled: boolean,
): void {
  const curStart = (base + mr.addr) & MASK64;
  const curEnd = (curStart + mrSize(mr.size)) & MASK64;
  let line = '';
  if (curStart < base || curEnd < curStart) line += '[DETECTED OVERFLOW!] ';
  const indent = '  '.repeat(level);
  const nv = mr.nonvolatile ? 'nv-' : '';
  const dis = mr.enabled ? '' : ' [disabled]';
  if (mr.alias) {
    const target = mr.alias;
    if (!aliasQueue.includes(target)) aliasQueue.push(target);
    if (mr.enabled || displayDisabled) {
      line +=
        `${indent}${hwaddrFmt(curStart)}-${hwaddrFmt(curEnd)} (prio ${prio(mr.priority)}, ${nv}` +
        `${memoryRegionType(mr)}): alias ${naming.name(mr)} @${naming.name(target)} ` +
        `${hwaddrFmt(mr.aliasOffset)}-${hwaddrFmt(mr.aliasOffset + mrSize(mr.size))}${dis}`;
      if (owner) line += naming.owner(mr);
      out.push(line + '\n');
    } else if (line) {
      out.push(line);
    }
  } else if (mr.enabled || displayDisabled) {
    line +=
      `${indent}${hwaddrFmt(curStart)}-${hwaddrFmt(curEnd)} (prio ${prio(mr.priority)}, ${nv}` +
      `${memoryRegionType(mr)}): ${naming.name(mr)}${dis}`;
    if (owner) line += naming.owner(mr);
    out.push(line + '\n');
  } else if (line) {
    out.push(line);
  }

  // Children by address, then higher priority first; among equals, list order.
  const queue: M[] = [];
  for (const sub of mr.subregions) {
    let at = queue.length;
    for (let k = 0; k < queue.length; k++) {
      const ml = queue[k];
      if (sub.addr < ml.addr || (sub.addr === ml.addr && sub.priority > ml.priority)) {
        at = k;
        break;
      }
    }
    queue.splice(at, 0, sub);
  }
  for (const sub of queue) {
    mtreePrintMr(out, sub, level + 1, curStart, aliasQueue, naming, owner, displayDisabled);
  }
}

/** Appends one FlatView block (QEMU's mtree_print_flatview). */
export function mtreePrintFlatview<M extends PrintableRegion<M>>(
  out: string[],
  counter: number,
  view: FlatView<M>,
  spaces: readonly MtreeAddressSpace<M>[],
  naming: MtreeNaming<M>,
  owner: boolean,
): void {
  out.push(`FlatView #${counter}\n`);
  for (const as of spaces) {
    let line = ` AS "${as.name}", root: ${naming.name(as.root)}`;
    if (as.root.alias) line += `, alias ${naming.name(as.root.alias)}`;
    out.push(line + '\n');
  }
  out.push(` Root memory region: ${view.root ? naming.name(view.root) : '(none)'}\n`);
  if (view.ranges.length === 0) {
    out.push('  No rendered FlatView\n\n');
    return;
  }
  for (const range of view.ranges) {
    const mr = range.mr;
    const start = range.start & MASK64;
    let line =
      `  ${hwaddrFmt(start)}-${hwaddrFmt(start + mrSize(range.size))} (prio ${prio(mr.priority)}, ` +
      `${range.nonvolatile ? 'nv-' : ''}${range.readonly ? 'rom' : memoryRegionType(mr)}): ${naming.name(mr)}`;
    if (range.offsetInRegion !== 0n) line += ` @${hwaddrFmt(range.offsetInRegion)}`;
    if (owner) line += naming.owner(mr);
    out.push(line + '\n');
  }
  out.push('\n');
}

/** QEMU's g_strcmp0 on names: byte order of the UTF-8 encodings. */
function strcmp(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The whole text of `info mtree` (tree form or, with `flatview`, flat views)
 * for the given address spaces, in creation order.
 */
export function mtreeFormat<M extends PrintableRegion<M>>(
  spaces: readonly MtreeAddressSpace<M>[],
  flags: MtreeFlags,
  naming: MtreeNaming<M>,
): string {
  const out: string[] = [];
  const owner = !!flags.owner;
  if (flags.flatview) {
    const views = new Map<FlatView<M>, MtreeAddressSpace<M>[]>();
    for (const as of spaces) {
      const list = views.get(as.currentMap);
      if (list) list.push(as);
      else views.set(as.currentMap, [as]);
    }
    let counter = 0;
    for (const [view, list] of views) {
      mtreePrintFlatview(out, counter++, view, list, naming, owner);
    }
    return out.join('');
  }

  const roots = new Map<M, MtreeAddressSpace<M>[]>();
  for (const as of spaces) {
    const list = roots.get(as.root) ?? [];
    // g_slist_insert_sorted: before the first entry that does not sort lower.
    let at = list.length;
    for (let k = 0; k < list.length; k++) {
      if (strcmp(as.name, list[k].name) <= 0) {
        at = k;
        break;
      }
    }
    list.splice(at, 0, as);
    roots.set(as.root, list);
  }
  const aliasQueue: M[] = [];
  const disabled = !!flags.disabled;
  for (const [root, list] of roots) {
    for (const as of list) out.push(`address-space: ${as.name}\n`);
    mtreePrintMr(out, root, 1, 0n, aliasQueue, naming, owner, disabled);
    out.push('\n');
  }
  // The queue grows while it is printed: targets of aliases found inside alias targets.
  for (let k = 0; k < aliasQueue.length; k++) {
    const mr = aliasQueue[k];
    out.push(`memory-region: ${naming.name(mr)}\n`);
    mtreePrintMr(out, mr, 1, 0n, aliasQueue, naming, owner, disabled);
    out.push('\n');
  }
  return out.join('');
}
