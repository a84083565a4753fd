/**
 * One side of the vdev-shmem notification benchmark, run as its own
 * process: a vdev-shmem device on this process's system address space,
 * driven at the device level (MMIO through the address space, interrupts
 * through the device's IRQ handler).
 *
 * Usage: peer.js ping|pong REGION ITERATIONS
 *
 * Both sides attach to REGION. `pong` answers every notification from the
 * other client with a notification back. `ping` waits for the other
 * client, then notifies it ITERATIONS times (plus a warm-up), each time
 * waiting for the answer, and prints the round-trip times in microseconds
 * as one JSON array on stdout.
 */
import 'reflect-metadata';
import { qdevNew, qdevRealize } from '../../src/hw/core/qdev.js';
import { VdevShmemState, vdevShmemConnectIrq } from '../../src/hw/misc/vdev-shmem.js';
import { GuestShmControl, GuestShmFactory } from '../../src/hw/misc/guest-shm.js';
import { addressSpaceMemory } from '../../src/system/memory.js';
import {
  addressSpaceLdl,
  addressSpaceLdq,
  addressSpaceStl,
  addressSpaceWrite,
} from '../../src/system/physmem.js';

const [role, region, itersArg] = process.argv.slice(2);
const iters = Number(itersArg ?? 10000);
const warm = Math.ceil(iters / 10);
const LOC = 0x10000000n;
const as = addressSpaceMemory();

const dev = qdevNew(VdevShmemState);
dev.propertyParse('loc', `0x${LOC.toString(16)}`);
dev.propertyParse('intr', '5');
dev.propertyParse('umask', '077');
await qdevRealize(dev);

const name = new Uint8Array(32);
for (let i = 0; i < region!.length; i++) name[i] = region!.charCodeAt(i);
addressSpaceWrite(as, LOC + BigInt(GuestShmFactory.NAME), name);
addressSpaceStl(as, LOC + BigInt(GuestShmFactory.SIZE), 1);
if (addressSpaceLdl(as, LOC + BigInt(GuestShmFactory.STATUS)) !== 0) {
  process.stderr.write('attach failed\n');
  process.exit(1);
}
const ctl = addressSpaceLdq(as, LOC + BigInt(GuestShmFactory.SHMEM));
const me = addressSpaceLdl(as, ctl + BigInt(GuestShmControl.IDX));
const other = 1 - me;
const status = (): number => addressSpaceLdl(as, ctl + BigInt(GuestShmControl.STATUS));
const notify = (): void => addressSpaceStl(as, ctl + BigInt(GuestShmControl.NOTIFY), 1 << other);

const finish = (): void => {
  dev.unparent();
  process.exit(0);
};

if (role === 'pong') {
  let seenPeer = false;
  vdevShmemConnectIrq(dev, (level) => {
    if (!level) return;
    const s = status();
    if (s & (1 << other)) notify();
    const peerActive = (s >>> 16) & (1 << other);
    if (peerActive) seenPeer = true;
    else if (seenPeer) finish(); // the ping side left
  });
} else {
  const lat: number[] = [];
  let t0 = 0n;
  let n = 0;
  const ping = (): void => {
    t0 = process.hrtime.bigint();
    notify();
  };
  let started = false;
  vdevShmemConnectIrq(dev, (level) => {
    if (!level) return;
    const s = status();
    if (!started) {
      if ((s >>> 16) & (1 << other)) {
        started = true;
        ping();
      }
      return;
    }
    if (!(s & (1 << other))) return;
    const dt = Number(process.hrtime.bigint() - t0) / 1000;
    if (n++ >= warm) lat.push(dt);
    if (lat.length >= iters) {
      // Exit only once the pipe took everything.
      process.stdout.write(`${JSON.stringify(lat)}\n`, finish);
      vdevShmemConnectIrq(dev, null);
      return;
    }
    ping();
  });
  // The other side may already be there.
  if ((status() >>> 16) & (1 << other)) {
    started = true;
    ping();
  }
}
