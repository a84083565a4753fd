/**
 * A guest-side FUSE client for tests: it plays the Linux virtio-fs driver
 * over tsqom's own front-end (a `vhost-user-device` with virtio-id 26 and
 * a VIRTIO Shared Memory Region for the DAX window) connected to a real
 * tsqom-virtiofsd process, or straight over an in-process
 * {@link FuseSession}. Requests are laid out in guest RAM as the kernel
 * does: the fuse_in_header and arguments in device-readable buffers, room
 * for the reply in device-writable ones.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { qemuChrDelete, qemuChrNewFromString } from '../../../src/chardev/index.js';
import { qdevDeviceAdd, qdevUnplug, qemuDeviceOpts } from '../../../src/hw/core/index.js';
import type { VHostUserBase } from '../../../src/hw/virtio/vhost-user-base.js';
import { VhostUserDeviceDriver } from '../../../src/hw/virtio/driver/vhost-user-driver.js';
import { CapturingErrorReportSink, setErrorReportSink } from '../../../src/util/error-report.js';
import type { VirtQueueDriver } from '../../../src/hw/virtio/virtqueue.js';
import {
  FUSE_INIT,
  FUSE_SIZE,
  FuseOpcode as Op,
  type FuseEntry,
  decodeAttr,
  decodeEntryOut,
} from '../../../src/tools/virtiofsd/fuse-kernel.js';
import type { FuseSession } from '../../../src/tools/virtiofsd/fuse-lowlevel.js';
import { removeRam, setupRam, tempDir, uniqueId } from '../vhost-user/setup.js';
import { type Daemon, startTsqomVirtiofsd } from './workload.js';

/** A FUSE reply: the error (0 or a positive errno) and the bytes after the header. */
export interface FuseResult {
  /** 0, or the errno the server replied with. */
  error: number;
  /** The reply body. */
  data: Uint8Array;
  /** The reply's unique. */
  unique: bigint;
}

/** Sends raw request bytes; resolves with the raw reply (possibly empty). */
export type FuseTransport = (
  req: Uint8Array,
  replyMax: number,
  hiprio: boolean,
) => Promise<Uint8Array>;

/** Encodes a fuse_in_header + args. */
export function fuseRequest(
  opcode: number,
  nodeid: bigint,
  args: Uint8Array,
  unique: bigint,
  uid = 0,
  gid = 0,
): Uint8Array {
  const out = new Uint8Array(FUSE_SIZE.inHeader + args.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, out.length, true);
  dv.setUint32(4, opcode, true);
  dv.setBigUint64(8, unique, true);
  dv.setBigUint64(16, nodeid, true);
  dv.setUint32(24, uid, true);
  dv.setUint32(28, gid, true);
  dv.setUint32(32, 4242, true);
  out.set(args, FUSE_SIZE.inHeader);
  return out;
}

/** Builds argument bytes: little-endian fields and NUL-terminated names. */
export class ArgBuilder {
  readonly #parts: number[] = [];
  /** Appends a u32. */
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.#parts.push(...b);
    return this;
  }
  /** Appends a u64. */
  u64(v: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
    this.#parts.push(...b);
    return this;
  }
  /** Appends a name and its NUL. */
  name(s: string | Uint8Array): this {
    this.#parts.push(...(typeof s === 'string' ? Buffer.from(s) : s), 0);
    return this;
  }
  /** Appends raw bytes. */
  bytes(b: Uint8Array): this {
    this.#parts.push(...b);
    return this;
  }
  /** Appends `n` zero bytes. */
  zero(n: number): this {
    for (let i = 0; i < n; i++) this.#parts.push(0);
    return this;
  }
  /** The bytes. */
  done(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

const A = (): ArgBuilder => new ArgBuilder();

/** A FUSE client over a transport. */
export class FuseClient {
  readonly #send: FuseTransport;
  #unique = 1n;

  /** A client sending through `send`. */
  constructor(send: FuseTransport) {
    this.#send = send;
  }

  /** Sends raw request bytes; the parsed reply, or null when none came. */
  async raw(req: Uint8Array, replyMax = 1 << 20, hiprio = false): Promise<FuseResult | null> {
    const rep = await this.#send(req, replyMax, hiprio);
    if (rep.length < FUSE_SIZE.outHeader) return null;
    const dv = new DataView(rep.buffer, rep.byteOffset, rep.byteLength);
    const len = dv.getUint32(0, true);
    return {
      error: Math.abs(dv.getInt32(4, true)),
      unique: dv.getBigUint64(8, true),
      data: rep.subarray(FUSE_SIZE.outHeader, Math.min(len, rep.length)),
    };
  }

  /** Sends one request; replyMax is the room offered for the reply. */
  async call(
    opcode: number,
    nodeid: bigint,
    args: Uint8Array,
    replyMax = 4096,
  ): Promise<FuseResult> {
    const unique = this.#unique++;
    const r = await this.raw(
      fuseRequest(opcode, nodeid, args, unique),
      replyMax + FUSE_SIZE.outHeader,
    );
    if (r === null) throw new Error(`no reply to opcode ${opcode}`);
    if (r.unique !== unique) throw new Error(`reply unique ${r.unique}, expected ${unique}`);
    return r;
  }

  /** Sends a request that takes no reply (FORGET, BATCH_FORGET) on the hiprio queue. */
  async noReply(opcode: number, nodeid: bigint, args: Uint8Array): Promise<void> {
    await this.raw(fuseRequest(opcode, nodeid, args, this.#unique++), 0, true);
  }

  /** INIT as Linux 6.1 sends it; returns the init_out fields that matter. */
  async init(
    flags: bigint = FUSE_INIT.MAP_ALIGNMENT |
      FUSE_INIT.INIT_EXT |
      FUSE_INIT.MAX_PAGES |
      FUSE_INIT.DO_READDIRPLUS,
  ) {
    const r = await this.call(
      Op.INIT,
      0n,
      A()
        .u32(7)
        .u32(37)
        .u32(131072)
        .u32(Number(flags & 0xffffffffn))
        .u32(Number(flags >> 32n))
        .zero(44)
        .done(),
    );
    if (r.error) return { error: r.error, flags: 0n, maxWrite: 0, mapAlignment: 0, minor: 0 };
    const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    return {
      error: 0,
      minor: dv.getUint32(4, true),
      flags: BigInt(dv.getUint32(12, true)) | (BigInt(dv.getUint32(32, true)) << 32n),
      maxWrite: dv.getUint32(20, true),
      mapAlignment: dv.getUint16(30, true),
    };
  }

  /** LOOKUP; the entry or the errno. */
  async lookup(parent: bigint, name: string | Uint8Array): Promise<FuseEntry | number> {
    const r = await this.call(Op.LOOKUP, parent, A().name(name).done());
    return r.error ? r.error : decodeEntryOut(new DataView(r.data.buffer, r.data.byteOffset), 0);
  }

  /** GETATTR: the attributes or the errno. */
  async getattr(nodeid: bigint) {
    const r = await this.call(Op.GETATTR, nodeid, A().u32(0).u32(0).u64(0).done());
    return r.error ? r.error : decodeAttr(new DataView(r.data.buffer, r.data.byteOffset), 16);
  }

  /** OPEN / OPENDIR: the fh or the errno (as a number). */
  async open(nodeid: bigint, flags: number, dir = false): Promise<{ fh: bigint } | number> {
    const r = await this.call(dir ? Op.OPENDIR : Op.OPEN, nodeid, A().u32(flags).u32(0).done());
    return r.error
      ? r.error
      : { fh: new DataView(r.data.buffer, r.data.byteOffset).getBigUint64(0, true) };
  }

  /** READ */
  async read(
    nodeid: bigint,
    fh: bigint,
    offset: number,
    size: number,
  ): Promise<Uint8Array | number> {
    const r = await this.call(
      Op.READ,
      nodeid,
      A().u64(fh).u64(offset).u32(size).u32(0).u64(0).u32(0).u32(0).done(),
      size,
    );
    return r.error ? r.error : r.data;
  }

  /** WRITE: bytes written or errno (negative). */
  async write(nodeid: bigint, fh: bigint, offset: number, data: Uint8Array): Promise<number> {
    const r = await this.call(
      Op.WRITE,
      nodeid,
      A().u64(fh).u64(offset).u32(data.length).u32(0).u64(0).u32(0).u32(0).bytes(data).done(),
    );
    return r.error ? -r.error : new DataView(r.data.buffer, r.data.byteOffset).getUint32(0, true);
  }

  /** RELEASE / RELEASEDIR */
  async release(nodeid: bigint, fh: bigint, dir = false): Promise<number> {
    return (
      await this.call(
        dir ? Op.RELEASEDIR : Op.RELEASE,
        nodeid,
        A().u64(fh).u32(0).u32(0).u64(0).done(),
      )
    ).error;
  }

  /** SETUPMAPPING */
  async setupMapping(
    nodeid: bigint,
    fh: bigint,
    foffset: bigint,
    len: bigint,
    flags: bigint,
    moffset: bigint,
  ): Promise<number> {
    return (
      await this.call(
        Op.SETUPMAPPING,
        nodeid,
        A().u64(fh).u64(foffset).u64(len).u64(flags).u64(moffset).done(),
      )
    ).error;
  }

  /** REMOVEMAPPING of one or more ranges. */
  async removeMapping(nodeid: bigint, ranges: readonly [bigint, bigint][]): Promise<number> {
    const a = A().u32(ranges.length);
    for (const [m, l] of ranges) a.u64(m).u64(l);
    return (await this.call(Op.REMOVEMAPPING, nodeid, a.done())).error;
  }

  /** FORGET */
  forget(nodeid: bigint, n: number): Promise<void> {
    return this.noReply(Op.FORGET, nodeid, A().u64(n).done());
  }
}

/** A transport straight into an in-process session. */
export function sessionTransport(session: FuseSession): FuseTransport {
  return async (req, replyMax) => {
    const r = await session.handle(req);
    return r === null ? new Uint8Array(0) : r.subarray(0, replyMax);
  };
}

/** Guest physical address of the DAX window in the test machine. */
export const DAX_BASE = 0x40000000n;

/** A tsqom-virtiofsd process behind tsqom's front-end, driven by a test FUSE client. */
export interface FrontendSetup {
  /** The daemon. */
  daemon: Daemon;
  /** The device. */
  dev: VHostUserBase;
  /** The driver. */
  drv: VhostUserDeviceDriver<number>;
  /** The client. */
  client: FuseClient;
  /** The front-end's reports. */
  reports: CapturingErrorReportSink;
  /** Sends many raw requests at once (batched on the request queue); the raw replies. */
  batch(reqs: readonly Uint8Array[], replyMax: number): Promise<Uint8Array[]>;
  /** Tears everything down (the daemon exits with its front-end). */
  close(): Promise<void>;
}

const QSIZE = 128;
const SLOT = 0x2000; // request + reply room per slot, for small requests
const BIG = 0x300000; // one big slot for large replies (READ) and writes

/**
 * Starts tsqom-virtiofsd on `shared` (extra options appended) and a
 * `vhost-user-device` front-end with guest RAM, the DAX window at
 * {@link DAX_BASE}, the hiprio and one request queue.
 */
export async function setupFrontend(shared: string, extra: string[] = []): Promise<FrontendSetup> {
  const t = tempDir();
  const sock = join(t.dir, 'fs.sock');
  const daemon = await startTsqomVirtiofsd(sock, shared, ['--tag', 'tsqomfs', ...extra]);
  const ram = await setupRam(32 * 2 ** 20, 'memfd');
  const chr = uniqueId('chr');
  const id = uniqueId('vufs');
  const reports = new CapturingErrorReportSink();
  let dev: VHostUserBase | null = null;
  const cleanup = async (): Promise<void> => {
    if (dev && !dev.finalized && dev.parent) qdevUnplug(dev);
    await new Promise((r) => setImmediate(r));
    try {
      qemuChrDelete(chr);
    } catch {
      // Already gone.
    }
    removeRam(ram);
    if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) {
      const timer = setTimeout(() => daemon.proc.kill('SIGKILL'), 5000);
      await daemon.exited;
      clearTimeout(timer);
    }
    t.remove();
  };
  try {
    await qemuChrNewFromString(`socket,id=${chr},path=${sock}`);
    const prev = setErrorReportSink(reports.sink);
    try {
      dev = (await qdevDeviceAdd(
        qemuDeviceOpts.parse(
          `vhost-user-device,id=${id},chardev=${chr},virtio-id=26,num_vqs=2,vq_size=${QSIZE},config_size=40,shmem-base=${DAX_BASE}`,
        ),
      )) as VHostUserBase;
    } finally {
      setErrorReportSink(prev);
    }
    dev.report = reports.sink;
    const drv = new VhostUserDeviceDriver<number>(dev);
    await drv.negotiate(1n << 32n);
    const qs: VirtQueueDriver<number>[] = [
      drv.setupQueue(0, 0x1000n, { num: QSIZE }),
      drv.setupQueue(1, 0x10000n, { num: QSIZE }),
    ];
    await drv.driverOk();
    const mem = drv.mem;
    const slotBase = 0x100000n;
    const bigBase = slotBase + BigInt(SLOT * QSIZE);
    // One request at a time through the client; batches for the fuzz.
    let busy: Promise<unknown> = Promise.resolve();
    const one: FuseTransport = (req, replyMax, hiprio) => {
      const run = async (): Promise<Uint8Array> => {
        const n = hiprio ? 0 : 1;
        const big = req.length + replyMax > SLOT;
        const at = big ? bigBase : slotBase;
        if (req.length + replyMax > BIG)
          throw new RangeError('request too large for the test slots');
        mem.write(at, req);
        const replyAt = at + BigInt((req.length + 7) & ~7);
        const ins = replyMax > 0 ? [{ addr: replyAt, len: replyMax }] : [];
        qs[n].add([{ addr: at, len: req.length }], ins, 0);
        drv.kickIfNeeded(n);
        const u = await drv.getUsed(n);
        return mem.read(replyAt, u.len).slice();
      };
      const p = busy.then(run);
      busy = p.catch(() => undefined);
      return p;
    };
    const batch = (reqs: readonly Uint8Array[], replyMax: number): Promise<Uint8Array[]> => {
      const run = async (): Promise<Uint8Array[]> => {
        const out: Uint8Array[] = new Array<Uint8Array>(reqs.length);
        const q = qs[1];
        let next = 0;
        let pending = 0;
        const slots: number[] = [];
        // Two descriptors a request: half the ring.
        for (let i = QSIZE / 2 - 1; i >= 0; i--) slots.push(i);
        const where = new Map<number, [number, bigint, number]>();
        let token = 0;
        while (next < reqs.length || pending > 0) {
          while (next < reqs.length && slots.length > 0) {
            const req = reqs[next].subarray(0, SLOT - replyMax);
            const s = slots.pop()!;
            const at = slotBase + BigInt(s * SLOT);
            mem.write(at, req);
            const replyAt = at + BigInt(SLOT - replyMax);
            const tk = token++;
            where.set(tk, [next, replyAt, s]);
            q.add(
              req.length > 0 ? [{ addr: at, len: req.length }] : [],
              [{ addr: replyAt, len: replyMax }],
              tk,
            );
            next++;
            pending++;
          }
          drv.kickIfNeeded(1);
          const u = await drv.getUsed(1);
          const [i, replyAt, s] = where.get(u.token)!;
          where.delete(u.token);
          out[i] = mem.read(replyAt, Math.min(u.len, replyMax)).slice();
          slots.push(s);
          pending--;
          for (let x = q.getUsed(); x; x = q.getUsed()) {
            const [j, rAt, s2] = where.get(x.token)!;
            where.delete(x.token);
            out[j] = mem.read(rAt, Math.min(x.len, replyMax)).slice();
            slots.push(s2);
            pending--;
          }
        }
        return out;
      };
      const p = busy.then(run);
      busy = p.catch(() => undefined);
      return p;
    };
    return {
      daemon,
      dev,
      drv,
      client: new FuseClient(one),
      reports,
      batch,
      close: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** The open descriptors of a process, by what they point at. */
export function processFds(pid: number): string[] {
  const out: string[] = [];
  for (const f of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${f}`));
    } catch {
      // Closed meanwhile.
    }
  }
  return out.sort();
}

/** Lines of /proc/PID/maps that map a file of `dir`. */
export function processFileMaps(pid: number, dir: string): string[] {
  return readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
}
