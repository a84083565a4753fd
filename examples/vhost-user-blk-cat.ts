/**
 * vhost-user-blk-cat: reads or writes the disk behind a vhost-user-blk
 * back-end (e.g. `qemu-storage-daemon --export type=vhost-user-blk,...`)
 * with tsqom as the front-end and the guest driver at once.
 *
 *     vhost-user-blk-cat --socket PATH [--memdev shm|memfd] --offset BYTES --length BYTES
 *         writes the disk's bytes to stdout
 *     vhost-user-blk-cat --socket PATH [--memdev shm|memfd] --write FILE --offset BYTES
 *         writes FILE's bytes to the disk
 *
 * Everything goes through virtio-blk requests in a virtqueue that lives in
 * the guest RAM tsqom hands the back-end: a memory-backend-shm (default)
 * or memory-backend-memfd mapped at guest address 0 (`-machine
 * none,memory-backend=...`), a `chardev-socket` client and a
 * `vhost-user-device` with virtio-id 2.
 *
 * Offsets and lengths need not be multiples of 512: reads fetch the
 * sectors that cover the range and keep the bytes asked for; writes read
 * the first and last partial sectors, patch them and write them back
 * (read-modify-write; not atomic against other writers of those sectors).
 * Offsets past the end of the disk are refused.
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { userCreatableAddType, userCreatableDel } from 'tsqom/qom';
import 'tsqom/backends';
import { qemuChrDelete, qemuChrNewFromString } from 'tsqom/qdev';
import { qdevDeviceAdd, qdevUnplug, qemuDeviceOpts } from 'tsqom/qdev';
import 'tsqom/virtio';
import type { VHostUserBase } from 'tsqom/virtio';
import { GuestRamAllocator, VhostUserDeviceDriver } from 'tsqom/vhost-user';
import { machineClearMemoryBackend, machineSetMemoryBackend } from 'tsqom/qdev';
import type { VirtQueueDriver } from 'tsqom/virtio';
import {
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_BLOCK,
  VIRTIO_RING_F_EVENT_IDX,
  encodeVirtioBlkOuthdr,
} from 'tsqom/native';

const SECTOR = 512;
/** Bytes one request carries at most (qemu-storage-daemon handles far more; this keeps slots small). */
const MAX_REQ = 128 * 1024;

/** Options of {@link VhostUserBlkClient.open}. */
export interface VhostUserBlkOptions {
  /** The back-end's socket. */
  socket: string;
  /** Guest RAM backend type (default `shm`). */
  memdev?: 'shm' | 'memfd';
  /** Requests in flight at most (default 16). */
  depth?: number;
  /** Bytes per request slot (default 128 KiB, a multiple of 512). */
  slotSize?: number;
  /** Queue size (default 256). */
  queueSize?: number;
  /** Names for the objects (so several clients can live in one process). */
  prefix?: string;
  /** Extra guest RAM for the caller's own buffers, handed out by {@link VhostUserBlkClient.alloc}. */
  extraMemory?: number;
}

interface Slot {
  hdr: bigint;
  data: bigint;
  status: bigint;
}

interface Pending {
  resolve: (status: number) => void;
  reject: (e: Error) => void;
}

let instances = 0;

/**
 * A virtio-blk driver over tsqom's vhost-user front-end. {@link read} and
 * {@link write} take any offset and length; {@link readSectors} and
 * {@link writeSectors} are the raw requests.
 */
export class VhostUserBlkClient {
  /** The device. */
  readonly dev: VHostUserBase;
  /** The guest driver. */
  readonly driver: VhostUserDeviceDriver<Pending>;
  /** Disk size in bytes (from the config space). */
  readonly capacity: bigint;
  /** Whether the disk is read-only (VIRTIO_BLK_F_RO). */
  readonly readOnly: boolean;
  /** Guest RAM left over after the queue and the request slots. */
  readonly alloc: GuestRamAllocator;
  readonly #queue: VirtQueueDriver<Pending>;
  readonly #slots: Slot[];
  readonly #free: number[];
  readonly #slotWaiters: (() => void)[] = [];
  readonly #names: { mem: string; chr: string; dev: string };
  readonly #slotSize: number;
  #inflight = 0;
  readonly #tokens = new Set<Pending>();
  #pumping = false;
  #closed = false;

  private constructor(
    dev: VHostUserBase,
    driver: VhostUserDeviceDriver<Pending>,
    queue: VirtQueueDriver<Pending>,
    slots: Slot[],
    capacity: bigint,
    readOnly: boolean,
    names: { mem: string; chr: string; dev: string },
    slotSize: number,
    alloc: GuestRamAllocator,
  ) {
    this.alloc = alloc;
    this.dev = dev;
    this.driver = driver;
    this.#queue = queue;
    this.#slots = slots;
    this.#free = slots.map((_, i) => i);
    this.capacity = capacity;
    this.readOnly = readOnly;
    this.#names = names;
    this.#slotSize = slotSize;
  }

  /** Creates guest RAM, the chardev and the device, and starts the queue. */
  static async open(options: VhostUserBlkOptions): Promise<VhostUserBlkClient> {
    const depth = options.depth ?? 16;
    const slotSize = options.slotSize ?? MAX_REQ;
    const queueSize = options.queueSize ?? 256;
    const p = options.prefix ?? `blkcat${instances++}`;
    const names = { mem: `${p}-ram`, chr: `${p}-chr`, dev: `${p}-dev` };
    const ringBytes = 16 * queueSize + 6 + 2 * queueSize + 8 * queueSize + 6 + 8192;
    const memSize =
      Math.ceil(
        (ringBytes + depth * (slotSize + 4096) + (options.extraMemory ?? 0)) / 2 ** 20 + 1,
      ) *
      2 ** 20;
    const cleanup: (() => void)[] = [];
    try {
      // /objects keeps the backend alive; the reference handed back is ours to drop.
      (
        await userCreatableAddType(`memory-backend-${options.memdev ?? 'shm'}`, names.mem, {
          size: memSize,
        })
      ).unref();
      cleanup.push(() => userCreatableDel(names.mem));
      machineSetMemoryBackend(names.mem);
      cleanup.push(() => machineClearMemoryBackend());
      await qemuChrNewFromString(
        `socket,id=${names.chr},path=${options.socket.replaceAll(',', ',,')}`,
      );
      cleanup.push(() => qemuChrDelete(names.chr));
      const dev = (await qdevDeviceAdd(
        qemuDeviceOpts.parse(
          `vhost-user-device,id=${names.dev},chardev=${names.chr},virtio-id=${VIRTIO_ID_BLOCK},` +
            `num_vqs=1,vq_size=${queueSize},config_size=60`,
        ),
      )) as VHostUserBase;
      cleanup.push(() => qdevUnplug(dev));
      const driver = new VhostUserDeviceDriver<Pending>(dev);
      cleanup.push(() => driver.close());
      const wanted =
        (1n << BigInt(VIRTIO_F_VERSION_1)) |
        (1n << BigInt(VIRTIO_RING_F_EVENT_IDX)) |
        (1n << BigInt(VIRTIO_BLK_F_RO)) |
        (1n << BigInt(VIRTIO_BLK_F_FLUSH));
      const acked = await driver.negotiate(wanted);
      if ((acked & (1n << BigInt(VIRTIO_F_VERSION_1))) === 0n) {
        throw new Error('the back-end does not offer VIRTIO_F_VERSION_1');
      }
      const cfg = await driver.readConfig();
      const capacity = new DataView(cfg.buffer, cfg.byteOffset, 8).getBigUint64(0, true) * 512n;
      // Guest address 0 would read as "no queue" (QEMU's rule): start a page in.
      const alloc = new GuestRamAllocator(4096n, BigInt(memSize));
      const ring = alloc.alloc(ringBytes, 4096);
      const queue = driver.setupQueue(0, ring, { num: queueSize });
      const slots: Slot[] = [];
      for (let i = 0; i < depth; i++) {
        slots.push({
          hdr: alloc.alloc(16, 16),
          status: alloc.alloc(1, 1),
          data: alloc.alloc(slotSize, 4096),
        });
      }
      await driver.driverOk();
      return new VhostUserBlkClient(
        dev,
        driver,
        queue,
        slots,
        capacity,
        (acked & (1n << BigInt(VIRTIO_BLK_F_RO))) !== 0n,
        names,
        slotSize,
        alloc,
      );
    } catch (e) {
      for (const f of cleanup.reverse()) {
        try {
          f();
        } catch {
          // Best effort: report the first error.
        }
      }
      throw e;
    }
  }

  async #slot(): Promise<number> {
    for (;;) {
      if (this.#closed) throw new Error('the device is closed');
      const i = this.#free.pop();
      if (i !== undefined) return i;
      await new Promise<void>((r) => this.#slotWaiters.push(r));
    }
  }

  #release(i: number): void {
    this.#free.push(i);
    this.#slotWaiters.shift()?.();
  }

  /** Collects completions until nothing is in flight. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#inflight > 0) {
        let u;
        while ((u = this.#queue.getUsed()) !== null) {
          this.#inflight--;
          this.#tokens.delete(u.token);
          u.token.resolve(u.len);
        }
        if (this.#inflight === 0) break;
        if (!this.#queue.enableCallbacks()) continue;
        await this.driver.waitCall(0);
      }
    } catch (e) {
      // A broken device (or a back-end gone): fail whatever is still waiting.
      this.#closed = true;
      const err = e instanceof Error ? e : new Error(String(e));
      for (const tok of this.#tokens) tok.reject(err);
      this.#tokens.clear();
      for (const w of this.#slotWaiters.splice(0)) w();
      throw err;
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * One request: `type` at `sector`; for IN, `len` bytes come back; for
   * OUT, `data` is sent. Resolves with the data read (or an empty array).
   */
  async #request(
    type: number,
    sector: bigint,
    len: number,
    data?: Uint8Array,
  ): Promise<Uint8Array> {
    if (this.#closed) throw new Error('the device is closed');
    if (len > this.#slotSize || len % SECTOR !== 0) throw new RangeError(`bad request size ${len}`);
    const i = await this.#slot();
    const s = this.#slots[i];
    const mem = this.driver.mem;
    try {
      mem.write(s.hdr, encodeVirtioBlkOuthdr({ type, ioprio: 0, sector }));
      mem.write(s.status, Uint8Array.of(0xff));
      if (data) mem.write(s.data, data);
      const done = new Promise<number>((resolve, reject) => {
        const token: Pending = { resolve, reject };
        this.#tokens.add(token);
        const dataBuf = [{ addr: s.data, len }];
        if (type === VIRTIO_BLK_T_IN) {
          this.#queue.add(
            [{ addr: s.hdr, len: 16 }],
            [...dataBuf, { addr: s.status, len: 1 }],
            token,
          );
        } else {
          this.#queue.add(
            [{ addr: s.hdr, len: 16 }, ...dataBuf],
            [{ addr: s.status, len: 1 }],
            token,
          );
        }
      });
      this.#inflight++;
      if (this.#queue.kickNeeded()) this.driver.kick(0);
      void this.#pump().catch(() => undefined);
      await done;
      const status = mem.read(s.status, 1)[0];
      if (status !== VIRTIO_BLK_S_OK) {
        throw new Error(`virtio-blk request failed with status ${status} at sector ${sector}`);
      }
      return type === VIRTIO_BLK_T_IN ? new Uint8Array(mem.read(s.data, len)) : new Uint8Array(0);
    } finally {
      this.#release(i);
    }
  }

  /** Reads `count` whole sectors from `sector`, splitting into requests that run concurrently. */
  async readSectors(sector: bigint, count: number): Promise<Uint8Array> {
    const per = this.#slotSize / SECTOR;
    // One request: its copy is the result.
    if (count <= per) return this.#request(VIRTIO_BLK_T_IN, sector, count * SECTOR);
    const out = new Uint8Array(count * SECTOR);
    const jobs: Promise<void>[] = [];
    for (let done = 0; done < count; done += per) {
      const n = Math.min(per, count - done);
      const at = done;
      jobs.push(
        this.#request(VIRTIO_BLK_T_IN, sector + BigInt(at), n * SECTOR).then((b) =>
          out.set(b, at * SECTOR),
        ),
      );
    }
    await Promise.all(jobs);
    return out;
  }

  /** Writes whole sectors at `sector`. */
  async writeSectors(sector: bigint, data: Uint8Array): Promise<void> {
    if (data.byteLength % SECTOR !== 0)
      throw new RangeError('data is not a whole number of sectors');
    if (this.readOnly) throw new Error('the disk is read-only');
    const per = this.#slotSize;
    const jobs: Promise<Uint8Array>[] = [];
    for (let off = 0; off < data.byteLength; off += per) {
      const chunk = data.subarray(off, Math.min(off + per, data.byteLength));
      jobs.push(
        this.#request(VIRTIO_BLK_T_OUT, sector + BigInt(off / SECTOR), chunk.byteLength, chunk),
      );
    }
    await Promise.all(jobs);
  }

  #checkRange(offset: bigint, length: number): void {
    if (offset < 0n || length < 0 || offset + BigInt(length) > this.capacity) {
      throw new RangeError(`range ${offset}+${length} is outside the ${this.capacity}-byte disk`);
    }
  }

  /** Reads `length` bytes at byte `offset` (any alignment). */
  async read(offset: bigint, length: number): Promise<Uint8Array> {
    this.#checkRange(offset, length);
    if (length === 0) return new Uint8Array(0);
    const first = offset / 512n;
    const last = (offset + BigInt(length) + 511n) / 512n;
    const buf = await this.readSectors(first, Number(last - first));
    const skip = Number(offset - first * 512n);
    return buf.subarray(skip, skip + length);
  }

  /** Writes `data` at byte `offset` (any alignment: partial sectors are read, patched and written). */
  async write(offset: bigint, data: Uint8Array): Promise<void> {
    this.#checkRange(offset, data.byteLength);
    if (data.byteLength === 0) return;
    const first = offset / 512n;
    const last = (offset + BigInt(data.byteLength) + 511n) / 512n;
    const count = Number(last - first);
    const skip = Number(offset - first * 512n);
    let buf: Uint8Array;
    if (skip === 0 && data.byteLength % SECTOR === 0) {
      buf = data;
    } else {
      buf = new Uint8Array(count * SECTOR);
      const head = await this.readSectors(first, 1);
      buf.set(head, 0);
      if (count > 1) buf.set(await this.readSectors(last - 1n, 1), (count - 1) * SECTOR);
      buf.set(data, skip);
    }
    await this.writeSectors(first, buf);
  }

  /** Resets the device and removes everything {@link open} created. */
  async close(): Promise<void> {
    if (this.#closed && !this.dev.realized) return;
    this.#closed = true;
    try {
      await this.driver.reset();
    } catch {
      // The device may already be disconnected.
    }
    this.driver.close();
    if (!this.dev.finalized && this.dev.parent) qdevUnplug(this.dev);
    await new Promise((r) => setImmediate(r));
    try {
      qemuChrDelete(this.#names.chr);
    } catch {
      // Still claimed by a device that lingers: it goes with the process.
    }
    machineClearMemoryBackend();
    userCreatableDel(this.#names.mem);
  }
}

interface CliArgs {
  socket?: string;
  memdev: 'shm' | 'memfd';
  offset: bigint;
  length?: number;
  write?: string;
}

function usage(msg: string): never {
  process.stderr.write(
    `vhost-user-blk-cat: ${msg}\n` +
      'usage: vhost-user-blk-cat --socket PATH [--memdev shm|memfd] --offset BYTES --length BYTES\n' +
      '       vhost-user-blk-cat --socket PATH [--memdev shm|memfd] --write FILE --offset BYTES\n',
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): CliArgs {
  const a: CliArgs = { memdev: 'shm', offset: 0n };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    const need = (): string => {
      if (v === undefined) usage(`${k} needs a value`);
      i++;
      return v;
    };
    switch (k) {
      case '--socket':
        a.socket = need();
        break;
      case '--memdev': {
        const m = need();
        if (m !== 'shm' && m !== 'memfd') usage(`--memdev must be shm or memfd, not '${m}'`);
        a.memdev = m;
        break;
      }
      case '--offset': {
        const s = need();
        if (!/^\d+$/.test(s)) usage(`bad --offset '${s}'`);
        a.offset = BigInt(s);
        break;
      }
      case '--length': {
        const s = need();
        if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) usage(`bad --length '${s}'`);
        a.length = Number(s);
        break;
      }
      case '--write':
        a.write = need();
        break;
      default:
        usage(`unknown argument '${k}'`);
    }
  }
  if (!a.socket) usage('--socket is required');
  if (a.write === undefined && a.length === undefined) usage('--length or --write is required');
  if (a.write !== undefined && a.length !== undefined)
    usage('--length and --write exclude each other');
  return a;
}

async function main(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv);
  const client = await VhostUserBlkClient.open({ socket: args.socket!, memdev: args.memdev });
  try {
    if (args.write !== undefined) {
      await client.write(args.offset, readFileSync(args.write));
    } else {
      // Stream in 1 MiB pieces so large reads do not sit in memory.
      const total = args.length!;
      for (let done = 0; done < total; done += 2 ** 20) {
        const n = Math.min(2 ** 20, total - done);
        const b = await client.read(args.offset + BigInt(done), n);
        if (!process.stdout.write(b)) await new Promise((r) => process.stdout.once('drain', r));
      }
    }
  } finally {
    await client.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    () => {
      process.exitCode = 0;
    },
    (e: unknown) => {
      process.stderr.write(`vhost-user-blk-cat: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
