/**
 * Hand-written expectations of what each vhost-user request carries (from
 * the vhost-user specification and QEMU's sender code), and sample bodies
 * that satisfy them. Tests use the table to check the codec's own rules
 * from the outside.
 */
import type {
  VhostUserBody,
  VhostUserChannel,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import { Prng } from './prng.js';

/** One allowed layout: body kind and fd count (or a rule name). */
export interface Expect {
  kind: Exclude<VhostUserBody['kind'], 'raw'>;
  fds: number | 'optional' | 'regions' | 'nofd' | 'nofdMaybe';
}

const e = (kind: Expect['kind'], fds: Expect['fds'] = 0): Expect => ({ kind, fds });
const ACK = [e('u64')];

/** [request id, request layouts, reply layouts] for the main socket. */
export const FRONTEND_EXPECT: [number, Expect[], Expect[]][] = [
  [1, [e('none')], [e('u64')]], // GET_FEATURES
  [2, [e('u64')], ACK], // SET_FEATURES
  [3, [e('none')], ACK], // SET_OWNER
  [4, [e('none')], ACK], // RESET_OWNER
  [5, [e('memory', 'regions')], [e('u64'), e('memory')]], // SET_MEM_TABLE
  [6, [e('log', 'optional')], [e('none'), e('u64'), e('log')]], // SET_LOG_BASE
  [7, [e('none', 1)], ACK], // SET_LOG_FD
  [8, [e('state')], ACK], // SET_VRING_NUM
  [9, [e('addr')], ACK], // SET_VRING_ADDR
  [10, [e('state')], ACK], // SET_VRING_BASE
  [11, [e('state')], [e('state')]], // GET_VRING_BASE
  [12, [e('vringFile', 'nofd')], ACK], // SET_VRING_KICK
  [13, [e('vringFile', 'nofd')], ACK], // SET_VRING_CALL
  [14, [e('vringFile', 'nofd')], ACK], // SET_VRING_ERR
  [15, [e('none')], [e('u64')]], // GET_PROTOCOL_FEATURES
  [16, [e('u64')], ACK], // SET_PROTOCOL_FEATURES
  [17, [e('none')], [e('u64')]], // GET_QUEUE_NUM
  [18, [e('state')], ACK], // SET_VRING_ENABLE
  [19, [e('u64')], ACK], // SEND_RARP
  [20, [e('u64')], ACK], // NET_SET_MTU
  [21, [e('none', 1)], ACK], // SET_BACKEND_REQ_FD
  [22, [e('iotlb')], ACK], // IOTLB_MSG
  [23, [e('state')], ACK], // SET_VRING_ENDIAN
  [24, [e('config')], [e('config')]], // GET_CONFIG
  [25, [e('config')], ACK], // SET_CONFIG
  [26, [e('session')], [e('session')]], // CREATE_CRYPTO_SESSION
  [27, [e('u64')], ACK], // CLOSE_CRYPTO_SESSION
  [28, [e('none')], [e('none', 'optional')]], // POSTCOPY_ADVISE
  [29, [e('none')], ACK], // POSTCOPY_LISTEN
  [30, [e('none')], [e('u64')]], // POSTCOPY_END
  [31, [e('inflight')], [e('inflight', 'optional')]], // GET_INFLIGHT_FD
  [32, [e('inflight', 1)], ACK], // SET_INFLIGHT_FD
  [33, [e('none', 1)], ACK], // GPU_SET_SOCKET
  [34, [e('none')], ACK], // RESET_DEVICE
  [35, [e('state')], ACK], // VRING_KICK
  [36, [e('none')], [e('u64')]], // GET_MAX_MEM_SLOTS
  [37, [e('memReg', 1), e('u64')], [e('u64'), e('memReg')]], // ADD_MEM_REG
  [38, [e('memReg', 'optional')], ACK], // REM_MEM_REG
  [39, [e('u64')], ACK], // SET_STATUS
  [40, [e('none')], [e('u64')]], // GET_STATUS
  [41, [e('object')], [e('none', 'optional'), e('object', 'optional')]], // GET_SHARED_OBJECT
  [42, [e('transferState', 1)], [e('u64', 'nofdMaybe')]], // SET_DEVICE_STATE_FD
  [43, [e('none')], [e('u64')]], // CHECK_DEVICE_STATE
  [44, [e('none')], [e('shmem')]], // GET_SHMEM_CONFIG
];

/** [request id, request layouts, reply layouts] for the back-end channel. */
export const BACKEND_EXPECT: [number, Expect[], Expect[]][] = [
  [1, [e('iotlb')], ACK], // IOTLB_MSG
  [2, [e('none')], ACK], // CONFIG_CHANGE_MSG
  [3, [e('area', 'nofd')], ACK], // VRING_HOST_NOTIFIER_MSG
  [4, [e('state')], ACK], // VRING_CALL
  [5, [e('state')], ACK], // VRING_ERR
  [6, [e('object')], ACK], // SHARED_OBJECT_ADD
  [7, [e('object')], ACK], // SHARED_OBJECT_REMOVE
  [8, [e('object')], [e('u64', 'optional')]], // SHARED_OBJECT_LOOKUP
  [9, [e('mmap', 1)], ACK], // SHMEM_MAP
  [10, [e('mmap')], ACK], // SHMEM_UNMAP
];

/** The table for a channel. */
export function expectations(channel: VhostUserChannel): [number, Expect[], Expect[]][] {
  return channel === 'backend' ? BACKEND_EXPECT : FRONTEND_EXPECT;
}

/** Fixed payload size of a kind, or undefined for the variable ones. */
export const FIXED_SIZE: Partial<Record<Expect['kind'], number>> = {
  none: 0,
  u64: 8,
  state: 8,
  addr: 40,
  memReg: 40,
  log: 16,
  iotlb: 32,
  session: 1072,
  area: 24,
  inflight: 24,
  object: 16,
  transferState: 8,
  mmap: 40,
  shmem: 2056,
  vringFile: 8,
};

/** A random valid body of `kind`; `noFd` picks the NOFD bit where the kind has one. */
export function sampleBody(rng: Prng, kind: Expect['kind'], noFd = false): VhostUserBody {
  const region = () => ({
    guestPhysAddr: rng.u64(),
    memorySize: rng.u64(),
    userspaceAddr: rng.u64(),
    mmapOffset: rng.u64(),
  });
  switch (kind) {
    case 'none':
      return { kind };
    case 'u64':
      return { kind, u64: noFd ? 0x100n : rng.u64() & ~0x100n };
    case 'state':
      return { kind, state: { index: rng.u32(), num: rng.u32() } };
    case 'addr':
      return {
        kind,
        addr: {
          index: rng.u32(),
          flags: rng.u32(),
          descUserAddr: rng.u64(),
          usedUserAddr: rng.u64(),
          availUserAddr: rng.u64(),
          logGuestAddr: rng.u64(),
        },
      };
    case 'memory':
      return {
        kind,
        memory: { regions: Array.from({ length: rng.below(9) }, region) },
      };
    case 'memReg':
      return { kind, memReg: { region: region() } };
    case 'log':
      return { kind, log: { mmapSize: rng.u64(), mmapOffset: rng.u64() } };
    case 'iotlb':
      return {
        kind,
        iotlb: {
          iova: rng.u64(),
          size: rng.u64(),
          uaddr: rng.u64(),
          perm: rng.below(256),
          type: rng.below(256),
        },
      };
    case 'config': {
      const size = rng.below(257);
      return {
        kind,
        config: { offset: rng.u32(), size, flags: rng.below(2), region: rng.bytes(size) },
      };
    }
    case 'session':
      return { kind, data: rng.bytes(1072) };
    case 'area':
      return {
        kind,
        area: {
          u64: noFd ? 0x100n | BigInt(rng.below(256)) : BigInt(rng.below(256)),
          size: rng.u64(),
          offset: rng.u64(),
        },
      };
    case 'inflight':
      return {
        kind,
        inflight: {
          mmapSize: rng.u64(),
          mmapOffset: rng.u64(),
          numQueues: rng.below(0x10000),
          queueSize: rng.below(0x10000),
        },
      };
    case 'object':
      return { kind, object: { uuid: rng.bytes(16) } };
    case 'transferState':
      return { kind, transferState: { direction: rng.below(2), phase: 0 } };
    case 'mmap':
      return {
        kind,
        mmap: {
          shmid: rng.below(256),
          fdOffset: rng.u64(),
          shmOffset: rng.u64(),
          len: rng.u64(),
          flags: BigInt(rng.below(2)),
        },
      };
    case 'shmem': {
      const memorySizes = Array.from({ length: 256 }, () =>
        rng.chance(0.05) ? BigInt(rng.below(64) + 1) << 21n : 0n,
      );
      return { kind, shmem: { nregions: memorySizes.filter((x) => x !== 0n).length, memorySizes } };
    }
    case 'vringFile':
      return { kind, file: { index: rng.below(256), noFd } };
  }
}

/** How many fds a valid message of this layout and body carries. */
export function sampleFdCount(rng: Prng, exp: Expect, body: VhostUserBody): number {
  switch (exp.fds) {
    case 'optional':
      return rng.below(2);
    case 'regions':
      return body.kind === 'memory' ? body.memory.regions.length : 0;
    case 'nofd':
      return (body.kind === 'vringFile' && body.file.noFd) ||
        (body.kind === 'area' && (body.area.u64 & 0x100n) !== 0n)
        ? 0
        : 1;
    case 'nofdMaybe':
      return body.kind === 'u64' && (body.u64 & 0x100n) !== 0n ? 0 : rng.below(2);
    default:
      return exp.fds;
  }
}
