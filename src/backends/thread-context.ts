/**
 * `thread-context` (QEMU's util/thread-context.c): a real OS thread whose
 * CPU affinity preallocation follows. Completing the object starts the
 * context thread (`thread-id` is its tid); `cpu-affinity` and
 * `node-affinity` set its affinity with sched_setaffinity, before
 * completion (applied then) or after, with QEMU 7.2's texts; `cpu-affinity`
 * reads it back.
 *
 * QEMU creates its preallocation threads from the context thread so they
 * inherit its affinity; tsqom's preallocation workers are started by the
 * native layer, which pins them to the context thread's affinity as read
 * when the preallocation starts (see {@link threadContextCpus}), so the
 * effect is the same.
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
import { isErrno } from '../native/errors.js';
import { hostOs } from '../util/machine-context.js';

/** The QOM type name of thread contexts. */
export const TYPE_THREAD_CONTEXT = 'thread-context';

function affinityError(e: unknown): QomError {
  return new QomError(
    `Setting CPU affinity failed: ${isErrno(e) ? e.strerror : (e as Error).message}`,
  );
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
  /** The context thread's tid; -1 until complete started it. */
  threadId = -1;
  /** An affinity requested before complete (QEMU's init_cpu_bitmap). */
  initCpus: number[] | null = null;

  /** QEMU's thread_context_class_init. */
  static override classInit(oc: ObjectClass): void {
    const props = oc.propertiesOf(this);
    // QEMU reads its (int) thread id into a uint64: -1 before complete.
    props.propertyAdd('thread-id', 'int', (tc, v: OutputVisitor, name) =>
      v.typeUint64(name, BigInt.asUintN(64, BigInt(tc.threadId))),
    );
    props.propertyAdd('cpu-affinity', 'int', getCpuAffinity, setCpuAffinity);
    props.propertyAdd('node-affinity', 'int', null, setNodeAffinity);
  }

  /** QEMU's thread_context_instance_complete: starts the thread, applies a requested affinity. */
  complete(): void {
    this.threadId = hostOs().contextThreadCreate();
    const cpus = this.initCpus;
    this.initCpus = null;
    if (cpus) {
      try {
        hostOs().schedSetaffinity(this.threadId, cpus);
      } catch (e) {
        throw affinityError(e);
      }
    }
  }

  /** Stops the context thread (QEMU joins it in finalize). */
  override instanceFinalize(): void {
    if (this.threadId !== -1) {
      hostOs().contextThreadStop(this.threadId);
      this.threadId = -1;
    }
  }
}

/**
 * The CPUs a preallocation linked to `tc` runs on: the context thread's
 * current affinity (null before the thread exists: inherit).
 */
export function threadContextCpus(tc: ThreadContext): number[] | null {
  return tc.threadId === -1 ? null : hostOs().schedGetaffinity(tc.threadId);
}

function getCpuAffinity(tc: ThreadContext, v: OutputVisitor, name: string): void {
  if (tc.threadId === -1) throw new QomError('Object not initialized yet');
  let cpus: number[];
  try {
    cpus = hostOs().schedGetaffinity(tc.threadId);
  } catch (e) {
    throw new QomError(
      `Getting CPU affinity failed: ${isErrno(e) ? e.strerror : (e as Error).message}`,
    );
  }
  v.typeUint16List(name, cpus);
}

function setAffinity(tc: ThreadContext, cpus: number[]): void {
  if (tc.threadId === -1) {
    tc.initCpus = cpus;
    return;
  }
  // Only the context thread changes; threads it already started keep theirs.
  try {
    hostOs().schedSetaffinity(tc.threadId, cpus);
  } catch (e) {
    throw affinityError(e);
  }
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
