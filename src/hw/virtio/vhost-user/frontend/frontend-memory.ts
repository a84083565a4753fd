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
import type { ErrorReportSink } from '../../../../util/error-report.js';

interface Section {
  block: RamBlock;
  gpa: bigint;
  size: bigint;
  host: bigint;
  unmergeable: boolean;
  name: string;
}

/** Options of a {@link VhostMemoryListener}. */
export interface VhostMemoryListenerOptions {
  /** Called at a commit that changed the table (not at registration replay if `quiet`). */
  onChange?: (table: VhostUserMemTableEntry[]) => void;
  /** Where QEMU's error_report lines go. */
  report?: ErrorReportSink;
  /** Include RAM mapped privately (QEMU does); default false. */
  includePrivate?: boolean;
}

function sectionName(s: MemoryRegionSection): string {
  return s.mr.name ?? s.mr.canonicalPathComponent() ?? 'anonymous';
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
  /** The current memory table, by guest address. */
  table: VhostUserMemTableEntry[] = [];
  /** How many times the table changed. */
  changes = 0;
  readonly #onChange: ((table: VhostUserMemTableEntry[]) => void) | undefined;
  readonly #report: ErrorReportSink | undefined;
  readonly #includePrivate: boolean;
  #sections: Section[] = [];
  #tmp: Section[] = [];

  /** A listener calling `options.onChange` when the table changes. */
  constructor(options: VhostMemoryListenerOptions = {}) {
    this.#onChange = options.onChange;
    this.#report = options.report;
    this.#includePrivate = options.includePrivate === true;
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
    this.#tmp = [];
  }

  regionAdd(section: MemoryRegionSection): void {
    this.#addSection(section);
  }

  regionNop(section: MemoryRegionSection): void {
    this.#addSection(section);
  }

  /** vhost_region_add_section: page rounding and merging with the previous section. */
  #addSection(s: MemoryRegionSection): void {
    const block = this.#wanted(s);
    if (block === null) return;
    let size = s.size;
    let gpa = s.offsetWithinAddressSpace;
    let host = block.hostAddress(s.offsetWithinRegion);
    const page = BigInt(block.pageSize);
    let align = host & (page - 1n);
    if (align) {
      host -= align;
      size += align;
      gpa -= align;
    }
    align = size & (page - 1n);
    if (align) size += page - align;
    const prev = this.#tmp[this.#tmp.length - 1];
    if (prev !== undefined && !s.unmergeable) {
      const prevEnd = prev.gpa + prev.size - 1n;
      if (gpa <= prevEnd + 1n) {
        if (gpa < prev.gpa) {
          this.#report?.(
            `vhost_region_add_section:Section '${sectionName(s)}' rounded to ${gpa.toString(16)} prior to previous '${prev.name}' ${prev.gpa.toString(16)}`,
            'error',
          );
          return;
        }
        const offset = gpa - prev.gpa;
        if (prev.host + offset === host && prev.block === block && !prev.unmergeable) {
          const maxEnd = prev.host + prev.size > host + size ? prev.host + prev.size : host + size;
          const start = prev.host < host ? prev.host : host;
          prev.gpa = prev.gpa < gpa ? prev.gpa : gpa;
          prev.host = start;
          prev.size = maxEnd - start;
          return;
        }
        if (gpa !== prevEnd + 1n) {
          this.#report?.(
            `vhost_region_add_section: Overlapping but not coherent sections at ${gpa.toString(16)}`,
            'error',
          );
          return;
        }
      }
    }
    this.#tmp.push({ block, gpa, size, host, unmergeable: s.unmergeable, name: sectionName(s) });
  }

  /** vhost_commit: if the sections changed, rebuild the table and call back. */
  commit(): void {
    const old = this.#sections;
    const cur = this.#tmp;
    this.#tmp = [];
    this.#sections = cur;
    const changed =
      old.length !== cur.length ||
      old.some(
        (o, i) =>
          o.block !== cur[i].block ||
          o.gpa !== cur[i].gpa ||
          o.size !== cur[i].size ||
          o.host !== cur[i].host,
      );
    if (!changed) return;
    this.table = cur.map((s) => ({
      guestPhysAddr: s.gpa,
      memorySize: s.size,
      userspaceAddr: s.host,
      mmapOffset: s.block.fdOffsetOf(s.host - s.block.hostAddress(0)),
      fd: s.block.fd,
    }));
    this.changes++;
    this.#onChange?.(this.table);
  }

  /**
   * The front-end virtual address of `[gpa, gpa+len)` when it lies in one
   * entry of the table (what the back-end can reach), else null
   * (QEMU's vhost_memory_map for the rings).
   */
  translate(gpa: bigint, len: bigint): bigint | null {
    for (const e of this.table) {
      if (gpa >= e.guestPhysAddr && gpa + len <= e.guestPhysAddr + e.memorySize) {
        return e.userspaceAddr + (gpa - e.guestPhysAddr);
      }
    }
    return null;
  }
}
