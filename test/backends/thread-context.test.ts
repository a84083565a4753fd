import test from 'ava';
import { readFileSync } from 'node:fs';
import {
  objectClassByName,
  objectNew,
  userCreatableAddType,
  userCreatableComplete,
  userCreatableDel,
} from '../../src/qom/index.js';
import {
  type HostMemoryBackend,
  TYPE_MEMORY_BACKEND_RAM,
  TYPE_THREAD_CONTEXT,
  ThreadContext,
} from '../../src/backends/index.js';

function allowedCpus(): number[] {
  const m = /^Cpus_allowed_list:\s*(\S*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))!;
  const out: number[] = [];
  for (const part of m[1].split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
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

test('thread-context: affinity checks with QEMU texts; tsqom cannot pin threads', async (t) => {
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
  t.throws(() => userCreatableComplete(tc), {
    message: 'Setting CPU affinity failed: Operation not supported',
  });
  await t.throwsAsync(userCreatableAddType(TYPE_THREAD_CONTEXT, 'tcaff', { 'cpu-affinity': [0] }), {
    message: 'Setting CPU affinity failed: Operation not supported',
  });
});

test('thread-context: completed, it reports the allowed CPUs; backends link it strongly', async (t) => {
  const tc = await userCreatableAddType(ThreadContext, 'tc0', {});
  tc.unref();
  t.deepEqual(tc.propertyGet('cpu-affinity'), allowedCpus());
  t.throws(() => tc.propertySet('cpu-affinity', [0]), {
    message: 'Setting CPU affinity failed: Operation not supported',
  });
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
