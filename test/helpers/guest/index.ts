/**
 * A Linux guest for tests that need a real VIRTIO driver on the other side:
 * Debian's cloud kernel (linux-image-cloud-amd64) and an initramfs built
 * here from busybox-static, the kernel modules a test names (with their
 * dependencies) and a shell script that runs as init.
 *
 * Packages are fetched with `apt-get download` and unpacked with
 * `dpkg-deb -x` into a cache (node_modules/.cache/tsqom-guest, keyed by
 * package versions), so repeated runs don't download again. When a
 * package cannot be found or fetched, {@link prepareGuest} throws an Error
 * that says what to do; it never skips.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cpioNewc, type CpioEntry } from './cpio.js';

const run = promisify(execFile);

/** Bumped when the layout of cached files or the initramfs changes. */
const FORMAT = 1;

/** The kernel and initramfs of a prepared guest. */
export interface GuestImage {
  /** Path of the kernel image (bzImage). */
  kernel: string;
  /** Path of the initramfs (newc cpio). */
  initrd: string;
  /** The kernel release, e.g. `6.1.0-56-cloud-amd64`. */
  release: string;
}

/** What goes into the initramfs. */
export interface GuestOptions {
  /**
   * Module names as the kernel knows them (`virtio_mmio`, `virtio_rng`);
   * their dependencies are added and everything is loaded in order.
   */
  modules: readonly string[];
  /**
   * Shell script (busybox sh) run as init after /proc, /sys and /dev are
   * mounted and the modules are loaded. The guest powers off when it
   * returns. `$CMDLINE` holds /proc/cmdline.
   */
  script: string;
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'node_modules'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the package root');
    dir = up;
  }
}

/** The cache directory (created on demand). */
export function guestCacheDir(): string {
  return (
    process.env.TSQOM_GUEST_CACHE ?? join(packageRoot(), 'node_modules', '.cache', 'tsqom-guest')
  );
}

async function sh(cmd: string, args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run(cmd, args, { cwd, maxBuffer: 64 << 20 });
  return stdout;
}

let updated = false;

/** Runs an apt-cache query; after one `apt-get update` (as root) if the lists lack the package. */
async function aptQuery(args: string[], pkg: string): Promise<string> {
  const attempt = async (): Promise<string | null> => {
    try {
      const out = await sh('apt-cache', args);
      return out.trim().length > 0 ? out : null;
    } catch {
      return null;
    }
  };
  let out = await attempt();
  if (out === null && !updated && process.getuid?.() === 0) {
    updated = true;
    try {
      await sh('apt-get', ['update', '-qq']);
    } catch (e) {
      throw new Error(`apt-get update failed while looking for ${pkg}: ${(e as Error).message}`);
    }
    out = await attempt();
  }
  if (out === null) {
    throw new Error(
      `the Debian package ${pkg} was not found by apt-cache (${args.join(' ')}); ` +
        'the guest tests need Debian package lists: run `apt-get update` (as root)',
    );
  }
  return out;
}

async function candidateVersion(pkg: string): Promise<string> {
  const out = await aptQuery(['show', '--no-all-versions', pkg], pkg);
  const m = /^Version: (\S+)$/m.exec(out);
  if (!m) throw new Error(`apt-cache show ${pkg} printed no version`);
  return m[1];
}

async function kernelPackage(): Promise<string> {
  const meta = 'linux-image-cloud-amd64';
  const out = await aptQuery(['depends', meta], meta);
  const m = /Depends: (linux-image-[0-9][^\s]*-cloud-amd64)\b/.exec(out);
  if (!m) throw new Error(`apt-cache depends ${meta} names no kernel package:\n${out}`);
  return m[1];
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9.+-]/g, '_');
}

/**
 * Downloads `pkg` at `version` and unpacks it into a fresh directory of
 * the cache; `keep` selects what to keep (paths relative to the package
 * root), everything else is dropped. Returns the directory.
 */
async function fetchPackage(
  pkg: string,
  version: string,
  keep: (files: string[]) => string[],
): Promise<string> {
  const cache = guestCacheDir();
  const dest = join(cache, `${safe(pkg)}_${safe(version)}_v${FORMAT}`);
  if (existsSync(join(dest, '.complete'))) return dest;
  await mkdir(cache, { recursive: true });
  const tmp = await mkdtemp(join(cache, '.tmp-'));
  try {
    try {
      await sh('apt-get', ['download', '-qq', `${pkg}=${version}`], tmp);
    } catch (e) {
      throw new Error(
        `apt-get download ${pkg}=${version} failed (the guest tests need Debian's package ` +
          `mirror): ${(e as Error).message}`,
      );
    }
    const debs = (await readdir(tmp)).filter((f) => f.endsWith('.deb'));
    if (debs.length !== 1)
      throw new Error(`apt-get download ${pkg} left ${debs.length} .deb files`);
    const unpacked = join(tmp, 'root');
    await sh('dpkg-deb', ['-x', join(tmp, debs[0]), unpacked]);
    const files = (await sh('find', ['.', '-type', 'f'], unpacked))
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => l.replace(/^\.\//, ''));
    const out = join(tmp, 'keep');
    for (const f of keep(files)) {
      await mkdir(dirname(join(out, f)), { recursive: true });
      await rename(join(unpacked, f), join(out, f));
    }
    await writeFile(join(out, '.complete'), `${pkg} ${version}\n`);
    try {
      await rename(out, dest);
    } catch (e) {
      // Another run finished first: use its copy.
      if (!existsSync(join(dest, '.complete'))) throw e;
    }
    return dest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Reads `depends=` from a module's .modinfo strings. */
function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const end = ko.indexOf(0, at + key.length);
  const v = ko.subarray(at + key.length, end).toString('utf8');
  return v.length === 0 ? [] : v.split(',');
}

interface KernelFiles {
  dir: string;
  release: string;
  kernel: string;
  /** Module name (dashes as underscores) to path relative to `dir`. */
  modules: Map<string, string>;
}

async function kernelFiles(): Promise<KernelFiles> {
  const pkg = await kernelPackage();
  const version = await candidateVersion(pkg);
  const dir = await fetchPackage(pkg, version, (files) =>
    files.filter(
      (f) =>
        /^boot\/vmlinuz-/.test(f) || /^(usr\/)?lib\/modules\/[^/]+\/kernel\/.*\.ko(\.xz)?$/.test(f),
    ),
  );
  const all = (await sh('find', ['.', '-type', 'f'], dir))
    .split('\n')
    .map((l) => l.replace(/^\.\//, ''));
  const kernel = all.find((f) => f.startsWith('boot/vmlinuz-'));
  if (kernel === undefined) throw new Error(`${pkg} has no boot/vmlinuz-*`);
  const release = kernel.slice('boot/vmlinuz-'.length);
  const modules = new Map<string, string>();
  for (const f of all) {
    const m = /\/([^/]+)\.ko(\.xz)?$/.exec(f);
    if (m) modules.set(m[1].replace(/-/g, '_'), f);
  }
  return { dir, release, kernel: join(dir, kernel), modules };
}

async function busyboxBinary(): Promise<string> {
  const pkg = 'busybox-static';
  const version = await candidateVersion(pkg);
  const dir = await fetchPackage(pkg, version, (files) => files.filter((f) => f === 'bin/busybox'));
  return join(dir, 'bin', 'busybox');
}

async function moduleBytes(path: string): Promise<Buffer> {
  if (!path.endsWith('.xz')) return readFile(path);
  // busybox insmod cannot read compressed modules: decompress on the host.
  const { stdout } = await promisify(execFile)('xz', ['-dc', path], {
    encoding: 'buffer',
    maxBuffer: 64 << 20,
  });
  return stdout;
}

const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/order); do
  insmod /lib/modules/$m.ko || echo "tsqom-guest: insmod $m failed"
done
CMDLINE=$(cat /proc/cmdline)
. /guest.sh
poweroff -f
`;

/**
 * Builds (or finds in the cache) a kernel and an initramfs with the given
 * modules and init script.
 */
export async function prepareGuest(options: GuestOptions): Promise<GuestImage> {
  const k = await kernelFiles();
  const bb = await busyboxBinary();
  // Resolve dependencies depth first so each module follows what it needs.
  const order: string[] = [];
  const bytes = new Map<string, Buffer>();
  const visit = async (name: string, chain: string[]): Promise<void> => {
    const key = name.replace(/-/g, '_');
    if (order.includes(key)) return;
    if (chain.includes(key))
      throw new Error(`module dependency loop: ${[...chain, key].join(' -> ')}`);
    const rel = k.modules.get(key);
    if (rel === undefined) throw new Error(`kernel ${k.release} has no module ${name}`);
    const ko = await moduleBytes(join(k.dir, rel));
    for (const dep of moduleDepends(ko)) await visit(dep, [...chain, key]);
    bytes.set(key, ko);
    order.push(key);
  };
  for (const m of options.modules) await visit(m, []);

  const hash = createHash('sha256')
    .update(`${FORMAT}\n${k.release}\n${bb}\n${order.join(',')}\n${INIT}\n${options.script}`)
    .digest('hex')
    .slice(0, 16);
  const initrd = join(guestCacheDir(), `initrd-${safe(k.release)}-${hash}.cpio`);
  if (!existsSync(initrd)) {
    const entries: CpioEntry[] = [
      { type: 'dir', path: 'bin' },
      { type: 'dir', path: 'dev' },
      { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
      { type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
      { type: 'dir', path: 'lib' },
      { type: 'dir', path: 'lib/modules' },
      { type: 'file', path: 'bin/busybox', data: await readFile(bb), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'file', path: 'init', data: Buffer.from(INIT), mode: 0o755 },
      { type: 'file', path: 'guest.sh', data: Buffer.from(options.script), mode: 0o644 },
      { type: 'file', path: 'lib/modules/order', data: Buffer.from(`${order.join('\n')}\n`) },
      ...order.map((m): CpioEntry => ({
        type: 'file',
        path: `lib/modules/${m}.ko`,
        data: bytes.get(m)!,
      })),
    ];
    const tmp = `${initrd}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, cpioNewc(entries));
    await rename(tmp, initrd);
  }
  return { kernel: k.kernel, initrd, release: k.release };
}
