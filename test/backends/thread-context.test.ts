import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import {
  objectClassByName,
  objectNew,
  userCreatableAddType,
  userCreatableDel,
} from '../../src/qom/index.js';
import {
  type HostMemoryBackend,
  TYPE_MEMORY_BACKEND_RAM,
  TYPE_THREAD_CONTEXT,
  ThreadContext,
} from '../../src/backends/index.js';
import { HOST_OS, HostOs, type MappingLike, type PreallocOptions } from '../../src/native/host.js';
import { MachineContext } from '../../src/util/machine-context.js';

/** The CPUs in the `Cpus_allowed_list` of a /proc status file. */
function cpusOf(statusFile: string): number[] {
  const m = /^Cpus_allowed_list:\s*(\S*)$/m.exec(readFileSync(statusFile, 'utf8'))!;
  const out: number[] = [];
  for (const part of m[1].split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

function allowedCpus(): number[] {
  return cpusOf('/proc/self/status');
}

test('thread-context: a user-creatable type with QEMU 7.2 properties', (t) => {
  const k = objectClassByName(TYPE_THREAD_CONTEXT)!;
  t.false(k.isAbstract);
  t.true(k.isA('user-creatable'));
  t.deepEqual(
    [...k.ownProperties()].map((p) => [p.name, p.type, !!p.get, !!p.set]),
    [
      ['thread-id', 'int', true, false],
      ['cpu-affinity', 'int', true, true],
      ['node-affinity', 'int', false, true],
    ],
  );
});

/** The affinity of thread `tid` of this process, as the kernel shows it. */
function taskCpus(tid: number): number[] {
  return cpusOf(`/proc/self/task/${tid}/status`);
}

test('thread-context: affinity checks with QEMU 7.2 texts before completion', (t) => {
  using tc = objectNew(ThreadContext);
  t.is(tc.propertyGet('thread-id'), 18446744073709551615n);
  t.throws(() => tc.propertyGet('cpu-affinity'), { message: 'Object not initialized yet' });
  t.throws(() => tc.propertyGet('node-affinity'), {
    message: "Property 'thread-context.node-affinity' is not readable",
  });
  t.throws(() => tc.propertySet('cpu-affinity', []), { message: 'CPU list is empty' });
  t.throws(() => tc.propertySet('node-affinity', []), { message: 'Node list is empty' });
  t.throws(() => tc.propertySet('node-affinity', [200]), { message: 'The nodes select no CPUs' });
  tc.propertySet('cpu-affinity', [0]);
  t.throws(() => tc.propertySet('node-affinity', [0]), {
    message: 'Mixing CPU and node affinity not supported',
  });
  t.throws(() => tc.propertySet('cpu-affinity', [0]), {
    message: 'Mixing CPU and node affinity not supported',
  });
});

test('thread-context: a real context thread, pinned and released', async (t) => {
  const cpus = allowedCpus();
  const tc = await userCreatableAddType(ThreadContext, 'tcreal', { 'cpu-affinity': [cpus[0]] });
  tc.unref();
  const tid = Number(tc.propertyGet('thread-id'));
  t.not(tid, process.pid);
  t.true(existsSync(`/proc/self/task/${tid}`));
  t.deepEqual(taskCpus(tid), [cpus[0]]);
  t.deepEqual(tc.propertyGet('cpu-affinity'), [cpus[0]]);
  // After completion the thread is re-pinned at once.
  tc.propertySet('cpu-affinity', cpus);
  t.deepEqual(taskCpus(tid), cpus);
  tc.propertySet('node-affinity', [0]);
  t.deepEqual(taskCpus(tid), cpus);
  t.throws(() => tc.propertySet('cpu-affinity', [4000]), {
    message: 'Setting CPU affinity failed: Invalid argument',
  });
  t.deepEqual(taskCpus(tid), cpus, 'a refused mask changes nothing');
  userCreatableDel('tcreal');
  t.true(tc.finalized);
  t.false(existsSync(`/proc/self/task/${tid}`), 'the context thread is joined');
});

/** Records the context threads made. */
class ThreadSpyOs extends HostOs {
  readonly tids: number[] = [];
  override contextThreadCreate(): number {
    const tid = super.contextThreadCreate();
    this.tids.push(tid);
    return tid;
  }
}

test('thread-context: a mask the kernel refuses fails completion and leaves no thread', async (t) => {
  // Other tests of this file start threads of their own (preallocation
  // workers), so the thread made for this object is followed by its tid.
  const spy = new ThreadSpyOs();
  const ctx = new MachineContext().register(HOST_OS, spy);
  await t.throwsAsync(
    ctx.run(() => userCreatableAddType(TYPE_THREAD_CONTEXT, 'tcbad', { 'cpu-affinity': [4000] })),
    { message: 'Setting CPU affinity failed: Invalid argument' },
  );
  t.is(spy.tids.length, 1, 'a context thread was made');
  t.false(existsSync(`/proc/self/task/${spy.tids[0]}`), 'and joined');
  t.throws(() => userCreatableDel('tcbad'));
});

/** Records the CPUs each preallocation asks for. */
class SpyOs extends HostOs {
  readonly preallocCpus: Array<readonly number[] | undefined> = [];
  override prealloc(mapping: MappingLike, options?: PreallocOptions): Promise<void> {
    this.preallocCpus.push(options?.cpus);
    return super.prealloc(mapping, options);
  }
}

test("thread-context: preallocation runs on the context thread's CPUs", async (t) => {
  const spy = new SpyOs();
  const ctx = new MachineContext().register(HOST_OS, spy);
  const cpus = allowedCpus();
  const tc = await ctx.run(() =>
    userCreatableAddType(ThreadContext, 'tcpre', { 'cpu-affinity': [cpus[cpus.length - 1]] }),
  );
  tc.unref();
  const b = (await ctx.run(() =>
    userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, 'tcpremem', {
      size: 1 << 20,
      prealloc: true,
      'prealloc-context': 'tcpre',
    }),
  )) as HostMemoryBackend;
  b.unref();
  const plain = (await ctx.run(() =>
    userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, 'tcpremem2', { size: 1 << 20, prealloc: true }),
  )) as HostMemoryBackend;
  plain.unref();
  t.deepEqual(spy.preallocCpus, [[cpus[cpus.length - 1]], undefined]);
  t.true(b.propertyGetBool('prealloc'));
  userCreatableDel('tcpremem2');
  userCreatableDel('tcpremem');
  userCreatableDel('tcpre');
});

test('thread-context: completed, it reports its CPUs; backends link it strongly', async (t) => {
  const tc = await userCreatableAddType(ThreadContext, 'tc0', {});
  tc.unref();
  t.deepEqual(tc.propertyGet('cpu-affinity'), allowedCpus());
  const b = (await userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, 'tcmem', {
    size: 1 << 20,
    prealloc: true,
    'prealloc-context': 'tc0',
  })) as HostMemoryBackend;
  b.unref();
  t.is(b.propertyGet('prealloc-context'), '/objects/tc0');
  t.is(b.preallocContext, tc);
  t.true(b.propertyGetBool('prealloc'));
  userCreatableDel('tc0');
  // The backend's strong link keeps it alive, out of the tree.
  t.false(tc.finalized);
  t.is(b.propertyGet('prealloc-context'), '');
  userCreatableDel('tcmem');
  t.true(tc.finalized);
});
