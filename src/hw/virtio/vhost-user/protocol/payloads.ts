/**
 * Byte layouts of the vhost-user payloads (the members of QEMU's
 * VhostUserPayload union), encoded and decoded over plain Uint8Arrays.
 *
 * Decoders check the length before every read, so no input makes them read
 * out of bounds; they throw {@link CodecError} (`bad-size`) when the buffer
 * is shorter than the structure and accept longer buffers (message-level
 * size rules live in codec.ts). Encoders return a Buffer of exactly the
 * structure's size and throw {@link CodecError} (`bad-value`) for fields
 * out of range. Multi-byte fields are little-endian, the byte order of the
 * hosts tsqom runs on.
 * @module
 */
import { CodecError } from './codec-error.js';
import {
  VHOST_MEMORY_BASELINE_NREGIONS,
  VHOST_USER_CONFIG_HDR_SIZE,
  VHOST_USER_MAX_CONFIG_SIZE,
  VHOST_USER_VRING_IDX_MASK,
  VHOST_USER_VRING_NOFD_MASK,
  VIRTIO_MAX_SHMEM_REGIONS,
} from './protocol.js';

/** Size of a u64 payload. */
export const VHOST_USER_U64_SIZE = 8;
/** sizeof(struct vhost_vring_state). */
export const VHOST_VRING_STATE_SIZE = 8;
/** sizeof(struct vhost_vring_addr). */
export const VHOST_VRING_ADDR_SIZE = 40;
/** sizeof(VhostUserMemoryRegion). */
export const VHOST_USER_MEMORY_REGION_SIZE = 32;
/** Size of the nregions + padding header of VhostUserMemory. */
export const VHOST_USER_MEMORY_HDR_SIZE = 8;
/** sizeof(VhostUserMemory): the header and 8 regions. */
export const VHOST_USER_MEMORY_SIZE =
  VHOST_USER_MEMORY_HDR_SIZE + VHOST_MEMORY_BASELINE_NREGIONS * VHOST_USER_MEMORY_REGION_SIZE;
/** sizeof(VhostUserMemRegMsg): u64 padding and one region. */
export const VHOST_USER_MEM_REG_MSG_SIZE = 8 + VHOST_USER_MEMORY_REGION_SIZE;
/** sizeof(VhostUserLog). */
export const VHOST_USER_LOG_SIZE = 16;
/** sizeof(struct vhost_iotlb_msg), tail padding included. */
export const VHOST_IOTLB_MSG_SIZE = 32;
/** sizeof(VhostUserConfig): the header and a 256-byte region. */
export const VHOST_USER_CONFIG_SIZE = VHOST_USER_CONFIG_HDR_SIZE + VHOST_USER_MAX_CONFIG_SIZE;
/** sizeof(VhostUserCryptoSession) on 64-bit hosts. */
export const VHOST_USER_CRYPTO_SESSION_SIZE = 1072;
/** sizeof(VhostUserVringArea). */
export const VHOST_USER_VRING_AREA_SIZE = 24;
/** sizeof(VhostUserInflight), tail padding included. */
export const VHOST_USER_INFLIGHT_SIZE = 24;
/** sizeof(VhostUserShared): a UUID. */
export const VHOST_USER_SHARED_SIZE = 16;
/** sizeof(VhostUserTransferDeviceState). */
export const VHOST_USER_TRANSFER_DEVICE_STATE_SIZE = 8;
/** sizeof(VhostUserMMap). */
export const VHOST_USER_MMAP_SIZE = 40;
/** sizeof(VhostUserShMemConfig). */
export const VHOST_USER_SHMEM_CONFIG_SIZE = 8 + 8 * VIRTIO_MAX_SHMEM_REGIONS;

/** struct vhost_vring_state: a vring index and a number. */
export interface VhostVringState {
  /** Vring index (u32). */
  index: number;
  /** Size, base index, enable flag or endianness, by request (u32). */
  num: number;
}

/** struct vhost_vring_addr: where a vring lives. */
export interface VhostVringAddr {
  /** Vring index (u32). */
  index: number;
  /** Bit {@link VHOST_VRING_F_LOG}: the log address is valid (u32). */
  flags: number;
  /** Descriptor table address. */
  descUserAddr: bigint;
  /** Used ring address. */
  usedUserAddr: bigint;
  /** Available ring address. */
  availUserAddr: bigint;
  /** Guest address of the used ring for dirty logging. */
  logGuestAddr: bigint;
}

/** VhostUserMemoryRegion. */
export interface VhostUserMemoryRegion {
  /** Guest physical address of the region. */
  guestPhysAddr: bigint;
  /** Size in bytes. */
  memorySize: bigint;
  /** The front-end's virtual address of the region. */
  userspaceAddr: bigint;
  /** Offset of the region in the fd that backs it. */
  mmapOffset: bigint;
}

/** VhostUserMemory (SET_MEM_TABLE): up to 8 regions, one fd each. */
export interface VhostUserMemory {
  /** The regions, in fd order. */
  regions: VhostUserMemoryRegion[];
}

/** VhostUserMemRegMsg (ADD_MEM_REG / REM_MEM_REG). */
export interface VhostUserMemRegMsg {
  /** The region. */
  region: VhostUserMemoryRegion;
}

/** VhostUserLog (SET_LOG_BASE). */
export interface VhostUserLog {
  /** Size of the log area. */
  mmapSize: bigint;
  /** Offset of the log in the fd. */
  mmapOffset: bigint;
}

/** struct vhost_iotlb_msg. */
export interface VhostIotlbMsg {
  /** I/O virtual address. */
  iova: bigint;
  /** Size of the range. */
  size: bigint;
  /** User address. */
  uaddr: bigint;
  /** VHOST_ACCESS_* (u8). */
  perm: number;
  /** VHOST_IOTLB_* (u8). */
  type: number;
}

/** VhostUserConfig (GET_CONFIG / SET_CONFIG). */
export interface VhostUserConfig {
  /** Offset in the device's config space (u32). */
  offset: number;
  /** Bytes in `region` (u32, at most 256). */
  size: number;
  /** VHOST_SET_CONFIG_TYPE_* (u32). */
  flags: number;
  /** The config bytes (`size` of them). */
  region: Uint8Array;
}

/** VhostUserVringArea (VRING_HOST_NOTIFIER_MSG). */
export interface VhostUserVringArea {
  /** Vring index in bits 0-7, NOFD in bit 8. */
  u64: bigint;
  /** Size of the area. */
  size: bigint;
  /** Offset of the area in the fd. */
  offset: bigint;
}

/** VhostUserInflight (GET/SET_INFLIGHT_FD). */
export interface VhostUserInflight {
  /** Size of the inflight area. */
  mmapSize: bigint;
  /** Offset of the area in the fd. */
  mmapOffset: bigint;
  /** Number of virtqueues (u16). */
  numQueues: number;
  /** Size of the virtqueues (u16). */
  queueSize: number;
}

/** VhostUserShared: a 16-byte UUID. */
export interface VhostUserShared {
  /** The UUID bytes, as sent. */
  uuid: Uint8Array;
}

/** VhostUserTransferDeviceState (SET_DEVICE_STATE_FD). */
export interface VhostUserTransferDeviceState {
  /** VHOST_TRANSFER_STATE_DIRECTION_* (u32). */
  direction: number;
  /** VHOST_TRANSFER_STATE_PHASE_* (u32). */
  phase: number;
}

/** VhostUserMMap (BACKEND_SHMEM_MAP / SHMEM_UNMAP). */
export interface VhostUserMMap {
  /** VIRTIO Shared Memory Region id (u8). */
  shmid: number;
  /** Offset into the passed fd. */
  fdOffset: bigint;
  /** Offset inside the shared memory region. */
  shmOffset: bigint;
  /** Length of the mapping. */
  len: bigint;
  /** VHOST_USER_FLAG_MAP_* bits. */
  flags: bigint;
}

/** VhostUserShMemConfig (GET_SHMEM_CONFIG reply). */
export interface VhostUserShMemConfig {
  /** Number of regions in use (the non-zero sizes). */
  nregions: number;
  /** Size of each region, indexed by shmid; always 256 entries when decoded. */
  memorySizes: bigint[];
}

/** The u64 of SET_VRING_KICK/CALL/ERR: a vring index and the NOFD bit. */
export interface VhostUserVringFile {
  /** Vring index (bits 0-7). */
  index: number;
  /** No fd attached (bit 8). */
  noFd: boolean;
}

const U64_MAX = (1n << 64n) - 1n;

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function need(buf: Uint8Array, size: number, what: string): DataView {
  if (!(buf instanceof Uint8Array)) {
    throw new CodecError('bad-size', `${what}: payload is not a byte array`);
  }
  if (buf.byteLength < size) {
    throw new CodecError('bad-size', `${what}: payload of ${buf.byteLength} bytes, need ${size}`);
  }
  return view(buf);
}

function toU64(v: bigint | number, field: string): bigint {
  let b: bigint;
  if (typeof v === 'bigint') {
    b = v;
  } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
    b = BigInt(v);
  } else {
    throw new CodecError('bad-value', `${field}: ${String(v)} is not an unsigned 64-bit integer`);
  }
  if (b < 0n || b > U64_MAX) {
    throw new CodecError('bad-value', `${field}: ${b} is not an unsigned 64-bit integer`);
  }
  return b;
}

function toUint(v: number, bits: 8 | 16 | 32, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** bits) {
    throw new CodecError(
      'bad-value',
      `${field}: ${String(v)} is not an unsigned ${bits}-bit integer`,
    );
  }
  return v;
}

function alloc(size: number): [Buffer, DataView] {
  const buf = Buffer.alloc(size);
  return [buf, view(buf)];
}

/** Encodes a u64 payload. */
export function encodeU64(value: bigint | number): Buffer {
  const [buf, dv] = alloc(VHOST_USER_U64_SIZE);
  dv.setBigUint64(0, toU64(value, 'u64'), true);
  return buf;
}

/** Decodes a u64 payload. */
export function decodeU64(buf: Uint8Array): bigint {
  return need(buf, VHOST_USER_U64_SIZE, 'u64').getBigUint64(0, true);
}

/** Encodes struct vhost_vring_state. */
export function encodeVhostVringState(s: VhostVringState): Buffer {
  const [buf, dv] = alloc(VHOST_VRING_STATE_SIZE);
  dv.setUint32(0, toUint(s.index, 32, 'index'), true);
  dv.setUint32(4, toUint(s.num, 32, 'num'), true);
  return buf;
}

/** Decodes struct vhost_vring_state. */
export function decodeVhostVringState(buf: Uint8Array): VhostVringState {
  const dv = need(buf, VHOST_VRING_STATE_SIZE, 'vring state');
  return { index: dv.getUint32(0, true), num: dv.getUint32(4, true) };
}

/** Encodes struct vhost_vring_addr. */
export function encodeVhostVringAddr(a: VhostVringAddr): Buffer {
  const [buf, dv] = alloc(VHOST_VRING_ADDR_SIZE);
  dv.setUint32(0, toUint(a.index, 32, 'index'), true);
  dv.setUint32(4, toUint(a.flags, 32, 'flags'), true);
  dv.setBigUint64(8, toU64(a.descUserAddr, 'descUserAddr'), true);
  dv.setBigUint64(16, toU64(a.usedUserAddr, 'usedUserAddr'), true);
  dv.setBigUint64(24, toU64(a.availUserAddr, 'availUserAddr'), true);
  dv.setBigUint64(32, toU64(a.logGuestAddr, 'logGuestAddr'), true);
  return buf;
}

/** Decodes struct vhost_vring_addr. */
export function decodeVhostVringAddr(buf: Uint8Array): VhostVringAddr {
  const dv = need(buf, VHOST_VRING_ADDR_SIZE, 'vring addr');
  return {
    index: dv.getUint32(0, true),
    flags: dv.getUint32(4, true),
    descUserAddr: dv.getBigUint64(8, true),
    usedUserAddr: dv.getBigUint64(16, true),
    availUserAddr: dv.getBigUint64(24, true),
    logGuestAddr: dv.getBigUint64(32, true),
  };
}

function writeRegion(dv: DataView, off: number, r: VhostUserMemoryRegion): void {
  dv.setBigUint64(off, toU64(r.guestPhysAddr, 'guestPhysAddr'), true);
  dv.setBigUint64(off + 8, toU64(r.memorySize, 'memorySize'), true);
  dv.setBigUint64(off + 16, toU64(r.userspaceAddr, 'userspaceAddr'), true);
  dv.setBigUint64(off + 24, toU64(r.mmapOffset, 'mmapOffset'), true);
}

function readRegion(dv: DataView, off: number): VhostUserMemoryRegion {
  return {
    guestPhysAddr: dv.getBigUint64(off, true),
    memorySize: dv.getBigUint64(off + 8, true),
    userspaceAddr: dv.getBigUint64(off + 16, true),
    mmapOffset: dv.getBigUint64(off + 24, true),
  };
}

/** Encodes one VhostUserMemoryRegion (32 bytes). */
export function encodeVhostUserMemoryRegion(r: VhostUserMemoryRegion): Buffer {
  const [buf, dv] = alloc(VHOST_USER_MEMORY_REGION_SIZE);
  writeRegion(dv, 0, r);
  return buf;
}

/** Decodes one VhostUserMemoryRegion. */
export function decodeVhostUserMemoryRegion(buf: Uint8Array): VhostUserMemoryRegion {
  return readRegion(need(buf, VHOST_USER_MEMORY_REGION_SIZE, 'memory region'), 0);
}

/**
 * Encodes VhostUserMemory as QEMU sends it: nregions, padding, then only
 * the regions in use (8 + 32 * n bytes).
 */
export function encodeVhostUserMemory(m: VhostUserMemory): Buffer {
  const n = m.regions.length;
  if (n > VHOST_MEMORY_BASELINE_NREGIONS) {
    throw new CodecError(
      'bad-value',
      `memory table: ${n} regions, at most ${VHOST_MEMORY_BASELINE_NREGIONS}`,
    );
  }
  const [buf, dv] = alloc(VHOST_USER_MEMORY_HDR_SIZE + n * VHOST_USER_MEMORY_REGION_SIZE);
  dv.setUint32(0, n, true);
  m.regions.forEach((r, i) =>
    writeRegion(dv, VHOST_USER_MEMORY_HDR_SIZE + i * VHOST_USER_MEMORY_REGION_SIZE, r),
  );
  return buf;
}

/**
 * Decodes VhostUserMemory. The payload must hold nregions (at most 8)
 * regions; trailing unused region slots (a full 264-byte struct) are
 * accepted and ignored.
 */
export function decodeVhostUserMemory(buf: Uint8Array): VhostUserMemory {
  const dv = need(buf, VHOST_USER_MEMORY_HDR_SIZE, 'memory table');
  const n = dv.getUint32(0, true);
  if (n > VHOST_MEMORY_BASELINE_NREGIONS) {
    throw new CodecError(
      'bad-payload',
      `memory table: ${n} regions, at most ${VHOST_MEMORY_BASELINE_NREGIONS}`,
    );
  }
  const size = VHOST_USER_MEMORY_HDR_SIZE + n * VHOST_USER_MEMORY_REGION_SIZE;
  if (buf.byteLength < size) {
    throw new CodecError(
      'bad-payload',
      `memory table: ${n} regions need ${size} bytes, payload has ${buf.byteLength}`,
    );
  }
  const regions: VhostUserMemoryRegion[] = [];
  for (let i = 0; i < n; i++) {
    regions.push(readRegion(dv, VHOST_USER_MEMORY_HDR_SIZE + i * VHOST_USER_MEMORY_REGION_SIZE));
  }
  return { regions };
}

/** Encodes VhostUserMemRegMsg (padding is written as zero). */
export function encodeVhostUserMemRegMsg(m: VhostUserMemRegMsg): Buffer {
  const [buf, dv] = alloc(VHOST_USER_MEM_REG_MSG_SIZE);
  writeRegion(dv, 8, m.region);
  return buf;
}

/** Decodes VhostUserMemRegMsg (padding is ignored). */
export function decodeVhostUserMemRegMsg(buf: Uint8Array): VhostUserMemRegMsg {
  return { region: readRegion(need(buf, VHOST_USER_MEM_REG_MSG_SIZE, 'memory region msg'), 8) };
}

/** Encodes VhostUserLog. */
export function encodeVhostUserLog(l: VhostUserLog): Buffer {
  const [buf, dv] = alloc(VHOST_USER_LOG_SIZE);
  dv.setBigUint64(0, toU64(l.mmapSize, 'mmapSize'), true);
  dv.setBigUint64(8, toU64(l.mmapOffset, 'mmapOffset'), true);
  return buf;
}

/** Decodes VhostUserLog. */
export function decodeVhostUserLog(buf: Uint8Array): VhostUserLog {
  const dv = need(buf, VHOST_USER_LOG_SIZE, 'log');
  return { mmapSize: dv.getBigUint64(0, true), mmapOffset: dv.getBigUint64(8, true) };
}

/** Encodes struct vhost_iotlb_msg. */
export function encodeVhostIotlbMsg(m: VhostIotlbMsg): Buffer {
  const [buf, dv] = alloc(VHOST_IOTLB_MSG_SIZE);
  dv.setBigUint64(0, toU64(m.iova, 'iova'), true);
  dv.setBigUint64(8, toU64(m.size, 'size'), true);
  dv.setBigUint64(16, toU64(m.uaddr, 'uaddr'), true);
  dv.setUint8(24, toUint(m.perm, 8, 'perm'));
  dv.setUint8(25, toUint(m.type, 8, 'type'));
  return buf;
}

/** Decodes struct vhost_iotlb_msg. */
export function decodeVhostIotlbMsg(buf: Uint8Array): VhostIotlbMsg {
  const dv = need(buf, VHOST_IOTLB_MSG_SIZE, 'iotlb msg');
  return {
    iova: dv.getBigUint64(0, true),
    size: dv.getBigUint64(8, true),
    uaddr: dv.getBigUint64(16, true),
    perm: dv.getUint8(24),
    type: dv.getUint8(25),
  };
}

/**
 * Encodes VhostUserConfig as QEMU sends it: the 12-byte header followed by
 * `size` bytes. `region` defaults to zeros (a GET_CONFIG request carries
 * a zeroed region of the size it asks for).
 */
export function encodeVhostUserConfig(
  c: Omit<VhostUserConfig, 'region' | 'size'> & { size?: number; region?: Uint8Array },
): Buffer {
  const size = c.size ?? c.region?.byteLength ?? 0;
  toUint(size, 32, 'size');
  if (c.region !== undefined && c.region.byteLength !== size) {
    throw new CodecError('bad-value', `config: size ${size} but ${c.region.byteLength} bytes`);
  }
  if (size > VHOST_USER_MAX_CONFIG_SIZE) {
    throw new CodecError(
      'bad-value',
      `config: size ${size} exceeds the maximum ${VHOST_USER_MAX_CONFIG_SIZE}`,
    );
  }
  const [buf, dv] = alloc(VHOST_USER_CONFIG_HDR_SIZE + size);
  dv.setUint32(0, toUint(c.offset, 32, 'offset'), true);
  dv.setUint32(4, size, true);
  dv.setUint32(8, toUint(c.flags, 32, 'flags'), true);
  if (c.region !== undefined) buf.set(c.region, VHOST_USER_CONFIG_HDR_SIZE);
  return buf;
}

/**
 * Decodes VhostUserConfig. The size field must be at most 256 and the
 * payload must hold that many bytes after the header.
 */
export function decodeVhostUserConfig(buf: Uint8Array): VhostUserConfig {
  const dv = need(buf, VHOST_USER_CONFIG_HDR_SIZE, 'config');
  const size = dv.getUint32(4, true);
  if (size > VHOST_USER_MAX_CONFIG_SIZE) {
    throw new CodecError(
      'bad-payload',
      `config: size ${size} exceeds the maximum ${VHOST_USER_MAX_CONFIG_SIZE}`,
    );
  }
  if (buf.byteLength < VHOST_USER_CONFIG_HDR_SIZE + size) {
    throw new CodecError(
      'bad-payload',
      `config: size ${size} but ${buf.byteLength - VHOST_USER_CONFIG_HDR_SIZE} bytes follow`,
    );
  }
  return {
    offset: dv.getUint32(0, true),
    size,
    flags: dv.getUint32(8, true),
    region: Buffer.from(
      buf.subarray(VHOST_USER_CONFIG_HDR_SIZE, VHOST_USER_CONFIG_HDR_SIZE + size),
    ),
  };
}

/** Encodes VhostUserVringArea. */
export function encodeVhostUserVringArea(a: VhostUserVringArea): Buffer {
  const [buf, dv] = alloc(VHOST_USER_VRING_AREA_SIZE);
  dv.setBigUint64(0, toU64(a.u64, 'u64'), true);
  dv.setBigUint64(8, toU64(a.size, 'size'), true);
  dv.setBigUint64(16, toU64(a.offset, 'offset'), true);
  return buf;
}

/** Decodes VhostUserVringArea. */
export function decodeVhostUserVringArea(buf: Uint8Array): VhostUserVringArea {
  const dv = need(buf, VHOST_USER_VRING_AREA_SIZE, 'vring area');
  return {
    u64: dv.getBigUint64(0, true),
    size: dv.getBigUint64(8, true),
    offset: dv.getBigUint64(16, true),
  };
}

/** Encodes VhostUserInflight (24 bytes; the 4 tail padding bytes are zero). */
export function encodeVhostUserInflight(i: VhostUserInflight): Buffer {
  const [buf, dv] = alloc(VHOST_USER_INFLIGHT_SIZE);
  dv.setBigUint64(0, toU64(i.mmapSize, 'mmapSize'), true);
  dv.setBigUint64(8, toU64(i.mmapOffset, 'mmapOffset'), true);
  dv.setUint16(16, toUint(i.numQueues, 16, 'numQueues'), true);
  dv.setUint16(18, toUint(i.queueSize, 16, 'queueSize'), true);
  return buf;
}

/** Decodes VhostUserInflight. */
export function decodeVhostUserInflight(buf: Uint8Array): VhostUserInflight {
  const dv = need(buf, VHOST_USER_INFLIGHT_SIZE, 'inflight');
  return {
    mmapSize: dv.getBigUint64(0, true),
    mmapOffset: dv.getBigUint64(8, true),
    numQueues: dv.getUint16(16, true),
    queueSize: dv.getUint16(18, true),
  };
}

/** Encodes VhostUserShared (the 16 UUID bytes as given). */
export function encodeVhostUserShared(s: VhostUserShared): Buffer {
  if (!(s.uuid instanceof Uint8Array) || s.uuid.byteLength !== VHOST_USER_SHARED_SIZE) {
    throw new CodecError('bad-value', 'uuid: need 16 bytes');
  }
  return Buffer.from(s.uuid);
}

/** Decodes VhostUserShared. */
export function decodeVhostUserShared(buf: Uint8Array): VhostUserShared {
  need(buf, VHOST_USER_SHARED_SIZE, 'shared object');
  return { uuid: Buffer.from(buf.subarray(0, VHOST_USER_SHARED_SIZE)) };
}

/** Encodes VhostUserTransferDeviceState. */
export function encodeVhostUserTransferDeviceState(t: VhostUserTransferDeviceState): Buffer {
  const [buf, dv] = alloc(VHOST_USER_TRANSFER_DEVICE_STATE_SIZE);
  dv.setUint32(0, toUint(t.direction, 32, 'direction'), true);
  dv.setUint32(4, toUint(t.phase, 32, 'phase'), true);
  return buf;
}

/** Decodes VhostUserTransferDeviceState. */
export function decodeVhostUserTransferDeviceState(buf: Uint8Array): VhostUserTransferDeviceState {
  const dv = need(buf, VHOST_USER_TRANSFER_DEVICE_STATE_SIZE, 'transfer state');
  return { direction: dv.getUint32(0, true), phase: dv.getUint32(4, true) };
}

/** Encodes VhostUserMMap (the 7 padding bytes are zero). */
export function encodeVhostUserMMap(m: VhostUserMMap): Buffer {
  const [buf, dv] = alloc(VHOST_USER_MMAP_SIZE);
  dv.setUint8(0, toUint(m.shmid, 8, 'shmid'));
  dv.setBigUint64(8, toU64(m.fdOffset, 'fdOffset'), true);
  dv.setBigUint64(16, toU64(m.shmOffset, 'shmOffset'), true);
  dv.setBigUint64(24, toU64(m.len, 'len'), true);
  dv.setBigUint64(32, toU64(m.flags, 'flags'), true);
  return buf;
}

/**
 * Decodes VhostUserMMap. Padding is not checked (the spec does not ask
 * for zeros) and neither are the values: QEMU validates them when it
 * handles the request, with its own messages.
 */
export function decodeVhostUserMMap(buf: Uint8Array): VhostUserMMap {
  const dv = need(buf, VHOST_USER_MMAP_SIZE, 'mmap');
  return {
    shmid: dv.getUint8(0),
    fdOffset: dv.getBigUint64(8, true),
    shmOffset: dv.getBigUint64(16, true),
    len: dv.getBigUint64(24, true),
    flags: dv.getBigUint64(32, true),
  };
}

/**
 * Encodes VhostUserShMemConfig (2056 bytes). Missing sizes are zero;
 * `nregions` defaults to the number of non-zero sizes.
 */
export function encodeVhostUserShMemConfig(
  c: Omit<VhostUserShMemConfig, 'nregions'> & { nregions?: number },
): Buffer {
  if (c.memorySizes.length > VIRTIO_MAX_SHMEM_REGIONS) {
    throw new CodecError(
      'bad-value',
      `shmem config: ${c.memorySizes.length} sizes, at most ${VIRTIO_MAX_SHMEM_REGIONS}`,
    );
  }
  const sizes = c.memorySizes.map((s, i) => toU64(s, `memorySizes[${i}]`));
  const nregions = c.nregions ?? sizes.filter((s) => s !== 0n).length;
  if (toUint(nregions, 32, 'nregions') > VIRTIO_MAX_SHMEM_REGIONS) {
    throw new CodecError(
      'bad-value',
      `shmem config: ${nregions} regions, at most ${VIRTIO_MAX_SHMEM_REGIONS}`,
    );
  }
  const [buf, dv] = alloc(VHOST_USER_SHMEM_CONFIG_SIZE);
  dv.setUint32(0, nregions, true);
  sizes.forEach((s, i) => dv.setBigUint64(8 + 8 * i, s, true));
  return buf;
}

/**
 * Decodes VhostUserShMemConfig. A region count above 256 is rejected: QEMU
 * asserts on it, so a misbehaving back-end could otherwise abort it.
 */
export function decodeVhostUserShMemConfig(buf: Uint8Array): VhostUserShMemConfig {
  const dv = need(buf, VHOST_USER_SHMEM_CONFIG_SIZE, 'shmem config');
  const nregions = dv.getUint32(0, true);
  if (nregions > VIRTIO_MAX_SHMEM_REGIONS) {
    throw new CodecError(
      'bad-payload',
      `shmem config: ${nregions} regions, at most ${VIRTIO_MAX_SHMEM_REGIONS}`,
    );
  }
  const memorySizes: bigint[] = [];
  for (let i = 0; i < VIRTIO_MAX_SHMEM_REGIONS; i++) {
    memorySizes.push(dv.getBigUint64(8 + 8 * i, true));
  }
  return { nregions, memorySizes };
}

/** The u64 of SET_VRING_KICK/CALL/ERR for a vring index and the NOFD bit. */
export function vringFileToU64(f: VhostUserVringFile): bigint {
  const index = toUint(f.index, 8, 'index') & VHOST_USER_VRING_IDX_MASK;
  return BigInt(index | (f.noFd ? VHOST_USER_VRING_NOFD_MASK : 0));
}

/** Splits the u64 of SET_VRING_KICK/CALL/ERR (other bits are ignored, as peers do). */
export function vringFileFromU64(u64: bigint): VhostUserVringFile {
  const low = Number(u64 & 0xffffn);
  return {
    index: low & VHOST_USER_VRING_IDX_MASK,
    noFd: (low & VHOST_USER_VRING_NOFD_MASK) !== 0,
  };
}

/** Encodes the u64 payload of SET_VRING_KICK/CALL/ERR. */
export function encodeVhostUserVringFile(f: VhostUserVringFile): Buffer {
  return encodeU64(vringFileToU64(f));
}

/** Decodes the u64 payload of SET_VRING_KICK/CALL/ERR. */
export function decodeVhostUserVringFile(buf: Uint8Array): VhostUserVringFile {
  return vringFileFromU64(decodeU64(buf));
}
