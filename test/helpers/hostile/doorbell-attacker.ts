/**
 * A hostile member of a vdev-shmem region, for the hostile-peer tests:
 * `doorbell-attacker.js HOST PID MS`. It attaches to region HOST (which
 * process PID holds too), opens as many extra connections to PID's
 * doorbell as it can (up to 300), prints `ready IDX`, and on a `go` line
 * rings every other member (through the header and the doorbell) in a
 * tight loop for MS milliseconds while writing junk on its extra
 * connections. Its event loop is busy all that time: it never reads its
 * own doorbell, what comes back on its connections or anything else. It
 * then prints `done RINGS` and idles until it is killed.
 */
import 'reflect-metadata';
import { vdevShmemAttach } from '../../../src/hw/misc/vdev-shmem-host.js';
import { vdevShmemDoorbellPath } from '../../../src/hw/misc/vdev-shmem-doorbell.js';
import { vdevShmemProcessToken } from '../../../src/hw/misc/vdev-shmem-liveness.js';
import { hostOs } from '../../../src/util/machine-context.js';
import {
  AF_UNIX,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
} from '../../../src/native/constants.js';

const [host, pidArg, msArg] = process.argv.slice(2);
const os = hostOs();
const r = vdevShmemAttach(host!, { create: false });
if (!r.client) {
  process.stdout.write(`failed ${r.status} ${r.reason}\n`);
  process.exit(1);
}
const client = r.client;
const pid = Number(pidArg);
const path = vdevShmemDoorbellPath({ pid, token: vdevShmemProcessToken(pid)! });
const socks: number[] = [];
for (let i = 0; i < 300; i++) {
  const s = os.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  try {
    os.connect(s, path);
    socks.push(s);
  } catch {
    os.close(s);
  }
}
process.stdout.write(`ready ${client.idx}\n`);

const junk = new Uint8Array(4096).fill(0x41);
const others = 0xffff & ~(1 << client.idx);
process.stdin.setEncoding('utf8').on('data', (d: string) => {
  if (!d.includes('go')) return;
  const end = Date.now() + Number(msArg);
  let rings = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 64; i++) {
      client.notify(others);
      rings++;
    }
    const s = socks[rings % Math.max(1, socks.length)];
    if (s !== undefined) {
      try {
        os.sendmsg(s, junk);
      } catch {
        // Full, or hung up on: the next one.
      }
    }
  }
  process.stdout.write(`done ${rings}\n`);
});
