/**
 * tsqom's vhost-user front-end against a real back-end: Debian's
 * qemu-storage-daemon exporting an image as vhost-user-blk. The disk is
 * read and written through virtio-blk requests in virtqueues that live in
 * tsqom's guest RAM (memory-backend-shm and -memfd), and compared with the
 * image file.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VhostUserBlkClient } from '../../../../examples/vhost-user-blk-cat.js';
import { startQsd } from '../../../helpers/vhost-user/qsd.js';
import { tempDir, uniqueId, vhostFds } from '../../../helpers/vhost-user/setup.js';

const run = promisify(execFile);
const example = fileURLToPath(
  new URL('../../../../examples/vhost-user-blk-cat.js', import.meta.url),
);
const DISK = 4 * 2 ** 20;

for (const memdev of ['shm', 'memfd'] as const) {
  test.serial(
    `reads and writes through qemu-storage-daemon with guest RAM from memory-backend-${memdev}`,
    async (t) => {
      const d = tempDir();
      const img = join(d.dir, 'disk.img');
      const sock = join(d.dir, 'blk.sock');
      const content = randomBytes(DISK);
      writeFileSync(img, content);
      const qsd = await startQsd(img, sock);
      const before = vhostFds();
      try {
        const c = await VhostUserBlkClient.open({ socket: sock, memdev, prefix: uniqueId('blk') });
        try {
          t.is(c.capacity, BigInt(DISK));
          t.false(c.readOnly);
          const cases: [number, number][] = [
            [0, 512],
            [0, 4096],
            [1000, 3000],
            [511, 1],
            [DISK - 100, 100],
            [123457, 300000],
            [0, DISK],
          ];
          for (const [off, len] of cases) {
            const got = await c.read(BigInt(off), len);
            t.true(Buffer.from(got).equals(content.subarray(off, off + len)), `read ${off}+${len}`);
          }
          await t.throwsAsync(c.read(BigInt(DISK - 10), 11), { instanceOf: RangeError });
          // Writes: aligned, unaligned (read-modify-write), spanning request slots.
          const writes: [number, number][] = [
            [4096, 4096],
            [777, 10000],
            [DISK - 3, 3],
            [65536 + 13, 200000],
          ];
          for (const [off, len] of writes) {
            const data = randomBytes(len);
            await c.write(BigInt(off), data);
            data.copy(content, off);
            t.true(readFileSync(img).equals(content), `file after write ${off}+${len}`);
          }
          t.true(Buffer.from(await c.read(0n, DISK)).equals(content));
        } finally {
          await c.close();
        }
        await new Promise((r) => setTimeout(r, 20));
        t.deepEqual(vhostFds(), before, 'nothing of the connection is left');
      } finally {
        await qsd.stop();
        d.remove();
      }
    },
  );
}

test.serial(
  'the vhost-user-blk-cat example reads to stdout and writes a file, against qemu-storage-daemon',
  async (t) => {
    const d = tempDir();
    const img = join(d.dir, 'disk.img');
    const sock = join(d.dir, 'blk.sock');
    const content = randomBytes(DISK);
    writeFileSync(img, content);
    const qsd = await startQsd(img, sock);
    try {
      const r = await run(
        process.execPath,
        [example, '--socket', sock, '--offset', '1234', '--length', '70000'],
        { encoding: 'buffer', maxBuffer: 2 ** 24 },
      );
      t.true(r.stdout.equals(content.subarray(1234, 1234 + 70000)));
      const r2 = await run(
        process.execPath,
        [example, '--socket', sock, '--memdev', 'memfd', '--offset', '0', '--length', String(DISK)],
        { encoding: 'buffer', maxBuffer: 2 ** 24 },
      );
      t.true(r2.stdout.equals(content));
      const patch = randomBytes(5000);
      const pf = join(d.dir, 'patch.bin');
      writeFileSync(pf, patch);
      await run(process.execPath, [example, '--socket', sock, '--write', pf, '--offset', '3333']);
      patch.copy(content, 3333);
      t.true(readFileSync(img).equals(content));
      const bad = await t.throwsAsync(
        run(process.execPath, [
          example,
          '--socket',
          sock,
          '--offset',
          String(DISK),
          '--length',
          '1',
        ]),
      );
      t.regex(String((bad as { stderr?: unknown }).stderr), /is outside the 4194304-byte disk/);
    } finally {
      await qsd.stop();
      d.remove();
    }
  },
);
