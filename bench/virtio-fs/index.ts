/**
 * virtio-fs: the same Linux guest (QEMU 7.2, q35, vhost-user-fs-pci, TCG)
 * mounts a share served by tsqom-virtiofsd and then by QEMU 7.2's C
 * virtiofsd (both cache=auto), and times, inside the guest:
 * - a sequential read of a 64 MiB file with the guest's page cache
 *   dropped first (`dd bs=1M`);
 * - a loop creating 500 small files, listing them and removing them.
 * Each is run three times per guest; the best time counts. Ratios are the
 * C virtiofsd's time over tsqom's (above 1: tsqom is faster). The guest
 * clock is /proc/uptime (10 ms resolution); both workloads take far longer.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchRow } from '../harness.js';
import { prepareGuest } from '../../test/helpers/guest/index.js';
import { bootGuest } from '../../test/helpers/guest/qemu-guest.js';
import {
  type Daemon,
  fsDeviceArgs,
  startCVirtiofsd,
  startTsqomVirtiofsd,
} from '../../test/helpers/virtiofsd/workload.js';

const TAG = 'benchfs';
const REPS = 3;

const SCRIPT = `
mkdir -p /mnt
mount -t virtiofs ${TAG} /mnt || echo TSQOM-BENCH-MOUNT-FAILED
up() { read u _ < /proc/uptime; echo \${u%.*}\${u#*.}; }
for r in 1 2 3; do
  sync; echo 3 > /proc/sys/vm/drop_caches
  a=$(up); dd if=/mnt/big.bin of=/dev/null bs=1M 2>/dev/null; b=$(up)
  echo "TSQOM-BENCH read $((b - a))"
  mkdir /mnt/small
  a=$(up)
  i=0; while [ $i -lt 500 ]; do echo "file $i" > /mnt/small/f$i; i=$((i+1)); done
  ls /mnt/small > /dev/null
  i=0; while [ $i -lt 500 ]; do rm /mnt/small/f$i; i=$((i+1)); done
  b=$(up)
  rmdir /mnt/small
  echo "TSQOM-BENCH small $((b - a))"
done
umount /mnt
echo TSQOM-BENCH-DONE
`;

interface Times {
  read: number;
  small: number;
}

async function measure(
  image: Awaited<ReturnType<typeof prepareGuest>>,
  start: (sock: string) => Promise<Daemon>,
  sock: string,
): Promise<Times> {
  const d = await start(sock);
  try {
    const r = await bootGuest({
      image,
      machine: 'q35',
      memoryMiB: 512,
      args: fsDeviceArgs(sock, TAG),
      timeoutMs: 300_000,
      until: 'TSQOM-BENCH-DONE',
    });
    const grab = (what: string): number[] =>
      [...r.console.matchAll(new RegExp(`TSQOM-BENCH ${what} (\\d+)`, 'g'))].map(
        (m) => Number(m[1]) * 10,
      );
    const read = grab('read');
    const small = grab('small');
    if (read.length !== REPS || small.length !== REPS) {
      throw new Error(
        `the guest did not finish: ${r.stderr}\n${r.console.slice(-2000)}\n${d.stderr()}`,
      );
    }
    return { read: Math.min(...read), small: Math.min(...small) };
  } finally {
    d.proc.kill('SIGKILL');
    await d.exited;
  }
}

/** Runs the benchmark. */
export async function run(): Promise<BenchRow[]> {
  const image = await prepareGuest({ modules: ['virtio_pci', 'virtiofs'], script: SCRIPT });
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-bench-virtiofs-'));
  try {
    const share = join(dir, 'share');
    await mkdir(share);
    await writeFile(join(share, 'big.bin'), randomBytes(64 * 2 ** 20));
    const ts = await measure(image, (s) => startTsqomVirtiofsd(s, share), join(dir, 't.sock'));
    const c = await measure(image, (s) => startCVirtiofsd(s, share), join(dir, 'c.sock'));
    const row = (metric: string, v: number, ref: number): BenchRow => {
      const ratio = ref / v;
      return {
        bench: 'virtio-fs',
        metric,
        value: v,
        unit: 'ms',
        reference: ref,
        referenceName: 'C virtiofsd',
        ratio,
        goal: 'speed ratio >= 0.5',
        met: ratio >= 0.5,
      };
    };
    return [
      row('64 MiB sequential read, guest cache dropped', ts.read, c.read),
      row('500 small files: create, list, remove', ts.small, c.small),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
