/**
 * Soaks: 20,000 object-add/object-del cycles per memory backend type, and
 * then descriptors, mappings, /dev/shm names, files and RSS are as they
 * were. Serial: the counts are per process.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userCreatableAddType, userCreatableDel } from '../../src/qom/index.js';
import {
  TYPE_MEMORY_BACKEND_FILE,
  TYPE_MEMORY_BACKEND_MEMFD,
  TYPE_MEMORY_BACKEND_RAM,
  TYPE_MEMORY_BACKEND_SHM,
} from '../../src/backends/index.js';
import { fdCount } from '../helpers/native/util.js';
import { backendMappings, dontDumpMappings, ourShmNames } from '../helpers/backends/util.js';

const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-soak-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function rssKiB(): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

const N = 20_000;
const COUNT = '20,000';

for (const [type, extra] of [
  [TYPE_MEMORY_BACKEND_RAM, { share: true }],
  [TYPE_MEMORY_BACKEND_MEMFD, {}],
  [TYPE_MEMORY_BACKEND_SHM, {}],
  [TYPE_MEMORY_BACKEND_FILE, { 'mem-path': dir }],
] as const) {
  test.serial(`${COUNT} object-add/object-del cycles of ${type} leak nothing`, async (t) => {
    // dump=off marks every backend mapping (VmFlags `dd`).
    const props = { size: 4096, dump: false, ...extra };
    const cycle = async (): Promise<void> => {
      (await userCreatableAddType(type, 'soak', props)).unref();
      userCreatableDel('soak');
    };
    for (let i = 0; i < 200; i++) await cycle();
    const fds = fdCount();
    const marked = dontDumpMappings();
    const rss = rssKiB();
    for (let i = 0; i < N; i++) await cycle();
    t.is(fdCount(), fds);
    t.is(dontDumpMappings(), marked);
    t.deepEqual(backendMappings(), []);
    t.deepEqual(ourShmNames(), []);
    t.deepEqual(readdirSync(dir), []);
    const grown = rssKiB() - rss;
    t.true(grown < 32 * 1024, `RSS grew by ${grown} KiB`);
  });
}
