import test from 'ava';
import { userCreatableAddType, userCreatableDel } from '../../src/qom/index.js';
import {
  type HostMemoryBackend,
  type PreallocEndEvent,
  type PreallocEvent,
  TYPE_MEMORY_BACKEND_MEMFD,
  TYPE_MEMORY_BACKEND_RAM,
  hostMemoryBackendEvents,
  hostMemoryBackendWaitPrealloc,
} from '../../src/backends/index.js';
import { backendAddress, rss } from '../helpers/backends/util.js';

const MiB = 1 << 20;

test.serial(
  'prealloc=on at creation runs on workers: the event loop ticks, progress is reported, all of it is resident',
  async (t) => {
    const size = 256 * MiB;
    const id = 'pre256';
    const progress: PreallocEvent[] = [];
    const ends: PreallocEndEvent[] = [];
    const onProgress = (e: PreallocEvent): void => {
      if (e.id === id) progress.push(e);
    };
    const onEnd = (e: PreallocEndEvent): void => {
      if (e.id === id) ends.push(e);
    };
    hostMemoryBackendEvents.on('prealloc-progress', onProgress);
    hostMemoryBackendEvents.on('prealloc-end', onEnd);
    let ticks = 0;
    let done = false;
    const tick = (): void => {
      if (done) return;
      ticks++;
      setImmediate(tick);
    };
    setImmediate(tick);
    let obj: HostMemoryBackend | undefined;
    try {
      const p = userCreatableAddType(TYPE_MEMORY_BACKEND_MEMFD, id, {
        size,
        prealloc: true,
        'prealloc-threads': 2,
      });
      obj = (await p) as HostMemoryBackend;
      done = true;
      obj.unref();
      t.true(ticks > 0, 'the event loop ran while preallocating');
      t.true(progress.length >= 1);
      t.deepEqual(
        progress.map((e) => e.total),
        progress.map(() => size),
      );
      for (let i = 1; i < progress.length; i++) t.true(progress[i].done >= progress[i - 1].done);
      t.is(progress.at(-1)!.done, size);
      t.is(ends.length, 1);
      t.is(ends[0].error, undefined);
      t.is(ends[0].backend, obj);
      t.deepEqual(obj.preallocProgress, { done: size, total: size });
      t.true(obj.propertyGetBool('prealloc'));
      t.is(rss(backendAddress(obj)), size);
    } finally {
      done = true;
      hostMemoryBackendEvents.off('prealloc-progress', onProgress);
      hostMemoryBackendEvents.off('prealloc-end', onEnd);
      if (obj && !obj.finalized && obj.parent) userCreatableDel(id);
    }
  },
);

test.serial('prealloc=on after creation preallocates then; prealloc=off is ignored', async (t) => {
  const size = 16 * MiB;
  const obj = (await userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, 'late', {
    size,
  })) as HostMemoryBackend;
  obj.unref();
  try {
    const at = backendAddress(obj);
    t.is(rss(at), 0);
    t.false(obj.propertyGetBool('prealloc'));
    obj.propertySet('prealloc', true);
    // It reads as on at once, as in QEMU once qom-set has returned.
    t.true(obj.propertyGetBool('prealloc'));
    t.truthy(obj.preallocRunning);
    // A second request joins the running one.
    const running = obj.preallocRunning;
    obj.propertySet('prealloc', true);
    t.is(obj.preallocRunning, running);
    await hostMemoryBackendWaitPrealloc(obj);
    t.true(obj.propertyGetBool('prealloc'));
    t.is(rss(at), size);
    obj.propertySet('prealloc', false);
    t.true(obj.propertyGetBool('prealloc'));
    // Nothing runs now: waiting returns at once.
    t.is(obj.preallocRunning, null);
    await hostMemoryBackendWaitPrealloc(obj);
  } finally {
    userCreatableDel('late');
  }
});

test.serial(
  'deleting a backend while it preallocates defers the unmap until the workers are done',
  async (t) => {
    const size = 64 * MiB;
    const obj = (await userCreatableAddType(TYPE_MEMORY_BACKEND_MEMFD, 'busy', {
      size,
    })) as HostMemoryBackend;
    obj.unref();
    obj.propertySet('prealloc', true);
    const running = obj.preallocRunning;
    t.truthy(running);
    userCreatableDel('busy');
    t.false(obj.finalized, 'kept alive by the preallocation');
    await running;
    t.true(obj.finalized);
    t.is(obj.fd, -1);
  },
);
