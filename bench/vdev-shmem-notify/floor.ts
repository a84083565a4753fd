/**
 * The Node.js floor for the vdev-shmem notification benchmark: two Node
 * processes ping-ponging over eventfds watched on their event loops (what
 * tsqom's doorbells do), with no device, header or guest access at all.
 *
 * Usage: floor.js ping|pong ITERATIONS, with this side's eventfd as
 * descriptor 3 and the other side's as descriptor 4. `ping` prints the
 * round-trip times in microseconds as one JSON array on stdout.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import { HostOs, UV_READABLE } from '../../src/native/index.js';

const [role, itersArg] = process.argv.slice(2);
const iters = Number(itersArg ?? 10000);
const warm = Math.ceil(iters / 10);
const MINE = 3;
const THEIRS = 4;
const DONE = 1_000_000n;
const os = container.resolve(HostOs);
const lat: number[] = [];
let t0 = 0n;
let n = 0;

const watcher = os.watch(MINE, UV_READABLE, () => {
  const v = os.eventfdRead(MINE);
  if (v === null) return;
  if (role === 'pong') {
    if (v >= DONE) watcher.close();
    else os.eventfdWrite(THEIRS, 1n);
    return;
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1000;
  if (n++ >= warm) lat.push(dt);
  if (lat.length >= iters) {
    os.eventfdWrite(THEIRS, DONE);
    watcher.close();
    process.stdout.write(`${JSON.stringify(lat)}\n`);
    return;
  }
  t0 = process.hrtime.bigint();
  os.eventfdWrite(THEIRS, 1n);
});
watcher.start();
if (role === 'ping') {
  // Give the other side time to start watching (a ring before that is kept anyway).
  setTimeout(() => {
    t0 = process.hrtime.bigint();
    os.eventfdWrite(THEIRS, 1n);
  }, 200);
}
