/**
 * A second process for the backend tests: it maps the memory it is handed
 * as descriptor 3 with the built native layer and checks and writes
 * patterns, so the tests can see one process's stores from another.
 * Usage: `node child.js exchange SIZE OFFSET LENGTH SEED_IN SEED_OUT`:
 * checks that [OFFSET, +LENGTH) holds pattern SEED_IN, then writes pattern
 * SEED_OUT at OFFSET+LENGTH; prints `match N` and `wrote N`.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import { HostOs, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../../src/native/index.js';
import { pattern } from './pattern.js';

const os = container.resolve(HostOs);
const [cmd, ...rest] = process.argv.slice(2);
const [size, offset, length, seedIn, seedOut] = rest.map(Number);

if (cmd !== 'exchange') throw new Error(`unknown command ${cmd}`);
const m = os.mapMemory(size, PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
const want = pattern(length, seedIn);
const got = m.read(offset, length);
let match = 0;
for (let i = 0; i < length; i++) if (got[i] === want[i]) match++;
process.stdout.write(`match ${match}\n`);
m.write(offset + length, pattern(length, seedOut));
process.stdout.write(`wrote ${length}\n`);
m.unmap();
os.close(3);
