/**
 * vhost-user messages: the 12-byte header, typed payload bodies, encoding
 * for sendmsg and validated decoding of received messages.
 *
 * Validation follows what the peers accept: QEMU for what the front-end
 * sends and expects back (hw/virtio/vhost-user.c), libvhost-user and
 * rust-vmm's vhost crate for what back-ends send. Each request has one or
 * more allowed payload layouts, told apart by size, and an fd rule per
 * layout. Everything here works on plain Uint8Arrays and never touches the
 * operating system.
 * @module
 */
import { CodecError } from './codec-error.js';
import {
  VHOST_MEMORY_BASELINE_NREGIONS,
  VHOST_USER_CONFIG_HDR_SIZE,
  VHOST_USER_HDR_SIZE,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_PAYLOAD_SIZE,
  VHOST_USER_REPLY_MASK,
  VHOST_USER_RESERVED_FLAGS_MASK,
  VHOST_USER_VERSION,
  VHOST_USER_VERSION_MASK,
  VHOST_USER_VRING_NOFD_MASK,
  VhostUserBackendRequest as B,
  VhostUserRequest as R,
  vhostUserBackendRequestName,
  vhostUserRequestName,
} from './protocol.js';
import {
  VHOST_IOTLB_MSG_SIZE,
  VHOST_USER_CONFIG_SIZE,
  VHOST_USER_CRYPTO_SESSION_SIZE,
  VHOST_USER_INFLIGHT_SIZE,
  VHOST_USER_LOG_SIZE,
  VHOST_USER_MEMORY_HDR_SIZE,
  VHOST_USER_MEMORY_REGION_SIZE,
  VHOST_USER_MEMORY_SIZE,
  VHOST_USER_MEM_REG_MSG_SIZE,
  VHOST_USER_MMAP_SIZE,
  VHOST_USER_SHARED_SIZE,
  VHOST_USER_SHMEM_CONFIG_SIZE,
  VHOST_USER_TRANSFER_DEVICE_STATE_SIZE,
  VHOST_USER_U64_SIZE,
  VHOST_USER_VRING_AREA_SIZE,
  VHOST_VRING_ADDR_SIZE,
  VHOST_VRING_STATE_SIZE,
  type VhostIotlbMsg,
  type VhostUserConfig,
  type VhostUserInflight,
  type VhostUserLog,
  type VhostUserMemRegMsg,
  type VhostUserMemory,
  type VhostUserMMap,
  type VhostUserShared,
  type VhostUserShMemConfig,
  type VhostUserTransferDeviceState,
  type VhostUserVringArea,
  type VhostUserVringFile,
  type VhostVringAddr,
  type VhostVringState,
  decodeU64,
  decodeVhostIotlbMsg,
  decodeVhostUserConfig,
  decodeVhostUserInflight,
  decodeVhostUserLog,
  decodeVhostUserMemRegMsg,
  decodeVhostUserMemory,
  decodeVhostUserMMap,
  decodeVhostUserShared,
  decodeVhostUserShMemConfig,
  decodeVhostUserTransferDeviceState,
  decodeVhostUserVringArea,
  decodeVhostUserVringFile,
  decodeVhostVringAddr,
  decodeVhostVringState,
  encodeU64,
  encodeVhostIotlbMsg,
  encodeVhostUserConfig,
  encodeVhostUserInflight,
  encodeVhostUserLog,
  encodeVhostUserMemRegMsg,
  encodeVhostUserMemory,
  encodeVhostUserMMap,
  encodeVhostUserShared,
  encodeVhostUserShMemConfig,
  encodeVhostUserTransferDeviceState,
  encodeVhostUserVringArea,
  encodeVhostUserVringFile,
  encodeVhostVringAddr,
  encodeVhostVringState,
} from './payloads.js';

/** VhostUserHeader: request id, flags, payload size. */
export interface VhostUserHeader {
  /** Request id (u32). */
  request: number;
  /** Version in bits 0-1, REPLY bit 2, NEED_REPLY bit 3 (u32). */
  flags: number;
  /** Payload size in bytes (u32). */
  size: number;
}

/** A framed message as received: header, raw payload and the fds that came with it. */
export interface VhostUserMsg {
  /** The header. */
  hdr: VhostUserHeader;
  /** Exactly `hdr.size` payload bytes. */
  payload: Buffer;
  /** File descriptors received with the message; the receiver owns them. */
  fds: number[];
}

/**
 * Which socket a message travels on: `frontend` is the main socket
 * (front-end requests, back-end replies), `backend` the back-end channel
 * set up by VHOST_USER_SET_BACKEND_REQ_FD (back-end requests, front-end
 * replies). Request ids mean different things on each.
 */
export type VhostUserChannel = 'frontend' | 'backend';

/** A payload, named after the member of QEMU's VhostUserPayload union it fills. */
export type VhostUserBody =
  | {
      /** No payload. */
      kind: 'none';
    }
  | {
      /** A u64 (features, acks, status...). */
      kind: 'u64';
      /** The value. */
      u64: bigint;
    }
  | {
      /** struct vhost_vring_state. */
      kind: 'state';
      /** The vring state. */
      state: VhostVringState;
    }
  | {
      /** struct vhost_vring_addr. */
      kind: 'addr';
      /** The vring addresses. */
      addr: VhostVringAddr;
    }
  | {
      /** VhostUserMemory (SET_MEM_TABLE). */
      kind: 'memory';
      /** The memory table. */
      memory: VhostUserMemory;
    }
  | {
      /** VhostUserMemRegMsg (ADD/REM_MEM_REG). */
      kind: 'memReg';
      /** The region. */
      memReg: VhostUserMemRegMsg;
    }
  | {
      /** VhostUserLog (SET_LOG_BASE). */
      kind: 'log';
      /** The log area. */
      log: VhostUserLog;
    }
  | {
      /** struct vhost_iotlb_msg. */
      kind: 'iotlb';
      /** The IOTLB message. */
      iotlb: VhostIotlbMsg;
    }
  | {
      /** VhostUserConfig (GET/SET_CONFIG). */
      kind: 'config';
      /** The config access. */
      config: VhostUserConfig;
    }
  | {
      /** VhostUserCryptoSession, kept as its 1072 raw bytes. */
      kind: 'session';
      /** The raw session bytes. */
      data: Buffer;
    }
  | {
      /** VhostUserVringArea. */
      kind: 'area';
      /** The area. */
      area: VhostUserVringArea;
    }
  | {
      /** VhostUserInflight. */
      kind: 'inflight';
      /** The inflight area. */
      inflight: VhostUserInflight;
    }
  | {
      /** VhostUserShared (a UUID). */
      kind: 'object';
      /** The UUID. */
      object: VhostUserShared;
    }
  | {
      /** VhostUserTransferDeviceState. */
      kind: 'transferState';
      /** Direction and phase. */
      transferState: VhostUserTransferDeviceState;
    }
  | {
      /** VhostUserMMap (SHMEM_MAP/UNMAP). */
      kind: 'mmap';
      /** The mapping. */
      mmap: VhostUserMMap;
    }
  | {
      /** VhostUserShMemConfig (GET_SHMEM_CONFIG reply). */
      kind: 'shmem';
      /** The region sizes. */
      shmem: VhostUserShMemConfig;
    }
  | {
      /** The u64 of SET_VRING_KICK/CALL/ERR. */
      kind: 'vringFile';
      /** Vring index and NOFD. */
      file: VhostUserVringFile;
    }
  | {
      /** Arbitrary payload bytes (encoding only; never produced by decoding). */
      kind: 'raw';
      /** The bytes. */
      data: Uint8Array;
    };

/** The `kind` of a {@link VhostUserBody}. */
export type VhostUserBodyKind = VhostUserBody['kind'];

/** A validated message with its payload decoded. */
export interface VhostUserDecodedMsg {
  /** The header as received. */
  hdr: VhostUserHeader;
  /** The decoded payload. */
  body: VhostUserBody;
  /** The fds that came with the message (owned by the caller). */
  fds: number[];
  /** The REPLY flag is set. */
  reply: boolean;
  /** The NEED_REPLY flag is set (requests only). */
  needReply: boolean;
}

/** Bytes and fds ready for one sendmsg call. */
export interface VhostUserWireMsg {
  /** Header and payload. */
  data: Buffer;
  /** Fds to pass as SCM_RIGHTS with the first byte of `data` (not owned). */
  fds: number[];
}

/** A message to encode. */
export interface VhostUserOutMsg {
  /** Request id. */
  request: number;
  /** Header flags; defaults to VHOST_USER_VERSION. */
  flags?: number;
  /** The payload; defaults to none. */
  body?: VhostUserBody;
  /** Fds to send with it (at most 8). */
  fds?: readonly number[];
}

/** Options of the encoders. */
export interface VhostUserEncodeOptions {
  /** Validate the result as the receiver on this channel would (throws CodecError). */
  channel?: VhostUserChannel;
}

/** Encodes the 12-byte header. */
export function encodeVhostUserHeader(hdr: VhostUserHeader): Buffer {
  const buf = Buffer.alloc(VHOST_USER_HDR_SIZE);
  for (const [i, k] of (['request', 'flags', 'size'] as const).entries()) {
    const v = hdr[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new CodecError('bad-value', `${k}: ${String(v)} is not an unsigned 32-bit integer`);
    }
    buf.writeUInt32LE(v, 4 * i);
  }
  return buf;
}

/** Decodes the 12-byte header from the start of `buf`. */
export function decodeVhostUserHeader(buf: Uint8Array): VhostUserHeader {
  if (buf.byteLength < VHOST_USER_HDR_SIZE) {
    throw new CodecError(
      'truncated',
      `Failed to read msg header. Read ${buf.byteLength} instead of ${VHOST_USER_HDR_SIZE}.`,
      { framing: true },
    );
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, VHOST_USER_HDR_SIZE);
  return {
    request: dv.getUint32(0, true),
    flags: dv.getUint32(4, true),
    size: dv.getUint32(8, true),
  };
}

/** Encodes a body into payload bytes. */
export function encodeVhostUserBody(body: VhostUserBody): Buffer {
  switch (body.kind) {
    case 'none':
      return Buffer.alloc(0);
    case 'u64':
      return encodeU64(body.u64);
    case 'state':
      return encodeVhostVringState(body.state);
    case 'addr':
      return encodeVhostVringAddr(body.addr);
    case 'memory':
      return encodeVhostUserMemory(body.memory);
    case 'memReg':
      return encodeVhostUserMemRegMsg(body.memReg);
    case 'log':
      return encodeVhostUserLog(body.log);
    case 'iotlb':
      return encodeVhostIotlbMsg(body.iotlb);
    case 'config':
      return encodeVhostUserConfig(body.config);
    case 'session':
      if (body.data.byteLength !== VHOST_USER_CRYPTO_SESSION_SIZE) {
        throw new CodecError(
          'bad-value',
          `crypto session: ${body.data.byteLength} bytes, need ${VHOST_USER_CRYPTO_SESSION_SIZE}`,
        );
      }
      return Buffer.from(body.data);
    case 'area':
      return encodeVhostUserVringArea(body.area);
    case 'inflight':
      return encodeVhostUserInflight(body.inflight);
    case 'object':
      return encodeVhostUserShared(body.object);
    case 'transferState':
      return encodeVhostUserTransferDeviceState(body.transferState);
    case 'mmap':
      return encodeVhostUserMMap(body.mmap);
    case 'shmem':
      return encodeVhostUserShMemConfig(body.shmem);
    case 'vringFile':
      return encodeVhostUserVringFile(body.file);
    case 'raw':
      return Buffer.from(body.data);
    default:
      throw new CodecError(
        'bad-value',
        `unknown body kind ${String((body as { kind: unknown }).kind)}`,
      );
  }
}

function checkFdList(fds: readonly number[]): number[] {
  if (!Array.isArray(fds)) throw new CodecError('bad-value', 'fds: not an array');
  if (fds.length > VHOST_MEMORY_BASELINE_NREGIONS) {
    throw new CodecError(
      'bad-fds',
      `${fds.length} fds in one message, at most ${VHOST_MEMORY_BASELINE_NREGIONS}`,
    );
  }
  for (const fd of fds) {
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw new CodecError('bad-value', `fd ${String(fd)} is not a file descriptor`);
    }
  }
  return [...fds];
}

/**
 * Encodes a message for sendmsg: header (size computed from the body)
 * followed by the payload, and the fd list to attach to its first byte.
 */
export function encodeVhostUserMsg(
  msg: VhostUserOutMsg,
  options: VhostUserEncodeOptions = {},
): VhostUserWireMsg {
  const payload = encodeVhostUserBody(msg.body ?? { kind: 'none' });
  if (payload.byteLength > VHOST_USER_PAYLOAD_SIZE) {
    throw new CodecError(
      'oversized',
      `payload of ${payload.byteLength} bytes exceeds the maximum ${VHOST_USER_PAYLOAD_SIZE}`,
      { request: msg.request },
    );
  }
  const fds = checkFdList(msg.fds ?? []);
  const hdr: VhostUserHeader = {
    request: msg.request,
    flags: msg.flags ?? VHOST_USER_VERSION,
    size: payload.byteLength,
  };
  const data = Buffer.concat([encodeVhostUserHeader(hdr), payload]);
  if (options.channel !== undefined) {
    decodeVhostUserMsg({ hdr, payload, fds }, options.channel);
  }
  return { data, fds };
}

/**
 * Encodes the reply to `request`: same request id, flags VERSION | REPLY
 * (NEED_REPLY cleared, as QEMU's vhost_user_send_resp does and as QEMU's
 * reader demands).
 */
export function encodeVhostUserReply(
  request: VhostUserHeader,
  body: VhostUserBody,
  fds: readonly number[] = [],
  options: VhostUserEncodeOptions = {},
): VhostUserWireMsg {
  return encodeVhostUserMsg(
    { request: request.request, flags: VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, body, fds },
    options,
  );
}

/** Encodes the u64 REPLY_ACK answer: 0 for success, non-zero for failure. */
export function encodeVhostUserAck(
  request: VhostUserHeader,
  value: bigint | number,
): VhostUserWireMsg {
  return encodeVhostUserReply(request, { kind: 'u64', u64: BigInt(value) });
}

/*
 * Per-request rules. A layout ("alt") is a body kind and an fd rule; the
 * first layout whose size rule matches the payload size is used.
 *   number      exactly that many fds
 *   'optional'  0 or 1
 *   'regions'   one per memory region
 *   'nofd'      none if the NOFD bit of the u64 is set, else exactly one
 *   'nofdMaybe' none if the NOFD bit is set, else 0 or 1 (an error reply
 *               of SET_DEVICE_STATE_FD may omit it)
 */
type FdRule = number | 'optional' | 'regions' | 'nofd' | 'nofdMaybe';
interface Alt {
  kind: Exclude<VhostUserBodyKind, 'raw'>;
  fds: FdRule;
}
interface Rule {
  request: readonly Alt[];
  reply: readonly Alt[];
}

const alt = (kind: Alt['kind'], fds: FdRule = 0): Alt => ({ kind, fds });
const ACK: readonly Alt[] = [alt('u64')];
const NONE: readonly Alt[] = [alt('none')];
const U64: readonly Alt[] = [alt('u64')];
const STATE: readonly Alt[] = [alt('state')];

/** Front-end requests on the main socket and the replies the back-end may send. */
const FRONTEND_RULES: ReadonlyMap<number, Rule> = new Map<number, Rule>([
  [R.VHOST_USER_GET_FEATURES, { request: NONE, reply: U64 }],
  [R.VHOST_USER_SET_FEATURES, { request: U64, reply: ACK }],
  [R.VHOST_USER_SET_OWNER, { request: NONE, reply: ACK }],
  [R.VHOST_USER_RESET_OWNER, { request: NONE, reply: ACK }],
  // The postcopy reply echoes the table with the back-end's addresses.
  [
    R.VHOST_USER_SET_MEM_TABLE,
    { request: [alt('memory', 'regions')], reply: [alt('u64'), alt('memory')] },
  ],
  // The fd comes with LOG_SHMFD; back-ends answer with nothing, a u64
  // (libvhost-user) or the log itself (rust-vmm).
  [
    R.VHOST_USER_SET_LOG_BASE,
    { request: [alt('log', 'optional')], reply: [alt('none'), alt('u64'), alt('log')] },
  ],
  [R.VHOST_USER_SET_LOG_FD, { request: [alt('none', 1)], reply: ACK }],
  [R.VHOST_USER_SET_VRING_NUM, { request: STATE, reply: ACK }],
  [R.VHOST_USER_SET_VRING_ADDR, { request: [alt('addr')], reply: ACK }],
  [R.VHOST_USER_SET_VRING_BASE, { request: STATE, reply: ACK }],
  [R.VHOST_USER_GET_VRING_BASE, { request: STATE, reply: STATE }],
  [R.VHOST_USER_SET_VRING_KICK, { request: [alt('vringFile', 'nofd')], reply: ACK }],
  [R.VHOST_USER_SET_VRING_CALL, { request: [alt('vringFile', 'nofd')], reply: ACK }],
  [R.VHOST_USER_SET_VRING_ERR, { request: [alt('vringFile', 'nofd')], reply: ACK }],
  [R.VHOST_USER_GET_PROTOCOL_FEATURES, { request: NONE, reply: U64 }],
  [R.VHOST_USER_SET_PROTOCOL_FEATURES, { request: U64, reply: ACK }],
  [R.VHOST_USER_GET_QUEUE_NUM, { request: NONE, reply: U64 }],
  [R.VHOST_USER_SET_VRING_ENABLE, { request: STATE, reply: ACK }],
  [R.VHOST_USER_SEND_RARP, { request: U64, reply: ACK }],
  [R.VHOST_USER_NET_SET_MTU, { request: U64, reply: ACK }],
  [R.VHOST_USER_SET_BACKEND_REQ_FD, { request: [alt('none', 1)], reply: ACK }],
  [R.VHOST_USER_IOTLB_MSG, { request: [alt('iotlb')], reply: ACK }],
  [R.VHOST_USER_SET_VRING_ENDIAN, { request: STATE, reply: ACK }],
  [R.VHOST_USER_GET_CONFIG, { request: [alt('config')], reply: [alt('config')] }],
  [R.VHOST_USER_SET_CONFIG, { request: [alt('config')], reply: ACK }],
  [R.VHOST_USER_CREATE_CRYPTO_SESSION, { request: [alt('session')], reply: [alt('session')] }],
  [R.VHOST_USER_CLOSE_CRYPTO_SESSION, { request: U64, reply: ACK }],
  [R.VHOST_USER_POSTCOPY_ADVISE, { request: NONE, reply: [alt('none', 'optional')] }],
  [R.VHOST_USER_POSTCOPY_LISTEN, { request: NONE, reply: ACK }],
  [R.VHOST_USER_POSTCOPY_END, { request: NONE, reply: U64 }],
  [
    R.VHOST_USER_GET_INFLIGHT_FD,
    { request: [alt('inflight')], reply: [alt('inflight', 'optional')] },
  ],
  [R.VHOST_USER_SET_INFLIGHT_FD, { request: [alt('inflight', 1)], reply: ACK }],
  [R.VHOST_USER_GPU_SET_SOCKET, { request: [alt('none', 1)], reply: ACK }],
  [R.VHOST_USER_RESET_DEVICE, { request: NONE, reply: ACK }],
  [R.VHOST_USER_VRING_KICK, { request: STATE, reply: ACK }],
  [R.VHOST_USER_GET_MAX_MEM_SLOTS, { request: NONE, reply: U64 }],
  // In postcopy the front-end acks the last region with a zero u64, and
  // the back-end's reply echoes the region with its address.
  [
    R.VHOST_USER_ADD_MEM_REG,
    { request: [alt('memReg', 1), alt('u64')], reply: [alt('u64'), alt('memReg')] },
  ],
  [R.VHOST_USER_REM_MEM_REG, { request: [alt('memReg', 'optional')], reply: ACK }],
  [R.VHOST_USER_SET_STATUS, { request: U64, reply: ACK }],
  [R.VHOST_USER_GET_STATUS, { request: NONE, reply: U64 }],
  // libvhost-user echoes the UUID, rust-vmm sends nothing; the fd is absent when unknown.
  [
    R.VHOST_USER_GET_SHARED_OBJECT,
    { request: [alt('object')], reply: [alt('none', 'optional'), alt('object', 'optional')] },
  ],
  [
    R.VHOST_USER_SET_DEVICE_STATE_FD,
    { request: [alt('transferState', 1)], reply: [alt('u64', 'nofdMaybe')] },
  ],
  [R.VHOST_USER_CHECK_DEVICE_STATE, { request: NONE, reply: U64 }],
  [R.VHOST_USER_GET_SHMEM_CONFIG, { request: NONE, reply: [alt('shmem')] }],
]);

/** Back-end requests on the back-end channel and the front-end's replies. */
const BACKEND_RULES: ReadonlyMap<number, Rule> = new Map<number, Rule>([
  [B.VHOST_USER_BACKEND_IOTLB_MSG, { request: [alt('iotlb')], reply: ACK }],
  [B.VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, { request: NONE, reply: ACK }],
  [B.VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, { request: [alt('area', 'nofd')], reply: ACK }],
  [B.VHOST_USER_BACKEND_VRING_CALL, { request: STATE, reply: ACK }],
  [B.VHOST_USER_BACKEND_VRING_ERR, { request: STATE, reply: ACK }],
  [B.VHOST_USER_BACKEND_SHARED_OBJECT_ADD, { request: [alt('object')], reply: ACK }],
  [B.VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE, { request: [alt('object')], reply: ACK }],
  [
    B.VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP,
    { request: [alt('object')], reply: [alt('u64', 'optional')] },
  ],
  [B.VHOST_USER_BACKEND_SHMEM_MAP, { request: [alt('mmap', 1)], reply: ACK }],
  [B.VHOST_USER_BACKEND_SHMEM_UNMAP, { request: [alt('mmap')], reply: ACK }],
]);

const FIXED_SIZES: Readonly<Partial<Record<VhostUserBodyKind, number>>> = {
  none: 0,
  u64: VHOST_USER_U64_SIZE,
  state: VHOST_VRING_STATE_SIZE,
  addr: VHOST_VRING_ADDR_SIZE,
  memReg: VHOST_USER_MEM_REG_MSG_SIZE,
  log: VHOST_USER_LOG_SIZE,
  iotlb: VHOST_IOTLB_MSG_SIZE,
  session: VHOST_USER_CRYPTO_SESSION_SIZE,
  area: VHOST_USER_VRING_AREA_SIZE,
  inflight: VHOST_USER_INFLIGHT_SIZE,
  object: VHOST_USER_SHARED_SIZE,
  transferState: VHOST_USER_TRANSFER_DEVICE_STATE_SIZE,
  mmap: VHOST_USER_MMAP_SIZE,
  shmem: VHOST_USER_SHMEM_CONFIG_SIZE,
  vringFile: VHOST_USER_U64_SIZE,
};

/** Largest payload a layout allows. */
function maxSize(kind: Alt['kind']): number {
  if (kind === 'memory') return VHOST_USER_MEMORY_SIZE;
  if (kind === 'config') return VHOST_USER_CONFIG_SIZE;
  return FIXED_SIZES[kind] ?? 0;
}

/** Whether a payload size fits a layout (the memory table and config vary). */
function sizeFits(kind: Alt['kind'], size: number): boolean {
  if (kind === 'memory') {
    return (
      size >= VHOST_USER_MEMORY_HDR_SIZE &&
      size <= VHOST_USER_MEMORY_SIZE &&
      (size - VHOST_USER_MEMORY_HDR_SIZE) % VHOST_USER_MEMORY_REGION_SIZE === 0
    );
  }
  if (kind === 'config') {
    return size >= VHOST_USER_CONFIG_HDR_SIZE && size <= VHOST_USER_CONFIG_SIZE;
  }
  return FIXED_SIZES[kind] === size;
}

function rulesFor(channel: VhostUserChannel): ReadonlyMap<number, Rule> {
  return channel === 'backend' ? BACKEND_RULES : FRONTEND_RULES;
}

/** The request's name on a channel, or `request <n>` for unknown ids. */
export function vhostUserMsgName(request: number, channel: VhostUserChannel): string {
  const name =
    channel === 'backend' ? vhostUserBackendRequestName(request) : vhostUserRequestName(request);
  return name ?? `request ${request}`;
}

/**
 * The largest payload a message with this request id may carry on this
 * channel (request or reply): what a receiver should be ready to buffer
 * before it knows more. Unknown ids get QEMU's VHOST_USER_PAYLOAD_SIZE,
 * so they can be read whole and refused without losing the stream.
 */
export function vhostUserMaxPayloadSize(request: number, channel: VhostUserChannel): number {
  const rule = rulesFor(channel).get(request);
  if (rule === undefined) return VHOST_USER_PAYLOAD_SIZE;
  let max = 0;
  for (const a of [...rule.request, ...rule.reply]) max = Math.max(max, maxSize(a.kind));
  return max;
}

/** The request ids a channel knows, in increasing order. */
export function vhostUserKnownRequests(channel: VhostUserChannel): number[] {
  return [...rulesFor(channel).keys()].sort((a, b) => a - b);
}

/**
 * The flags a well-formed message with these flags would have: version 1,
 * no reserved bits, and for replies no NEED_REPLY. Equal to `flags` when
 * they are valid.
 */
export function vhostUserExpectedFlags(flags: number): number {
  const reply = (flags & VHOST_USER_REPLY_MASK) !== 0;
  return reply
    ? VHOST_USER_VERSION | VHOST_USER_REPLY_MASK
    : VHOST_USER_VERSION | (flags & VHOST_USER_NEED_REPLY_MASK);
}

/** True when the version bits are 1 and no reserved bit is set (what the framer checks). */
export function vhostUserFlagsVersionOk(flags: number): boolean {
  return (
    (flags & VHOST_USER_VERSION_MASK) === VHOST_USER_VERSION &&
    ((flags >>> 0) & VHOST_USER_RESERVED_FLAGS_MASK) === 0
  );
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** The text for a size that fits no layout; libvhost-user's where it has one. */
function badSizeText(
  request: number,
  channel: VhostUserChannel,
  reply: boolean,
  size: number,
  nfds: number,
): string {
  if (reply) return 'Received bad msg size.';
  if (channel === 'frontend') {
    switch (request) {
      case R.VHOST_USER_SET_LOG_BASE:
        return 'Invalid log_base message';
      case R.VHOST_USER_SET_INFLIGHT_FD:
        return `Invalid set_inflight_fd message size:${size} fds:${nfds}`;
      case R.VHOST_USER_GET_INFLIGHT_FD:
        return `Invalid get_inflight_fd message:${size}`;
    }
  }
  return `Invalid ${vhostUserMsgName(request, channel)} message size:${size}`;
}

/** The text for an fd count that breaks the rule; QEMU's or libvhost-user's where they have one. */
function badFdsText(
  request: number,
  channel: VhostUserChannel,
  reply: boolean,
  size: number,
  nfds: number,
  expected: string,
): string {
  if (!reply && channel === 'frontend') {
    switch (request) {
      case R.VHOST_USER_SET_LOG_BASE:
        return 'Invalid log_base message';
      case R.VHOST_USER_SET_LOG_FD:
        return 'Invalid log_fd message';
      case R.VHOST_USER_SET_VRING_KICK:
      case R.VHOST_USER_SET_VRING_CALL:
      case R.VHOST_USER_SET_VRING_ERR:
        return `Invalid fds in request: ${request}`;
      case R.VHOST_USER_SET_BACKEND_REQ_FD:
        return `Invalid backend_req_fd message (${nfds} fd's)`;
      case R.VHOST_USER_SET_INFLIGHT_FD:
        return `Invalid set_inflight_fd message size:${size} fds:${nfds}`;
      case R.VHOST_USER_ADD_MEM_REG:
        return (
          `VHOST_USER_ADD_MEM_REG received ${nfds} fds - only 1 fd ` +
          'should be sent for this message type'
        );
      case R.VHOST_USER_REM_MEM_REG:
        return (
          `VHOST_USER_REM_MEM_REG received ${nfds} fds - at most 1 fd ` +
          'should be sent for this message type'
        );
    }
  }
  if (!reply && channel === 'backend' && request === B.VHOST_USER_BACKEND_SHMEM_MAP && nfds === 0) {
    return 'Bad fd for map';
  }
  return `${vhostUserMsgName(request, channel)} received ${nfds} fds, expected ${expected}`;
}

function decodeBody(kind: Alt['kind'], payload: Buffer): VhostUserBody {
  switch (kind) {
    case 'none':
      return { kind };
    case 'u64':
      return { kind, u64: decodeU64(payload) };
    case 'state':
      return { kind, state: decodeVhostVringState(payload) };
    case 'addr':
      return { kind, addr: decodeVhostVringAddr(payload) };
    case 'memory': {
      // QEMU sends exactly the regions in use; a full struct is tolerated.
      const memory = decodeVhostUserMemory(payload);
      const used =
        VHOST_USER_MEMORY_HDR_SIZE + memory.regions.length * VHOST_USER_MEMORY_REGION_SIZE;
      if (payload.byteLength !== used && payload.byteLength !== VHOST_USER_MEMORY_SIZE) {
        throw new CodecError(
          'bad-payload',
          `memory table: ${memory.regions.length} regions but ${payload.byteLength} bytes`,
        );
      }
      return { kind, memory };
    }
    case 'memReg':
      return { kind, memReg: decodeVhostUserMemRegMsg(payload) };
    case 'log':
      return { kind, log: decodeVhostUserLog(payload) };
    case 'iotlb':
      return { kind, iotlb: decodeVhostIotlbMsg(payload) };
    case 'config': {
      const config = decodeVhostUserConfig(payload);
      if (VHOST_USER_CONFIG_HDR_SIZE + config.size !== payload.byteLength) {
        throw new CodecError(
          'bad-payload',
          `config: size ${config.size} but ${payload.byteLength - VHOST_USER_CONFIG_HDR_SIZE} bytes follow`,
        );
      }
      return { kind, config };
    }
    case 'session':
      return { kind, data: Buffer.from(payload) };
    case 'area':
      return { kind, area: decodeVhostUserVringArea(payload) };
    case 'inflight':
      return { kind, inflight: decodeVhostUserInflight(payload) };
    case 'object':
      return { kind, object: decodeVhostUserShared(payload) };
    case 'transferState':
      return { kind, transferState: decodeVhostUserTransferDeviceState(payload) };
    case 'mmap':
      return { kind, mmap: decodeVhostUserMMap(payload) };
    case 'shmem':
      return { kind, shmem: decodeVhostUserShMemConfig(payload) };
    case 'vringFile':
      return { kind, file: decodeVhostUserVringFile(payload) };
  }
}

/** [min, max] fds the rule allows for this body, and its description. */
function fdBounds(rule: FdRule, body: VhostUserBody): [number, number, string] {
  if (typeof rule === 'number') return [rule, rule, String(rule)];
  switch (rule) {
    case 'optional':
      return [0, 1, '0 or 1'];
    case 'regions': {
      const n = body.kind === 'memory' ? body.memory.regions.length : 0;
      return [n, n, `${n} (one per region)`];
    }
    case 'nofd':
    case 'nofdMaybe': {
      let u64 = 0n;
      if (body.kind === 'vringFile') u64 = body.file.noFd ? BigInt(VHOST_USER_VRING_NOFD_MASK) : 0n;
      else if (body.kind === 'area') u64 = body.area.u64;
      else if (body.kind === 'u64') u64 = body.u64;
      if ((u64 & BigInt(VHOST_USER_VRING_NOFD_MASK)) !== 0n) return [0, 0, '0 (NOFD is set)'];
      return rule === 'nofd' ? [1, 1, '1 (NOFD is clear)'] : [0, 1, '0 or 1'];
    }
  }
}

/**
 * Validates a received message and decodes its payload.
 *
 * Checks, in order: the payload length matches the header, the flags
 * (version 1, no reserved bits, no NEED_REPLY on a reply), the request id
 * is known on `channel`, the size fits one of the request's layouts, the
 * payload is self-consistent, and the fd count fits the layout. Throws
 * {@link CodecError} (never anything else) with `framing` false: the
 * message was consumed whole, so the caller may answer and go on. The
 * caller keeps ownership of `msg.fds` either way.
 */
export function decodeVhostUserMsg(
  msg: VhostUserMsg,
  channel: VhostUserChannel,
): VhostUserDecodedMsg {
  const { hdr, payload, fds } = msg;
  const request = hdr.request;
  if (!(payload instanceof Uint8Array) || payload.byteLength !== hdr.size) {
    throw new CodecError('bad-size', 'Received bad msg size.', { request });
  }
  if (!Array.isArray(fds)) {
    throw new CodecError('bad-fds', 'fds: not an array', { request });
  }
  const reply = (hdr.flags & VHOST_USER_REPLY_MASK) !== 0;
  const expectedFlags = vhostUserExpectedFlags(hdr.flags);
  if (hdr.flags >>> 0 !== expectedFlags) {
    throw new CodecError(
      'bad-flags',
      `Failed to read msg header. Flags ${hex(hdr.flags)} instead of ${hex(expectedFlags)}.`,
      { request },
    );
  }
  const rule = rulesFor(channel).get(request);
  if (rule === undefined) {
    throw new CodecError(
      'unknown-request',
      channel === 'backend'
        ? `Received unexpected msg type: ${request}.`
        : `Unhandled request: ${request}`,
      { request },
    );
  }
  const alts = reply ? rule.reply : rule.request;
  const size = payload.byteLength;
  const chosen = alts.find((a) => sizeFits(a.kind, size));
  if (chosen === undefined) {
    throw new CodecError('bad-size', badSizeText(request, channel, reply, size, fds.length), {
      request,
    });
  }
  let body: VhostUserBody;
  try {
    body = decodeBody(chosen.kind, Buffer.from(payload.buffer, payload.byteOffset, size));
  } catch (e) {
    if (e instanceof CodecError) {
      throw new CodecError(e.reason, `${vhostUserMsgName(request, channel)}: ${e.message}`, {
        request,
      });
    }
    throw e;
  }
  const [min, max, expected] = fdBounds(chosen.fds, body);
  if (fds.length < min || fds.length > max) {
    throw new CodecError(
      'bad-fds',
      badFdsText(request, channel, reply, size, fds.length, expected),
      { request },
    );
  }
  return {
    hdr: { ...hdr },
    body,
    fds,
    reply,
    needReply: !reply && (hdr.flags & VHOST_USER_NEED_REPLY_MASK) !== 0,
  };
}

/**
 * Decodes the message that answers `request`, as QEMU's readers check it:
 * the request id must match ("Received unexpected msg type. Expected %d
 * received %d"), the flags must be exactly VERSION | REPLY, then the
 * layout rules of {@link decodeVhostUserMsg} apply.
 */
export function decodeVhostUserReply(
  msg: VhostUserMsg,
  request: number,
  channel: VhostUserChannel,
): VhostUserDecodedMsg {
  if (msg.hdr.request !== request) {
    throw new CodecError(
      'unexpected-reply',
      `Received unexpected msg type. Expected ${request} received ${msg.hdr.request}`,
      { request: msg.hdr.request },
    );
  }
  const want = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK;
  if (msg.hdr.flags >>> 0 !== want) {
    throw new CodecError(
      'bad-flags',
      `Failed to read msg header. Flags ${hex(msg.hdr.flags)} instead of ${hex(want)}.`,
      { request: msg.hdr.request },
    );
  }
  return decodeVhostUserMsg(msg, channel);
}
