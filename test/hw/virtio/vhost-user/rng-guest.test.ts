/**
 * The proof against a real driver: Debian's QEMU 7.2 is the front-end
 * (its vhost-user-rng device on the microvm machine's virtio-mmio
 * transport) for examples/vhost-user-rng, and a Linux guest reads
 * /dev/hwrng through the kernel's virtio-rng driver.
 *
 * The guest prints what it read between markers. Before user space runs,
 * the kernel's hwrng core takes a block or two of the device's bytes for
 * its own entropy pool (32 at registration, 64 per read of its kthread;
 * QEMU's built-in virtio-rng-device with rng-random shows the same), so
 * the guest's bytes are the source file's bytes in order from a small
 * offset: the test checks they are exactly FILE[k .. k+N) with k a
 * multiple of 32 below 1 KiB. The init script stops the kthread first
 * (rng_quality 0) so nothing else reads while the guest does.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareGuest } from '../../../helpers/guest/index.js';
import { bootGuest } from '../../../helpers/guest/qemu-guest.js';
import { sleep } from '../../../helpers/guest/scripted-frontend.js';

const example = fileURLToPath(new URL('../../../../examples/vhost-user-rng.js', import.meta.url));

const N = 512;

const SCRIPT = `
n=${N}
for a in $CMDLINE; do case $a in tsqom.rng_bytes=*) n=\${a#tsqom.rng_bytes=};; esac; done
i=0
while [ ! -e /dev/hwrng ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
cat /sys/class/misc/hw_random/rng_current
echo 0 > /sys/class/misc/hw_random/rng_quality
echo TSQOM-RNG-BEGIN
dd if=/dev/hwrng bs=64 count=$((n / 64)) 2>/dev/null | od -An -v -tx1
echo TSQOM-RNG-END
`;

test('a Linux guest reads the source file through QEMU 7.2 and the TypeScript back-end', async (t) => {
  t.timeout(240_000);
  // Fetching and unpacking the kernel may take a while the first time.
  const image = await prepareGuest({ modules: ['virtio_mmio', 'virtio_rng'], script: SCRIPT });
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-rng-guest-'));
  const source = join(dir, 'source.bin');
  const sock = join(dir, 'rng.sock');
  const bytes = randomBytes(16384);
  await writeFile(source, bytes);
  const be = spawn(process.execPath, [example, '--socket', sock, '--source', source], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let beOut = '';
  let beErr = '';
  be.stdout.on('data', (d: Buffer) => (beOut += d.toString()));
  be.stderr.on('data', (d: Buffer) => (beErr += d.toString()));
  const beExit = new Promise<number | null>((resolve) => be.on('close', (c) => resolve(c)));
  try {
    for (let i = 0; i < 500 && !existsSync(sock); i++) {
      if (be.exitCode !== null) break;
      await sleep(10);
    }
    t.true(existsSync(sock), `the back-end is listening: ${beErr}`);
    const r = await bootGuest({
      image,
      append: `tsqom.rng_bytes=${N}`,
      args: [
        // QEMU 7.2's virtio-mmio is legacy by default; vhost-user back-ends
        // (libvhost-user's rule) need VIRTIO 1.0.
        '-global',
        'virtio-mmio.force-legacy=false',
        '-chardev',
        `socket,id=c0,path=${sock}`,
        '-device',
        'vhost-user-rng,chardev=c0',
      ],
      timeoutMs: 120_000,
    });
    const m = /TSQOM-RNG-BEGIN\r?\n([\s\S]*?)TSQOM-RNG-END/.exec(r.console);
    t.truthy(m, `no output from the guest:\n${r.command}\n${r.stderr}\n${r.console.slice(-3000)}`);
    t.false(r.timedOut);
    t.regex(r.console, /virtio_rng\.0/, 'the guest uses the virtio-rng device');
    const got = Buffer.from(m![1].replace(/\s+/g, ''), 'hex');
    t.is(got.length, N);
    const k = bytes.indexOf(got);
    t.true(
      k >= 0 && k % 32 === 0 && k < 1024,
      `the guest's bytes are not FILE[k..k+${N}) for a small k (k=${k})`,
    );
    t.deepEqual(got, bytes.subarray(k, k + N));
    t.is(r.code, 0, r.stderr);
    // QEMU quit, so the back-end's one front-end disconnected.
    t.is(await beExit, 0, beErr);
    t.is(beOut, '');
    t.is(beErr, '');
  } finally {
    be.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
