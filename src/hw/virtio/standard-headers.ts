/**
 * VIRTIO constants and small layouts from the Linux headers QEMU carries in
 * include/standard-headers/linux/: device ids (virtio_ids.h), status and
 * transport feature bits (virtio_config.h), split ring flags
 * (virtio_ring.h) and the virtio-blk request format (virtio_blk.h).
 * Feature bits are bit numbers; feature sets are bigint masks (64 bits).
 * @module
 */

// virtio_ids.h

/** Device id: network card. */
export const VIRTIO_ID_NET = 1;
/** Device id: block device. */
export const VIRTIO_ID_BLOCK = 2;
/** Device id: console. */
export const VIRTIO_ID_CONSOLE = 3;
/** Device id: entropy source. */
export const VIRTIO_ID_RNG = 4;
/** Device id: memory balloon (traditional). */
export const VIRTIO_ID_BALLOON = 5;
/** Device id: ioMemory. */
export const VIRTIO_ID_IOMEM = 6;
/** Device id: remote processor messaging. */
export const VIRTIO_ID_RPMSG = 7;
/** Device id: SCSI host. */
export const VIRTIO_ID_SCSI = 8;
/** Device id: 9P transport. */
export const VIRTIO_ID_9P = 9;
/** Device id: mac80211 WLAN. */
export const VIRTIO_ID_MAC80211_WLAN = 10;
/** Device id: remoteproc serial link. */
export const VIRTIO_ID_RPROC_SERIAL = 11;
/** Device id: CAIF. */
export const VIRTIO_ID_CAIF = 12;
/** Device id: memory balloon. */
export const VIRTIO_ID_MEMORY_BALLOON = 13;
/** Device id: GPU. */
export const VIRTIO_ID_GPU = 16;
/** Device id: clock/timer. */
export const VIRTIO_ID_CLOCK = 17;
/** Device id: input. */
export const VIRTIO_ID_INPUT = 18;
/** Device id: vsock transport. */
export const VIRTIO_ID_VSOCK = 19;
/** Device id: crypto. */
export const VIRTIO_ID_CRYPTO = 20;
/** Device id: signal distribution. */
export const VIRTIO_ID_SIGNAL_DIST = 21;
/** Device id: pstore. */
export const VIRTIO_ID_PSTORE = 22;
/** Device id: IOMMU. */
export const VIRTIO_ID_IOMMU = 23;
/** Device id: memory device (virtio-mem). */
export const VIRTIO_ID_MEM = 24;
/** Device id: sound. */
export const VIRTIO_ID_SOUND = 25;
/** Device id: file system (virtio-fs). */
export const VIRTIO_ID_FS = 26;
/** Device id: persistent memory. */
export const VIRTIO_ID_PMEM = 27;
/** Device id: RPMB. */
export const VIRTIO_ID_RPMB = 28;
/** Device id: mac80211 hwsim. */
export const VIRTIO_ID_MAC80211_HWSIM = 29;
/** Device id: video encoder. */
export const VIRTIO_ID_VIDEO_ENCODER = 30;
/** Device id: video decoder. */
export const VIRTIO_ID_VIDEO_DECODER = 31;
/** Device id: SCMI. */
export const VIRTIO_ID_SCMI = 32;
/** Device id: Nitro secure module. */
export const VIRTIO_ID_NITRO_SEC_MOD = 33;
/** Device id: I2C adapter. */
export const VIRTIO_ID_I2C_ADAPTER = 34;
/** Device id: watchdog. */
export const VIRTIO_ID_WATCHDOG = 35;
/** Device id: CAN. */
export const VIRTIO_ID_CAN = 36;
/** Device id: dma-buf. */
export const VIRTIO_ID_DMABUF = 37;
/** Device id: parameter server. */
export const VIRTIO_ID_PARAM_SERV = 38;
/** Device id: audio policy. */
export const VIRTIO_ID_AUDIO_POLICY = 39;
/** Device id: Bluetooth. */
export const VIRTIO_ID_BT = 40;
/** Device id: GPIO. */
export const VIRTIO_ID_GPIO = 41;
/** Device id: SPI. */
export const VIRTIO_ID_SPI = 45;

// virtio_config.h: device status

/** Status: the guest noticed the device. */
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
/** Status: the guest has a driver for it. */
export const VIRTIO_CONFIG_S_DRIVER = 2;
/** Status: the driver is ready. */
export const VIRTIO_CONFIG_S_DRIVER_OK = 4;
/** Status: feature negotiation is complete. */
export const VIRTIO_CONFIG_S_FEATURES_OK = 8;
/** Status: the device hit an error and needs a reset. */
export const VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
/** Status: the driver gave up on the device. */
export const VIRTIO_CONFIG_S_FAILED = 0x80;

// virtio_config.h / virtio_ring.h: transport feature bits

/** First transport feature bit. */
export const VIRTIO_TRANSPORT_F_START = 28;
/** One past the last transport feature bit. */
export const VIRTIO_TRANSPORT_F_END = 42;
/** Notify when the avail ring empties, even with interrupts suppressed (legacy). */
export const VIRTIO_F_NOTIFY_ON_EMPTY = 24;
/** Any descriptor layout (legacy). */
export const VIRTIO_F_ANY_LAYOUT = 27;
/** Indirect descriptor tables. */
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
/** used_event / avail_event notification suppression. */
export const VIRTIO_RING_F_EVENT_IDX = 29;
/** Spec-style alias of {@link VIRTIO_RING_F_INDIRECT_DESC}. */
export const VIRTIO_F_INDIRECT_DESC = VIRTIO_RING_F_INDIRECT_DESC;
/** Spec-style alias of {@link VIRTIO_RING_F_EVENT_IDX}. */
export const VIRTIO_F_EVENT_IDX = VIRTIO_RING_F_EVENT_IDX;
/** VIRTIO 1.0 or later. */
export const VIRTIO_F_VERSION_1 = 32;
/** The device sits behind a platform IOMMU. */
export const VIRTIO_F_ACCESS_PLATFORM = 33;
/** Old name of {@link VIRTIO_F_ACCESS_PLATFORM}. */
export const VIRTIO_F_IOMMU_PLATFORM = VIRTIO_F_ACCESS_PLATFORM;
/** Packed virtqueues. */
export const VIRTIO_F_RING_PACKED = 34;
/** Buffers are used in the order they were made available. */
export const VIRTIO_F_IN_ORDER = 35;
/** Platform memory ordering. */
export const VIRTIO_F_ORDER_PLATFORM = 36;
/** SR-IOV. */
export const VIRTIO_F_SR_IOV = 37;
/** Notifications carry data. */
export const VIRTIO_F_NOTIFICATION_DATA = 38;
/** Notification config data. */
export const VIRTIO_F_NOTIF_CONFIG_DATA = 39;
/** Per-queue reset. */
export const VIRTIO_F_RING_RESET = 40;
/** Administration virtqueue. */
export const VIRTIO_F_ADMIN_VQ = 41;

// virtio_ring.h: split ring

/** Descriptor flag: the buffer continues in `next`. */
export const VRING_DESC_F_NEXT = 1;
/** Descriptor flag: device-writable (otherwise device-readable). */
export const VRING_DESC_F_WRITE = 2;
/** Descriptor flag: the buffer is a table of descriptors. */
export const VRING_DESC_F_INDIRECT = 4;
/** used->flags: the device asks not to be kicked. */
export const VRING_USED_F_NO_NOTIFY = 1;
/** avail->flags: the driver asks not to be interrupted. */
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
/** Alignment of the available ring. */
export const VRING_AVAIL_ALIGN_SIZE = 2;
/** Alignment of the used ring. */
export const VRING_USED_ALIGN_SIZE = 4;
/** Alignment of the descriptor table. */
export const VRING_DESC_ALIGN_SIZE = 16;
/** Spec name of {@link VRING_DESC_F_NEXT}. */
export const VIRTQ_DESC_F_NEXT = VRING_DESC_F_NEXT;
/** Spec name of {@link VRING_DESC_F_WRITE}. */
export const VIRTQ_DESC_F_WRITE = VRING_DESC_F_WRITE;
/** Spec name of {@link VRING_DESC_F_INDIRECT}. */
export const VIRTQ_DESC_F_INDIRECT = VRING_DESC_F_INDIRECT;
/** Spec name of {@link VRING_USED_F_NO_NOTIFY}. */
export const VIRTQ_USED_F_NO_NOTIFY = VRING_USED_F_NO_NOTIFY;
/** Spec name of {@link VRING_AVAIL_F_NO_INTERRUPT}. */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = VRING_AVAIL_F_NO_INTERRUPT;

/**
 * vring_need_event(): with EVENT_IDX, whether moving an index from `old`
 * to `newIdx` passed the other side's `eventIdx`, i.e. whether to notify.
 * All three are 16-bit ring indices.
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, old: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - old) & 0xffff);
}

/** virtio_has_feature(): whether bit `fbit` is set in `features`. */
export function virtioHasFeature(features: bigint, fbit: number): boolean {
  return ((features >> BigInt(fbit)) & 1n) === 1n;
}

/** virtio_add_feature(): `features` with bit `fbit` set. */
export function virtioAddFeature(features: bigint, fbit: number): bigint {
  return features | (1n << BigInt(fbit));
}

/** virtio_clear_feature(): `features` with bit `fbit` cleared. */
export function virtioClearFeature(features: bigint, fbit: number): bigint {
  return features & ~(1n << BigInt(fbit));
}

// virtio_blk.h

/** virtio-blk feature: maximum segment size in config. */
export const VIRTIO_BLK_F_SIZE_MAX = 1;
/** virtio-blk feature: maximum segment count in config. */
export const VIRTIO_BLK_F_SEG_MAX = 2;
/** virtio-blk feature: legacy geometry in config. */
export const VIRTIO_BLK_F_GEOMETRY = 4;
/** virtio-blk feature: read-only disk. */
export const VIRTIO_BLK_F_RO = 5;
/** virtio-blk feature: block size in config. */
export const VIRTIO_BLK_F_BLK_SIZE = 6;
/** virtio-blk feature: cache flush command. */
export const VIRTIO_BLK_F_FLUSH = 9;
/** virtio-blk feature: topology in config. */
export const VIRTIO_BLK_F_TOPOLOGY = 10;
/** virtio-blk feature: writeback mode in config. */
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
/** virtio-blk feature: more than one virtqueue. */
export const VIRTIO_BLK_F_MQ = 12;
/** virtio-blk feature: discard. */
export const VIRTIO_BLK_F_DISCARD = 13;
/** virtio-blk feature: write zeroes. */
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;
/** virtio-blk feature: secure erase. */
export const VIRTIO_BLK_F_SECURE_ERASE = 16;
/** virtio-blk feature: zoned device. */
export const VIRTIO_BLK_F_ZONED = 17;
/** virtio-blk legacy feature: barriers. */
export const VIRTIO_BLK_F_BARRIER = 0;
/** virtio-blk legacy feature: SCSI passthrough. */
export const VIRTIO_BLK_F_SCSI = 7;

/** Length of the GET_ID string. */
export const VIRTIO_BLK_ID_BYTES = 20;
/** virtio-blk sectors are always 512 bytes. */
export const VIRTIO_BLK_SECTOR_SIZE = 512;
/** log2 of {@link VIRTIO_BLK_SECTOR_SIZE}. */
export const VIRTIO_BLK_SECTOR_BITS = 9;

/** Request type: read. */
export const VIRTIO_BLK_T_IN = 0;
/** Request type: write. */
export const VIRTIO_BLK_T_OUT = 1;
/** Request type: legacy SCSI command. */
export const VIRTIO_BLK_T_SCSI_CMD = 2;
/** Request type: cache flush. */
export const VIRTIO_BLK_T_FLUSH = 4;
/** Request type: device id string. */
export const VIRTIO_BLK_T_GET_ID = 8;
/** Request type: discard. */
export const VIRTIO_BLK_T_DISCARD = 11;
/** Request type: write zeroes. */
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
/** Request type: secure erase. */
export const VIRTIO_BLK_T_SECURE_ERASE = 14;
/** Request type: zone append. */
export const VIRTIO_BLK_T_ZONE_APPEND = 15;
/** Request type: report zones. */
export const VIRTIO_BLK_T_ZONE_REPORT = 16;
/** Request type: open zone. */
export const VIRTIO_BLK_T_ZONE_OPEN = 18;
/** Request type: close zone. */
export const VIRTIO_BLK_T_ZONE_CLOSE = 20;
/** Request type: finish zone. */
export const VIRTIO_BLK_T_ZONE_FINISH = 22;
/** Request type: reset zone. */
export const VIRTIO_BLK_T_ZONE_RESET = 24;
/** Request type: reset all zones. */
export const VIRTIO_BLK_T_ZONE_RESET_ALL = 26;
/** Legacy barrier flag in the request type. */
export const VIRTIO_BLK_T_BARRIER = 0x80000000;

/** Status: success. */
export const VIRTIO_BLK_S_OK = 0;
/** Status: I/O error. */
export const VIRTIO_BLK_S_IOERR = 1;
/** Status: unsupported request. */
export const VIRTIO_BLK_S_UNSUPP = 2;
/** Status (zoned): invalid command. */
export const VIRTIO_BLK_S_ZONE_INVALID_CMD = 3;
/** Status (zoned): unaligned write pointer. */
export const VIRTIO_BLK_S_ZONE_UNALIGNED_WP = 4;
/** Status (zoned): too many open zones. */
export const VIRTIO_BLK_S_ZONE_OPEN_RESOURCE = 5;
/** Status (zoned): too many active zones. */
export const VIRTIO_BLK_S_ZONE_ACTIVE_RESOURCE = 6;

/** sizeof(struct virtio_blk_outhdr). */
export const VIRTIO_BLK_OUTHDR_SIZE = 16;
/** sizeof(struct virtio_blk_config), the zoned characteristics included. */
export const VIRTIO_BLK_CONFIG_SIZE = 96;

/** struct virtio_blk_outhdr: the device-readable head of every request. */
export interface VirtioBlkOuthdr {
  /** VIRTIO_BLK_T_* (u32). */
  type: number;
  /** I/O priority; "reserved" in VIRTIO 1.x (u32). */
  ioprio: number;
  /** Sector (512-byte unit) offset. */
  sector: bigint;
}

function checkU32(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`${field}: ${v} is not an unsigned 32-bit integer`);
  }
  return v;
}

/** Encodes struct virtio_blk_outhdr (16 bytes, little-endian as VIRTIO 1.x wants). */
export function encodeVirtioBlkOuthdr(h: VirtioBlkOuthdr): Buffer {
  const buf = Buffer.alloc(VIRTIO_BLK_OUTHDR_SIZE);
  buf.writeUInt32LE(checkU32(h.type, 'type'), 0);
  buf.writeUInt32LE(checkU32(h.ioprio, 'ioprio'), 4);
  buf.writeBigUInt64LE(BigInt.asUintN(64, h.sector), 8);
  return buf;
}

/** Decodes struct virtio_blk_outhdr; throws RangeError when fewer than 16 bytes are given. */
export function decodeVirtioBlkOuthdr(buf: Uint8Array): VirtioBlkOuthdr {
  if (buf.byteLength < VIRTIO_BLK_OUTHDR_SIZE) {
    throw new RangeError(`virtio-blk header: ${buf.byteLength} bytes, need 16`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, VIRTIO_BLK_OUTHDR_SIZE);
  return {
    type: dv.getUint32(0, true),
    ioprio: dv.getUint32(4, true),
    sector: dv.getBigUint64(8, true),
  };
}

/** The fields of struct virtio_blk_config most devices fill in; the rest read as zero. */
export interface VirtioBlkConfig {
  /** Capacity in 512-byte sectors. */
  capacity: bigint;
  /** Maximum segment size (SIZE_MAX). */
  sizeMax?: number;
  /** Maximum segments per request (SEG_MAX). */
  segMax?: number;
  /** Legacy geometry: cylinders (GEOMETRY). */
  cylinders?: number;
  /** Legacy geometry: heads. */
  heads?: number;
  /** Legacy geometry: sectors per track. */
  sectors?: number;
  /** Logical block size (BLK_SIZE). */
  blkSize?: number;
  /** log2 of physical blocks per logical block (TOPOLOGY). */
  physicalBlockExp?: number;
  /** Alignment offset in logical blocks (TOPOLOGY). */
  alignmentOffset?: number;
  /** Minimum I/O size in logical blocks (TOPOLOGY). */
  minIoSize?: number;
  /** Optimal I/O size in logical blocks (TOPOLOGY). */
  optIoSize?: number;
  /** Writeback cache enabled (CONFIG_WCE). */
  wce?: number;
  /** Number of request queues (MQ). */
  numQueues?: number;
  /** Discard: maximum sectors per segment. */
  maxDiscardSectors?: number;
  /** Discard: maximum segments. */
  maxDiscardSeg?: number;
  /** Discard: sector alignment. */
  discardSectorAlignment?: number;
  /** Write zeroes: maximum sectors per segment. */
  maxWriteZeroesSectors?: number;
  /** Write zeroes: maximum segments. */
  maxWriteZeroesSeg?: number;
  /** Write zeroes may deallocate. */
  writeZeroesMayUnmap?: number;
}

/** Encodes struct virtio_blk_config (96 bytes; secure-erase and zoned fields are zero). */
export function encodeVirtioBlkConfig(c: VirtioBlkConfig): Buffer {
  const buf = Buffer.alloc(VIRTIO_BLK_CONFIG_SIZE);
  buf.writeBigUInt64LE(BigInt.asUintN(64, c.capacity), 0);
  buf.writeUInt32LE(c.sizeMax ?? 0, 8);
  buf.writeUInt32LE(c.segMax ?? 0, 12);
  buf.writeUInt16LE(c.cylinders ?? 0, 16);
  buf.writeUInt8(c.heads ?? 0, 18);
  buf.writeUInt8(c.sectors ?? 0, 19);
  buf.writeUInt32LE(c.blkSize ?? 0, 20);
  buf.writeUInt8(c.physicalBlockExp ?? 0, 24);
  buf.writeUInt8(c.alignmentOffset ?? 0, 25);
  buf.writeUInt16LE(c.minIoSize ?? 0, 26);
  buf.writeUInt32LE(c.optIoSize ?? 0, 28);
  buf.writeUInt8(c.wce ?? 0, 32);
  buf.writeUInt16LE(c.numQueues ?? 0, 34);
  buf.writeUInt32LE(c.maxDiscardSectors ?? 0, 36);
  buf.writeUInt32LE(c.maxDiscardSeg ?? 0, 40);
  buf.writeUInt32LE(c.discardSectorAlignment ?? 0, 44);
  buf.writeUInt32LE(c.maxWriteZeroesSectors ?? 0, 48);
  buf.writeUInt32LE(c.maxWriteZeroesSeg ?? 0, 52);
  buf.writeUInt8(c.writeZeroesMayUnmap ?? 0, 56);
  return buf;
}

/**
 * Decodes struct virtio_blk_config from the first bytes of a config space;
 * a shorter space (devices often expose a prefix) reads as zeros beyond its end.
 */
export function decodeVirtioBlkConfig(buf: Uint8Array): Required<VirtioBlkConfig> {
  const full = Buffer.alloc(VIRTIO_BLK_CONFIG_SIZE);
  full.set(buf.subarray(0, VIRTIO_BLK_CONFIG_SIZE));
  return {
    capacity: full.readBigUInt64LE(0),
    sizeMax: full.readUInt32LE(8),
    segMax: full.readUInt32LE(12),
    cylinders: full.readUInt16LE(16),
    heads: full.readUInt8(18),
    sectors: full.readUInt8(19),
    blkSize: full.readUInt32LE(20),
    physicalBlockExp: full.readUInt8(24),
    alignmentOffset: full.readUInt8(25),
    minIoSize: full.readUInt16LE(26),
    optIoSize: full.readUInt32LE(28),
    wce: full.readUInt8(32),
    numQueues: full.readUInt16LE(34),
    maxDiscardSectors: full.readUInt32LE(36),
    maxDiscardSeg: full.readUInt32LE(40),
    discardSectorAlignment: full.readUInt32LE(44),
    maxWriteZeroesSectors: full.readUInt32LE(48),
    maxWriteZeroesSeg: full.readUInt32LE(52),
    writeZeroesMayUnmap: full.readUInt8(56),
  };
}
