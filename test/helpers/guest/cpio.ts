/**
 * A minimal writer for the "newc" cpio format (`cpio -o -H newc`), the one
 * the Linux kernel unpacks as an initramfs. Enough for directories,
 * regular files, symlinks and character devices, so building a guest does
 * not need the cpio program.
 */

/** One archive member. */
export type CpioEntry =
  | {
      /** A directory. */
      type: 'dir';
      /** Path inside the archive, without a leading slash. */
      path: string;
      /** Permission bits; default 0o755. */
      mode?: number;
    }
  | {
      /** A regular file. */
      type: 'file';
      /** Path inside the archive. */
      path: string;
      /** Contents. */
      data: Uint8Array;
      /** Permission bits; default 0o644. */
      mode?: number;
    }
  | {
      /** A symbolic link. */
      type: 'symlink';
      /** Path inside the archive. */
      path: string;
      /** Where it points. */
      target: string;
    }
  | {
      /** A character device node. */
      type: 'chardev';
      /** Path inside the archive. */
      path: string;
      /** Major number. */
      major: number;
      /** Minor number. */
      minor: number;
      /** Permission bits; default 0o600. */
      mode?: number;
    };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function pad4(parts: Buffer[], len: number): void {
  const r = len % 4;
  if (r !== 0) parts.push(Buffer.alloc(4 - r));
}

function member(
  parts: Buffer[],
  ino: number,
  name: string,
  mode: number,
  data: Uint8Array,
  rdev: [number, number] = [0, 0],
): void {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const header =
    '070701' +
    hex8(ino) +
    hex8(mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(mode & S_IFDIR ? 2 : 1) + // nlink
    hex8(0) + // mtime: fixed, so archives are reproducible
    hex8(data.byteLength) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(rdev[0]) +
    hex8(rdev[1]) +
    hex8(nameBytes.byteLength) +
    hex8(0); // check
  parts.push(Buffer.from(header, 'ascii'), nameBytes);
  pad4(parts, 110 + nameBytes.byteLength);
  if (data.byteLength > 0) {
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    pad4(parts, data.byteLength);
  }
}

/** Builds a newc archive of `entries` (in order) with the closing TRAILER!!! member. */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    switch (e.type) {
      case 'dir':
        member(parts, ino++, path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0));
        break;
      case 'file':
        member(parts, ino++, path, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case 'symlink':
        member(parts, ino++, path, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'));
        break;
      case 'chardev':
        member(parts, ino++, path, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), [
          e.major,
          e.minor,
        ]);
        break;
    }
  }
  member(parts, 0, 'TRAILER!!!', 0, new Uint8Array(0));
  const out = Buffer.concat(parts);
  // Pad to a 512-byte block, as cpio does.
  const r = out.byteLength % 512;
  return r === 0 ? out : Buffer.concat([out, Buffer.alloc(512 - r)]);
}
