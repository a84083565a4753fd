/**
 * A minimal `thread-context` (QEMU's util/thread-context.c), so that a
 * memory backend's `prealloc-context` link has something to point to and
 * `-object thread-context,id=tc` configurations load.
 *
 * QEMU's thread context is a thread from which preallocation threads are
 * spawned, so they inherit its CPU affinity. tsqom's preallocation threads
 * belong to the native layer, which cannot pin threads, so:
 * - `thread-id` stays -1 (there is no context thread to point tools at);
 * - `cpu-affinity` reads the process's allowed CPUs once completed;
 * - asking for an affinity (`cpu-affinity`, `node-affinity`) is validated
 *   with QEMU's texts and then refused with QEMU's
 *   `Setting CPU affinity failed: Operation not supported`.
 * @module
 */
import { readFileSync } from 'node:fs';
import {
  QomError,
  QomObject,
  QomType,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  type ObjectClass,
  type OutputVisitor,
  type Visitor,
} from '../qom/index.js';
import { strerror } from '../native/errors.js';

/** The QOM type name of thread contexts. */
export const TYPE_THREAD_CONTEXT = 'thread-context';

const EOPNOTSUPP = 95;

function affinityError(): QomError {
  return new QomError(`Setting CPU affinity failed: ${strerror(EOPNOTSUPP)}`);
}

/** Parses a kernel CPU list such as `0-3,8`. */
function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

function allowedCpus(): number[] {
  const m = /^Cpus_allowed_list:\s*(\S*)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? parseCpuList(m[1]) : [];
}

function nodeCpus(node: number): number[] {
  try {
    return parseCpuList(readFileSync(`/sys/devices/system/node/node${node}/cpulist`, 'utf8'));
  } catch {
    // QEMU ignores impossible nodes too.
    return [];
  }
}

/** A thread context (QEMU's ThreadContext); see the module notes. */
@QomType({ name: TYPE_THREAD_CONTEXT, parent: TYPE_OBJECT, interfaces: [TYPE_USER_CREATABLE] })
export class ThreadContext extends QomObject {
  /** QEMU's thread_id: -1, as tsqom has no context thread. */
  threadId = -1;
  /** Whether complete ran. */
  completed = false;
  /** An affinity requested before complete (QEMU's init_cpu_bitmap). */
  initCpus: number[] | null = null;

  /** QEMU's thread_context_class_init. */
  static override classInit(oc: ObjectClass): void {
    oc.propertyAdd<ThreadContext>('thread-id', 'int', (tc, v: OutputVisitor, name) =>
      v.typeUint64(name, BigInt.asUintN(64, BigInt(tc.threadId))),
    );
    oc.propertyAdd<ThreadContext>('cpu-affinity', 'int', getCpuAffinity, setCpuAffinity);
    oc.propertyAdd<ThreadContext>('node-affinity', 'int', null, setNodeAffinity);
  }

  /** QEMU's thread_context_instance_complete. */
  complete(): void {
    this.completed = true;
    if (this.initCpus) {
      this.initCpus = null;
      throw affinityError();
    }
  }
}

function getCpuAffinity(tc: ThreadContext, v: OutputVisitor, name: string): void {
  if (!tc.completed) throw new QomError('Object not initialized yet');
  v.typeUint16List(name, allowedCpus());
}

function setAffinity(tc: ThreadContext, cpus: number[]): void {
  if (tc.completed) throw affinityError();
  tc.initCpus = cpus;
}

function setCpuAffinity(tc: ThreadContext, v: Visitor, name: string): void {
  if (tc.initCpus) throw new QomError('Mixing CPU and node affinity not supported');
  const cpus = v.typeUint16List(name);
  if (cpus.length === 0) throw new QomError('CPU list is empty');
  setAffinity(tc, cpus);
}

function setNodeAffinity(tc: ThreadContext, v: Visitor, name: string): void {
  if (tc.initCpus) throw new QomError('Mixing CPU and node affinity not supported');
  const nodes = v.typeUint16List(name);
  if (nodes.length === 0) throw new QomError('Node list is empty');
  const cpus = [...new Set(nodes.flatMap(nodeCpus))].sort((a, b) => a - b);
  if (cpus.length === 0) throw new QomError('The nodes select no CPUs');
  setAffinity(tc, cpus);
}
