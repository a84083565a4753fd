/**
 * The passthrough file system behind tsqom-virtiofsd: every FUSE node is
 * an inode of the shared directory held open by an `O_PATH` descriptor,
 * and every operation names things relative to such descriptors with the
 * `*at()` calls (or reopens a node through `/proc/self/fd`), never by a
 * path string. A symlink another process swaps in between a lookup and
 * an open therefore cannot redirect the guest outside the directory: the
 * model of QEMU's virtiofsd (tools/virtiofsd/passthrough_ll.c), whose
 * error codes these operations follow.
 *
 * Operations return their result or a negative errno.
 * @module
 */
import {
  type FsName,
  type NativeFsAt,
  STATFS_FIELDS,
  STAT_FIELDS,
  StatField,
  fsAt,
  parseDirents64,
} from '../../native/fs-at.js';
import {
  O_CREAT,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
} from '../../native/constants.js';
import { strerror } from '../../native/errors.js';
import {
  FATTR,
  FOPEN,
  FUSE_ROOT_ID,
  type FuseAttr,
  type FuseEntry,
  direntSize,
} from './fuse-kernel.js';

const EPERM = 1;
const ENOENT = 2;
const EBADF = 9;
const EACCES = 13;
const EEXIST = 17;
const EINVAL = 22;
const EROFS = 30;
const ENAMETOOLONG = 36;
const ENOSYS = 38;
const O_ACCMODE = 3;

/** `cache=` modes, as QEMU's virtiofsd names them. */
export type CacheMode = 'auto' | 'always' | 'never';

/** Options of a {@link PassthroughFs}. */
export interface PassthroughOptions {
  /** The shared directory. */
  source: string;
  /** Cache mode; default `auto`. */
  cache?: CacheMode;
  /** Refuse every change with EROFS. */
  readonly?: boolean;
  /** The native calls; default the addon's. */
  fs?: NativeFsAt;
}

/** A node: an inode of the shared directory, held by an O_PATH descriptor. */
interface Inode {
  readonly nodeid: bigint;
  readonly fd: number;
  readonly key: string;
  readonly ino: number;
  readonly fmt: number;
  nlookup: number;
}

/** An open file or directory. */
interface Handle {
  readonly fd: number;
  readonly dir: boolean;
  readonly inode: bigint;
}

/** A directory entry as READDIR / READDIRPLUS encode it. */
export interface PassthroughDirent {
  /** Inode number. */
  ino: number;
  /** Offset of the next entry. */
  off: bigint;
  /** `DT_*` type. */
  type: number;
  /** Name bytes. */
  name: Uint8Array;
  /** For READDIRPLUS: the entry (null for `.` and `..`: no lookup taken). */
  entry?: FuseEntry | null;
}

/** The result of an open: the handle and FOPEN flags. */
export interface PassthroughOpen {
  /** File handle. */
  fh: bigint;
  /** `FOPEN_*` flags. */
  openFlags: number;
}

/** The result of a create: the new node's entry and the open handle. */
export interface PassthroughCreate {
  /** The node. */
  entry: FuseEntry;
  /** The handle. */
  open: PassthroughOpen;
}

/** fuse_setattr_in's fields. */
export interface SetattrArgs {
  /** FATTR_* bits. */
  valid: number;
  /** File handle (with FATTR_FH). */
  fh: bigint;
  /** New size. */
  size: number;
  /** Access time. */
  atime: number;
  /** Modification time. */
  mtime: number;
  /** Access time (ns). */
  atimensec: number;
  /** Modification time (ns). */
  mtimensec: number;
  /** New mode. */
  mode: number;
  /** New owner. */
  uid: number;
  /** New group. */
  gid: number;
}

/** fstatfs results for STATFS. */
export interface PassthroughStatfs {
  /** Total blocks. */
  blocks: number;
  /** Free blocks. */
  bfree: number;
  /** Free blocks for users. */
  bavail: number;
  /** Total inodes. */
  files: number;
  /** Free inodes. */
  ffree: number;
  /** Block size. */
  bsize: number;
  /** Longest name. */
  namelen: number;
  /** Fragment size. */
  frsize: number;
}

function isDotOrDotdot(name: Uint8Array): boolean {
  return (
    (name.length === 1 && name[0] === 0x2e) ||
    (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)
  );
}

/** QEMU virtiofsd's is_safe_path_component: no `/`, not `.` or `..`. */
export function isSafePathComponent(name: Uint8Array): boolean {
  return !name.includes(0x2f) && !isDotOrDotdot(name);
}

/** The shared directory seen through per-inode O_PATH descriptors. */
export class PassthroughFs {
  readonly #fs: NativeFsAt;
  readonly #inodes = new Map<bigint, Inode>();
  readonly #byKey = new Map<string, Inode>();
  readonly #handles = new Map<bigint, Handle>();
  readonly #st = new Float64Array(STAT_FIELDS);
  readonly #procSelfFd: number;
  readonly #root: Inode;
  readonly #timeout: number;
  readonly #readonly: boolean;
  readonly #cache: CacheMode;
  #nextNodeid = 2n;
  #nextFh = 1n;
  #dirBuf = new Uint8Array(32768);
  #closed = false;

  /** Opens the shared directory (throws an Error with the errno's text when it can't). */
  constructor(options: PassthroughOptions) {
    this.#fs = options.fs ?? fsAt();
    const c = this.#fs.constants;
    this.#cache = options.cache ?? 'auto';
    this.#timeout = this.#cache === 'never' ? 0 : this.#cache === 'always' ? 86400 : 1;
    this.#readonly = options.readonly ?? false;
    const proc = this.#fs.openat(c.AT_FDCWD, '/proc/self/fd', c.O_PATH);
    if (proc < 0) throw new PassthroughError(-proc, 'open("/proc/self/fd", O_PATH)');
    const root = this.#fs.openat(c.AT_FDCWD, options.source, c.O_PATH | O_DIRECTORY);
    if (root < 0) {
      this.#fs.close(proc);
      throw new PassthroughError(-root, `open("${options.source}", O_PATH)`);
    }
    this.#procSelfFd = proc;
    const r = this.#fs.fstatat(root, '', c.AT_EMPTY_PATH, this.#st);
    if (r < 0) {
      this.#fs.close(root);
      this.#fs.close(proc);
      throw new PassthroughError(-r, `stat("${options.source}")`);
    }
    this.#root = this.#newInode(FUSE_ROOT_ID, root);
    this.#root.nlookup = 2;
  }

  /** Entry and attribute timeout in seconds (from the cache mode). */
  get timeout(): number {
    return this.#timeout;
  }

  /** The cache mode. */
  get cache(): CacheMode {
    return this.#cache;
  }

  /** Whether writes are refused. */
  get readonly(): boolean {
    return this.#readonly;
  }

  /** Nodes currently known (root included). */
  get inodeCount(): number {
    return this.#inodes.size;
  }

  /** Open file and directory handles. */
  get handleCount(): number {
    return this.#handles.size;
  }

  #key(): string {
    return `${this.#st[StatField.Dev]}:${this.#st[StatField.Ino]}`;
  }

  #newInode(nodeid: bigint, fd: number): Inode {
    const inode: Inode = {
      nodeid,
      fd,
      key: this.#key(),
      ino: this.#st[StatField.Ino],
      fmt: this.#st[StatField.Mode] & 0o170000,
      nlookup: 1,
    };
    this.#inodes.set(nodeid, inode);
    this.#byKey.set(inode.key, inode);
    return inode;
  }

  #attr(): FuseAttr {
    const s = this.#st;
    return {
      ino: s[StatField.Ino],
      size: s[StatField.Size],
      blocks: s[StatField.Blocks],
      atime: s[StatField.Atime],
      mtime: s[StatField.Mtime],
      ctime: s[StatField.Ctime],
      atimensec: s[StatField.AtimeNsec],
      mtimensec: s[StatField.MtimeNsec],
      ctimensec: s[StatField.CtimeNsec],
      mode: s[StatField.Mode],
      nlink: s[StatField.Nlink],
      uid: s[StatField.Uid],
      gid: s[StatField.Gid],
      rdev: s[StatField.Rdev] % 0x100000000,
      blksize: s[StatField.Blksize],
    };
  }

  #inode(nodeid: bigint): Inode | undefined {
    return this.#inodes.get(nodeid);
  }

  /** The name in /proc/self/fd of an inode's descriptor. */
  #procName(inode: Inode): string {
    return String(inode.fd);
  }

  #stat(inode: Inode): number {
    const c = this.#fs.constants;
    return this.#fs.fstatat(inode.fd, '', c.AT_EMPTY_PATH | c.AT_SYMLINK_NOFOLLOW, this.#st);
  }

  // --- lookups --------------------------------------------------------------

  #doLookup(parent: Inode, name: FsName): FuseEntry | number {
    const c = this.#fs.constants;
    const fd = this.#fs.openat(parent.fd, name, c.O_PATH | O_NOFOLLOW);
    if (fd < 0) return fd;
    const r = this.#fs.fstatat(fd, '', c.AT_EMPTY_PATH | c.AT_SYMLINK_NOFOLLOW, this.#st);
    if (r < 0) {
      this.#fs.close(fd);
      return r;
    }
    let inode = this.#byKey.get(this.#key());
    if (inode !== undefined) {
      this.#fs.close(fd);
      inode.nlookup++;
    } else {
      inode = this.#newInode(this.#nextNodeid++, fd);
    }
    return this.#entry(inode.nodeid);
  }

  #entry(nodeid: bigint): FuseEntry {
    return {
      nodeid,
      generation: 0n,
      entryValid: this.#timeout,
      attrValid: this.#timeout,
      attr: this.#attr(),
    };
  }

  /** LOOKUP: `..` at the root is the root itself; names with `/` get EINVAL. */
  lookup(parent: bigint, name: Uint8Array): FuseEntry | number {
    const dir = this.#inode(parent);
    if (dir === undefined) return -EBADF;
    if (name.includes(0x2f)) return -EINVAL;
    if (name.length > 255) return -ENAMETOOLONG;
    if (name.length === 0) return -ENOENT;
    const n = dir === this.#root && isDotOrDotdot(name) ? '.' : name;
    return this.#doLookup(dir, n);
  }

  /** FORGET: drops `nlookup` lookups; the node goes when none is left. */
  forget(nodeid: bigint, nlookup: number): void {
    const inode = this.#inode(nodeid);
    if (inode === undefined || inode === this.#root) return;
    inode.nlookup = Math.max(0, inode.nlookup - nlookup);
    if (inode.nlookup === 0) {
      this.#inodes.delete(nodeid);
      if (this.#byKey.get(inode.key) === inode) this.#byKey.delete(inode.key);
      this.#fs.close(inode.fd);
    }
  }

  // --- attributes ----------------------------------------------------------

  /** GETATTR */
  getattr(nodeid: bigint): FuseAttr | number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    const r = this.#stat(inode);
    return r < 0 ? r : this.#attr();
  }

  #handleFd(fh: bigint, dir = false): number {
    const h = this.#handles.get(fh);
    return h === undefined || h.dir !== dir ? -EBADF : h.fd;
  }

  /** SETATTR: mode, owner, size, times, in that order (as virtiofsd does). */
  setattr(nodeid: bigint, a: SetattrArgs): FuseAttr | number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    if (this.#readonly) return -EROFS;
    const fs = this.#fs;
    const c = fs.constants;
    let fd = -1;
    if (a.valid & FATTR.FH) {
      fd = this.#handleFd(a.fh);
      if (fd < 0) return fd;
    }
    let r = 0;
    if (a.valid & FATTR.MODE) {
      r =
        fd >= 0
          ? fs.fchmod(fd, a.mode)
          : fs.fchmodat(this.#procSelfFd, this.#procName(inode), a.mode, 0);
      if (r < 0) return r;
    }
    if (a.valid & (FATTR.UID | FATTR.GID)) {
      const uid = a.valid & FATTR.UID ? a.uid : -1;
      const gid = a.valid & FATTR.GID ? a.gid : -1;
      r = fs.fchownat(inode.fd, '', uid, gid, c.AT_EMPTY_PATH | c.AT_SYMLINK_NOFOLLOW);
      if (r < 0) return r;
    }
    if (a.valid & FATTR.SIZE) {
      if (fd >= 0) {
        r = fs.ftruncate(fd, a.size);
      } else {
        const tfd = fs.openat(this.#procSelfFd, this.#procName(inode), O_RDWR);
        if (tfd < 0) return tfd;
        r = fs.ftruncate(tfd, a.size);
        fs.close(tfd);
      }
      if (r < 0) return r;
    }
    if (a.valid & (FATTR.ATIME | FATTR.MTIME)) {
      let as = 0;
      let ans = c.UTIME_OMIT;
      let ms = 0;
      let mns = c.UTIME_OMIT;
      if (a.valid & FATTR.ATIME_NOW) ans = c.UTIME_NOW;
      else if (a.valid & FATTR.ATIME) [as, ans] = [a.atime, a.atimensec];
      if (a.valid & FATTR.MTIME_NOW) mns = c.UTIME_NOW;
      else if (a.valid & FATTR.MTIME) [ms, mns] = [a.mtime, a.mtimensec];
      if (fd >= 0) r = fs.futimens(fd, as, ans, ms, mns);
      else if (inode.fmt === 0o120000) r = -EPERM;
      else r = fs.utimensat(this.#procSelfFd, this.#procName(inode), as, ans, ms, mns, 0);
      if (r < 0) return r;
    }
    return this.getattr(nodeid);
  }

  /** READLINK */
  readlink(nodeid: bigint): Uint8Array | number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    return this.#fs.readlinkat(inode.fd, '');
  }

  // --- making and removing names -------------------------------------------

  #parentForChange(parent: bigint, name: Uint8Array): Inode | number {
    const dir = this.#inode(parent);
    if (dir === undefined) return -EBADF;
    if (!isSafePathComponent(name)) return -EINVAL;
    if (this.#readonly) return -EROFS;
    return dir;
  }

  /** MKNOD (regular files, fifos, sockets, devices). */
  mknod(parent: bigint, name: Uint8Array, mode: number, rdev: number): FuseEntry | number {
    const dir = this.#parentForChange(parent, name);
    if (typeof dir === 'number') return dir;
    const r = this.#fs.mknodat(dir.fd, name, mode, rdev);
    return r < 0 ? r : this.#doLookup(dir, name);
  }

  /** MKDIR */
  mkdir(parent: bigint, name: Uint8Array, mode: number): FuseEntry | number {
    const dir = this.#parentForChange(parent, name);
    if (typeof dir === 'number') return dir;
    const r = this.#fs.mkdirat(dir.fd, name, mode);
    return r < 0 ? r : this.#doLookup(dir, name);
  }

  /** SYMLINK */
  symlink(parent: bigint, name: Uint8Array, target: Uint8Array): FuseEntry | number {
    const dir = this.#parentForChange(parent, name);
    if (typeof dir === 'number') return dir;
    const r = this.#fs.symlinkat(target, dir.fd, name);
    return r < 0 ? r : this.#doLookup(dir, name);
  }

  /** LINK: through /proc/self/fd, so no path of the source is resolved. */
  link(nodeid: bigint, parent: bigint, name: Uint8Array): FuseEntry | number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    const dir = this.#parentForChange(parent, name);
    if (typeof dir === 'number') return dir;
    const c = this.#fs.constants;
    const r = this.#fs.linkat(
      this.#procSelfFd,
      this.#procName(inode),
      dir.fd,
      name,
      c.AT_SYMLINK_FOLLOW,
    );
    if (r < 0) return r;
    const s = this.#stat(inode);
    if (s < 0) return s;
    inode.nlookup++;
    return this.#entry(inode.nodeid);
  }

  /** UNLINK / RMDIR */
  unlink(parent: bigint, name: Uint8Array, rmdir: boolean): number {
    const dir = this.#parentForChange(parent, name);
    if (typeof dir === 'number') return dir;
    return this.#fs.unlinkat(dir.fd, name, rmdir ? this.#fs.constants.AT_REMOVEDIR : 0);
  }

  /** RENAME / RENAME2 */
  rename(
    parent: bigint,
    name: Uint8Array,
    newParent: bigint,
    newName: Uint8Array,
    flags: number,
  ): number {
    const dir = this.#parentForChange(parent, name);
    if (typeof dir === 'number') return dir;
    const ndir = this.#parentForChange(newParent, newName);
    if (typeof ndir === 'number') return ndir;
    const c = this.#fs.constants;
    if (flags & ~(c.RENAME_NOREPLACE | c.RENAME_EXCHANGE | c.RENAME_WHITEOUT)) return -EINVAL;
    return this.#fs.renameat2(dir.fd, name, ndir.fd, newName, flags);
  }

  // --- files ---------------------------------------------------------------

  #openFlags(flags: number): number {
    // The node is reopened through its magic link: never O_NOFOLLOW (it
    // would refuse the link itself), never create anything.
    return flags & ~(O_NOFOLLOW | O_CREAT);
  }

  #fopen(): number {
    return this.#cache === 'never'
      ? FOPEN.DIRECT_IO
      : this.#cache === 'always'
        ? FOPEN.KEEP_CACHE
        : 0;
  }

  #addHandle(fd: number, dir: boolean, inode: bigint): bigint {
    const fh = this.#nextFh++;
    this.#handles.set(fh, { fd, dir, inode });
    return fh;
  }

  /** OPEN */
  open(nodeid: bigint, flags: number): PassthroughOpen | number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    if (this.#readonly && ((flags & O_ACCMODE) !== O_RDONLY || flags & 0o1000)) return -EROFS;
    // A guest may OPEN a fifo or device node it made (the kernel never
    // sends that, a hostile driver can): never let the open block the server.
    const special = inode.fmt !== 0o100000 && inode.fmt !== 0o040000;
    const f = this.#openFlags(flags) | (special ? O_NONBLOCK : 0);
    const fd = this.#fs.openat(this.#procSelfFd, this.#procName(inode), f);
    if (fd < 0) return fd;
    return { fh: this.#addHandle(fd, false, nodeid), openFlags: this.#fopen() };
  }

  /** CREATE: make (or open) the name, look it up, open it. */
  create(
    parent: bigint,
    name: Uint8Array,
    flags: number,
    mode: number,
  ): PassthroughCreate | number {
    const dir = this.#parentForChange(parent, name);
    if (typeof dir === 'number') return dir;
    const fd = this.#fs.openat(dir.fd, name, (flags | O_CREAT) & ~O_NOFOLLOW, mode);
    if (fd < 0) return fd;
    const entry = this.#doLookup(dir, name);
    if (typeof entry === 'number') {
      this.#fs.close(fd);
      return entry;
    }
    return {
      entry,
      open: { fh: this.#addHandle(fd, false, entry.nodeid), openFlags: this.#fopen() },
    };
  }

  /** READ into `buf`: bytes read. */
  read(fh: bigint, offset: number, buf: Uint8Array): number {
    const fd = this.#handleFd(fh);
    if (fd < 0) return fd;
    let got = 0;
    while (got < buf.length) {
      const r = this.#fs.pread(fd, buf.subarray(got), offset + got);
      if (r < 0) return got > 0 ? got : r;
      if (r === 0) break;
      got += r;
    }
    return got;
  }

  /** READ straight into `bufs` (views of guest memory), in order: bytes read. */
  readv(fh: bigint, offset: number, bufs: readonly Uint8Array[]): number {
    const fd = this.#handleFd(fh);
    if (fd < 0) return fd;
    return this.#fs.preadv(fd, bufs, offset);
  }

  /** WRITE: bytes written. */
  write(fh: bigint, offset: number, data: Uint8Array): number {
    const fd = this.#handleFd(fh);
    if (fd < 0) return fd;
    if (this.#readonly) return -EROFS;
    let done = 0;
    while (done < data.length) {
      const r = this.#fs.pwrite(fd, data.subarray(done), offset + done);
      if (r < 0) return done > 0 ? done : r;
      if (r === 0) break;
      done += r;
    }
    return done;
  }

  /** FLUSH: a close() of a duplicate, so that close-time errors surface (as virtiofsd). */
  flush(fh: bigint): number {
    const fd = this.#handleFd(fh);
    if (fd < 0) return fd;
    const d = this.#fs.dup(fd);
    return d < 0 ? d : this.#fs.close(d);
  }

  /** FSYNC / FSYNCDIR */
  fsync(fh: bigint, datasync: boolean, dir: boolean): number {
    const fd = this.#handleFd(fh, dir);
    if (fd < 0) return fd;
    return this.#fs.fsync(fd, datasync);
  }

  /** RELEASE / RELEASEDIR */
  release(fh: bigint, dir: boolean): number {
    const h = this.#handles.get(fh);
    if (h === undefined || h.dir !== dir) return -EBADF;
    this.#handles.delete(fh);
    this.#fs.close(h.fd);
    return 0;
  }

  /** FALLOCATE */
  fallocate(fh: bigint, mode: number, offset: number, length: number): number {
    const fd = this.#handleFd(fh);
    if (fd < 0) return fd;
    if (this.#readonly) return -EROFS;
    return this.#fs.fallocate(fd, mode, offset, length);
  }

  /** LSEEK */
  lseek(fh: bigint, offset: number, whence: number): number {
    const fd = this.#handleFd(fh);
    if (fd < 0) return fd;
    return this.#fs.lseek(fd, offset, whence);
  }

  /** ACCESS */
  access(nodeid: bigint, mask: number): number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    if (this.#readonly && mask & 2 && inode.fmt !== 0o040000) return -EROFS;
    const r = this.#fs.faccessat(this.#procSelfFd, this.#procName(inode), mask, 0);
    return r === -ENOENT ? -EACCES : r;
  }

  /** STATFS */
  statfs(nodeid: bigint): PassthroughStatfs | number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    const o = new Float64Array(STATFS_FIELDS);
    const r = this.#fs.fstatfs(inode.fd, o);
    if (r < 0) return r;
    return {
      blocks: o[2],
      bfree: o[3],
      bavail: o[4],
      files: o[5],
      ffree: o[6],
      bsize: o[1],
      namelen: o[7],
      frsize: o[8],
    };
  }

  // --- directories ---------------------------------------------------------

  /** OPENDIR */
  opendir(nodeid: bigint): PassthroughOpen | number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    const fd = this.#fs.openat(this.#procSelfFd, this.#procName(inode), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return fd;
    return {
      fh: this.#addHandle(fd, true, nodeid),
      openFlags: this.#cache === 'always' ? FOPEN.CACHE_DIR : 0,
    };
  }

  /**
   * READDIR / READDIRPLUS: the entries from `offset` that fit in `size`
   * bytes of fuse_dirent (`plus`: fuse_direntplus) records. With `plus`,
   * each entry but `.` and `..` takes a lookup, only once it is known to fit.
   */
  readdir(fh: bigint, offset: bigint, size: number, plus: boolean): PassthroughDirent[] | number {
    const h = this.#handles.get(fh);
    if (h === undefined || !h.dir) return -EBADF;
    const fs = this.#fs;
    const sk = fs.lseek(h.fd, Number(offset), fs.constants.SEEK_SET);
    if (sk < 0) return sk;
    const out: PassthroughDirent[] = [];
    const parent = this.#inode(h.inode);
    let used = 0;
    for (;;) {
      const n = fs.getdents64(h.fd, this.#dirBuf);
      if (n < 0) return out.length > 0 ? out : n;
      if (n === 0) return out;
      for (const d of parseDirents64(this.#dirBuf, n)) {
        const rec = direntSize(d.name.length) + (plus ? 128 : 0);
        if (used + rec > size) return out;
        const e: PassthroughDirent = { ino: d.ino, off: d.off, type: d.type, name: d.name.slice() };
        if (plus) {
          if (isDotOrDotdot(d.name) || parent === undefined) {
            e.entry = null;
          } else {
            const r = this.#doLookup(parent, d.name);
            // A name that vanished since getdents: skip it, as virtiofsd does.
            if (typeof r === 'number') continue;
            e.entry = r;
          }
        }
        out.push(e);
        used += rec;
      }
    }
  }

  // --- DAX -----------------------------------------------------------------

  /**
   * A descriptor for mapping `nodeid`'s file (the caller closes it): the
   * node reopened through /proc/self/fd, read-write where the host allows
   * it even for a read-only mapping, because a front-end may pass the
   * mapping back in its memory table and back-ends map that read-write.
   * `fh`, when it names an open handle, must belong to the node.
   */
  mappingFd(nodeid: bigint, fh: bigint, writable: boolean): number {
    const inode = this.#inode(nodeid);
    if (inode === undefined) return -EBADF;
    const h = this.#handles.get(fh);
    if (h !== undefined && (h.dir || h.inode !== nodeid)) return -EBADF;
    if (inode.fmt !== 0o100000) return -EINVAL;
    if (writable && this.#readonly) return -EROFS;
    const name = this.#procName(inode);
    const fd = this.#fs.openat(this.#procSelfFd, name, O_RDWR);
    if (fd >= 0 || writable) return fd;
    return this.#fs.openat(this.#procSelfFd, name, O_RDONLY);
  }

  /** The size of an open file, or -errno. */
  fileSize(fd: number): number {
    const r = this.#fs.fstatat(fd, '', this.#fs.constants.AT_EMPTY_PATH, this.#st);
    return r < 0 ? r : this.#st[StatField.Size];
  }

  /** Closes a descriptor {@link mappingFd} made. */
  closeFd(fd: number): void {
    this.#fs.close(fd);
  }

  // --- lifetime ------------------------------------------------------------

  /** DESTROY: forgets every node but the root and closes every handle. */
  destroy(): void {
    for (const h of this.#handles.values()) this.#fs.close(h.fd);
    this.#handles.clear();
    for (const inode of this.#inodes.values()) {
      if (inode !== this.#root) this.#fs.close(inode.fd);
    }
    this.#inodes.clear();
    this.#byKey.clear();
    this.#inodes.set(this.#root.nodeid, this.#root);
    this.#byKey.set(this.#root.key, this.#root);
  }

  /** Closes everything, the root and /proc/self/fd included. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.destroy();
    this.#closed = true;
    this.#fs.close(this.#root.fd);
    this.#fs.close(this.#procSelfFd);
    this.#inodes.clear();
    this.#byKey.clear();
  }
}

/** The shared directory could not be opened. */
export class PassthroughError extends Error {
  /** The errno. */
  readonly errno: number;
  /** Makes the error for `what` failing with `errno`. */
  constructor(errno: number, what: string) {
    super(`${what} failed: ${strerror(errno)}`);
    this.name = 'PassthroughError';
    this.errno = errno;
  }
}

/** Errno values the server uses. */
export const ERRNO = {
  /** `EPERM` */
  EPERM,
  /** `ENOENT` */
  ENOENT,
  /** `EBADF` */
  EBADF,
  /** `EACCES` */
  EACCES,
  /** `EEXIST` */
  EEXIST,
  /** `EINVAL` */
  EINVAL,
  /** `EROFS` */
  EROFS,
  /** `ENAMETOOLONG` */
  ENAMETOOLONG,
  /** `ENOSYS` */
  ENOSYS,
} as const;
