/**
 * The FUSE request decoder and reply encoder of tsqom-virtiofsd (the part
 * QEMU's virtiofsd keeps in tools/virtiofsd/fuse_lowlevel.c): one request
 * in, one reply (or none, for FORGET, BATCH_FORGET and INTERRUPT) out.
 * Every length is checked against the bytes actually received; a request
 * that is short, overruns its buffer or names an unknown opcode gets an
 * error reply, never an exception.
 * @module
 */
import { PassthroughFs, ERRNO, type PassthroughDirent } from './passthrough-ll.js';
import {
  FUSE_FSYNC_FDATASYNC,
  FUSE_INIT,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  FUSE_SETUPMAPPING_FLAG_WRITE,
  FUSE_SIZE,
  FuseOpcode as Op,
  type FuseAttr,
  type FuseEntry,
  decodeInHeader,
  direntSize,
  encodeAttr,
  encodeEntryOut,
  encodeOutHeader,
  splitTimeout,
} from './fuse-kernel.js';

const EIO = 5;
const EPROTO = 71;
const { EINVAL, ENOSYS } = ERRNO;

/** The largest WRITE (and READ) this server negotiates. */
export const FUSE_MAX_WRITE = 1 << 20;

/**
 * The DAX cache window, as the device provides it once the front-end
 * negotiated VIRTIO Shared Memory Regions.
 */
export interface FuseDaxWindow {
  /** The window size in bytes. */
  readonly size: bigint;
  /** SHMEM_MAP `fd` at `foffset` onto window offset `moffset`; resolves to whether it took. */
  map(
    fd: number,
    foffset: bigint,
    moffset: bigint,
    len: bigint,
    writable: boolean,
  ): Promise<boolean>;
  /** SHMEM_UNMAP of the mapping at `moffset`. */
  unmap(moffset: bigint, len: bigint): Promise<boolean>;
}

/** Options of a {@link FuseSession}. */
export interface FuseSessionOptions {
  /** The DAX window now, or null when there is none (SETUPMAPPING gets ENOSYS). */
  dax?: () => FuseDaxWindow | null;
  /** Where diagnostics go (debug log level). */
  log?: (message: string) => void;
}

/** A reply: the bytes to write to the request's device-writable buffers; null: none. */
export type FuseReply = Uint8Array | null;

/** Bounds-checked reader over a request's argument bytes. */
class Args {
  readonly dv: DataView;
  pos = 0;
  constructor(readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  has(n: number): boolean {
    return this.pos + n <= this.buf.length;
  }
  /** Skips a fixed struct of `n` bytes; false if it isn't all there. */
  struct(n: number): number {
    if (!this.has(n)) return -1;
    const at = this.pos;
    this.pos += n;
    return at;
  }
  /** A NUL-terminated name; null if there is no NUL. */
  name(): Uint8Array | null {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) return null;
    const s = this.buf.subarray(this.pos, end);
    this.pos = end + 1;
    return s;
  }
}

function reply(unique: bigint, body: number, fill?: (dv: DataView) => void): Uint8Array {
  const out = new Uint8Array(FUSE_SIZE.outHeader + body);
  const dv = new DataView(out.buffer);
  encodeOutHeader(dv, out.length, 0, unique);
  fill?.(new DataView(out.buffer, FUSE_SIZE.outHeader));
  return out;
}

function replyErr(unique: bigint, errno: number): Uint8Array {
  const out = new Uint8Array(FUSE_SIZE.outHeader);
  encodeOutHeader(new DataView(out.buffer), out.length, -errno, unique);
  return out;
}

function replyEntry(unique: bigint, e: FuseEntry): Uint8Array {
  return reply(unique, FUSE_SIZE.entryOut, (dv) => encodeEntryOut(dv, 0, e));
}

/** A DAX mapping a session made. */
export interface FuseDaxMapping {
  /** Window offset. */
  moffset: bigint;
  /** The length the guest asked for (what REMOVEMAPPING names). */
  len: bigint;
  /** The length mapped (the file's tail ends in its last page). */
  mapped: bigint;
}

/**
 * A FUSE session over a {@link PassthroughFs}: negotiates INIT, decodes
 * each request, calls the file system and encodes its reply.
 */
export class FuseSession {
  /** The file system served. */
  readonly fs: PassthroughFs;
  readonly #options: FuseSessionOptions;
  #gotInit = false;
  #gotDestroy = false;
  #minor = 0;
  readonly #mappings = new Map<bigint, FuseDaxMapping>();

  /** A session over `fs`. */
  constructor(fs: PassthroughFs, options: FuseSessionOptions = {}) {
    this.fs = fs;
    this.#options = options;
  }

  /** Whether INIT was answered. */
  get initialized(): boolean {
    return this.#gotInit;
  }

  /** DAX mappings in place (window offset to length). */
  get mappings(): ReadonlyMap<bigint, FuseDaxMapping> {
    return this.#mappings;
  }

  /**
   * Serves one request. Returns the reply bytes, null when the request
   * takes no reply (or is too short to carry a request id), or a promise
   * of either for requests that wait on the front-end (DAX).
   */
  handle(req: Uint8Array): FuseReply | Promise<FuseReply> {
    if (req.length < FUSE_SIZE.inHeader) return null;
    const h = decodeInHeader(new DataView(req.buffer, req.byteOffset, FUSE_SIZE.inHeader));
    if (h.len < FUSE_SIZE.inHeader || h.len > req.length) return replyErr(h.unique, EINVAL);
    const a = new Args(req.subarray(FUSE_SIZE.inHeader, h.len));
    try {
      return this.#dispatch(h.opcode, h.unique, h.nodeid, a);
    } catch (e) {
      this.#options.log?.(`fuse: opcode ${h.opcode}: ${(e as Error).message}`);
      return replyErr(h.unique, EIO);
    }
  }

  #dispatch(op: number, unique: bigint, nodeid: bigint, a: Args): FuseReply | Promise<FuseReply> {
    const fs = this.fs;
    const dv = a.dv;
    const err = (e: number): Uint8Array => replyErr(unique, e);
    const entryOr = (r: FuseEntry | number): Uint8Array =>
      typeof r === 'number' ? err(-r) : replyEntry(unique, r);
    const status = (r: number): Uint8Array => (r < 0 ? err(-r) : reply(unique, 0));
    if (op === Op.INIT) return this.#init(unique, a);
    if (!this.#gotInit)
      return op === Op.FORGET || op === Op.BATCH_FORGET || op === Op.INTERRUPT ? null : err(EIO);
    if (this.#gotDestroy && op !== Op.DESTROY) return err(EIO);
    switch (op) {
      case Op.DESTROY:
        this.#gotDestroy = true;
        return this.#destroy(unique);
      case Op.LOOKUP: {
        const name = a.name();
        return name === null ? err(EINVAL) : entryOr(fs.lookup(nodeid, name));
      }
      case Op.FORGET: {
        const p = a.struct(FUSE_SIZE.forgetIn);
        if (p >= 0) fs.forget(nodeid, Number(dv.getBigUint64(p, true)));
        return null;
      }
      case Op.BATCH_FORGET: {
        const p = a.struct(FUSE_SIZE.batchForgetIn);
        if (p < 0) return null;
        const count = dv.getUint32(p, true);
        for (let i = 0; i < count; i++) {
          const q = a.struct(FUSE_SIZE.forgetOne);
          if (q < 0) break;
          fs.forget(dv.getBigUint64(q, true), Number(dv.getBigUint64(q + 8, true)));
        }
        return null;
      }
      case Op.INTERRUPT:
        // Requests are served one at a time to completion: nothing is ever pending.
        return null;
      case Op.GETATTR: {
        const r = fs.getattr(nodeid);
        return typeof r === 'number' ? err(-r) : this.#attrReply(unique, r);
      }
      case Op.SETATTR: {
        const p = a.struct(FUSE_SIZE.setattrIn);
        if (p < 0) return err(EINVAL);
        const r = fs.setattr(nodeid, {
          valid: dv.getUint32(p, true),
          fh: dv.getBigUint64(p + 8, true),
          size: Number(dv.getBigUint64(p + 16, true)),
          atime: Number(dv.getBigInt64(p + 32, true)),
          mtime: Number(dv.getBigInt64(p + 40, true)),
          atimensec: dv.getUint32(p + 56, true),
          mtimensec: dv.getUint32(p + 60, true),
          mode: dv.getUint32(p + 68, true),
          uid: dv.getUint32(p + 76, true),
          gid: dv.getUint32(p + 80, true),
        });
        return typeof r === 'number' ? err(-r) : this.#attrReply(unique, r);
      }
      case Op.READLINK: {
        const r = fs.readlink(nodeid);
        if (typeof r === 'number') return err(-r);
        return reply(unique, r.length, (d) => new Uint8Array(d.buffer, d.byteOffset).set(r));
      }
      case Op.SYMLINK: {
        const name = a.name();
        const target = a.name();
        if (name === null || target === null) return err(EINVAL);
        return entryOr(fs.symlink(nodeid, name, target));
      }
      case Op.MKNOD: {
        const p = a.struct(FUSE_SIZE.mknodIn);
        const name = a.name();
        if (p < 0 || name === null) return err(EINVAL);
        return entryOr(fs.mknod(nodeid, name, dv.getUint32(p, true), dv.getUint32(p + 4, true)));
      }
      case Op.MKDIR: {
        const p = a.struct(FUSE_SIZE.mkdirIn);
        const name = a.name();
        if (p < 0 || name === null) return err(EINVAL);
        return entryOr(fs.mkdir(nodeid, name, dv.getUint32(p, true)));
      }
      case Op.UNLINK:
      case Op.RMDIR: {
        const name = a.name();
        return name === null ? err(EINVAL) : status(fs.unlink(nodeid, name, op === Op.RMDIR));
      }
      case Op.RENAME:
      case Op.RENAME2: {
        const p = a.struct(op === Op.RENAME ? FUSE_SIZE.renameIn : FUSE_SIZE.rename2In);
        const name = a.name();
        const newName = a.name();
        if (p < 0 || name === null || newName === null) return err(EINVAL);
        const flags = op === Op.RENAME2 ? dv.getUint32(p + 8, true) : 0;
        return status(fs.rename(nodeid, name, dv.getBigUint64(p, true), newName, flags));
      }
      case Op.LINK: {
        const p = a.struct(FUSE_SIZE.linkIn);
        const name = a.name();
        if (p < 0 || name === null) return err(EINVAL);
        return entryOr(fs.link(dv.getBigUint64(p, true), nodeid, name));
      }
      case Op.OPEN:
      case Op.OPENDIR: {
        const p = a.struct(FUSE_SIZE.openIn);
        if (p < 0) return err(EINVAL);
        const r = op === Op.OPEN ? fs.open(nodeid, dv.getUint32(p, true)) : fs.opendir(nodeid);
        if (typeof r === 'number') return err(-r);
        return reply(unique, FUSE_SIZE.openOut, (d) => {
          d.setBigUint64(0, r.fh, true);
          d.setUint32(8, r.openFlags, true);
        });
      }
      case Op.CREATE: {
        const p = a.struct(FUSE_SIZE.createIn);
        const name = a.name();
        if (p < 0 || name === null) return err(EINVAL);
        const r = fs.create(nodeid, name, dv.getUint32(p, true), dv.getUint32(p + 4, true));
        if (typeof r === 'number') return err(-r);
        return reply(unique, FUSE_SIZE.entryOut + FUSE_SIZE.openOut, (d) => {
          encodeEntryOut(d, 0, r.entry);
          d.setBigUint64(FUSE_SIZE.entryOut, r.open.fh, true);
          d.setUint32(FUSE_SIZE.entryOut + 8, r.open.openFlags, true);
        });
      }
      case Op.READ: {
        const p = a.struct(FUSE_SIZE.readIn);
        if (p < 0) return err(EINVAL);
        const size = Math.min(dv.getUint32(p + 16, true), FUSE_MAX_WRITE);
        const out = new Uint8Array(FUSE_SIZE.outHeader + size);
        const n = fs.read(
          dv.getBigUint64(p, true),
          Number(dv.getBigUint64(p + 8, true)),
          out.subarray(16),
        );
        if (n < 0) return err(-n);
        encodeOutHeader(new DataView(out.buffer), 16 + n, 0, unique);
        return out.subarray(0, 16 + n);
      }
      case Op.WRITE: {
        const p = a.struct(FUSE_SIZE.writeIn);
        if (p < 0) return err(EINVAL);
        const size = dv.getUint32(p + 16, true);
        if (!a.has(size)) return err(EINVAL);
        const data = a.buf.subarray(a.pos, a.pos + size);
        const n = fs.write(dv.getBigUint64(p, true), Number(dv.getBigUint64(p + 8, true)), data);
        if (n < 0) return err(-n);
        return reply(unique, FUSE_SIZE.writeOut, (d) => d.setUint32(0, n, true));
      }
      case Op.STATFS: {
        const r = fs.statfs(nodeid);
        if (typeof r === 'number') return err(-r);
        return reply(unique, FUSE_SIZE.statfsOut, (d) => {
          d.setBigUint64(0, BigInt(r.blocks), true);
          d.setBigUint64(8, BigInt(r.bfree), true);
          d.setBigUint64(16, BigInt(r.bavail), true);
          d.setBigUint64(24, BigInt(r.files), true);
          d.setBigUint64(32, BigInt(r.ffree), true);
          d.setUint32(40, r.bsize, true);
          d.setUint32(44, r.namelen, true);
          d.setUint32(48, r.frsize, true);
        });
      }
      case Op.RELEASE:
      case Op.RELEASEDIR: {
        const p = a.struct(FUSE_SIZE.releaseIn);
        if (p < 0) return err(EINVAL);
        return status(fs.release(dv.getBigUint64(p, true), op === Op.RELEASEDIR));
      }
      case Op.FLUSH: {
        const p = a.struct(FUSE_SIZE.flushIn);
        if (p < 0) return err(EINVAL);
        return status(fs.flush(dv.getBigUint64(p, true)));
      }
      case Op.FSYNC:
      case Op.FSYNCDIR: {
        const p = a.struct(FUSE_SIZE.fsyncIn);
        if (p < 0) return err(EINVAL);
        const datasync = (dv.getUint32(p + 8, true) & FUSE_FSYNC_FDATASYNC) !== 0;
        return status(fs.fsync(dv.getBigUint64(p, true), datasync, op === Op.FSYNCDIR));
      }
      case Op.READDIR:
      case Op.READDIRPLUS: {
        const p = a.struct(FUSE_SIZE.readIn);
        if (p < 0) return err(EINVAL);
        const size = Math.min(dv.getUint32(p + 16, true), FUSE_MAX_WRITE);
        const r = fs.readdir(
          dv.getBigUint64(p, true),
          dv.getBigUint64(p + 8, true),
          size,
          op === Op.READDIRPLUS,
        );
        return typeof r === 'number'
          ? err(-r)
          : this.#direntReply(unique, r, op === Op.READDIRPLUS);
      }
      case Op.ACCESS: {
        const p = a.struct(FUSE_SIZE.accessIn);
        if (p < 0) return err(EINVAL);
        return status(fs.access(nodeid, dv.getUint32(p, true)));
      }
      case Op.LSEEK: {
        const p = a.struct(FUSE_SIZE.lseekIn);
        if (p < 0) return err(EINVAL);
        const r = fs.lseek(
          dv.getBigUint64(p, true),
          Number(dv.getBigInt64(p + 8, true)),
          dv.getUint32(p + 16, true),
        );
        if (r < 0) return err(-r);
        return reply(unique, FUSE_SIZE.lseekOut, (d) => d.setBigUint64(0, BigInt(r), true));
      }
      case Op.FALLOCATE: {
        const p = a.struct(FUSE_SIZE.fallocateIn);
        if (p < 0) return err(EINVAL);
        return status(
          fs.fallocate(
            dv.getBigUint64(p, true),
            dv.getUint32(p + 24, true),
            Number(dv.getBigUint64(p + 8, true)),
            Number(dv.getBigUint64(p + 16, true)),
          ),
        );
      }
      case Op.SETUPMAPPING:
        return this.#setupMapping(unique, nodeid, a);
      case Op.REMOVEMAPPING:
        return this.#removeMapping(unique, a);
      default:
        // xattrs (as virtiofsd without -o xattr), locks, ioctl, poll,
        // copy_file_range, syncfs, tmpfile and unknown opcodes.
        return err(ENOSYS);
    }
  }

  /**
   * READ with the data going straight into the caller's buffers (views of
   * the request's device-writable memory past the reply header), without
   * a copy. `req` holds the request (header and fuse_read_in); `room` is
   * the bytes the buffers hold. Returns the 16-byte reply header (its
   * length counts the data), or a whole error reply; null when `req` is
   * not a well-formed READ after INIT (serve it with {@link handle}).
   */
  readDirect(
    req: Uint8Array,
    bufs: (room: number) => Uint8Array[],
    room: number,
  ): Uint8Array | null {
    if (!this.#gotInit || this.#gotDestroy) return null;
    if (req.length !== FUSE_SIZE.inHeader + FUSE_SIZE.readIn) return null;
    const dv = new DataView(req.buffer, req.byteOffset, req.byteLength);
    if (dv.getUint32(0, true) !== req.length || dv.getUint32(4, true) !== Op.READ) return null;
    const unique = dv.getBigUint64(8, true);
    const p = FUSE_SIZE.inHeader;
    const size = Math.min(dv.getUint32(p + 16, true), FUSE_MAX_WRITE, room);
    const n = this.fs.readv(
      dv.getBigUint64(p, true),
      Number(dv.getBigUint64(p + 8, true)),
      bufs(size),
    );
    if (n < 0) return replyErr(unique, -n);
    const out = new Uint8Array(FUSE_SIZE.outHeader);
    encodeOutHeader(new DataView(out.buffer), FUSE_SIZE.outHeader + n, 0, unique);
    return out;
  }

  #attrReply(unique: bigint, attr: FuseAttr): Uint8Array {
    return reply(unique, FUSE_SIZE.attrOut, (d) => {
      const [s, ns] = splitTimeout(this.fs.timeout);
      d.setBigUint64(0, BigInt(s), true);
      d.setUint32(8, ns, true);
      encodeAttr(d, 16, attr);
    });
  }

  #direntReply(unique: bigint, ents: PassthroughDirent[], plus: boolean): Uint8Array {
    let total = 0;
    for (const e of ents) total += direntSize(e.name.length) + (plus ? FUSE_SIZE.entryOut : 0);
    return reply(unique, total, (d) => {
      const bytes = new Uint8Array(d.buffer, d.byteOffset);
      let off = 0;
      for (const e of ents) {
        if (plus) {
          if (e.entry) {
            encodeEntryOut(d, off, e.entry);
          } else {
            // `.` and `..`: no node, only the inode number and type.
            d.setBigUint64(off + 40, BigInt(e.ino), true);
            d.setUint32(off + 40 + 60, e.type << 12, true);
          }
          off += FUSE_SIZE.entryOut;
        }
        d.setBigUint64(off, BigInt(e.ino), true);
        d.setBigUint64(off + 8, e.off, true);
        d.setUint32(off + 16, e.name.length, true);
        d.setUint32(off + 20, e.type, true);
        bytes.set(e.name, off + FUSE_SIZE.direntHeader);
        off += direntSize(e.name.length);
      }
    });
  }

  #init(unique: bigint, a: Args): Uint8Array {
    const p = a.struct(FUSE_SIZE.initInMin);
    if (p < 0) return replyErr(unique, EINVAL);
    const dv = a.dv;
    const major = dv.getUint32(p, true);
    const minor = dv.getUint32(p + 4, true);
    const maxReadahead = dv.getUint32(p + 8, true);
    let flags = BigInt(dv.getUint32(p + 12, true));
    if (flags & FUSE_INIT.INIT_EXT && a.has(4)) flags |= BigInt(dv.getUint32(p + 16, true)) << 32n;
    if (major < FUSE_KERNEL_VERSION) return replyErr(unique, EPROTO);
    if (major > FUSE_KERNEL_VERSION) {
      // A newer kernel: say which major we speak and wait for another INIT.
      return reply(unique, FUSE_SIZE.initOut, (d) => {
        d.setUint32(0, FUSE_KERNEL_VERSION, true);
        d.setUint32(4, FUSE_KERNEL_MINOR_VERSION, true);
      });
    }
    if (this.#gotInit) return replyErr(unique, EPROTO);
    this.#gotInit = true;
    this.#minor = Math.min(minor, FUSE_KERNEL_MINOR_VERSION);
    let want =
      FUSE_INIT.ASYNC_READ |
      FUSE_INIT.BIG_WRITES |
      FUSE_INIT.PARALLEL_DIROPS |
      FUSE_INIT.MAX_PAGES |
      FUSE_INIT.EXPORT_SUPPORT |
      FUSE_INIT.ATOMIC_O_TRUNC |
      FUSE_INIT.INIT_EXT;
    if (this.fs.cache !== 'never') want |= FUSE_INIT.AUTO_INVAL_DATA;
    if (this.fs.cache !== 'never') want |= FUSE_INIT.DO_READDIRPLUS | FUSE_INIT.READDIRPLUS_AUTO;
    const dax = this.#options.dax?.() ?? null;
    if (dax !== null) want |= FUSE_INIT.MAP_ALIGNMENT;
    const out = flags & want;
    return reply(unique, FUSE_SIZE.initOut, (d) => {
      d.setUint32(0, FUSE_KERNEL_VERSION, true);
      d.setUint32(4, this.#minor, true);
      d.setUint32(8, maxReadahead, true);
      d.setUint32(12, Number(out & 0xffffffffn), true);
      d.setUint16(16, 64, true); // max_background
      d.setUint16(18, 48, true); // congestion_threshold
      d.setUint32(20, FUSE_MAX_WRITE, true);
      d.setUint32(24, 1, true); // time_gran: nanoseconds
      d.setUint16(28, FUSE_MAX_WRITE / 4096, true); // max_pages
      d.setUint16(30, out & FUSE_INIT.MAP_ALIGNMENT ? 12 : 0, true); // log2 of the page size
      d.setUint32(32, Number(out >> 32n), true);
    });
  }

  async #destroy(unique: bigint): Promise<Uint8Array> {
    await this.unmapAll();
    this.fs.destroy();
    return reply(unique, 0);
  }

  /** Asks the front-end to unmap every DAX mapping this session made. */
  async unmapAll(): Promise<void> {
    const dax = this.#options.dax?.() ?? null;
    const all = [...this.#mappings.values()];
    this.#mappings.clear();
    if (dax === null) return;
    for (const m of all) await dax.unmap(m.moffset, m.mapped);
  }

  async #setupMapping(unique: bigint, nodeid: bigint, a: Args): Promise<Uint8Array> {
    const p = a.struct(FUSE_SIZE.setupmappingIn);
    if (p < 0) return replyErr(unique, EINVAL);
    const dax = this.#options.dax?.() ?? null;
    if (dax === null) return replyErr(unique, ENOSYS);
    const dv = a.dv;
    const fh = dv.getBigUint64(p, true);
    const foffset = dv.getBigUint64(p + 8, true);
    const len = dv.getBigUint64(p + 16, true);
    const flags = dv.getBigUint64(p + 24, true);
    const moffset = dv.getBigUint64(p + 32, true);
    const page = 4096n;
    if (len === 0n || moffset % page !== 0n || foffset % page !== 0n || len % page !== 0n) {
      return replyErr(unique, EINVAL);
    }
    if (moffset >= dax.size || len > dax.size - moffset) return replyErr(unique, EINVAL);
    const writable = (flags & FUSE_SETUPMAPPING_FLAG_WRITE) !== 0n;
    const fd = this.fs.mappingFd(nodeid, fh, writable);
    if (fd < 0) return replyErr(unique, -fd);
    try {
      // The kernel reuses window ranges: a range it maps again replaces
      // what was there, so unmap what overlaps first.
      for (const m of [...this.#mappings.values()]) {
        if (m.moffset < moffset + len && moffset < m.moffset + m.len) {
          this.#mappings.delete(m.moffset);
          await dax.unmap(m.moffset, m.mapped);
        }
      }
      // Linux maps whole 2 MiB chunks, past the end of a file's tail; a
      // SHMEM_MAP front-end refuses a range the file does not back (QEMU's
      // ram-from-fd size check, on page-rounded sizes), and the guest
      // never touches bytes past the end: map up to the file's last whole
      // page. A partial last page stays unmapped (see the README).
      const size = this.fs.fileSize(fd);
      let mapped = len;
      if (size > 0) {
        const end = BigInt(size) & ~(page - 1n);
        if (foffset < end && foffset + len > end) mapped = end - foffset;
      }
      if (!(await dax.map(fd, foffset, moffset, mapped, writable))) return replyErr(unique, EINVAL);
      this.#mappings.set(moffset, { moffset, len, mapped });
      return reply(unique, 0);
    } finally {
      this.fs.closeFd(fd);
    }
  }

  async #removeMapping(unique: bigint, a: Args): Promise<Uint8Array> {
    const p = a.struct(FUSE_SIZE.removemappingIn);
    if (p < 0) return replyErr(unique, EINVAL);
    const dax = this.#options.dax?.() ?? null;
    if (dax === null) return replyErr(unique, ENOSYS);
    const count = a.dv.getUint32(p, true);
    if (!a.has(count * FUSE_SIZE.removemappingOne)) return replyErr(unique, EINVAL);
    let bad = 0;
    for (let i = 0; i < count; i++) {
      const q = a.struct(FUSE_SIZE.removemappingOne);
      const moffset = a.dv.getBigUint64(q, true);
      const len = a.dv.getBigUint64(q + 8, true);
      const m = this.#mappings.get(moffset);
      if (m === undefined || m.len !== len) {
        bad = EINVAL;
        continue;
      }
      this.#mappings.delete(moffset);
      if (!(await dax.unmap(moffset, m.mapped))) bad = EINVAL;
    }
    return bad !== 0 ? replyErr(unique, bad) : reply(unique, 0);
  }

  /** Forgets everything (the connection ended); the DAX mappings went with the front-end. */
  reset(): void {
    this.#mappings.clear();
    this.#gotInit = false;
    this.#gotDestroy = false;
    this.fs.destroy();
  }
}
