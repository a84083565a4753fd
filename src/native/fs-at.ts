/**
 * Directory-relative file system calls: the `*at()` family and the
 * descriptor calls a file server needs, as thin wrappers over the host's
 * system calls. A file server that holds a directory open and only ever
 * names things relative to descriptors it owns cannot be redirected
 * outside that directory by a path string (the model of QEMU's virtiofsd).
 *
 * Unlike the rest of the native surface these calls do not throw on
 * failure: each returns a negative errno (`-2` for ENOENT), because a
 * file server replies with most failures and an exception per miss would
 * dominate its cost. Bad argument types still throw TypeError.
 *
 * Names may be byte strings (`Uint8Array`, read up to the first NUL) or
 * JS strings (UTF-8).
 * @module
 */
import { native } from './index.js';

/** A file name: bytes as they came off the wire, or a string. */
export type FsName = Uint8Array | string;

/**
 * Indexes into the `Float64Array` {@link NativeFsAt.fstatat} fills
 * (length at least {@link STAT_FIELDS}).
 */
export enum StatField {
  /** `st_dev` */
  Dev = 0,
  /** `st_ino` */
  Ino = 1,
  /** `st_mode` */
  Mode = 2,
  /** `st_nlink` */
  Nlink = 3,
  /** `st_uid` */
  Uid = 4,
  /** `st_gid` */
  Gid = 5,
  /** `st_rdev` */
  Rdev = 6,
  /** `st_size` */
  Size = 7,
  /** `st_blksize` */
  Blksize = 8,
  /** `st_blocks` */
  Blocks = 9,
  /** `st_atim.tv_sec` */
  Atime = 10,
  /** `st_atim.tv_nsec` */
  AtimeNsec = 11,
  /** `st_mtim.tv_sec` */
  Mtime = 12,
  /** `st_mtim.tv_nsec` */
  MtimeNsec = 13,
  /** `st_ctim.tv_sec` */
  Ctime = 14,
  /** `st_ctim.tv_nsec` */
  CtimeNsec = 15,
}

/** Length of the array {@link NativeFsAt.fstatat} fills. */
export const STAT_FIELDS = 16;

/** Indexes into the array {@link NativeFsAt.fstatfs} fills (length {@link STATFS_FIELDS}). */
export enum StatfsField {
  /** `f_type` */
  Type = 0,
  /** `f_bsize` */
  Bsize = 1,
  /** `f_blocks` */
  Blocks = 2,
  /** `f_bfree` */
  Bfree = 3,
  /** `f_bavail` */
  Bavail = 4,
  /** `f_files` */
  Files = 5,
  /** `f_ffree` */
  Ffree = 6,
  /** `f_namelen` */
  Namelen = 7,
  /** `f_frsize` */
  Frsize = 8,
  /** `f_flags` */
  Flags = 9,
}

/** Length of the array {@link NativeFsAt.fstatfs} fills. */
export const STATFS_FIELDS = 10;

/** The host's values of the constants these calls take. */
export interface NativeFsAtConstants {
  /** `AT_FDCWD` */
  readonly AT_FDCWD: number;
  /** `AT_SYMLINK_NOFOLLOW` */
  readonly AT_SYMLINK_NOFOLLOW: number;
  /** `AT_REMOVEDIR` */
  readonly AT_REMOVEDIR: number;
  /** `AT_SYMLINK_FOLLOW` */
  readonly AT_SYMLINK_FOLLOW: number;
  /** `AT_EMPTY_PATH` */
  readonly AT_EMPTY_PATH: number;
  /** `O_PATH` */
  readonly O_PATH: number;
  /** `O_NOATIME` */
  readonly O_NOATIME: number;
  /** `O_LARGEFILE` */
  readonly O_LARGEFILE: number;
  /** `RENAME_NOREPLACE` */
  readonly RENAME_NOREPLACE: number;
  /** `RENAME_EXCHANGE` */
  readonly RENAME_EXCHANGE: number;
  /** `RENAME_WHITEOUT` */
  readonly RENAME_WHITEOUT: number;
  /** `UTIME_NOW` */
  readonly UTIME_NOW: number;
  /** `UTIME_OMIT` */
  readonly UTIME_OMIT: number;
  /** `SEEK_SET` */
  readonly SEEK_SET: number;
  /** `SEEK_CUR` */
  readonly SEEK_CUR: number;
  /** `SEEK_END` */
  readonly SEEK_END: number;
  /** `SEEK_DATA` */
  readonly SEEK_DATA: number;
  /** `SEEK_HOLE` */
  readonly SEEK_HOLE: number;
  /** `S_IFMT` */
  readonly S_IFMT: number;
  /** `S_IFDIR` */
  readonly S_IFDIR: number;
  /** `S_IFREG` */
  readonly S_IFREG: number;
  /** `S_IFLNK` */
  readonly S_IFLNK: number;
  /** `S_IFCHR` */
  readonly S_IFCHR: number;
  /** `S_IFBLK` */
  readonly S_IFBLK: number;
  /** `S_IFIFO` */
  readonly S_IFIFO: number;
  /** `S_IFSOCK` */
  readonly S_IFSOCK: number;
  /** `FALLOC_FL_KEEP_SIZE` */
  readonly FALLOC_FL_KEEP_SIZE: number;
  /** `FALLOC_FL_PUNCH_HOLE` */
  readonly FALLOC_FL_PUNCH_HOLE: number;
  /** `PATH_MAX` */
  readonly PATH_MAX: number;
  /** `NAME_MAX` */
  readonly NAME_MAX: number;
}

/**
 * The calls. Each returns a non-negative result or `-errno`; `O_CLOEXEC`
 * is added to every descriptor opened.
 */
export interface NativeFsAt {
  /** `openat(2)`: the new descriptor. */
  openat(dirfd: number, name: FsName, flags: number, mode?: number): number;
  /** `fstatat(2)`: fills `out` (see {@link StatField}); 0. */
  fstatat(dirfd: number, name: FsName, flags: number, out: Float64Array): number;
  /** `mkdirat(2)` */
  mkdirat(dirfd: number, name: FsName, mode: number): number;
  /** `mknodat(2)` */
  mknodat(dirfd: number, name: FsName, mode: number, dev: number): number;
  /** `unlinkat(2)` */
  unlinkat(dirfd: number, name: FsName, flags: number): number;
  /** `renameat2(2)` */
  renameat2(
    olddirfd: number,
    oldname: FsName,
    newdirfd: number,
    newname: FsName,
    flags: number,
  ): number;
  /** `linkat(2)` */
  linkat(
    olddirfd: number,
    oldname: FsName,
    newdirfd: number,
    newname: FsName,
    flags: number,
  ): number;
  /** `symlinkat(2)` */
  symlinkat(target: FsName, dirfd: number, name: FsName): number;
  /** `readlinkat(2)`: the target's bytes, or `-errno`. */
  readlinkat(dirfd: number, name: FsName): Buffer | number;
  /** `fchmodat(2)` */
  fchmodat(dirfd: number, name: FsName, mode: number, flags: number): number;
  /** `faccessat(2)` */
  faccessat(dirfd: number, name: FsName, mode: number, flags: number): number;
  /** `fchmod(2)` */
  fchmod(fd: number, mode: number): number;
  /** `fchownat(2)`; -1 leaves an id as it is. */
  fchownat(dirfd: number, name: FsName, uid: number, gid: number, flags: number): number;
  /** `utimensat(2)`; an empty name passes NULL. `UTIME_NOW`/`UTIME_OMIT` go in the nsec fields. */
  utimensat(
    dirfd: number,
    name: FsName,
    atime: number,
    atimeNsec: number,
    mtime: number,
    mtimeNsec: number,
    flags: number,
  ): number;
  /** `futimens(3)` */
  futimens(fd: number, atime: number, atimeNsec: number, mtime: number, mtimeNsec: number): number;
  /** `fstatfs(2)`: fills `out` (see {@link StatfsField}); 0. */
  fstatfs(fd: number, out: Float64Array): number;
  /** `pread(2)` into the whole of `buffer`: bytes read. */
  pread(fd: number, buffer: Uint8Array, offset: number): number;
  /** `preadv(2)` into `buffers` in order: bytes read. */
  preadv(fd: number, buffers: readonly Uint8Array[], offset: number): number;
  /** `pwrite(2)` of the whole of `buffer`: bytes written. */
  pwrite(fd: number, buffer: Uint8Array, offset: number): number;
  /** `ftruncate(2)` */
  ftruncate(fd: number, length: number): number;
  /** `fallocate(2)` */
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  /** `lseek(2)`: the new offset. */
  lseek(fd: number, offset: number, whence: number): number;
  /** `getdents64(2)`: bytes of `linux_dirent64` records written to `buffer`. */
  getdents64(fd: number, buffer: Uint8Array): number;
  /** `fsync(2)`, or `fdatasync(2)` when `datasync`. */
  fsync(fd: number, datasync?: boolean): number;
  /** `close(2)` */
  close(fd: number): number;
  /** `fcntl(F_DUPFD_CLOEXEC)`: the new descriptor. */
  dup(fd: number): number;
  /** The host's constants. */
  readonly constants: NativeFsAtConstants;
}

function hasFsAt(addon: object): addon is { fsAt: NativeFsAt } {
  return 'fsAt' in addon && typeof addon.fsAt === 'object' && addon.fsAt !== null;
}

let cached: NativeFsAt | undefined;

/** The `*at()` calls of the native addon (loaded once). */
export function fsAt(): NativeFsAt {
  if (cached === undefined) {
    const addon = native();
    if (!hasFsAt(addon)) {
      throw new Error(
        'tsqom: the native addon has no *at() calls; rebuild it (`npx node-gyp rebuild`)',
      );
    }
    cached = addon.fsAt;
  }
  return cached;
}

/** One entry of a `getdents64(2)` buffer. */
export interface Dirent64 {
  /** Inode number. */
  ino: number;
  /** The offset to pass to `lseek` to continue after this entry. */
  off: bigint;
  /** `DT_*` type. */
  type: number;
  /** The name's bytes (no NUL). */
  name: Uint8Array;
}

/** Parses the `linux_dirent64` records in the first `len` bytes of `buf`. */
export function parseDirents64(buf: Uint8Array, len: number): Dirent64[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Dirent64[] = [];
  let p = 0;
  while (p + 19 <= len) {
    const reclen = dv.getUint16(p + 16, true);
    if (reclen < 19 || p + reclen > len) break;
    let end = p + 19;
    while (end < p + reclen && buf[end] !== 0) end++;
    out.push({
      ino: Number(dv.getBigUint64(p, true)),
      off: dv.getBigInt64(p + 8, true),
      type: buf[p + 18],
      name: buf.subarray(p + 19, end),
    });
    p += reclen;
  }
  return out;
}
