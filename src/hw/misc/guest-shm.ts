/**
 * The guest-visible layout of the inter-guest shared memory device, as the
 * QNX hypervisor's `guest_shm.h` defines it: the factory page through
 * which a guest creates or finds named regions, and the control page at
 * the start of every region it is attached to.
 *
 * Everything here is pure: constants, offsets, packers and a small
 * register-file model of the factory page that turns guest accesses into
 * requests. The device (which owns the host memory, the other clients and
 * the interrupt) answers those requests.
 *
 * All registers are little-endian, as on every guest the QNX hypervisor
 * runs (x86 and Arm).
 * @module
 */

/** PCI vendor id of the device (`PCI_VID_BlackBerry_QNX`). */
export const PCI_VID_BLACKBERRY_QNX = 0x1c05;
/** PCI device id of the device (`PCI_DID_QNX_GUEST_SHM`). */
export const PCI_DID_QNX_GUEST_SHM = 0x0001;
/** Device-tree `compatible` string guest drivers probe for an MMIO factory page. */
export const GUEST_SHM_COMPATIBLE = 'qvm,guest_shm';

/** Most clients (guests) attached to one region; client bitsets are 16 bits wide. */
export const GUEST_SHM_MAX_CLIENTS = 16;
/** Size of the factory page's `name` field, and the longest region name. */
export const GUEST_SHM_MAX_NAME = 32;
/** Value of the factory page's `signature` register ("QVMG2GSM" read little-endian). */
export const GUEST_SHM_SIGNATURE = 0x4d534732474d5651n;
/** The device's page size: factory page, control page and region sizes are in these units. */
export const GUEST_SHM_PAGE_SIZE = 0x1000;

/** Status of the last factory request (`enum guest_shm_status`), as the guest reads it. */
export enum GuestShmStatus {
  /** The request succeeded. */
  GSS_OK = 0,
  /** The request failed for another reason. */
  GSS_UNKNOWN_FAILURE = 1,
  /** Not enough memory to create the region. */
  GSS_NOMEM = 2,
  /** The region already has {@link GUEST_SHM_MAX_CLIENTS} clients. */
  GSS_CLIENT_MAX = 3,
  /** The name is not a legal region name. */
  GSS_ILLEGAL_NAME = 4,
  /** The allow/deny list refuses the name. */
  GSS_NO_PERMISSION = 5,
  /** A find request named a region that does not exist. */
  GSS_DOES_NOT_EXIST = 6,
}

/** Offsets of the factory page registers (`struct guest_shm_factory`). */
export const GuestShmFactory = {
  /** u64, read-only: {@link GUEST_SHM_SIGNATURE}. */
  SIGNATURE: 0x00,
  /** u64, read-only: guest-physical address of the control page of the region last created or found. */
  SHMEM: 0x08,
  /** u32, read-only: the interrupt the device raises (the `intr` option). */
  VECTOR: 0x10,
  /** u32, read-only: {@link GuestShmStatus} of the last request. */
  STATUS: 0x14,
  /** u32: write a size in pages to create or attach; reads give the region's actual size in pages. */
  SIZE: 0x18,
  /** char[32]: the region name, written before `size` or `find`. */
  NAME: 0x1c,
  /** u32: write to attach to an existing region only. */
  FIND: 0x3c,
  /** Size of the register block; the rest of the page reads as zero. */
  LENGTH: 0x40,
} as const;

/** Offsets of the control page registers (`struct guest_shm_control`), one page per region and client. */
export const GuestShmControl = {
  /** u32, read-only: low 16 bits pending notifications (cleared by the read), high 16 bits active clients. */
  STATUS: 0x0,
  /** u32, read-only: this client's connection index (0..15). */
  IDX: 0x4,
  /** u32, write-only: a set of client bits to notify; all ones means every other client. */
  NOTIFY: 0x8,
  /** u32, write-only: any value detaches this client from the region. */
  DETACH: 0xc,
  /** Size of the register block; the rest of the page reads as zero. */
  LENGTH: 0x10,
} as const;

/** Mask of one client bitset (pending notifications or active clients). */
export const GUEST_SHM_CLIENT_MASK = (1 << GUEST_SHM_MAX_CLIENTS) - 1;

/** The value guest drivers write to `notify` to mean "everybody but me" (`~0`). */
export const GUEST_SHM_NOTIFY_ALL_OTHERS = 0xffffffff;

/**
 * Packs the control page `status` value: `pending` in the low 16 bits,
 * `active` in the high 16 bits.
 */
export function packControlStatus(pending: number, active: number): number {
  return (
    (((active & GUEST_SHM_CLIENT_MASK) << GUEST_SHM_MAX_CLIENTS) |
      (pending & GUEST_SHM_CLIENT_MASK)) >>>
    0
  );
}

/** A control page `status` value's two client bitsets (bit n is client n). */
export interface ControlStatusBits {
  /** Pending notifications (the low 16 bits; reading `status` clears them on the device). */
  pending: number;
  /** Clients attached to the region (the high 16 bits). */
  active: number;
}

/** Splits a control page `status` value into its two client bitsets. */
export function unpackControlStatus(status: number): ControlStatusBits {
  return {
    pending: status & GUEST_SHM_CLIENT_MASK,
    active: (status >>> GUEST_SHM_MAX_CLIENTS) & GUEST_SHM_CLIENT_MASK,
  };
}

/**
 * The clients a write of `value` to `notify` by client `self` signals:
 * all ones means every active client but the writer; otherwise the bits
 * written, restricted to active clients (bits of absent clients are
 * ignored, as nobody could receive them).
 */
export function notifyTargets(value: number, self: number, active: number): number {
  const v = value >>> 0;
  if (v === GUEST_SHM_NOTIFY_ALL_OTHERS) return active & GUEST_SHM_CLIENT_MASK & ~(1 << self);
  return v & active & GUEST_SHM_CLIENT_MASK;
}

/** Number of pages needed for `bytes` bytes (rounded up). */
export function bytesToPages(bytes: bigint): bigint {
  const page = BigInt(GUEST_SHM_PAGE_SIZE);
  return (bytes + page - 1n) / page;
}

/**
 * Decodes the factory page's `name` field (32 bytes): the bytes up to the
 * first NUL, or all 32 when there is none. Bytes map one to one to
 * characters (Latin-1), so any byte string round-trips.
 */
export function decodeGuestShmName(field: Uint8Array): string {
  let s = '';
  const n = Math.min(field.length, GUEST_SHM_MAX_NAME);
  for (let i = 0; i < n; i++) {
    const b = field[i]!;
    if (b === 0) break;
    s += String.fromCharCode(b);
  }
  return s;
}

/**
 * Encodes `name` into a 32-byte `name` field, NUL padded. Characters must
 * be single bytes (U+0000..U+00FF); a name of 32 characters fills the
 * field without a terminator.
 * @throws RangeError when the name is longer than 32 bytes or has a character above U+00FF.
 */
export function encodeGuestShmName(name: string): Uint8Array {
  if (name.length > GUEST_SHM_MAX_NAME) {
    throw new RangeError(`name longer than ${GUEST_SHM_MAX_NAME} bytes`);
  }
  const out = new Uint8Array(GUEST_SHM_MAX_NAME);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff) throw new RangeError('name characters must be single bytes (U+0000..U+00FF)');
    out[i] = c;
  }
  return out;
}

/** The factory page registers as values. */
export interface GuestShmFactoryState {
  /** `signature`, normally {@link GUEST_SHM_SIGNATURE}. */
  signature: bigint;
  /** `shmem`: control page address of the last region created or found. */
  shmem: bigint;
  /** `vector`: the interrupt number. */
  vector: number;
  /** `status` of the last request. */
  status: GuestShmStatus | number;
  /** `size`: the last region's size in pages. */
  size: number;
  /** `name`, as {@link decodeGuestShmName} reads it. */
  name: string;
  /** `find`: the last value written there. */
  find: number;
}

/** Encodes a factory register block (`GuestShmFactory.LENGTH` bytes, little-endian). */
export function encodeFactory(state: GuestShmFactoryState): Uint8Array {
  const out = new Uint8Array(GuestShmFactory.LENGTH);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(GuestShmFactory.SIGNATURE, BigInt.asUintN(64, state.signature), true);
  dv.setBigUint64(GuestShmFactory.SHMEM, BigInt.asUintN(64, state.shmem), true);
  dv.setUint32(GuestShmFactory.VECTOR, state.vector >>> 0, true);
  dv.setUint32(GuestShmFactory.STATUS, state.status >>> 0, true);
  dv.setUint32(GuestShmFactory.SIZE, state.size >>> 0, true);
  out.set(encodeGuestShmName(state.name), GuestShmFactory.NAME);
  dv.setUint32(GuestShmFactory.FIND, state.find >>> 0, true);
  return out;
}

/** Decodes a factory register block (at least `GuestShmFactory.LENGTH` bytes). */
export function decodeFactory(bytes: Uint8Array): GuestShmFactoryState {
  if (bytes.length < GuestShmFactory.LENGTH) throw new RangeError('factory block is 64 bytes');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    signature: dv.getBigUint64(GuestShmFactory.SIGNATURE, true),
    shmem: dv.getBigUint64(GuestShmFactory.SHMEM, true),
    vector: dv.getUint32(GuestShmFactory.VECTOR, true),
    status: dv.getUint32(GuestShmFactory.STATUS, true),
    size: dv.getUint32(GuestShmFactory.SIZE, true),
    name: decodeGuestShmName(
      bytes.subarray(GuestShmFactory.NAME, GuestShmFactory.NAME + GUEST_SHM_MAX_NAME),
    ),
    find: dv.getUint32(GuestShmFactory.FIND, true),
  };
}

/** The control page registers as values. */
export interface GuestShmControlState {
  /** `status`, see {@link packControlStatus}. */
  status: number;
  /** `idx`: the client's connection index. */
  idx: number;
  /** `notify` (write-only; reads as 0 on the device). */
  notify: number;
  /** `detach` (write-only; reads as 0 on the device). */
  detach: number;
}

/** Encodes a control register block (`GuestShmControl.LENGTH` bytes, little-endian). */
export function encodeControl(state: GuestShmControlState): Uint8Array {
  const out = new Uint8Array(GuestShmControl.LENGTH);
  const dv = new DataView(out.buffer);
  dv.setUint32(GuestShmControl.STATUS, state.status >>> 0, true);
  dv.setUint32(GuestShmControl.IDX, state.idx >>> 0, true);
  dv.setUint32(GuestShmControl.NOTIFY, state.notify >>> 0, true);
  dv.setUint32(GuestShmControl.DETACH, state.detach >>> 0, true);
  return out;
}

/** Decodes a control register block (at least `GuestShmControl.LENGTH` bytes). */
export function decodeControl(bytes: Uint8Array): GuestShmControlState {
  if (bytes.length < GuestShmControl.LENGTH) throw new RangeError('control block is 16 bytes');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    status: dv.getUint32(GuestShmControl.STATUS, true),
    idx: dv.getUint32(GuestShmControl.IDX, true),
    notify: dv.getUint32(GuestShmControl.NOTIFY, true),
    detach: dv.getUint32(GuestShmControl.DETACH, true),
  };
}

/** A request a guest made by writing `size` or `find` on the factory page. */
export interface GuestShmFactoryRequest {
  /** `create`: create or attach (a `size` write); `find`: attach to an existing region only. */
  kind: 'create' | 'find';
  /** The name in the `name` field at the time of the write. */
  name: string;
  /** The raw `name` field (32 bytes), for devices that want to check it themselves. */
  rawName: Uint8Array;
  /** The value written: pages requested for `create`, the find value for `find`. */
  value: number;
}

/** The answer to a {@link GuestShmFactoryRequest}. */
export interface GuestShmFactoryReply {
  /** Status the guest reads back. */
  status: GuestShmStatus | number;
  /** Control page address, on success. */
  shmem?: bigint;
  /** Actual size of the region in pages, on success (the first creator chose it). */
  size?: number;
}

/**
 * The factory page as a register file, for the device's I/O region.
 * `read` and `write` take any offset and access size (1 to 8 bytes,
 * little-endian, unaligned allowed); bytes outside the register block
 * read as zero and ignore writes. Read-only registers ignore writes. A
 * write that touches the `size` or `find` register calls `onRequest` once
 * the whole access is stored, and the reply is latched into `status`,
 * `shmem` and `size` before the write returns, so the guest's next read
 * sees it.
 */
export class GuestShmFactoryRegs {
  /** The register block's bytes (`GuestShmFactory.LENGTH` of them). */
  readonly #regs: Uint8Array;
  readonly #dv: DataView;
  readonly #onRequest: (req: GuestShmFactoryRequest) => GuestShmFactoryReply;

  /**
   * @param vector - the interrupt number guests read from `vector`.
   * @param onRequest - answers create and find requests.
   */
  constructor(vector: number, onRequest: (req: GuestShmFactoryRequest) => GuestShmFactoryReply) {
    this.#onRequest = onRequest;
    this.#regs = encodeFactory({
      signature: GUEST_SHM_SIGNATURE,
      shmem: 0n,
      vector,
      status: GuestShmStatus.GSS_OK,
      size: 0,
      name: '',
      find: 0,
    });
    this.#dv = new DataView(this.#regs.buffer);
  }

  /** The registers' current values. */
  get state(): GuestShmFactoryState {
    return decodeFactory(this.#regs);
  }

  /** Reads `size` bytes (1..8) at `offset`, little-endian. */
  read(offset: number, size: number): bigint {
    checkAccess(offset, size);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) {
      const o = offset + i;
      v = (v << 8n) | BigInt(o < GuestShmFactory.LENGTH ? this.#regs[o]! : 0);
    }
    return v;
  }

  /** Writes the low `size` bytes (1..8) of `value` at `offset`, little-endian. */
  write(offset: number, size: number, value: bigint | number): void {
    checkAccess(offset, size);
    let v = BigInt.asUintN(64, BigInt(value));
    let trigger: 'create' | 'find' | undefined;
    for (let i = 0; i < size; i++, v >>= 8n) {
      const o = offset + i;
      if (o < GuestShmFactory.SIZE || o >= GuestShmFactory.LENGTH) continue; // read-only or outside
      this.#regs[o] = Number(v & 0xffn);
      if (o < GuestShmFactory.SIZE + 4) trigger = 'create';
      else if (o >= GuestShmFactory.FIND) trigger ??= 'find';
    }
    if (trigger === undefined) return;
    const rawName = this.#regs.slice(
      GuestShmFactory.NAME,
      GuestShmFactory.NAME + GUEST_SHM_MAX_NAME,
    );
    const reg = trigger === 'create' ? GuestShmFactory.SIZE : GuestShmFactory.FIND;
    const reply = this.#onRequest({
      kind: trigger,
      name: decodeGuestShmName(rawName),
      rawName,
      value: this.#dv.getUint32(reg, true),
    });
    this.#dv.setUint32(GuestShmFactory.STATUS, reply.status >>> 0, true);
    if (reply.status === GuestShmStatus.GSS_OK) {
      if (reply.shmem !== undefined)
        this.#dv.setBigUint64(GuestShmFactory.SHMEM, BigInt.asUintN(64, reply.shmem), true);
      if (reply.size !== undefined)
        this.#dv.setUint32(GuestShmFactory.SIZE, reply.size >>> 0, true);
    }
  }
}

function checkAccess(offset: number, size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 8)
    throw new RangeError(`access size ${size} is not 1..8`);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > GUEST_SHM_PAGE_SIZE) {
    throw new RangeError(`access at ${offset}+${size} is outside the 4 KiB page`);
  }
}
