import test from 'ava';
import { type JsonObject, userCreatableAddType, userCreatableDel } from '../../src/qom/index.js';
import {
  type HostMemoryBackend,
  TYPE_MEMORY_BACKEND_MEMFD,
  TYPE_MEMORY_BACKEND_SHM,
} from '../../src/backends/index.js';
import { ourShmNames, pattern, runChild } from '../helpers/backends/util.js';

const SIZE = 1 << 20;
const HALF = SIZE / 2;
let seq = 0;

async function make(
  type: string,
  props: JsonObject,
): Promise<{ obj: HostMemoryBackend; id: string }> {
  const id = `share${seq++}`;
  const obj = (await userCreatableAddType(type, id, props)) as HostMemoryBackend;
  obj.unref();
  return { obj, id };
}

for (const type of [TYPE_MEMORY_BACKEND_MEMFD, TYPE_MEMORY_BACKEND_SHM]) {
  test(`${type}: another process sees our bytes through the fd, and we see its`, async (t) => {
    const { obj, id } = await make(type, { size: SIZE });
    try {
      // Ours, written through a view: the child must find them.
      const view = obj.view();
      view.set(pattern(HALF, 1), 0);
      const r = await runChild(['exchange', String(SIZE), '0', String(HALF), '1', '2'], obj.fd);
      t.is(r.code, 0, r.stderr);
      t.deepEqual(r.lines, [`match ${HALF}`, `wrote ${HALF}`]);
      // Its, written into the other half: the same view shows them.
      t.deepEqual(view.subarray(HALF), pattern(HALF, 2));
      t.deepEqual(obj.read(HALF, 16), pattern(16, 2));
    } finally {
      userCreatableDel(id);
    }
    t.deepEqual(ourShmNames(), []);
  });
}
