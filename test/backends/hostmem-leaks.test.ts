import test from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  objectGetObjectsRoot,
  userCreatableAddType,
  userCreatableDel,
} from '../../src/qom/index.js';
import {
  TYPE_MEMORY_BACKEND_FILE,
  TYPE_MEMORY_BACKEND_MEMFD,
  TYPE_MEMORY_BACKEND_RAM,
  TYPE_MEMORY_BACKEND_SHM,
} from '../../src/backends/index.js';
import { fdCount, mappingCount, procMaps } from '../helpers/native/util.js';
import { backendMappings, dontDumpMappings, ourShmNames } from '../helpers/backends/util.js';

const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostmem-leaks-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

// dump=off marks every backend mapping (VmFlags `dd`), so even private
// anonymous memory can be told apart from the JS heap's.
const TYPES: [string, Record<string, string | number | boolean>][] = [
  [TYPE_MEMORY_BACKEND_RAM, { share: true }],
  [TYPE_MEMORY_BACKEND_MEMFD, {}],
  [TYPE_MEMORY_BACKEND_SHM, {}],
  [TYPE_MEMORY_BACKEND_FILE, { 'mem-path': dir }],
  [TYPE_MEMORY_BACKEND_RAM, {}],
];

async function cycles(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const [type, extra] = TYPES[i % TYPES.length];
    const obj = await userCreatableAddType(type, 'cycle', { size: 4096, dump: false, ...extra });
    obj.unref();
    userCreatableDel('cycle');
  }
}

test.serial(
  '10,000 create/destroy cycles leave descriptors, mappings and /dev/shm as they were',
  async (t) => {
    // Warm up: classes, the native layer, V8's heap.
    await cycles(200);
    const fds = fdCount();
    const marked = dontDumpMappings();
    const maps = mappingCount();
    await cycles(10_000);
    t.is(fdCount(), fds);
    t.is(dontDumpMappings(), marked);
    t.deepEqual(backendMappings(), []);
    t.false(procMaps().some((l) => l.path.startsWith(dir)));
    // The total also counts the JS heap's pages, which V8 maps and keeps as it
    // likes; 10,000 leaked backends would add 10,000 lines.
    t.true(mappingCount() < maps + 100, `${mappingCount()} mappings, ${maps} before`);
    t.deepEqual(ourShmNames(), []);
    t.deepEqual(readdirSync(dir), []);
    t.is(objectGetObjectsRoot().resolvePathComponent('cycle'), null);
  },
);
