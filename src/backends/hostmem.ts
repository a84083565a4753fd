/**
 * The abstract `memory-backend` type (QEMU's backends/hostmem.c): host
 * memory that a machine or a device maps as guest RAM, configured with
 * QEMU's properties and allocated by `complete`.
 *
 * Every property is a class property with QEMU's type string, description
 * and error texts. `size`, `share`, `reserve` and the subtypes' allocation
 * parameters are frozen once the memory exists; `merge` and `dump` change
 * the mapping live (madvise); `prealloc` switched on afterwards
 * preallocates then.
 *
 * Differences from QEMU, all deliberate:
 * - preallocation runs on worker threads and never blocks the event loop:
 *   `complete` returns a Promise when it preallocates, and a `prealloc=on`
 *   set after creation runs in the background (follow it with
 *   {@link hostMemoryBackendEvents} or await
 *   {@link hostMemoryBackendWaitPrealloc}); `prealloc` reads on while it
 *   runs and off again if it fails;
 * - a backend keeps itself alive while it preallocates, so deleting it
 *   meanwhile is deferred instead of unmapping memory under the workers;
 * - there is no machine: defaults are those of QEMU with `-M none`
 *   (merge and dump on, one preallocation thread).
 * @module
 */
import { trace } from '../util/trace.js';
import { errorReport } from '../util/error-report.js';
import { hostOs } from '../util/machine-context.js';
import 'reflect-metadata';
import { EventEmitter } from 'node:events';
import {
  ObjectClass,
  QomError,
  QomObject,
  QomType,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  objectPropertyAllowSetLink,
  sizeToStr,
  type OutputVisitor,
  type QEnumLookup,
  type Visitor,
  objectGetClass,
} from '../qom/index.js';
import {
  MADV_DODUMP,
  MADV_DONTDUMP,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAX_NODES,
  MPOL_MF_MOVE,
  MPOL_MF_STRICT,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
  PROT_READ,
  PROT_WRITE,
} from '../native/index.js';
import { isErrno } from '../native/errors.js';
import {
  memoryRegionGetFd,
  memoryRegionGetRamBlock,
  memoryRegionGetRamPtr,
  memoryRegionNew,
  memoryRegionSize,
  type MemoryRegion,
  type RamBlock,
} from '../system/index.js';
import { ThreadContext, threadContextCpus } from './thread-context.js';

const traceBackends = trace('backends');

/** The QOM type name of the abstract memory backend. */
export const TYPE_MEMORY_BACKEND = 'memory-backend';

/** QAPI's `HostMemPolicy`; a value's index is its Linux `MPOL_*` mode. */
export const HostMemPolicyLookup: QEnumLookup = Object.freeze({
  name: 'HostMemPolicy',
  values: Object.freeze(['default', 'preferred', 'bind', 'interleave']),
});

/** `HostMemPolicy` values (QEMU's HOST_MEM_POLICY_*), equal to Linux's MPOL_* modes. */
export const HostMemPolicy = Object.freeze({
  /** MPOL_DEFAULT. */
  Default: 0,
  /** MPOL_PREFERRED (MPOL_PREFERRED_MANY where the kernel has it). */
  Preferred: 1,
  /** MPOL_BIND. */
  Bind: 2,
  /** MPOL_INTERLEAVE. */
  Interleave: 3,
} as const);

/** QEMU's MAX_MEM_PREALLOC_THREAD_COUNT. */
const MAX_MEM_PREALLOC_THREAD_COUNT = 16;
const MiB = 1024 * 1024;

/**
 * The class of memory backends (QEMU's HostMemoryBackendClass): `alloc`
 * creates the backend's memory region (`backend.mr`) or throws QEMU's
 * error. Subtypes set it in their classInit.
 */
export class HostMemoryBackendClass extends ObjectClass {
  /** Allocates the memory; null in the abstract type. */
  alloc: ((backend: HostMemoryBackend) => void) | null = null;
  /** A backend class's own `alloc()` instance method fills `alloc`. */
  static override readonly instanceMethods: readonly string[] = ['alloc'];
}

/** How far a preallocation got. */
export interface PreallocProgress {
  /** Bytes preallocated so far. */
  done: number;
  /** Bytes to preallocate. */
  total: number;
}

/** What {@link hostMemoryBackendEvents} reports about a preallocation. */
export interface PreallocEvent {
  /** The backend. */
  backend: HostMemoryBackend;
  /** Its id (canonical path component), if it has one. */
  id: string | null;
  /** Bytes preallocated so far. */
  done: number;
  /** Bytes to preallocate. */
  total: number;
}

/** The end of a preallocation: `error` is set when it failed. */
export interface PreallocEndEvent extends PreallocEvent {
  /** QEMU's error, when the preallocation failed. */
  error?: QomError;
}

/** Events of {@link hostMemoryBackendEvents}. */
export interface HostMemoryBackendEventMap {
  /** A preallocation started (done is 0). */
  'prealloc-start': [PreallocEvent];
  /** Progress, a few times a second while it runs, and once at the end. */
  'prealloc-progress': [PreallocEvent];
  /** It finished, successfully or not. */
  'prealloc-end': [PreallocEndEvent];
}

/**
 * Preallocation progress of every backend, for callers that create
 * backends through `object-add` / `-object` and so never see the object
 * before its `complete` finishes.
 */
export const hostMemoryBackendEvents = new EventEmitter<HostMemoryBackendEventMap>();

/**
 * A host memory backend (QEMU's HostMemoryBackend). The fields mirror
 * QEMU's struct; set them through the properties (which validate), not
 * directly.
 */
@QomType({
  name: TYPE_MEMORY_BACKEND,
  parent: TYPE_OBJECT,
  abstract: true,
  interfaces: [TYPE_USER_CREATABLE],
})
export class HostMemoryBackend extends QomObject {
  /** Memory backends' class struct. */
  static override readonly classType = HostMemoryBackendClass;

  /** Size in bytes (0 until set; the memory may be larger, rounded to pages). */
  size = 0n;
  /** Mark the memory mergeable (KSM). */
  merge = true;
  /** Include the memory in core dumps. */
  dump = true;
  /** Name the memory region after the canonical path rather than the id. */
  useCanonicalPath = false;
  /** Preallocate (or: the memory was preallocated). */
  prealloc = false;
  /** A device or machine maps the memory: it may not be deleted. */
  isMapped = false;
  /** MAP_SHARED rather than MAP_PRIVATE. */
  share = false;
  /** Reserve swap space (no MAP_NORESERVE). */
  reserve = true;
  /** Set by subtypes whose memory size must be a multiple of the page size. */
  aligned = false;
  /** Threads used to preallocate. */
  preallocThreads = 1;
  /** The `thread-context` linked by `prealloc-context`: preallocation runs on its CPUs. */
  preallocContext: ThreadContext | null = null;
  /** NUMA policy (a {@link HostMemPolicy}). */
  policy: number = HostMemPolicy.Default;
  /** The backend's memory region once allocated. */
  mr: MemoryRegion | null = null;
  /** Progress of the current (or last) preallocation. */
  preallocProgress: PreallocProgress | null = null;
  /** @internal Host nodes as a bitmap of MAX_NODES bits. */
  readonly hostNodes = new Uint8Array(MAX_NODES);
  /** @internal A region without a QOM parent (backend without a name) is held here. */
  unnamedMr: MemoryRegion | null = null;
  /** @internal The running preallocation; resolves with its error, never rejects. */
  preallocRunning: Promise<QomError | null> | null = null;

  /** QEMU's host_memory_backend_class_init: the properties. */
  static override classInit(oc: HostMemoryBackendClass): void {
    hostMemoryBackendClassInit(oc);
  }

  /** QEMU's host_memory_backend_init, with `-M none` machine defaults. */
  override instanceInit(): void {
    this.merge = true;
    this.dump = true;
    this.reserve = true;
    this.preallocThreads = 1;
  }

  /** Drops a region that has no QOM parent; a named one went with the children. */
  override instanceFinalize(): void {
    const mr = this.unnamedMr;
    this.unnamedMr = null;
    this.mr = null;
    mr?.unref();
  }

  /**
   * QEMU's host_memory_backend_memory_complete: allocates, checks the page
   * alignment, applies merge/dump, the NUMA policy and preallocation.
   * Returns a Promise when it preallocates.
   */
  complete(): void | Promise<void> {
    const bc = objectGetClass(this, HostMemoryBackendClass);
    if (!bc.alloc) return;
    if (hostMemoryBackendMrInited(this)) {
      throw new QomError(`memory of ${this.typeName} is already allocated`);
    }
    bc.alloc(this);
    const mr = this.mr;
    const block = mr ? memoryRegionGetRamBlock(mr) : null;
    if (!mr || !block) throw new QomError(`backend '${this.typeName}' allocated no memory`);
    const sz = memoryRegionSize(mr);
    const pagesize = block.pageSize;
    if (this.aligned && sz % BigInt(pagesize) !== 0n) {
      throw new QomError(
        `backend '${this.typeName}' memory size must be multiple of ${sizeToStr(pagesize)}`,
      );
    }
    return applySettings(this, block, sz);
  }

  /** QEMU's host_memory_backend_can_be_deleted: not while mapped. */
  canBeDeleted(): boolean {
    return !this.isMapped;
  }

  /** The descriptor behind the memory (memfd, shm, file), or -1 (anonymous memory, not allocated). */
  get fd(): number {
    return this.mr && !this.finalized ? memoryRegionGetFd(this.mr) : -1;
  }

  /**
   * A live view of the memory (default: all of it). It is detached when the
   * memory is unmapped (its length becomes 0): keep it no longer than the
   * backend. Read-only file mappings refuse (EACCES); use {@link read}.
   */
  view(offset = 0, length?: number): Uint8Array {
    return hostMemoryBackendGetView(this, offset, length);
  }

  /** Copies `length` bytes out of the memory. */
  read(offset: number, length: number): Uint8Array {
    return ramBlockOf(this).read(offset, length);
  }

  /** Copies `data` into the memory at `offset`. */
  write(offset: number, data: Uint8Array): void {
    ramBlockOf(this).write(offset, data);
  }
}

function ramBlockOf(b: HostMemoryBackend): RamBlock {
  const block = b.mr && !b.finalized ? memoryRegionGetRamBlock(b.mr) : null;
  if (!block || block.freed) throw new QomError(`memory of ${b.typeName} is not allocated`);
  return block;
}

// ---------------------------------------------------------------------------
// QEMU's helpers

/**
 * QEMU's host_memory_backend_get_name: the id (canonical path component),
 * or the canonical path with `x-use-canonical-path-for-ramblock-id`; null
 * for a backend outside the composition tree.
 */
export function hostMemoryBackendGetName(backend: HostMemoryBackend): string | null {
  return backend.useCanonicalPath ? backend.canonicalPath() : backend.canonicalPathComponent();
}

/** QEMU's host_memory_backend_mr_inited: whether the memory exists (sizes are never 0). */
export function hostMemoryBackendMrInited(backend: HostMemoryBackend): boolean {
  return backend.mr !== null && memoryRegionSize(backend.mr) !== 0n;
}

/** QEMU's host_memory_backend_get_memory: the backend's region, or null before complete. */
export function hostMemoryBackendGetMemory(backend: HostMemoryBackend): MemoryRegion | null {
  return hostMemoryBackendMrInited(backend) ? backend.mr : null;
}

/** QEMU's host_memory_backend_set_mapped: a user (device, machine) maps it; object-del refuses. */
export function hostMemoryBackendSetMapped(backend: HostMemoryBackend, mapped: boolean): void {
  backend.isMapped = mapped;
}

/** QEMU's host_memory_backend_is_mapped. */
export function hostMemoryBackendIsMapped(backend: HostMemoryBackend): boolean {
  return backend.isMapped;
}

/** QEMU's host_memory_backend_pagesize: the page size of the memory (huge page size for hugetlb). */
export function hostMemoryBackendPagesize(backend: HostMemoryBackend): number {
  return ramBlockOf(backend).pageSize;
}

/** The descriptor behind the memory, or -1 (QEMU: memory_region_get_fd of the backend's region). */
export function hostMemoryBackendGetFd(backend: HostMemoryBackend): number {
  return backend.fd;
}

/** See {@link HostMemoryBackend.view}. */
export function hostMemoryBackendGetView(
  backend: HostMemoryBackend,
  offset = 0,
  length?: number,
): Uint8Array {
  ramBlockOf(backend);
  return memoryRegionGetRamPtr(backend.mr!, offset, length);
}

/**
 * Waits for the backend's running preallocation, if any; rejects with its
 * error (QEMU's `qemu_prealloc_mem: preallocating memory failed: ...`).
 */
export async function hostMemoryBackendWaitPrealloc(backend: HostMemoryBackend): Promise<void> {
  const p = backend.preallocRunning;
  if (!p) return;
  const err = await p;
  if (err) throw err;
}

/**
 * Creates the backend's region with `init` (a `memoryRegionInit*` call on
 * the region it is given, owned by the backend). Cleans up when `init`
 * throws; a region without a name (no QOM parent) is kept by the backend.
 */
export function hostMemoryBackendInitRegion(
  backend: HostMemoryBackend,
  name: string | null,
  init: (mr: MemoryRegion) => void,
): void {
  const mr = memoryRegionNew();
  try {
    init(mr);
  } catch (e) {
    // A failing init frees a region it had parented; one it had not is ours to drop.
    if (!mr.finalized && mr.parent === null) mr.unref();
    throw e;
  }
  backend.mr = mr;
  if (name === null) backend.unnamedMr = mr;
}

function madviseQuiet(backend: HostMemoryBackend, advice: number): void {
  const block = ramBlockOf(backend);
  const len = Number(memoryRegionSize(backend.mr!));
  try {
    hostOs().madvise(block.host, block.hostOffset, len, advice);
  } catch {
    // QEMU ignores qemu_madvise() failures (e.g. a kernel without KSM).
  }
}

let preferredManyCache: boolean | undefined;

/**
 * libnuma's numa_has_preferred_many: whether the kernel has
 * MPOL_PREFERRED_MANY, probed once on a scratch page.
 */
function numaHasPreferredMany(): boolean {
  if (preferredManyCache !== undefined) return preferredManyCache;
  const os = hostOs();
  let ok = false;
  try {
    const m = os.mapMemory(os.pageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    try {
      os.mbind(m, MPOL_PREFERRED_MANY, [0], 2, 0);
      ok = true;
    } catch {
      ok = false;
    } finally {
      m.unmap();
    }
  } catch {
    return false;
  }
  preferredManyCache = ok;
  return ok;
}

function applySettings(
  backend: HostMemoryBackend,
  block: RamBlock,
  sz: bigint,
): void | Promise<void> {
  if (backend.merge) madviseQuiet(backend, MADV_MERGEABLE);
  if (!backend.dump) madviseQuiet(backend, MADV_DONTDUMP);

  const nodes: number[] = [];
  for (let i = 0; i < MAX_NODES; i++) if (backend.hostNodes[i]) nodes.push(i);
  const maxnode = nodes.length ? nodes[nodes.length - 1] + 1 : 0;
  if (maxnode && backend.policy === HostMemPolicy.Default) {
    throw new QomError(
      'host-nodes must be empty for policy default, or you should explicitly specify a policy other than default',
    );
  } else if (maxnode === 0 && backend.policy !== HostMemPolicy.Default) {
    throw new QomError(
      `host-nodes must be set for policy ${HostMemPolicyLookup.values[backend.policy]}`,
    );
  }
  if (maxnode) {
    let mode = backend.policy;
    // Plain MPOL_PREFERRED silently keeps only the first node.
    if (mode === MPOL_PREFERRED && numaHasPreferredMany()) mode = MPOL_PREFERRED_MANY;
    try {
      hostOs().mbind(
        block.host,
        mode,
        nodes,
        maxnode + 1,
        MPOL_MF_STRICT | MPOL_MF_MOVE,
        block.hostOffset,
        Number(sz),
      );
    } catch (e) {
      throw new QomError(
        `cannot bind memory to host NUMA nodes: ${isErrno(e) ? e.strerror : (e as Error).message}`,
      );
    }
  }
  // After mbind, so that the pages come from the chosen nodes.
  if (backend.prealloc) return hostMemoryBackendPrealloc(backend);
}

/** QEMU's get_memset_num_threads. */
function memsetNumThreads(hpagesize: number, numpages: number, maxThreads: number): number {
  let ret = 1;
  let procs = 0;
  try {
    procs = hostOs().onlineCpus();
  } catch {
    procs = 0;
  }
  if (procs > 0) ret = Math.min(procs, MAX_MEM_PREALLOC_THREAD_COUNT, maxThreads);
  ret = Math.min(ret, numpages);
  ret = Math.min(ret, Math.max(1, Math.floor((hpagesize * numpages) / (64 * MiB))));
  return Math.max(1, ret);
}

/**
 * QEMU's qemu_prealloc_mem on the backend's memory, on worker threads:
 * resolves when every page is resident, rejects with
 * `qemu_prealloc_mem: preallocating memory failed: <strerror>`. A second
 * call while one runs joins it. The backend holds a reference on itself
 * meanwhile, so it cannot be finalized (and its memory unmapped) under the
 * workers. Sets `prealloc` on success.
 */
export function hostMemoryBackendPrealloc(backend: HostMemoryBackend): Promise<void> {
  if (traceBackends.enabled) traceBackends('prealloc %s', backend.canonicalPath() ?? '(detached)');
  if (!backend.preallocRunning) {
    const block = ramBlockOf(backend);
    const sz = Number(memoryRegionSize(backend.mr!));
    const hpagesize = block.pageSize;
    const numpages = Math.ceil(sz / hpagesize);
    const length = Math.min(numpages * hpagesize, block.host.length - block.hostOffset);
    const threads = memsetNumThreads(hpagesize, numpages, backend.preallocThreads);
    const id = backend.canonicalPathComponent();
    const progress: PreallocProgress = { done: 0, total: length };
    // QEMU starts its workers from the context thread, so they inherit its
    // affinity; tsqom's native workers are pinned to it instead.
    const cpus = backend.preallocContext ? threadContextCpus(backend.preallocContext) : null;
    backend.preallocProgress = progress;
    backend.ref();
    hostMemoryBackendEvents.emit('prealloc-start', { backend, id, done: 0, total: length });
    const run = (async (): Promise<QomError | null> => {
      let error: QomError | null = null;
      try {
        await hostOs().prealloc(block.host, {
          threads,
          pageSize: hpagesize,
          offset: block.hostOffset,
          length,
          ...(cpus ? { cpus } : {}),
          onProgress: (done, total) => {
            // Worker reports can arrive out of order; never go backwards.
            if (done < progress.done) return;
            progress.done = done;
            hostMemoryBackendEvents.emit('prealloc-progress', { backend, id, done, total });
          },
        });
        progress.done = length;
        backend.prealloc = true;
      } catch (e) {
        error = new QomError(
          `qemu_prealloc_mem: preallocating memory failed: ${isErrno(e) ? e.strerror : (e as Error).message}`,
        );
      }
      backend.preallocRunning = null;
      const end: PreallocEndEvent = { backend, id, done: progress.done, total: length };
      if (error) end.error = error;
      try {
        hostMemoryBackendEvents.emit('prealloc-end', end);
      } finally {
        backend.unref();
      }
      return error;
    })();
    backend.preallocRunning = run;
  }
  return hostMemoryBackendWaitPrealloc(backend);
}

// ---------------------------------------------------------------------------
// Properties (QEMU's host_memory_backend_class_init)

function setMerge(b: HostMemoryBackend, value: boolean): void {
  if (hostMemoryBackendMrInited(b) && value !== b.merge) {
    madviseQuiet(b, value ? MADV_MERGEABLE : MADV_UNMERGEABLE);
  }
  b.merge = value;
}

function setDump(b: HostMemoryBackend, value: boolean): void {
  if (hostMemoryBackendMrInited(b) && value !== b.dump) {
    madviseQuiet(b, value ? MADV_DODUMP : MADV_DONTDUMP);
  }
  b.dump = value;
}

function setPrealloc(b: HostMemoryBackend, value: boolean): void {
  if (!b.reserve && value) throw new QomError("'prealloc=on' and 'reserve=off' are incompatible");
  if (!hostMemoryBackendMrInited(b)) {
    b.prealloc = value;
    return;
  }
  if (value && !b.prealloc && !b.preallocRunning) {
    // QEMU preallocates before returning; here it runs in the background.
    // Failures reach hostMemoryBackendEvents and hostMemoryBackendWaitPrealloc;
    // with nobody listening they are reported on stderr, as error_report would.
    hostMemoryBackendPrealloc(b).catch((e: unknown) => {
      if (hostMemoryBackendEvents.listenerCount('prealloc-end') === 0) {
        errorReport((e as Error).message);
      }
    });
  }
}

function getPreallocThreads(b: HostMemoryBackend, v: OutputVisitor, name: string): void {
  v.typeUint32(name, b.preallocThreads);
}

function setPreallocThreads(b: HostMemoryBackend, v: Visitor, name: string): void {
  const value = v.typeUint32(name);
  if (value <= 0) {
    throw new QomError(`property '${name}' of ${b.typeName} doesn't take value '${value}'`);
  }
  b.preallocThreads = value;
}

function getSize(b: HostMemoryBackend, v: OutputVisitor, name: string): void {
  v.typeSize(name, b.size);
}

function setSize(b: HostMemoryBackend, v: Visitor, name: string): void {
  if (hostMemoryBackendMrInited(b)) {
    throw new QomError(`cannot change property ${name} of ${b.typeName} `);
  }
  const value = v.typeSize(name);
  if (value === 0n) {
    throw new QomError(`property '${name}' of ${b.typeName} doesn't take value '0'`);
  }
  b.size = value;
}

function getHostNodes(b: HostMemoryBackend, v: OutputVisitor, name: string): void {
  const nodes: number[] = [];
  for (let i = 0; i < MAX_NODES; i++) if (b.hostNodes[i]) nodes.push(i);
  v.typeUint16List(name, nodes);
}

function setHostNodes(b: HostMemoryBackend, v: Visitor, name: string): void {
  const list = v.typeUint16List(name);
  for (const n of list) {
    if (n >= MAX_NODES) throw new QomError(`Invalid host-nodes value: ${n}`);
  }
  // As in QEMU, nodes are only ever added.
  for (const n of list) b.hostNodes[n] = 1;
}

function setShare(b: HostMemoryBackend, value: boolean): void {
  if (hostMemoryBackendMrInited(b)) throw new QomError('cannot change property value');
  b.share = value;
}

function setReserve(b: HostMemoryBackend, value: boolean): void {
  if (hostMemoryBackendMrInited(b)) throw new QomError('cannot change property value');
  if (b.prealloc && !value) {
    throw new QomError("'prealloc=on' and 'reserve=off' are incompatible");
  }
  b.reserve = value;
}

function hostMemoryBackendClassInit(oc: HostMemoryBackendClass): void {
  const props = oc.propertiesOf(HostMemoryBackend);
  props.propertyAddBool('merge', (b) => b.merge, setMerge);
  oc.propertySetDescription('merge', 'Mark memory as mergeable');
  props.propertyAddBool('dump', (b) => b.dump, setDump);
  oc.propertySetDescription('dump', "Set to 'off' to exclude from core dump");
  // A preallocation asked for after creation reads as on while it runs, as
  // QEMU's does once qom-set returns; it reads off again if it fails.
  props.propertyAddBool('prealloc', (b) => b.prealloc || b.preallocRunning !== null, setPrealloc);
  oc.propertySetDescription('prealloc', 'Preallocate memory');
  props.propertyAdd('prealloc-threads', 'int', getPreallocThreads, setPreallocThreads);
  oc.propertySetDescription('prealloc-threads', 'Number of CPU threads to use for prealloc');
  props.propertyAddLink(
    'prealloc-context',
    ThreadContext,
    (b) => b.preallocContext,
    (b, t) => {
      b.preallocContext = t;
    },
    { check: objectPropertyAllowSetLink, strong: true },
  );
  oc.propertySetDescription(
    'prealloc-context',
    'Context to use for creating CPU threads for preallocation',
  );
  props.propertyAdd('size', 'int', getSize, setSize);
  oc.propertySetDescription('size', 'Size of the memory region (ex: 500M)');
  props.propertyAdd('host-nodes', 'int', getHostNodes, setHostNodes);
  oc.propertySetDescription('host-nodes', 'Binds memory to the list of NUMA host nodes');
  props.propertyAddEnum(
    'policy',
    HostMemPolicyLookup,
    (b) => b.policy,
    (b, value) => {
      b.policy = value;
    },
  );
  oc.propertySetDescription('policy', 'Set the NUMA policy');
  props.propertyAddBool('share', (b) => b.share, setShare);
  oc.propertySetDescription('share', 'Mark the memory as private to QEMU or shared');
  props.propertyAddBool('reserve', (b) => b.reserve, setReserve);
  oc.propertySetDescription('reserve', 'Reserve swap space (or huge pages) if applicable');
  // Kept stable for old machine types' RAM block ids, as in QEMU.
  props.propertyAddBool(
    'x-use-canonical-path-for-ramblock-id',
    (b) => b.useCanonicalPath,
    (b, value) => {
      b.useCanonicalPath = value;
    },
  );
}
