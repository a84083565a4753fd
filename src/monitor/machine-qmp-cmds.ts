/**
 * Machine-level monitor commands about memory backends (QEMU's
 * hw/core/machine-qmp-cmds.c and machine-hmp-cmds.c): QMP `query-memdev`
 * and HMP `info memdev`.
 *
 * Like QEMU, both walk `/objects` and read each memory backend through its
 * QOM properties, prepending to the list, so the reply lists the backends
 * in reverse iteration order of `/objects`. (QEMU iterates a hash table;
 * tsqom's containers iterate in insertion order, so with several backends
 * the order can differ from QEMU's.)
 * @module
 */
import type { JsonObject } from '../qobject/qobject.js';
import { StringOutputVisitor } from '../qapi/visitor.js';
import { type QomObject, objectGetObjectsRoot } from '../qom/object.js';
import { HostMemPolicyLookup, TYPE_MEMORY_BACKEND } from '../backends/hostmem.js';
import { type HmpCommandTable, type HmpOutput, hmpInfoCommands } from './hmp.js';
import { type QmpCommandRegistry, qmpCommands } from './qmp-dispatch.js';

/** QAPI `Memdev`: one memory backend as `query-memdev` describes it. */
export interface Memdev {
  /** The backend's id, if it has one. */
  id?: string;
  /** Size in bytes. */
  size: number | bigint;
  /** Whether the memory is mergeable. */
  merge: boolean;
  /** Whether the memory goes into core dumps. */
  dump: boolean;
  /** Whether the memory is preallocated. */
  prealloc: boolean;
  /** Whether the memory is shared. */
  share: boolean;
  /** Whether swap space is reserved (absent where the property does not exist). */
  reserve?: boolean;
  /** Host NUMA nodes. */
  'host-nodes': number[];
  /** NUMA policy (`HostMemPolicy`). */
  policy: string;
}

function queryMemdev(obj: QomObject): Memdev {
  const m: Partial<Memdev> = {};
  const id = obj.canonicalPathComponent();
  if (id !== null) m.id = id;
  m.size = obj.propertyGetUint('size');
  m.merge = obj.propertyGetBool('merge');
  m.dump = obj.propertyGetBool('dump');
  m.prealloc = obj.propertyGetBool('prealloc');
  m.share = obj.propertyGetBool('share');
  try {
    m.reserve = obj.propertyGetBool('reserve');
  } catch {
    // Only Linux has the property; QEMU leaves the member out elsewhere.
  }
  m['host-nodes'] = (obj.propertyGet('host-nodes') as number[]).map(Number);
  m.policy = HostMemPolicyLookup.values[obj.propertyGetEnum('policy', HostMemPolicyLookup.name)];
  return m as Memdev;
}

/** QEMU's qmp_query_memdev: every memory backend in `/objects`, last one first. */
export function qmpQueryMemdev(): Memdev[] {
  const list: Memdev[] = [];
  objectGetObjectsRoot().childForeach((child) => {
    if (child.isA(TYPE_MEMORY_BACKEND)) list.unshift(queryMemdev(child));
  });
  return list;
}

/** QEMU's hmp_info_memdev: the `info memdev` text. */
export function hmpInfoMemdev(out: HmpOutput): void {
  for (const m of qmpQueryMemdev()) {
    const v = new StringOutputVisitor(false);
    v.typeUint16List(null, m['host-nodes']);
    out.print(`memory backend: ${m.id ?? '(null)'}\n`);
    // QEMU prints the size with PRId64.
    out.print(`  size:  ${BigInt.asIntN(64, BigInt(m.size))}\n`);
    out.print(`  merge: ${m.merge}\n`);
    out.print(`  dump: ${m.dump}\n`);
    out.print(`  prealloc: ${m.prealloc}\n`);
    out.print(`  share: ${m.share}\n`);
    if (m.reserve !== undefined) out.print(`  reserve: ${m.reserve}\n`);
    out.print(`  policy: ${m.policy}\n`);
    out.print(`  host nodes: ${v.result}\n`);
  }
  out.print('\n');
}

/**
 * Registers `query-memdev` in `registry` and `info memdev` in `info`
 * (default: the global tables).
 */
export function registerMachineQmpCommands(
  registry: QmpCommandRegistry = qmpCommands,
  info: HmpCommandTable = hmpInfoCommands,
): void {
  registry.register({
    name: 'query-memdev',
    allowPreconfig: true,
    handler: () => qmpQueryMemdev() as unknown as JsonObject[],
  });
  info.register({
    name: 'memdev',
    argsType: '',
    params: '',
    help: 'show memory backends',
    handler: (_args, out) => hmpInfoMemdev(out),
  });
}
