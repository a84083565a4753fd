/**
 * The proof against a real driver: QEMU 7.2 fronts tsqom-virtiofsd with
 * its vhost-user-fs-pci device (q35, memfd guest RAM, TCG) and a Linux
 * guest mounts the share, reads every file back, lists directories,
 * follows a symlink, and creates, writes, renames, truncates, chmods,
 * links and unlinks. The same guest workload then runs against QEMU 7.2's
 * C virtiofsd on a copy of the same tree; both must leave the tree the
 * same changes replayed on the host produce.
 */
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareGuest } from '../../helpers/guest/index.js';
import { bootGuest, type BootResult } from '../../helpers/guest/qemu-guest.js';
import {
  type Daemon,
  applyWorkloadOnHost,
  copyTree,
  fsDeviceArgs,
  guestScript,
  makeRandomTree,
  manifest,
  md5Lines,
  section,
  startCVirtiofsd,
  startTsqomVirtiofsd,
} from '../../helpers/virtiofsd/workload.js';

const TAG = 'tsqomfs';

async function runGuest(
  image: Awaited<ReturnType<typeof prepareGuest>>,
  sock: string,
): Promise<BootResult> {
  return bootGuest({
    image,
    machine: 'q35',
    memoryMiB: 512,
    args: fsDeviceArgs(sock, TAG),
    timeoutMs: 120_000,
    until: 'TSQOM-FS-DONE',
  });
}

test('a Linux guest uses a share served by tsqom-virtiofsd and by the C virtiofsd alike', async (t) => {
  t.timeout(300_000);
  const image = await prepareGuest({
    modules: ['virtio_pci', 'virtiofs'],
    script: guestScript(TAG),
  });
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-virtiofs-guest-'));
  const daemons: Daemon[] = [];
  try {
    const original = join(dir, 'original');
    await makeRandomTree(original);
    const wantMd5 = md5Lines(original);
    const wantList = ['.', ...manifest(original).map((l) => `./${l.split(' ')[0]}`)].sort();
    const results: { name: string; tree: string; console: string }[] = [];
    for (const name of ['tsqom', 'c'] as const) {
      const tree = join(dir, name);
      await copyTree(original, tree);
      const sock = join(dir, `${name}.sock`);
      const d =
        name === 'tsqom'
          ? await startTsqomVirtiofsd(sock, tree)
          : await startCVirtiofsd(sock, tree);
      daemons.push(d);
      const t0 = Date.now();
      const r = await runGuest(image, sock);
      t.log(`${name}: guest ran ${Date.now() - t0} ms`);
      const where = `${name}:\n${r.command}\n${r.stderr}\n${r.console.slice(-4000)}\n${d.stderr()}`;
      t.false(r.timedOut, `guest timed out (${where})`);
      t.false(r.console.includes('TSQOM-FS-MOUNT-FAILED'), where);
      t.deepEqual(
        section(r.console, 'MD5'),
        wantMd5,
        `${name}: every file reads back byte for byte`,
      );
      t.deepEqual(section(r.console, 'LIST'), wantList, `${name}: the listing`);
      t.deepEqual(
        section(r.console, 'LS'),
        ['deeper', ...Array.from({ length: 20 }, (_, i) => `small-${i}.txt`)].sort(),
        `${name}: ls of a subdirectory`,
      );
      t.regex(r.console, /TSQOM-FS-READLINK sub\/deeper\/keep\.bin/, `${name}: readlink`);
      const keep = md5Lines(original)
        .find((l) => l.endsWith('./sub/deeper/keep.bin'))!
        .slice(0, 32);
      t.regex(r.console, new RegExp(`TSQOM-FS-FOLLOW ${keep}`), `${name}: following the symlink`);
      t.regex(r.console, /TSQOM-FS-UMOUNT-OK/, `${name}: umount succeeds`);
      // The daemon leaves with its front-end.
      const t1 = Date.now();
      t.is(await d.exited, 0, `${name} exit status: ${d.stderr()}`);
      t.log(`${name}: exit after ${Date.now() - t1} ms`);
      results.push({ name, tree, console: r.console });
    }
    // The host trees: what the guest wrote to written.bin came from its
    // /dev/urandom, so the expected tree takes each run's own bytes there.
    for (const r of results) {
      const m = /TSQOM-FS-WRITTEN ([0-9a-f]{32})/.exec(r.console);
      t.truthy(m, `${r.name}: the guest wrote written.bin`);
      const expected = join(dir, `expected-${r.name}`);
      await copyTree(original, expected);
      await applyWorkloadOnHost(expected, await readFile(join(r.tree, 'written.bin')));
      t.deepEqual(
        manifest(r.tree),
        manifest(expected),
        `${r.name}: the host tree shows the guest's changes`,
      );
      t.true(
        manifest(r.tree).some((l) => l.startsWith('written.bin ') && l.includes(`md5=${m![1]}`)),
        `${r.name}: written.bin holds what the guest wrote`,
      );
    }
    t.deepEqual(
      manifest(results[0].tree, ['written.bin']),
      manifest(results[1].tree, ['written.bin']),
      'tsqom-virtiofsd and the C virtiofsd leave the same host tree',
    );
  } finally {
    for (const d of daemons) d.proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
