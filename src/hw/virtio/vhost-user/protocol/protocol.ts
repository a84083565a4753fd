/**
 * vhost-user protocol numbers: request ids, protocol feature bits, header
 * flags and the fixed sizes of the wire format, as the vhost-user
 * specification and QEMU's hw/virtio/vhost-user.c define them.
 *
 * All numbers travel in the host's byte order; tsqom targets little-endian
 * hosts (x86_64, aarch64), so the codec reads and writes little-endian.
 * @module
 */

/** Requests the front-end sends to the back-end on the main socket. */
export enum VhostUserRequest {
  /** Not a request; 0 is never sent. */
  VHOST_USER_NONE = 0,
  /** Reply: u64 virtio features. */
  VHOST_USER_GET_FEATURES = 1,
  /** Payload: u64 virtio features. */
  VHOST_USER_SET_FEATURES = 2,
  /** Marks the sender as the owner of the session. */
  VHOST_USER_SET_OWNER = 3,
  /** Deprecated; back-ends ignore it or disable all rings. */
  VHOST_USER_RESET_OWNER = 4,
  /** Payload: memory table; one fd per region. */
  VHOST_USER_SET_MEM_TABLE = 5,
  /** Payload: log description; the log fd with LOG_SHMFD. */
  VHOST_USER_SET_LOG_BASE = 6,
  /** No payload; one eventfd. */
  VHOST_USER_SET_LOG_FD = 7,
  /** Payload: vring state (index, size). */
  VHOST_USER_SET_VRING_NUM = 8,
  /** Payload: vring address description. */
  VHOST_USER_SET_VRING_ADDR = 9,
  /** Payload: vring state (index, next avail index). */
  VHOST_USER_SET_VRING_BASE = 10,
  /** Payload: vring state; reply: vring state. Stops the ring. */
  VHOST_USER_GET_VRING_BASE = 11,
  /** Payload: u64 vring index + NOFD bit; an eventfd unless NOFD. */
  VHOST_USER_SET_VRING_KICK = 12,
  /** Payload: u64 vring index + NOFD bit; an eventfd unless NOFD. */
  VHOST_USER_SET_VRING_CALL = 13,
  /** Payload: u64 vring index + NOFD bit; an eventfd unless NOFD. */
  VHOST_USER_SET_VRING_ERR = 14,
  /** Reply: u64 protocol features. */
  VHOST_USER_GET_PROTOCOL_FEATURES = 15,
  /** Payload: u64 protocol features. */
  VHOST_USER_SET_PROTOCOL_FEATURES = 16,
  /** Reply: u64 maximum number of queues. */
  VHOST_USER_GET_QUEUE_NUM = 17,
  /** Payload: vring state (index, enable). */
  VHOST_USER_SET_VRING_ENABLE = 18,
  /** Payload: u64 holding a MAC address. */
  VHOST_USER_SEND_RARP = 19,
  /** Payload: u64 MTU. */
  VHOST_USER_NET_SET_MTU = 20,
  /** No payload; the back-end channel socket as one fd. */
  VHOST_USER_SET_BACKEND_REQ_FD = 21,
  /** Payload: struct vhost_iotlb_msg. */
  VHOST_USER_IOTLB_MSG = 22,
  /** Payload: vring state (index, endianness). */
  VHOST_USER_SET_VRING_ENDIAN = 23,
  /** Payload and reply: config space access. */
  VHOST_USER_GET_CONFIG = 24,
  /** Payload: config space access. */
  VHOST_USER_SET_CONFIG = 25,
  /** Payload and reply: crypto session (kept as raw bytes). */
  VHOST_USER_CREATE_CRYPTO_SESSION = 26,
  /** Payload: u64 session id. */
  VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
  /** Reply: a userfaultfd. */
  VHOST_USER_POSTCOPY_ADVISE = 28,
  /** Enters postcopy listening mode. */
  VHOST_USER_POSTCOPY_LISTEN = 29,
  /** Reply: u64 result. */
  VHOST_USER_POSTCOPY_END = 30,
  /** Payload: inflight description; reply: inflight description + fd. */
  VHOST_USER_GET_INFLIGHT_FD = 31,
  /** Payload: inflight description; one fd. */
  VHOST_USER_SET_INFLIGHT_FD = 32,
  /** No payload; one socket fd. */
  VHOST_USER_GPU_SET_SOCKET = 33,
  /** Resets the whole device. */
  VHOST_USER_RESET_DEVICE = 34,
  /** In-band kick; payload: vring state. */
  VHOST_USER_VRING_KICK = 35,
  /** Reply: u64 memory slot count. */
  VHOST_USER_GET_MAX_MEM_SLOTS = 36,
  /** Payload: single memory region; one fd. */
  VHOST_USER_ADD_MEM_REG = 37,
  /** Payload: single memory region. */
  VHOST_USER_REM_MEM_REG = 38,
  /** Payload: u64 device status. */
  VHOST_USER_SET_STATUS = 39,
  /** Reply: u64 device status. */
  VHOST_USER_GET_STATUS = 40,
  /** Payload: UUID; reply: a dma-buf fd. */
  VHOST_USER_GET_SHARED_OBJECT = 41,
  /** Payload: transfer direction and phase; one fd. */
  VHOST_USER_SET_DEVICE_STATE_FD = 42,
  /** Reply: u64 result of the state transfer. */
  VHOST_USER_CHECK_DEVICE_STATE = 43,
  /** Reply: VIRTIO Shared Memory Region configuration. */
  VHOST_USER_GET_SHMEM_CONFIG = 44,
  /** One past the last request id. */
  VHOST_USER_MAX,
}

/** Requests the back-end sends to the front-end on the back-end channel. */
export enum VhostUserBackendRequest {
  /** Not a request; 0 is never sent. */
  VHOST_USER_BACKEND_NONE = 0,
  /** Payload: struct vhost_iotlb_msg (miss or access failure). */
  VHOST_USER_BACKEND_IOTLB_MSG = 1,
  /** The device's config space changed. */
  VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
  /** Payload: vring area; an fd unless NOFD. */
  VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
  /** In-band call; payload: vring state. */
  VHOST_USER_BACKEND_VRING_CALL = 4,
  /** In-band error; payload: vring state. */
  VHOST_USER_BACKEND_VRING_ERR = 5,
  /** Payload: UUID. */
  VHOST_USER_BACKEND_SHARED_OBJECT_ADD = 6,
  /** Payload: UUID. */
  VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE = 7,
  /** Payload: UUID; the reply may carry an fd. */
  VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP = 8,
  /** Payload: VhostUserMMap; one fd to map. */
  VHOST_USER_BACKEND_SHMEM_MAP = 9,
  /** Payload: VhostUserMMap (shm_offset and len are used). */
  VHOST_USER_BACKEND_SHMEM_UNMAP = 10,
  /** One past the last request id. */
  VHOST_USER_BACKEND_MAX,
}

/**
 * Protocol feature bits (VHOST_USER_GET/SET_PROTOCOL_FEATURES).
 *
 * SHMEM is bit 22 as merged upstream (bit 20 went to
 * GET_VRING_BASE_INFLIGHT, 21 to GPA_ADDRESSES); the v11 patch series used
 * 20, see {@link VHOST_USER_PROTOCOL_F_SHMEM_V11}.
 */
export enum VhostUserProtocolFeature {
  /** Multiple queues (VHOST_USER_GET_QUEUE_NUM). */
  VHOST_USER_PROTOCOL_F_MQ = 0,
  /** The log is passed as a shared memory fd. */
  VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
  /** VHOST_USER_SEND_RARP. */
  VHOST_USER_PROTOCOL_F_RARP = 2,
  /** Replies to requests carrying NEED_REPLY. */
  VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
  /** VHOST_USER_NET_SET_MTU (the spec calls it F_MTU). */
  VHOST_USER_PROTOCOL_F_NET_MTU = 4,
  /** The back-end channel (VHOST_USER_SET_BACKEND_REQ_FD). */
  VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
  /** VHOST_USER_SET_VRING_ENDIAN. */
  VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
  /** Crypto sessions. */
  VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
  /** Postcopy with userfaultfd. */
  VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
  /** VHOST_USER_GET_CONFIG / SET_CONFIG. */
  VHOST_USER_PROTOCOL_F_CONFIG = 9,
  /** The back-end may send fds on its channel. */
  VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10,
  /** VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG. */
  VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
  /** Inflight I/O tracking in shared memory. */
  VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
  /** VHOST_USER_RESET_DEVICE. */
  VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
  /** Kick/call/err as messages instead of eventfds. */
  VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
  /** VHOST_USER_ADD_MEM_REG / REM_MEM_REG / GET_MAX_MEM_SLOTS. */
  VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
  /** VHOST_USER_SET_STATUS / GET_STATUS. */
  VHOST_USER_PROTOCOL_F_STATUS = 16,
  /** Xen foreign/grant mappings. */
  VHOST_USER_PROTOCOL_F_XEN_MMAP = 17,
  /** Shared objects (virtio dma-buf). */
  VHOST_USER_PROTOCOL_F_SHARED_OBJECT = 18,
  /** Back-end state transfer for migration. */
  VHOST_USER_PROTOCOL_F_DEVICE_STATE = 19,
  /** GET_VRING_BASE may suspend in-flight requests. */
  VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT = 20,
  /** Ring and region addresses are guest physical addresses. */
  VHOST_USER_PROTOCOL_F_GPA_ADDRESSES = 21,
  /** VIRTIO Shared Memory: SHMEM_MAP/UNMAP and GET_SHMEM_CONFIG. */
  VHOST_USER_PROTOCOL_F_SHMEM = 22,
  /** One past the last feature bit. */
  VHOST_USER_PROTOCOL_F_MAX,
}

/** The bit the SHMEM_MAP v11 patch series used for VHOST_USER_PROTOCOL_F_SHMEM (now GET_VRING_BASE_INFLIGHT). */
export const VHOST_USER_PROTOCOL_F_SHMEM_V11 = 20;

/** Every protocol feature bit this codec knows, as a mask. */
export const VHOST_USER_PROTOCOL_FEATURE_MASK =
  (1n << BigInt(VhostUserProtocolFeature.VHOST_USER_PROTOCOL_F_MAX)) - 1n;

/** Virtio feature bit 30, reused by vhost-user to announce protocol features. */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;

/** Virtio feature bit: log all dirty pages (vhost's VHOST_F_LOG_ALL). */
export const VHOST_F_LOG_ALL = 26;

/** SET_VRING_ADDR flags bit: the log address is valid. */
export const VHOST_VRING_F_LOG = 0;

/** The protocol version this codec speaks (flags bits 0-1). */
export const VHOST_USER_VERSION = 0x1;

/** Header flags: the version field. */
export const VHOST_USER_VERSION_MASK = 0x3;

/** Header flags: set on every reply. */
export const VHOST_USER_REPLY_MASK = 0x1 << 2;

/** Header flags: the sender wants a u64 ack (with REPLY_ACK). */
export const VHOST_USER_NEED_REPLY_MASK = 0x1 << 3;

/** Header flags bits that have no meaning yet and must be zero. */
export const VHOST_USER_RESERVED_FLAGS_MASK = ~0xf >>> 0;

/** Low 8 bits of a vring u64 payload: the vring index. */
export const VHOST_USER_VRING_IDX_MASK = 0xff;

/** Bit 8 of a vring u64 payload: no fd is attached (polling). */
export const VHOST_USER_VRING_NOFD_MASK = 0x1 << 8;

/** Size of the message header (request, flags, size). */
export const VHOST_USER_HDR_SIZE = 12;

/** Regions in a SET_MEM_TABLE message, and fds in any message. */
export const VHOST_MEMORY_BASELINE_NREGIONS = 8;

/** Most fds one back-end channel message may carry. */
export const VHOST_USER_BACKEND_MAX_FDS = 8;

/** Largest virtio config space a GET/SET_CONFIG carries. */
export const VHOST_USER_MAX_CONFIG_SIZE = 256;

/** Size of the offset/size/flags header of a config payload. */
export const VHOST_USER_CONFIG_HDR_SIZE = 12;

/** VIRTIO Shared Memory Regions a device may have (shmid 0..255). */
export const VIRTIO_MAX_SHMEM_REGIONS = 256;

/** VhostUserMMap flags bit: map read-write (clear: read-only). */
export const VHOST_USER_FLAG_MAP_RW = 1 << 0;

/** Dirty log page size. */
export const VHOST_LOG_PAGE = 0x1000;

/** struct vhost_iotlb_msg perm: read-only. */
export const VHOST_ACCESS_RO = 0x1;
/** struct vhost_iotlb_msg perm: write-only. */
export const VHOST_ACCESS_WO = 0x2;
/** struct vhost_iotlb_msg perm: read-write. */
export const VHOST_ACCESS_RW = 0x3;

/** struct vhost_iotlb_msg type: miss. */
export const VHOST_IOTLB_MISS = 1;
/** struct vhost_iotlb_msg type: update. */
export const VHOST_IOTLB_UPDATE = 2;
/** struct vhost_iotlb_msg type: invalidate. */
export const VHOST_IOTLB_INVALIDATE = 3;
/** struct vhost_iotlb_msg type: access failure. */
export const VHOST_IOTLB_ACCESS_FAIL = 4;

/** VhostUserConfig flags: a front-end write of writable fields. */
export const VHOST_SET_CONFIG_TYPE_FRONTEND = 0;
/** VhostUserConfig flags: written during live migration. */
export const VHOST_SET_CONFIG_TYPE_MIGRATION = 1;

/** SET_DEVICE_STATE_FD direction: back-end to front-end. */
export const VHOST_TRANSFER_STATE_DIRECTION_SAVE = 0;
/** SET_DEVICE_STATE_FD direction: front-end to back-end. */
export const VHOST_TRANSFER_STATE_DIRECTION_LOAD = 1;
/** SET_DEVICE_STATE_FD phase: the device is stopped. */
export const VHOST_TRANSFER_STATE_PHASE_STOPPED = 0;

/**
 * Largest payload QEMU accepts: sizeof(VhostUserPayload), which the
 * 2056-byte VhostUserShMemConfig sets (the crypto session is 1072).
 */
export const VHOST_USER_PAYLOAD_SIZE = 2056;

/** The name of a front-end request id, e.g. `VHOST_USER_SET_MEM_TABLE`, or undefined. */
export function vhostUserRequestName(request: number): string | undefined {
  if (!Number.isInteger(request) || request <= 0 || request >= VhostUserRequest.VHOST_USER_MAX) {
    return undefined;
  }
  return VhostUserRequest[request];
}

/** The name of a back-end request id, e.g. `VHOST_USER_BACKEND_SHMEM_MAP`, or undefined. */
export function vhostUserBackendRequestName(request: number): string | undefined {
  if (
    !Number.isInteger(request) ||
    request <= 0 ||
    request >= VhostUserBackendRequest.VHOST_USER_BACKEND_MAX
  ) {
    return undefined;
  }
  return VhostUserBackendRequest[request];
}
