import 'reflect-metadata';
import test from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type JsonObject,
  objectGetObjectsRoot,
  userCreatableAddType,
  userCreatableDel,
} from '../../src/qom/index.js';
import {
  type HostMemoryBackend,
  type PreallocEndEvent,
  TYPE_MEMORY_BACKEND_FILE,
  TYPE_MEMORY_BACKEND_MEMFD,
  TYPE_MEMORY_BACKEND_RAM,
  TYPE_MEMORY_BACKEND_SHM,
  hostMemoryBackendEvents,
  hostMemoryBackendWaitPrealloc,
} from '../../src/backends/index.js';
import {
  HostOs,
  OsError,
  type NativeMapping,
  type PreallocOptions,
} from '../../src/native/index.js';
import type { MappingLike } from '../../src/native/host.js';
import { HOST_OS } from '../../src/native/host.js';
import { MachineContext, hostOs } from '../../src/util/machine-context.js';
import { fdCount } from '../helpers/native/util.js';
import { backendMappings, dontDumpMappings, ourShmNames } from '../helpers/backends/util.js';

/** errno values used below. */
const E = {
  EIO: 5,
  EFAULT: 14,
  EACCES: 13,
  ENOMEM: 12,
  EPERM: 1,
  EMFILE: 24,
  ENOSPC: 28,
  EFBIG: 27,
};

type Fault = 'mmap' | 'ftruncate' | 'memfdCreate' | 'addSeals' | 'shmOpen' | 'mbind' | 'prealloc';

/** A HostOs whose chosen calls fail with a chosen errno. */
class FaultyOs extends HostOs {
  readonly faults = new Map<Fault, number>();
  /** Calls made to the faulty functions, failing or not. */
  readonly calls: string[] = [];

  private check(name: Fault): void {
    this.calls.push(name);
    const errno = this.faults.get(name);
    if (errno !== undefined) throw new OsError(errno, name.toLowerCase());
  }
  override mmap(
    length: number,
    prot: number,
    flags: number,
    fd = -1,
    offset: number | bigint = 0,
  ): NativeMapping {
    this.check('mmap');
    return super.mmap(length, prot, flags, fd, offset);
  }
  override ftruncate(fd: number, length: number | bigint): void {
    this.check('ftruncate');
    super.ftruncate(fd, length);
  }
  override memfdCreate(name: string, flags: number): number {
    this.check('memfdCreate');
    return super.memfdCreate(name, flags);
  }
  override addSeals(fd: number, seals: number): void {
    this.check('addSeals');
    super.addSeals(fd, seals);
  }
  override shmOpen(name: string, oflag: number, mode: number): number {
    this.check('shmOpen');
    return super.shmOpen(name, oflag, mode);
  }
  override mbind(
    mapping: MappingLike,
    mode: number,
    nodes: readonly number[],
    maxnode: number,
    flags: number,
    offset?: number,
    length?: number,
  ): void {
    this.check('mbind');
    super.mbind(mapping, mode, nodes, maxnode, flags, offset, length);
  }
  override prealloc(mapping: MappingLike, options?: PreallocOptions): Promise<void> {
    try {
      this.check('prealloc');
    } catch (e) {
      return Promise.reject(e);
    }
    return super.prealloc(mapping, options);
  }
}

// The faulty OS layer serves only the machine built inside this context;
// everything else in the process keeps the real one.
const faulty = new FaultyOs();
const ctx = new MachineContext().register(HOST_OS, faulty);
const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostmem-faults-'));

test.after.always(() => {
  rmSync(dir, { recursive: true, force: true });
});

const MiB = 1 << 20;

interface Case {
  title: string;
  type: string;
  props?: JsonObject;
  fault: Fault;
  errno: number;
  message: (id: string) => string;
}

const CASES: Case[] = [
  {
    title: 'ram: mmap fails',
    type: TYPE_MEMORY_BACKEND_RAM,
    fault: 'mmap',
    errno: E.ENOMEM,
    message: (id) => `cannot set up guest memory '${id}': Cannot allocate memory`,
  },
  {
    title: 'memfd: memfd_create fails',
    type: TYPE_MEMORY_BACKEND_MEMFD,
    fault: 'memfdCreate',
    errno: E.EMFILE,
    message: () => 'failed to create memfd with flags 0x3: Too many open files',
  },
  {
    title: 'memfd: ftruncate fails',
    type: TYPE_MEMORY_BACKEND_MEMFD,
    fault: 'ftruncate',
    errno: E.ENOSPC,
    message: () => `failed to resize memfd to ${MiB}: No space left on device`,
  },
  {
    title: 'memfd: sealing fails',
    type: TYPE_MEMORY_BACKEND_MEMFD,
    fault: 'addSeals',
    errno: E.EPERM,
    message: () => 'failed to add seals 0x7: Operation not permitted',
  },
  {
    title: 'memfd: mmap fails',
    type: TYPE_MEMORY_BACKEND_MEMFD,
    fault: 'mmap',
    errno: E.ENOMEM,
    message: () => 'unable to map backing store for guest RAM: Cannot allocate memory',
  },
  {
    title: 'shm: shm_open fails',
    type: TYPE_MEMORY_BACKEND_SHM,
    fault: 'shmOpen',
    errno: E.EACCES,
    message: () => 'failed to create POSIX shared memory: Permission denied',
  },
  {
    title: 'shm: ftruncate fails',
    type: TYPE_MEMORY_BACKEND_SHM,
    fault: 'ftruncate',
    errno: E.EFBIG,
    message: () => `failed to resize POSIX shared memory to ${MiB}: File too large`,
  },
  {
    title: 'shm: mmap fails',
    type: TYPE_MEMORY_BACKEND_SHM,
    fault: 'mmap',
    errno: E.ENOMEM,
    message: () => 'unable to map backing store for guest RAM: Cannot allocate memory',
  },
  {
    title: 'file: mmap fails',
    type: TYPE_MEMORY_BACKEND_FILE,
    props: { 'mem-path': dir },
    fault: 'mmap',
    errno: E.ENOMEM,
    message: () => 'unable to map backing store for guest RAM: Cannot allocate memory',
  },
  {
    title: 'ram: mbind fails',
    type: TYPE_MEMORY_BACKEND_RAM,
    props: { 'host-nodes': [0], policy: 'bind' },
    fault: 'mbind',
    errno: E.EIO,
    message: () => 'cannot bind memory to host NUMA nodes: Input/output error',
  },
  {
    title: 'memfd: preallocation fails',
    type: TYPE_MEMORY_BACKEND_MEMFD,
    props: { prealloc: true },
    fault: 'prealloc',
    errno: E.EFAULT,
    message: () => 'qemu_prealloc_mem: preallocating memory failed: Bad address',
  },
];

let seq = 0;

for (const c of CASES) {
  test.serial(`${c.title}: QEMU's text, and nothing leaks`, async (t) => {
    const id = `fault${seq++}`;
    const fds = fdCount();
    const marked = dontDumpMappings();
    faulty.faults.set(c.fault, c.errno);
    faulty.calls.length = 0;
    try {
      const e = await t.throwsAsync(
        ctx.run(() => userCreatableAddType(c.type, id, { size: MiB, dump: false, ...c.props })),
      );
      t.is(e.message, c.message(id));
      t.true(faulty.calls.includes(c.fault), 'the fault was reached');
    } finally {
      faulty.faults.clear();
    }
    t.is(objectGetObjectsRoot().resolvePathComponent(id), null);
    t.is(fdCount(), fds);
    t.is(dontDumpMappings(), marked);
    t.deepEqual(backendMappings(), []);
    t.deepEqual(ourShmNames(), []);
    t.deepEqual(readdirSync(dir), []);
  });
}

test.serial(
  'a preallocation asked for after creation reports its failure and leaves prealloc off',
  async (t) => {
    const obj = (await ctx.run(() =>
      userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, 'latefail', { size: MiB }),
    )) as HostMemoryBackend;
    obj.unref();
    const ends: PreallocEndEvent[] = [];
    const onEnd = (e: PreallocEndEvent): void => {
      if (e.backend === obj) ends.push(e);
    };
    hostMemoryBackendEvents.on('prealloc-end', onEnd);
    faulty.faults.set('prealloc', E.ENOMEM);
    try {
      ctx.run(() => obj.propertySet('prealloc', true));
      t.true(obj.propertyGetBool('prealloc'), 'on while it runs');
      await t.throwsAsync(hostMemoryBackendWaitPrealloc(obj), {
        message: 'qemu_prealloc_mem: preallocating memory failed: Cannot allocate memory',
      });
      t.false(obj.propertyGetBool('prealloc'));
      t.is(ends.length, 1);
      t.is(
        ends[0].error?.message,
        'qemu_prealloc_mem: preallocating memory failed: Cannot allocate memory',
      );
    } finally {
      faulty.faults.clear();
      hostMemoryBackendEvents.off('prealloc-end', onEnd);
      userCreatableDel('latefail');
    }
    t.true(obj.finalized);
  },
);

test.serial('a machine context substitutes the OS layer for its own machine only', async (t) => {
  faulty.faults.set('mmap', E.ENOMEM);
  faulty.calls.length = 0;
  try {
    // Outside the context: the real OS layer, so creation succeeds.
    const real = await userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, 'ctxreal', { size: MiB });
    real.unref();
    t.deepEqual(faulty.calls, []);
    // Inside: the substitute, which fails.
    await t.throwsAsync(
      ctx.run(() => userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, 'ctxfake', { size: MiB })),
      { message: "cannot set up guest memory 'ctxfake': Cannot allocate memory" },
    );
    t.true(faulty.calls.includes('mmap'));
    t.is(MachineContext.current(), MachineContext.root);
    t.is(
      ctx.run(() => hostOs()),
      faulty,
    );
    t.not(hostOs(), faulty);
  } finally {
    faulty.faults.clear();
    userCreatableDel('ctxreal');
  }
});
