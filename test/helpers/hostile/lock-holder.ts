/**
 * A process that takes a vdev-shmem region's header lock and keeps it
 * until told: `lock-holder.js NAME`. Reads commands on stdin, one a line:
 * `lock` (prints `locked`), `unlock` (prints `unlocked`); exits at end of
 * input. It plays a peer that was stopped inside its critical section.
 */
import 'reflect-metadata';
import { createInterface } from 'node:readline';
import { container } from 'tsyringe';
import {
  HostOs,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '../../../src/native/index.js';
import { VdevShmemHeader, vdevShmemObjectName } from '../../../src/hw/misc/vdev-shmem-host.js';

const os = container.resolve(HostOs);
const fd = os.shmOpen(vdevShmemObjectName(process.argv[2]!), O_RDWR | O_CLOEXEC, 0);
const mem = os.mapMemory(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
const words = new Int32Array(mem.native.buffer(0, 4096));
const at = VdevShmemHeader.LOCK >> 2;

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'lock') {
    while (Atomics.compareExchange(words, at, 0, process.pid) !== 0) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
    process.stdout.write('locked\n');
  } else if (line === 'unlock') {
    Atomics.store(words, at, 0);
    process.stdout.write('unlocked\n');
  }
});
process.stdin.on('end', () => process.exit(0));
