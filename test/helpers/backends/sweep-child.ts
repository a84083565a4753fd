/**
 * A fresh process for the stale-name sweep: it allocates its first shm
 * backend, which sweeps /dev/shm, then prints which of the names given on
 * the command line still exist.
 */
import { existsSync } from 'node:fs';
import { userCreatableAddType, userCreatableDel } from '../../../src/qom/index.js';
import { TYPE_MEMORY_BACKEND_SHM } from '../../../src/backends/index.js';

const names = process.argv.slice(2);
const before = names.map((n) => existsSync(`/dev/shm/${n}`));
const obj = await userCreatableAddType(TYPE_MEMORY_BACKEND_SHM, 'first', { size: 4096 });
obj.unref();
userCreatableDel('first');
const after = names.map((n) => existsSync(`/dev/shm/${n}`));
process.stdout.write(`${JSON.stringify({ before, after })}\n`);
