/**
 * The FUSE wire protocol as Linux 6.1 speaks it over virtio-fs (protocol
 * 7.36/7.37, include/uapi/linux/fuse.h): opcodes, flag bits, and the
 * fixed layouts of the request and reply structures, all little-endian.
 * Layout sizes are the C structs' `sizeof`.
 * @module
 */

/** The protocol major version. */
export const FUSE_KERNEL_VERSION = 7;
/** The minor version this server implements. */
export const FUSE_KERNEL_MINOR_VERSION = 36;
/** The root node id. */
export const FUSE_ROOT_ID = 1n;

/** Request opcodes. */
export enum FuseOpcode {
  /** Look a name up in a directory. */
  LOOKUP = 1,
  /** Drop lookups of a node (no reply). */
  FORGET = 2,
  /** Attributes of a node. */
  GETATTR = 3,
  /** Change attributes. */
  SETATTR = 4,
  /** A symlink's target. */
  READLINK = 5,
  /** Make a symlink. */
  SYMLINK = 6,
  /** Make a special file. */
  MKNOD = 8,
  /** Make a directory. */
  MKDIR = 9,
  /** Remove a name. */
  UNLINK = 10,
  /** Remove a directory. */
  RMDIR = 11,
  /** Rename. */
  RENAME = 12,
  /** Make a hard link. */
  LINK = 13,
  /** Open a file. */
  OPEN = 14,
  /** Read. */
  READ = 15,
  /** Write. */
  WRITE = 16,
  /** File system statistics. */
  STATFS = 17,
  /** Close an open file. */
  RELEASE = 18,
  /** Sync a file. */
  FSYNC = 20,
  /** Set an extended attribute. */
  SETXATTR = 21,
  /** Get an extended attribute. */
  GETXATTR = 22,
  /** List extended attributes. */
  LISTXATTR = 23,
  /** Remove an extended attribute. */
  REMOVEXATTR = 24,
  /** A close() of a descriptor. */
  FLUSH = 25,
  /** Negotiate the protocol. */
  INIT = 26,
  /** Open a directory. */
  OPENDIR = 27,
  /** Read directory entries. */
  READDIR = 28,
  /** Close an open directory. */
  RELEASEDIR = 29,
  /** Sync a directory. */
  FSYNCDIR = 30,
  /** Test a POSIX lock. */
  GETLK = 31,
  /** Take a POSIX lock. */
  SETLK = 32,
  /** Take a POSIX lock, waiting. */
  SETLKW = 33,
  /** Check access. */
  ACCESS = 34,
  /** Create and open a file. */
  CREATE = 35,
  /** Interrupt a request (no reply). */
  INTERRUPT = 36,
  /** Block map (fuseblk only). */
  BMAP = 37,
  /** Unmount. */
  DESTROY = 38,
  /** ioctl. */
  IOCTL = 39,
  /** poll. */
  POLL = 40,
  /** Reply to a notification. */
  NOTIFY_REPLY = 41,
  /** FORGET for many nodes (no reply). */
  BATCH_FORGET = 42,
  /** Allocate or punch space. */
  FALLOCATE = 43,
  /** READDIR with a lookup per entry. */
  READDIRPLUS = 44,
  /** RENAME with flags. */
  RENAME2 = 45,
  /** SEEK_DATA / SEEK_HOLE. */
  LSEEK = 46,
  /** Copy between files. */
  COPY_FILE_RANGE = 47,
  /** Map a file range into the DAX window. */
  SETUPMAPPING = 48,
  /** Unmap DAX window ranges. */
  REMOVEMAPPING = 49,
  /** Sync the file system. */
  SYNCFS = 50,
  /** O_TMPFILE. */
  TMPFILE = 51,
}

/** FUSE_INIT flag bits (flags, then flags2 shifted by 32). */
export const FUSE_INIT = {
  /** `FUSE_ASYNC_READ` */
  ASYNC_READ: 1n << 0n,
  /** `FUSE_POSIX_LOCKS` */
  POSIX_LOCKS: 1n << 1n,
  /** `FUSE_FILE_OPS` */
  FILE_OPS: 1n << 2n,
  /** `FUSE_ATOMIC_O_TRUNC` */
  ATOMIC_O_TRUNC: 1n << 3n,
  /** `FUSE_EXPORT_SUPPORT` */
  EXPORT_SUPPORT: 1n << 4n,
  /** `FUSE_BIG_WRITES` */
  BIG_WRITES: 1n << 5n,
  /** `FUSE_DONT_MASK` */
  DONT_MASK: 1n << 6n,
  /** `FUSE_SPLICE_WRITE` */
  SPLICE_WRITE: 1n << 7n,
  /** `FUSE_SPLICE_MOVE` */
  SPLICE_MOVE: 1n << 8n,
  /** `FUSE_SPLICE_READ` */
  SPLICE_READ: 1n << 9n,
  /** `FUSE_FLOCK_LOCKS` */
  FLOCK_LOCKS: 1n << 10n,
  /** `FUSE_HAS_IOCTL_DIR` */
  HAS_IOCTL_DIR: 1n << 11n,
  /** `FUSE_AUTO_INVAL_DATA` */
  AUTO_INVAL_DATA: 1n << 12n,
  /** `FUSE_DO_READDIRPLUS` */
  DO_READDIRPLUS: 1n << 13n,
  /** `FUSE_READDIRPLUS_AUTO` */
  READDIRPLUS_AUTO: 1n << 14n,
  /** `FUSE_ASYNC_DIO` */
  ASYNC_DIO: 1n << 15n,
  /** `FUSE_WRITEBACK_CACHE` */
  WRITEBACK_CACHE: 1n << 16n,
  /** `FUSE_NO_OPEN_SUPPORT` */
  NO_OPEN_SUPPORT: 1n << 17n,
  /** `FUSE_PARALLEL_DIROPS` */
  PARALLEL_DIROPS: 1n << 18n,
  /** `FUSE_HANDLE_KILLPRIV` */
  HANDLE_KILLPRIV: 1n << 19n,
  /** `FUSE_POSIX_ACL` */
  POSIX_ACL: 1n << 20n,
  /** `FUSE_ABORT_ERROR` */
  ABORT_ERROR: 1n << 21n,
  /** `FUSE_MAX_PAGES` */
  MAX_PAGES: 1n << 22n,
  /** `FUSE_CACHE_SYMLINKS` */
  CACHE_SYMLINKS: 1n << 23n,
  /** `FUSE_NO_OPENDIR_SUPPORT` */
  NO_OPENDIR_SUPPORT: 1n << 24n,
  /** `FUSE_EXPLICIT_INVAL_DATA` */
  EXPLICIT_INVAL_DATA: 1n << 25n,
  /** `FUSE_MAP_ALIGNMENT` */
  MAP_ALIGNMENT: 1n << 26n,
  /** `FUSE_SUBMOUNTS` */
  SUBMOUNTS: 1n << 27n,
  /** `FUSE_HANDLE_KILLPRIV_V2` */
  HANDLE_KILLPRIV_V2: 1n << 28n,
  /** `FUSE_SETXATTR_EXT` */
  SETXATTR_EXT: 1n << 29n,
  /** `FUSE_INIT_EXT` */
  INIT_EXT: 1n << 30n,
  /** `FUSE_INIT_RESERVED` */
  INIT_RESERVED: 1n << 31n,
  /** `FUSE_SECURITY_CTX` */
  SECURITY_CTX: 1n << 32n,
  /** `FUSE_HAS_INODE_DAX` */
  HAS_INODE_DAX: 1n << 33n,
} as const;

/** fuse_setattr_in.valid bits. */
export const FATTR = {
  /** `FATTR_MODE` */
  MODE: 1 << 0,
  /** `FATTR_UID` */
  UID: 1 << 1,
  /** `FATTR_GID` */
  GID: 1 << 2,
  /** `FATTR_SIZE` */
  SIZE: 1 << 3,
  /** `FATTR_ATIME` */
  ATIME: 1 << 4,
  /** `FATTR_MTIME` */
  MTIME: 1 << 5,
  /** `FATTR_FH` */
  FH: 1 << 6,
  /** `FATTR_ATIME_NOW` */
  ATIME_NOW: 1 << 7,
  /** `FATTR_MTIME_NOW` */
  MTIME_NOW: 1 << 8,
  /** `FATTR_LOCKOWNER` */
  LOCKOWNER: 1 << 9,
  /** `FATTR_CTIME` */
  CTIME: 1 << 10,
  /** `FATTR_KILL_SUIDGID` */
  KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_open_out.open_flags bits. */
export const FOPEN = {
  /** `FOPEN_DIRECT_IO` */
  DIRECT_IO: 1 << 0,
  /** `FOPEN_KEEP_CACHE` */
  KEEP_CACHE: 1 << 1,
  /** `FOPEN_NONSEEKABLE` */
  NONSEEKABLE: 1 << 2,
  /** `FOPEN_CACHE_DIR` */
  CACHE_DIR: 1 << 3,
  /** `FOPEN_STREAM` */
  STREAM: 1 << 4,
} as const;

/** fuse_getattr_in.getattr_flags: `fh` is valid. */
export const FUSE_GETATTR_FH = 1;
/** fuse_fsync_in.fsync_flags: data only. */
export const FUSE_FSYNC_FDATASYNC = 1;
/** fuse_setupmapping_in.flags: map writable. */
export const FUSE_SETUPMAPPING_FLAG_WRITE = 1n;
/** fuse_setupmapping_in.flags: map readable. */
export const FUSE_SETUPMAPPING_FLAG_READ = 2n;

/** Sizes of the fixed structures. */
export const FUSE_SIZE = {
  /** `sizeof` of struct fuse_in_header */
  inHeader: 40,
  /** `sizeof` of struct fuse_out_header */
  outHeader: 16,
  /** `sizeof` of struct fuse_attr */
  attr: 88,
  /** `sizeof` of struct fuse_entry_out */
  entryOut: 128,
  /** `sizeof` of struct fuse_attr_out */
  attrOut: 104,
  /** `sizeof` of struct fuse_getattr_in */
  getattrIn: 16,
  /** `sizeof` of struct fuse_setattr_in */
  setattrIn: 88,
  /** `sizeof` of struct fuse_forget_in */
  forgetIn: 8,
  /** `sizeof` of struct fuse_batch_forget_in */
  batchForgetIn: 8,
  /** `sizeof` of struct fuse_forget_one */
  forgetOne: 16,
  /** `sizeof` of struct fuse_mknod_in */
  mknodIn: 16,
  /** `sizeof` of struct fuse_mkdir_in */
  mkdirIn: 8,
  /** `sizeof` of struct fuse_rename_in */
  renameIn: 8,
  /** `sizeof` of struct fuse_rename2_in */
  rename2In: 16,
  /** `sizeof` of struct fuse_link_in */
  linkIn: 8,
  /** `sizeof` of struct fuse_open_in */
  openIn: 8,
  /** `sizeof` of struct fuse_create_in */
  createIn: 16,
  /** `sizeof` of struct fuse_open_out */
  openOut: 16,
  /** `sizeof` of struct fuse_release_in */
  releaseIn: 24,
  /** `sizeof` of struct fuse_flush_in */
  flushIn: 24,
  /** `sizeof` of struct fuse_read_in */
  readIn: 40,
  /** `sizeof` of struct fuse_write_in */
  writeIn: 40,
  /** `sizeof` of struct fuse_write_out */
  writeOut: 8,
  /** `sizeof` of struct fuse_statfs_out */
  statfsOut: 80,
  /** `sizeof` of struct fuse_fsync_in */
  fsyncIn: 16,
  /** `sizeof` of struct fuse_access_in */
  accessIn: 8,
  /** `sizeof` of struct fuse_init_in_min */
  initInMin: 16,
  /** `sizeof` of struct fuse_init_out */
  initOut: 64,
  /** `sizeof` of struct fuse_interrupt_in */
  interruptIn: 8,
  /** `sizeof` of struct fuse_dirent_header */
  direntHeader: 24,
  /** `sizeof` of struct fuse_lseek_in */
  lseekIn: 24,
  /** `sizeof` of struct fuse_lseek_out */
  lseekOut: 8,
  /** `sizeof` of struct fuse_fallocate_in */
  fallocateIn: 32,
  /** `sizeof` of struct fuse_setupmapping_in */
  setupmappingIn: 40,
  /** `sizeof` of struct fuse_removemapping_in */
  removemappingIn: 4,
  /** `sizeof` of struct fuse_removemapping_one */
  removemappingOne: 16,
} as const;

/** fuse_in_header. */
export interface FuseInHeader {
  /** Total request length. */
  len: number;
  /** {@link FuseOpcode}. */
  opcode: number;
  /** Request id, echoed in the reply. */
  unique: bigint;
  /** The node the request is about. */
  nodeid: bigint;
  /** Caller's user id. */
  uid: number;
  /** Caller's group id. */
  gid: number;
  /** Caller's process id. */
  pid: number;
}

/** Decodes a fuse_in_header at the start of `buf` (which must hold 40 bytes). */
export function decodeInHeader(dv: DataView): FuseInHeader {
  return {
    len: dv.getUint32(0, true),
    opcode: dv.getUint32(4, true),
    unique: dv.getBigUint64(8, true),
    nodeid: dv.getBigUint64(16, true),
    uid: dv.getUint32(24, true),
    gid: dv.getUint32(28, true),
    pid: dv.getUint32(32, true),
  };
}

/** Encodes a fuse_out_header. */
export function encodeOutHeader(dv: DataView, len: number, error: number, unique: bigint): void {
  dv.setUint32(0, len, true);
  dv.setInt32(4, error, true);
  dv.setBigUint64(8, unique, true);
}

/** fuse_attr, as the server fills it from a stat. */
export interface FuseAttr {
  /** Inode number. */
  ino: number;
  /** Size. */
  size: number;
  /** 512-byte blocks. */
  blocks: number;
  /** Access time (s). */
  atime: number;
  /** Modification time (s). */
  mtime: number;
  /** Change time (s). */
  ctime: number;
  /** Access time (ns). */
  atimensec: number;
  /** Modification time (ns). */
  mtimensec: number;
  /** Change time (ns). */
  ctimensec: number;
  /** Type and permissions. */
  mode: number;
  /** Links. */
  nlink: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Device number. */
  rdev: number;
  /** I/O block size. */
  blksize: number;
}

/** Writes a fuse_attr at `off`. */
export function encodeAttr(dv: DataView, off: number, a: FuseAttr): void {
  dv.setBigUint64(off, BigInt(a.ino), true);
  dv.setBigUint64(off + 8, BigInt(a.size), true);
  dv.setBigUint64(off + 16, BigInt(a.blocks), true);
  dv.setBigInt64(off + 24, BigInt(a.atime), true);
  dv.setBigInt64(off + 32, BigInt(a.mtime), true);
  dv.setBigInt64(off + 40, BigInt(a.ctime), true);
  dv.setUint32(off + 48, a.atimensec, true);
  dv.setUint32(off + 52, a.mtimensec, true);
  dv.setUint32(off + 56, a.ctimensec, true);
  dv.setUint32(off + 60, a.mode, true);
  dv.setUint32(off + 64, a.nlink >>> 0, true);
  dv.setUint32(off + 68, a.uid >>> 0, true);
  dv.setUint32(off + 72, a.gid >>> 0, true);
  dv.setUint32(off + 76, a.rdev >>> 0, true);
  dv.setUint32(off + 80, a.blksize >>> 0, true);
  dv.setUint32(off + 84, 0, true);
}

/** Reads a fuse_attr at `off`. */
export function decodeAttr(dv: DataView, off: number): FuseAttr {
  return {
    ino: Number(dv.getBigUint64(off, true)),
    size: Number(dv.getBigUint64(off + 8, true)),
    blocks: Number(dv.getBigUint64(off + 16, true)),
    atime: Number(dv.getBigInt64(off + 24, true)),
    mtime: Number(dv.getBigInt64(off + 32, true)),
    ctime: Number(dv.getBigInt64(off + 40, true)),
    atimensec: dv.getUint32(off + 48, true),
    mtimensec: dv.getUint32(off + 52, true),
    ctimensec: dv.getUint32(off + 56, true),
    mode: dv.getUint32(off + 60, true),
    nlink: dv.getUint32(off + 64, true),
    uid: dv.getUint32(off + 68, true),
    gid: dv.getUint32(off + 72, true),
    rdev: dv.getUint32(off + 76, true),
    blksize: dv.getUint32(off + 80, true),
  };
}

/** A fuse_entry_out's fields. */
export interface FuseEntry {
  /** Node id (0: negative entry). */
  nodeid: bigint;
  /** Inode generation. */
  generation: bigint;
  /** Seconds the name stays valid. */
  entryValid: number;
  /** Seconds the attributes stay valid. */
  attrValid: number;
  /** Attributes. */
  attr: FuseAttr;
}

/** Writes a fuse_entry_out at `off`. */
export function encodeEntryOut(dv: DataView, off: number, e: FuseEntry): void {
  dv.setBigUint64(off, e.nodeid, true);
  dv.setBigUint64(off + 8, e.generation, true);
  const [es, ens] = splitTimeout(e.entryValid);
  const [as, ans] = splitTimeout(e.attrValid);
  dv.setBigUint64(off + 16, BigInt(es), true);
  dv.setBigUint64(off + 24, BigInt(as), true);
  dv.setUint32(off + 32, ens, true);
  dv.setUint32(off + 36, ans, true);
  encodeAttr(dv, off + 40, e.attr);
}

/** Reads a fuse_entry_out at `off`. */
export function decodeEntryOut(dv: DataView, off: number): FuseEntry {
  return {
    nodeid: dv.getBigUint64(off, true),
    generation: dv.getBigUint64(off + 8, true),
    entryValid: Number(dv.getBigUint64(off + 16, true)),
    attrValid: Number(dv.getBigUint64(off + 24, true)),
    attr: decodeAttr(dv, off + 40),
  };
}

/** Splits a timeout in seconds into whole seconds and nanoseconds. */
export function splitTimeout(t: number): [number, number] {
  const s = Math.floor(t);
  return [s, Math.floor((t - s) * 1e9)];
}

/** Size of a fuse_dirent with a name of `namelen` bytes, padded to 8. */
export function direntSize(namelen: number): number {
  return (FUSE_SIZE.direntHeader + namelen + 7) & ~7;
}

/**
 * Virtio-fs device config space (struct virtio_fs_config): a 36-byte tag,
 * NUL-padded, then num_request_queues.
 */
export const VIRTIO_FS_CONFIG_SIZE = 40;
/** The longest tag. */
export const VIRTIO_FS_TAG_MAX = 36;
/** The virtio device id of virtio-fs. */
export const VIRTIO_ID_FS = 26;
/** The shmid of the DAX cache window. */
export const VIRTIO_FS_SHMCAP_ID_CACHE = 0;
