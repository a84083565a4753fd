/**
 * The vhost memory listener (QEMU's vhost_begin / vhost_region_addnop /
 * vhost_commit in hw/virtio/vhost.c): follows the system address space and
 * keeps the memory table a vhost-user back-end must see: every RAM range
 * (not ROM) that has an fd, rounded out to its page size and merged with
 * its neighbours when they are contiguous in the same block. When the
 * table changes it calls back, and the front-end re-sends SET_MEM_TABLE
 * if the device is running.
 *
 * tsqom also leaves out RAM that is not shared (MAP_PRIVATE, e.g. a
 * memfd backend with share=off): a back-end mapping the same fd would not
 * see the guest's writes, which QEMU leaves as a TODO.
 *
 * QEMU's listener rebuilds the whole table at every commit from region_add
 * and region_nop over every range of the map. This one is told only about
 * changed ranges (it has no regionNop), keeps the wanted ranges and the
 * table ordered by address, and redoes QEMU's merging only around what
 * changed: ranges whose page-rounded extents do not touch never interact,
 * so each change reaches a bounded stretch of the table. A commit therefore costs
 * O(log n) with n ranges (VIRTIO shared memory mappings can make tens of
 * thousands), and the table array is built only when read. One
 * difference follows: QEMU repeats its error_report lines about
 * overlapping sections at every commit; here they come when the stretch
 * holding the sections is redone.
 * @module
 */
import {
  type MemoryListener,
  type MemoryRegionSection,
  RAM_SHARED,
  memoryRegionIsRam,
  memoryRegionIsRom,
} from '../../../../system/memory.js';
import { memoryRegionGetRamBlock, type RamBlock } from '../../../../system/physmem.js';
import type { VhostUserMemTableEntry } from './frontend.js';
import { OffsetIndex } from '../../virtio-shmem-index.js';
import type { ErrorReportSink } from '../../../../util/error-report.js';

interface Section {
  block: RamBlock;
  gpa: bigint;
  size: bigint;
  host: bigint;
  unmergeable: boolean;
  name: string;
}

/** A wanted range of the map as the listener was given it, and its page-rounded form. */
interface Wanted {
  /** The range's address and end (not rounded). */
  readonly start: bigint;
  readonly end: bigint;
  readonly section: Readonly<Section>;
}

/** Options of a {@link VhostMemoryListener}. */
export interface VhostMemoryListenerOptions {
  /** Called at a commit that changed the table; read {@link VhostMemoryListener.table} for it. */
  onChange?: (listener: VhostMemoryListener) => void;
  /** Where QEMU's error_report lines go. */
  report?: ErrorReportSink;
  /** Include RAM mapped privately (QEMU does); default false. */
  includePrivate?: boolean;
}

function sectionName(s: MemoryRegionSection): string {
  return s.mr.name ?? s.mr.canonicalPathComponent() ?? 'anonymous';
}

function sameSection(a: Section, b: Section): boolean {
  return a.block === b.block && a.gpa === b.gpa && a.size === b.size && a.host === b.host;
}

/**
 * A MemoryListener for the `memory` address space that maintains
 * {@link table}. Register it with memoryListenerRegister (the current map
 * is replayed at once) and unregister it when the device goes.
 */
export class VhostMemoryListener implements MemoryListener {
  /** MEMORY_LISTENER_PRIORITY_DEV_BACKEND. */
  readonly priority = 10;
  /** The listener's name, as QEMU's. */
  readonly name = 'vhost';
  /** How many times the table changed. */
  changes = 0;
  readonly #onChange: ((listener: VhostMemoryListener) => void) | undefined;
  readonly #report: ErrorReportSink | undefined;
  readonly #includePrivate: boolean;
  /** The wanted ranges, by address. */
  readonly #wantedRanges = new OffsetIndex<Wanted>();
  /** The merged table, by guest address. */
  readonly #entries = new OffsetIndex<Section>();
  /** Address intervals changed since `begin`. */
  #dirty: [bigint, bigint][] = [];
  #table: VhostUserMemTableEntry[] | null = [];
  /** The largest page size seen (how far rounding can move a range's ends). */
  #page = 4096n;

  /** A listener calling `options.onChange` when the table changes. */
  constructor(options: VhostMemoryListenerOptions = {}) {
    this.#onChange = options.onChange;
    this.#report = options.report;
    this.#includePrivate = options.includePrivate === true;
  }

  /** The current memory table, by guest address (built when read after a change). */
  get table(): VhostUserMemTableEntry[] {
    if (!this.#table) {
      const t: VhostUserMemTableEntry[] = [];
      for (const s of this.#entries.values()) {
        t.push({
          guestPhysAddr: s.gpa,
          memorySize: s.size,
          userspaceAddr: s.host,
          mmapOffset: s.block.fdOffsetOf(s.host - s.block.hostAddress(0)),
          fd: s.block.fd,
        });
      }
      this.#table = t;
    }
    return this.#table;
  }

  /** How many entries the table has (without building it). */
  get size(): number {
    return this.#entries.size;
  }

  /** vhost_section: RAM, not ROM, with an fd (and shared, in tsqom). */
  #wanted(s: MemoryRegionSection): RamBlock | null {
    const mr = s.mr;
    if (!memoryRegionIsRam(mr) || memoryRegionIsRom(mr)) return null;
    const block = memoryRegionGetRamBlock(mr);
    if (block === null || block.freed || block.fd < 0) return null;
    if (!this.#includePrivate && (block.flags & RAM_SHARED) === 0) return null;
    return block;
  }

  begin(): void {
    this.#dirty = [];
  }

  regionAdd(section: MemoryRegionSection): void {
    const block = this.#wanted(section);
    if (block === null) return;
    // vhost_region_add_section's page rounding.
    let size = section.size;
    let gpa = section.offsetWithinAddressSpace;
    let host = block.hostAddress(section.offsetWithinRegion);
    const page = BigInt(block.pageSize);
    if (page > this.#page) this.#page = page;
    let align = host & (page - 1n);
    if (align) {
      host -= align;
      size += align;
      gpa -= align;
    }
    align = size & (page - 1n);
    if (align) size += page - align;
    const start = section.offsetWithinAddressSpace;
    const end = start + section.size;
    this.#wantedRanges.insert(start, {
      start,
      end,
      section: {
        block,
        gpa,
        size,
        host,
        unmergeable: section.unmergeable,
        name: sectionName(section),
      },
    });
    this.#dirty.push([gpa, gpa + size]);
  }

  regionDel(section: MemoryRegionSection): void {
    const start = section.offsetWithinAddressSpace;
    const w = this.#wantedRanges.get(start);
    if (!w) return;
    this.#wantedRanges.delete(start);
    this.#dirty.push([w.section.gpa, w.section.gpa + w.section.size]);
  }

  /** vhost_region_add_section: merging with the previous section (of `out`). */
  #addSection(out: Section[], w: Readonly<Section>): void {
    const s = { ...w };
    const prev = out[out.length - 1];
    if (prev !== undefined && !s.unmergeable) {
      const prevEnd = prev.gpa + prev.size - 1n;
      if (s.gpa <= prevEnd + 1n) {
        if (s.gpa < prev.gpa) {
          this.#report?.(
            `vhost_region_add_section:Section '${s.name}' rounded to ${s.gpa.toString(16)} prior to previous '${prev.name}' ${prev.gpa.toString(16)}`,
            'error',
          );
          return;
        }
        const offset = s.gpa - prev.gpa;
        if (prev.host + offset === s.host && prev.block === s.block && !prev.unmergeable) {
          const maxEnd =
            prev.host + prev.size > s.host + s.size ? prev.host + prev.size : s.host + s.size;
          const start = prev.host < s.host ? prev.host : s.host;
          prev.gpa = prev.gpa < s.gpa ? prev.gpa : s.gpa;
          prev.host = start;
          prev.size = maxEnd - start;
          return;
        }
        if (s.gpa !== prevEnd + 1n) {
          this.#report?.(
            `vhost_region_add_section: Overlapping but not coherent sections at ${s.gpa.toString(16)}`,
            'error',
          );
          return;
        }
      }
    }
    out.push(s);
  }

  /**
   * vhost_commit: redoes the merged table where ranges changed and, if it
   * differs, calls back. A stretch is widened to every wanted range whose
   * page-rounded extent touches it, so nothing outside can merge or clash
   * with what is inside, before or after the change.
   */
  commit(): void {
    const dirty = this.#dirty.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.#dirty = [];
    const page = this.#page;
    let changed = false;
    for (let k = 0; k < dirty.length; k++) {
      let [lo, hi] = dirty[k];
      // Widen to every wanted range whose rounded extent touches the stretch.
      for (let widened = true; widened;) {
        widened = false;
        for (
          let w = this.#wantedRanges.lower(lo - page) ?? this.#wantedRanges.first();
          w && w.start <= hi + page;
          w = this.#wantedRanges.higher(w.start)
        ) {
          const rs = w.section.gpa;
          const re = rs + w.section.size;
          if (rs > hi || re < lo) continue;
          if (rs < lo) {
            lo = rs;
            widened = true;
          }
          if (re > hi) {
            hi = re;
            widened = true;
          }
        }
        while (k + 1 < dirty.length && dirty[k + 1][0] <= hi) {
          if (dirty[k + 1][1] > hi) hi = dirty[k + 1][1];
          k++;
          widened = true;
        }
      }
      const fresh: Section[] = [];
      for (
        let w = this.#wantedRanges.lower(lo - page) ?? this.#wantedRanges.first();
        w && w.start <= hi + page;
        w = this.#wantedRanges.higher(w.start)
      ) {
        if (w.section.gpa >= lo && w.section.gpa + w.section.size <= hi) {
          this.#addSection(fresh, w.section);
        }
      }
      const stale: Section[] = [];
      for (
        let e = this.#entries.floor(lo) ?? this.#entries.first();
        e && e.gpa <= hi;
        e = this.#entries.higher(e.gpa)
      ) {
        if (e.gpa >= lo) stale.push(e);
      }
      if (stale.length === fresh.length && stale.every((e, i) => sameSection(e, fresh[i]))) {
        continue;
      }
      for (const e of stale) this.#entries.delete(e.gpa);
      for (const e of fresh) this.#entries.insert(e.gpa, e);
      changed = true;
    }
    if (!changed) return;
    this.#table = null;
    this.changes++;
    this.#onChange?.(this);
  }

  /**
   * The front-end virtual address of `[gpa, gpa+len)` when it lies in one
   * entry of the table (what the back-end can reach), else null
   * (QEMU's vhost_memory_map for the rings).
   */
  translate(gpa: bigint, len: bigint): bigint | null {
    const e = this.#entries.floor(gpa);
    if (e && gpa + len <= e.gpa + e.size) return e.host + (gpa - e.gpa);
    return null;
  }
}
