/**
 * The guest workload of the virtio-fs tests and benchmark: a host tree of
 * random files, the busybox script a guest runs on the mounted share, the
 * same changes replayed on the host with Node's fs (the expected result),
 * a manifest of a tree for comparing results, and the two daemons (tsqom's
 * and QEMU 7.2's C virtiofsd) started on a socket.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import {
  chmod,
  cp,
  link,
  mkdir,
  rename,
  rm,
  symlink,
  truncate,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The command's entry point in dist/. */
export const VIRTIOFSD_MAIN = fileURLToPath(
  new URL('../../../src/tools/virtiofsd/main.js', import.meta.url),
);
/** QEMU 7.2's C virtiofsd. */
export const C_VIRTIOFSD = '/usr/lib/qemu/virtiofsd';

/** Makes the random tree under `dir`: files of assorted sizes, a subdirectory, a symlink. */
export async function makeRandomTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
  await mkdir(join(dir, 'empty'));
  const sizes = [0, 1, 100, 4095, 4096, 4097, 65536, 200_000, 1_048_577];
  for (const [i, n] of sizes.entries()) await writeFile(join(dir, `file${i}.bin`), randomBytes(n));
  for (let i = 0; i < 20; i++)
    await writeFile(join(dir, 'sub', `small-${i}.txt`), randomBytes(i * 37));
  await writeFile(join(dir, 'sub', 'deeper', 'victim.bin'), randomBytes(3000));
  await writeFile(join(dir, 'sub', 'deeper', 'keep.bin'), randomBytes(5000));
  await symlink('sub/deeper/keep.bin', join(dir, 'link-to-keep'));
}

/**
 * The guest's script: mount, print an md5 per file and the listings
 * between markers, follow the symlink, then create, write, rename,
 * truncate, chmod, link and unlink, sync and unmount.
 */
export function guestScript(tag: string): string {
  return `
mkdir -p /mnt
mount -t virtiofs ${tag} /mnt || echo TSQOM-FS-MOUNT-FAILED
cd /mnt
echo TSQOM-FS-MD5-BEGIN
find . -type f | sort | while read f; do md5sum "$f"; done
echo TSQOM-FS-MD5-END
echo TSQOM-FS-LIST-BEGIN
find . | sort
echo TSQOM-FS-LIST-END
echo TSQOM-FS-LS-BEGIN
ls sub | sort
echo TSQOM-FS-LS-END
echo "TSQOM-FS-READLINK $(readlink link-to-keep)"
echo "TSQOM-FS-FOLLOW $(md5sum < link-to-keep)"
echo "created by the guest" > new.txt
dd if=/dev/urandom of=written.bin bs=1000 count=70 2>/dev/null
cat written.bin | md5sum | sed 's/^/TSQOM-FS-WRITTEN /'
mkdir newdir
mv new.txt newdir/renamed.txt
mv file3.bin sub/moved.bin
truncate -s 1000 file7.bin
truncate -s 9000 file2.bin
chmod 640 newdir/renamed.txt
chmod 711 sub
ln newdir/renamed.txt hardlink.txt
ln -s newdir/renamed.txt newlink
rm sub/deeper/victim.bin
rmdir empty
sync
cd /
umount /mnt && echo TSQOM-FS-UMOUNT-OK
echo TSQOM-FS-DONE
`;
}

/**
 * The script's changes replayed on the host, for the expected tree;
 * `written` is the content the guest wrote to written.bin (random there).
 */
export async function applyWorkloadOnHost(dir: string, written: Uint8Array): Promise<void> {
  await writeFile(join(dir, 'new.txt'), 'created by the guest\n');
  await writeFile(join(dir, 'written.bin'), written);
  await mkdir(join(dir, 'newdir'));
  await rename(join(dir, 'new.txt'), join(dir, 'newdir', 'renamed.txt'));
  await rename(join(dir, 'file3.bin'), join(dir, 'sub', 'moved.bin'));
  await truncate(join(dir, 'file7.bin'), 1000);
  await truncate(join(dir, 'file2.bin'), 9000);
  await chmod(join(dir, 'newdir', 'renamed.txt'), 0o640);
  await chmod(join(dir, 'sub'), 0o711);
  await link(join(dir, 'newdir', 'renamed.txt'), join(dir, 'hardlink.txt'));
  await symlink('newdir/renamed.txt', join(dir, 'newlink'));
  await unlink(join(dir, 'sub', 'deeper', 'victim.bin'));
  await rm(join(dir, 'empty'), { recursive: false, force: false }).catch(async () => {
    const { rmdir } = await import('node:fs/promises');
    await rmdir(join(dir, 'empty'));
  });
}

/** One line per entry: path, type, permissions, link count, size and content hash or target. */
export function manifest(dir: string, except: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (except.includes(r)) continue;
      const st = lstatSync(join(dir, r));
      const perm = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${r} link -> ${readlinkSync(join(dir, r))}`);
      else if (st.isDirectory()) {
        out.push(`${r} dir ${perm}`);
        walk(r);
      } else {
        const h = createHash('md5')
          .update(readFileSync(join(dir, r)))
          .digest('hex');
        out.push(`${r} file ${perm} nlink=${st.nlink} size=${st.size} md5=${h}`);
      }
    }
  };
  walk('');
  return out;
}

/** md5 of every regular file, as `md5sum` prints them from the root (`./path`), sorted by path. */
export function md5Lines(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) {
        out.push(
          `${createHash('md5')
            .update(readFileSync(join(dir, r)))
            .digest('hex')}  ./${r}`,
        );
      }
    }
  };
  walk('');
  return out.sort((a, b) => (a.slice(34) < b.slice(34) ? -1 : a.slice(34) > b.slice(34) ? 1 : 0));
}

/** Copies a tree (symlinks as symlinks). */
export async function copyTree(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
}

/** A started daemon. */
export interface Daemon {
  /** The process. */
  proc: ChildProcess;
  /** Its stderr so far. */
  stderr(): string;
  /** Resolves with its exit code. */
  exited: Promise<number | null>;
}

/** Starts a daemon and waits for its socket to appear. */
export async function startDaemon(cmd: string, args: string[], sock: string): Promise<Daemon> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (c) => resolve(c)));
  for (let i = 0; i < 1000 && !existsSync(sock); i++) {
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!existsSync(sock)) throw new Error(`${cmd} did not listen on ${sock}: ${err}`);
  return { proc, stderr: () => err, exited };
}

/** Starts tsqom-virtiofsd on `dir`. */
export function startTsqomVirtiofsd(
  sock: string,
  dir: string,
  extra: string[] = [],
): Promise<Daemon> {
  return startDaemon(
    process.execPath,
    [VIRTIOFSD_MAIN, '--socket-path', sock, '--shared-dir', dir, '--cache', 'auto', ...extra],
    sock,
  );
}

/** Starts QEMU 7.2's C virtiofsd on `dir`. */
export function startCVirtiofsd(sock: string, dir: string): Promise<Daemon> {
  return startDaemon(
    C_VIRTIOFSD,
    [`--socket-path=${sock}`, '-o', `source=${dir}`, '-o', 'cache=auto', '-o', 'sandbox=chroot'],
    sock,
  );
}

/** QEMU arguments for a vhost-user-fs-pci device on `sock` with `tag`. */
export function fsDeviceArgs(sock: string, tag: string): string[] {
  return [
    '-chardev',
    `socket,id=fs0,path=${sock}`,
    '-device',
    `vhost-user-fs-pci,chardev=fs0,tag=${tag}`,
  ];
}

/** The text between `TSQOM-FS-<name>-BEGIN` and `-END` lines, as lines. */
export function section(console: string, name: string): string[] | null {
  const m = new RegExp(`TSQOM-FS-${name}-BEGIN\\r?\\n([\\s\\S]*?)TSQOM-FS-${name}-END`).exec(
    console,
  );
  if (!m) return null;
  return m[1]
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
}
