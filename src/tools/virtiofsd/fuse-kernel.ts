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
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  FILE_OPS: 1n << 2n,
  ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n,
  SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n,
  HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  WRITEBACK_CACHE: 1n << 16n,
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  HANDLE_KILLPRIV: 1n << 19n,
  POSIX_ACL: 1n << 20n,
  ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  MAP_ALIGNMENT: 1n << 26n,
  SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n,
  SETXATTR_EXT: 1n << 29n,
  INIT_EXT: 1n << 30n,
  INIT_RESERVED: 1n << 31n,
  SECURITY_CTX: 1n << 32n,
  HAS_INODE_DAX: 1n << 33n,
} as const;

/** fuse_setattr_in.valid bits. */
export const FATTR = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;

/** fuse_open_out.open_flags bits. */
export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
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
  inHeader: 40,
  outHeader: 16,
  attr: 88,
  entryOut: 128,
  attrOut: 104,
  getattrIn: 16,
  setattrIn: 88,
  forgetIn: 8,
  batchForgetIn: 8,
  forgetOne: 16,
  mknodIn: 16,
  mkdirIn: 8,
  renameIn: 8,
  rename2In: 16,
  linkIn: 8,
  openIn: 8,
  createIn: 16,
  openOut: 16,
  releaseIn: 24,
  flushIn: 24,
  readIn: 40,
  writeIn: 40,
  writeOut: 8,
  statfsOut: 80,
  fsyncIn: 16,
  accessIn: 8,
  initInMin: 16,
  initOut: 64,
  interruptIn: 8,
  direntHeader: 24,
  lseekIn: 24,
  lseekOut: 8,
  fallocateIn: 32,
  setupmappingIn: 40,
  removemappingIn: 4,
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
