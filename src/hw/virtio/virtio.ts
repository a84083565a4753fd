/**
 * The abstract VIRTIO device (QEMU's hw/virtio/virtio.c, include/hw/virtio/
 * virtio.h): device ID, host and guest features, configuration space,
 * status and reset, and the device's VIRTIO Shared Memory Regions (see
 * virtio-shmem.ts).
 *
 * tsqom has no transports or buses: a `virtio-device` subtype is a device
 * of its own, created with `-device` / `device_add`. What a transport
 * would do at plug time is done at the end of realize: the host features
 * are passed through the class's `getFeatures`, and, with the tsqom
 * property `shmem-base`, the shared memory regions are mapped into system
 * memory (standing in for the PCI BAR QEMU puts them behind).
 *
 * QEMU's VirtioDeviceClass has its own `realize`, `unrealize` and `reset`
 * hooks next to DeviceClass's; here they are `vdevRealize`,
 * `vdevUnrealize` and `vdevReset`, since a TypeScript subclass cannot
 * reuse the names.
 * @module
 */
import { errorReport } from '../../util/error-report.js';
import { DeviceClass, DeviceState, TYPE_DEVICE } from '../core/qdev.js';
import {
  definePropBit64,
  definePropBool,
  definePropUint64,
  deviceClassSetProps,
} from '../core/qdev-properties.js';
import { QomError, QomType, objectGetClass } from '../../qom/index.js';
import {
  type Hwaddr,
  type MemoryRegion,
  getSystemMemory,
  memoryRegionAddSubregion,
  memoryRegionAddSubregionOverlap,
  memoryRegionDelSubregion,
  memoryRegionInit,
  memoryRegionNew,
  withTransaction,
} from '../../system/memory.js';
import { UINT64_MAX } from '../../system/flatview.js';
import * as ids from './standard-headers.js';
import {
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_IOMMU_PLATFORM,
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
} from './standard-headers.js';
import { type VirtioSharedMemory, virtioShmemDropAll } from './virtio-shmem.js';

/** QEMU's TYPE_VIRTIO_DEVICE. */
export const TYPE_VIRTIO_DEVICE = 'virtio-device';
/** No MSI-X vector (VIRTIO_NO_VECTOR). */
export const VIRTIO_NO_VECTOR = 0xffff;
/** QEMU's VIRTIO_QUEUE_MAX. */
export const VIRTIO_QUEUE_MAX = 1024;
/** The name of the container that `shmem-base` maps into system memory. */
export const VIRTIO_SHMEM_BAR_NAME = 'virtio-shmem-bar';

/** EINVAL, as virtio_set_features returns it. */
const EINVAL = 22;

/**
 * QEMU's VirtioDeviceClass: what a VIRTIO device type implements. Set the
 * hooks in `classInit`.
 */
export class VirtioDeviceClass extends DeviceClass {
  /** The device's realize (QEMU's `vdc->realize`); create shared memory regions here. */
  vdevRealize: ((vdev: VirtIODevice) => void | Promise<void>) | null = null;
  /** The device's unrealize (QEMU's `vdc->unrealize`). */
  vdevUnrealize: ((vdev: VirtIODevice) => void) | null = null;
  /** The features the device offers, given those the transport offers. */
  getFeatures: ((vdev: VirtIODevice, requested: bigint) => bigint) | null = null;
  /** Features to accept from old drivers (QEMU's `bad_features`). */
  badFeatures: ((vdev: VirtIODevice) => bigint) | null = null;
  /** Called with the features the driver acked (masked by the host features). */
  setFeatures: ((vdev: VirtIODevice, val: bigint) => void) | null = null;
  /** Validates the negotiated features when the driver sets FEATURES_OK; non-zero refuses. */
  validateFeatures: ((vdev: VirtIODevice) => number) | null = null;
  /** Fills the configuration space before a driver read. */
  getConfig: ((vdev: VirtIODevice, config: Uint8Array) => void) | null = null;
  /** Takes the configuration space after a driver write. */
  setConfig: ((vdev: VirtIODevice, config: Uint8Array) => void) | null = null;
  /** The device's own reset (QEMU's `vdc->reset`). */
  vdevReset: ((vdev: VirtIODevice) => void) | null = null;
  /** Sees each status change; a non-zero result is logged, as in QEMU. */
  setStatus: ((vdev: VirtIODevice, val: number) => number) | null = null;
  /** Features only offered on the legacy interface. */
  legacyFeatures = 0n;
  /**
   * A VIRTIO device class's own methods of these names fill the slots
   * (`vdevRealize()`, `getFeatures(requested)`, ...).
   */
  static override readonly instanceMethods: readonly string[] = [
    'vdevRealize',
    'vdevUnrealize',
    'getFeatures',
    'badFeatures',
    'setFeatures',
    'validateFeatures',
    'getConfig',
    'setConfig',
    'vdevReset',
    'setStatus',
  ];
}

/**
 * QEMU's VirtIODevice. The fields mirror QEMU's and are read-only by
 * convention: change them through the functions below.
 */
@QomType({ name: TYPE_VIRTIO_DEVICE, parent: TYPE_DEVICE, abstract: true })
export class VirtIODevice extends DeviceState {
  /** VIRTIO devices' class struct. */
  static override readonly classType = VirtioDeviceClass;

  /** The device's name (`virtio-net`, ...), set by {@link virtioInit}. */
  name: string | null = null;
  /** The VIRTIO device ID. */
  deviceId = 0;
  /** The device status byte. */
  status = 0;
  /** The interrupt status byte. */
  isr = 0;
  /** The queue selected by the driver. */
  queueSel = 0;
  /** Every feature the device can offer (bits 0..63). */
  hostFeatures = 0n;
  /** The features the driver acked. */
  guestFeatures = 0n;
  /** The features the back-end supports. */
  backendFeatures = 0n;
  /** Size of the configuration space. */
  configLen = 0;
  /** The configuration space. */
  config: Uint8Array = new Uint8Array(0);
  /** The configuration-change vector. */
  configVector = VIRTIO_NO_VECTOR;
  /** The configuration generation. */
  generation = 0;
  /** The device is in an invalid state and needs a reset. */
  broken = false;
  /** Whether `started` rather than the status tells if the device runs (property `use-started`). */
  useStarted = true;
  /** Whether the device runs. */
  started = false;
  /** Start when the driver kicks (legacy drivers). */
  startOnKick = false;
  /** Property `use-disabled-flag`. */
  useDisabledFlag = true;
  /** Temporarily disabled. */
  disabled = false;
  /** Property `x-disable-legacy-check`. */
  disableLegacyCheck = false;
  /** The VIRTIO Shared Memory Regions, in creation order. */
  readonly shmemList: VirtioSharedMemory[] = [];
  /** Property `shmem-base`: where realize maps the regions (UINT64_MAX: nowhere). */
  shmemBase: bigint = UINT64_MAX;
  /** The container holding the regions while they are mapped into system memory. */
  shmemBar: MemoryRegion | null = null;

  /** QEMU's virtio_device_class_init: the properties every VIRTIO device has. */
  static override classInit(vdc: VirtioDeviceClass): void {
    deviceClassSetProps(vdc.propertiesOf(this), [
      definePropBit64('indirect_desc', 'hostFeatures', VIRTIO_RING_F_INDIRECT_DESC, true),
      definePropBit64('event_idx', 'hostFeatures', VIRTIO_RING_F_EVENT_IDX, true),
      definePropBit64('notify_on_empty', 'hostFeatures', VIRTIO_F_NOTIFY_ON_EMPTY, true),
      definePropBit64('any_layout', 'hostFeatures', VIRTIO_F_ANY_LAYOUT, true),
      definePropBit64('iommu_platform', 'hostFeatures', VIRTIO_F_IOMMU_PLATFORM, false),
      definePropBit64('packed', 'hostFeatures', VIRTIO_F_RING_PACKED, false),
      definePropBit64('queue_reset', 'hostFeatures', VIRTIO_F_RING_RESET, true),
      definePropBool('use-started', 'useStarted', true),
      definePropBool('use-disabled-flag', 'useDisabledFlag', true),
      definePropBool('x-disable-legacy-check', 'disableLegacyCheck', false),
      definePropUint64('shmem-base', 'shmemBase', UINT64_MAX),
    ]);
    vdc.propertySetDescription(
      'shmem-base',
      'tsqom: guest physical address where realize maps the VIRTIO Shared Memory Regions ' +
        '(standing in for a PCI BAR); 0xffffffffffffffff: not mapped',
    );
  }

  /** QEMU's virtio_device_realize: the device's vdevRealize, then what plugging does. */
  realize(): void | Promise<void> {
    return virtioDeviceRealize(this);
  }

  /** QEMU's virtio_device_unrealize. */
  unrealize(): void {
    virtioDeviceUnrealize(this);
  }

  /** QEMU's virtio_device_reset. */
  reset(): void {
    virtioReset(this);
  }

  /**
   * QEMU's virtio_device_instance_finalize: drops every mapping, then the
   * regions' containers.
   */
  override instanceFinalize(): void {
    virtioShmemDropAll(this);
    while (this.shmemList.length) {
      const s = this.shmemList.shift()!;
      s.mr.unparent();
      s.mr.unref();
    }
  }
}

/** The class of a VIRTIO device (QEMU's VIRTIO_DEVICE_GET_CLASS). */
export function virtioDeviceGetClass(vdev: VirtIODevice): VirtioDeviceClass {
  return objectGetClass(vdev, VirtioDeviceClass);
}

const deviceNames: Record<number, string> = {
  [ids.VIRTIO_ID_NET]: 'virtio-net',
  [ids.VIRTIO_ID_BLOCK]: 'virtio-blk',
  [ids.VIRTIO_ID_CONSOLE]: 'virtio-serial',
  [ids.VIRTIO_ID_RNG]: 'virtio-rng',
  [ids.VIRTIO_ID_BALLOON]: 'virtio-balloon',
  [ids.VIRTIO_ID_IOMEM]: 'virtio-iomem',
  [ids.VIRTIO_ID_RPMSG]: 'virtio-rpmsg',
  [ids.VIRTIO_ID_SCSI]: 'virtio-scsi',
  [ids.VIRTIO_ID_9P]: 'virtio-9p',
  [ids.VIRTIO_ID_MAC80211_WLAN]: 'virtio-mac-wlan',
  [ids.VIRTIO_ID_RPROC_SERIAL]: 'virtio-rproc-serial',
  [ids.VIRTIO_ID_CAIF]: 'virtio-caif',
  [ids.VIRTIO_ID_MEMORY_BALLOON]: 'virtio-mem-balloon',
  [ids.VIRTIO_ID_GPU]: 'virtio-gpu',
  [ids.VIRTIO_ID_CLOCK]: 'virtio-clk',
  [ids.VIRTIO_ID_INPUT]: 'virtio-input',
  [ids.VIRTIO_ID_VSOCK]: 'vhost-vsock',
  [ids.VIRTIO_ID_CRYPTO]: 'virtio-crypto',
  [ids.VIRTIO_ID_SIGNAL_DIST]: 'virtio-signal',
  [ids.VIRTIO_ID_PSTORE]: 'virtio-pstore',
  [ids.VIRTIO_ID_IOMMU]: 'virtio-iommu',
  [ids.VIRTIO_ID_MEM]: 'virtio-mem',
  [ids.VIRTIO_ID_SOUND]: 'virtio-sound',
  [ids.VIRTIO_ID_FS]: 'virtio-user-fs',
  [ids.VIRTIO_ID_PMEM]: 'virtio-pmem',
  [ids.VIRTIO_ID_RPMB]: 'virtio-rpmb',
  [ids.VIRTIO_ID_MAC80211_HWSIM]: 'virtio-mac-hwsim',
  [ids.VIRTIO_ID_VIDEO_ENCODER]: 'virtio-vid-encoder',
  [ids.VIRTIO_ID_VIDEO_DECODER]: 'virtio-vid-decoder',
  [ids.VIRTIO_ID_SCMI]: 'virtio-scmi',
  [ids.VIRTIO_ID_NITRO_SEC_MOD]: 'virtio-nitro-sec-mod',
  [ids.VIRTIO_ID_I2C_ADAPTER]: 'vhost-user-i2c',
  [ids.VIRTIO_ID_WATCHDOG]: 'virtio-watchdog',
  [ids.VIRTIO_ID_CAN]: 'virtio-can',
  [ids.VIRTIO_ID_DMABUF]: 'virtio-dmabuf',
  [ids.VIRTIO_ID_PARAM_SERV]: 'virtio-param-serv',
  [ids.VIRTIO_ID_AUDIO_POLICY]: 'virtio-audio-pol',
  [ids.VIRTIO_ID_BT]: 'virtio-bluetooth',
  [ids.VIRTIO_ID_GPIO]: 'virtio-gpio',
};

/**
 * QEMU's virtio_id_to_name (`virtio_device_names`): `virtio-net` for 1,
 * ...; null for an ID QEMU has no name for (QEMU asserts).
 */
export function virtioIdToName(deviceId: number): string | null {
  return Object.prototype.hasOwnProperty.call(deviceNames, deviceId) ? deviceNames[deviceId] : null;
}

/**
 * QEMU's virtio_init (call it from `vdevRealize`): sets the device ID,
 * the name and a zeroed configuration space of `configSize` bytes, and
 * clears the runtime state. An ID without a name is refused (QEMU
 * asserts).
 */
export function virtioInit(vdev: VirtIODevice, deviceId: number, configSize: number): void {
  const name = virtioIdToName(deviceId);
  if (name === null) throw new QomError(`VIRTIO device ID ${deviceId} has no device name`);
  if (!Number.isInteger(configSize) || configSize < 0) {
    throw new RangeError(`configuration size ${configSize} is not a byte count`);
  }
  vdev.startOnKick = false;
  vdev.started = false;
  vdev.deviceId = deviceId;
  vdev.status = 0;
  vdev.isr = 0;
  vdev.queueSel = 0;
  vdev.configVector = VIRTIO_NO_VECTOR;
  vdev.broken = false;
  vdev.name = name;
  vdev.configLen = configSize;
  vdev.config = new Uint8Array(configSize);
}

/** QEMU's virtio_cleanup (nothing to release in tsqom; kept for symmetry). */
export function virtioCleanup(_vdev: VirtIODevice): void {}

/** Whether bit `fbit` is set in `features`. */
function hasBit(features: bigint, fbit: number): boolean {
  return (features & (1n << BigInt(fbit))) !== 0n;
}

/** QEMU's virtio_vdev_has_feature: whether the driver acked `fbit`. */
export function virtioVdevHasFeature(vdev: VirtIODevice, fbit: number): boolean {
  return hasBit(vdev.guestFeatures, fbit);
}

/** QEMU's virtio_host_has_feature: whether the device offers `fbit`. */
export function virtioHostHasFeature(vdev: VirtIODevice, fbit: number): boolean {
  return hasBit(vdev.hostFeatures, fbit);
}

/** QEMU's virtio_device_started: `started` with `use-started`, else DRIVER_OK in `status`. */
export function virtioDeviceStarted(vdev: VirtIODevice, status: number): boolean {
  return vdev.useStarted ? vdev.started : (status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0;
}

function virtioSetStarted(vdev: VirtIODevice, started: boolean): void {
  if (started) vdev.startOnKick = false;
  if (vdev.useStarted) vdev.started = started;
}

/** QEMU's virtio_validate_features: the class's verdict, 0 without a hook. */
export function virtioValidateFeatures(vdev: VirtIODevice): number {
  const k = virtioDeviceGetClass(vdev);
  return k.validateFeatures ? k.validateFeatures(vdev) : 0;
}

/**
 * QEMU's virtio_set_status: validates the features when a VIRTIO 1.0
 * driver sets FEATURES_OK (a non-zero result is returned and the status
 * kept), tracks DRIVER_OK in `started`, lets the class see the change,
 * and stores the status.
 */
export function virtioSetStatus(vdev: VirtIODevice, val: number): number {
  const k = virtioDeviceGetClass(vdev);
  let ret = 0;
  if (virtioVdevHasFeature(vdev, VIRTIO_F_VERSION_1)) {
    if (!(vdev.status & VIRTIO_CONFIG_S_FEATURES_OK) && val & VIRTIO_CONFIG_S_FEATURES_OK) {
      ret = virtioValidateFeatures(vdev);
      if (ret) return ret;
    }
  }
  if ((vdev.status & VIRTIO_CONFIG_S_DRIVER_OK) !== (val & VIRTIO_CONFIG_S_DRIVER_OK)) {
    virtioSetStarted(vdev, (val & VIRTIO_CONFIG_S_DRIVER_OK) !== 0);
  }
  if (k.setStatus) {
    ret = k.setStatus(vdev, val);
    if (ret) {
      errorReport(
        `set ${vdev.name ?? vdev.typeName} status to ${val} failed, old status: ${vdev.status}`,
      );
    }
  }
  vdev.status = val & 0xff;
  return ret;
}

function virtioSetFeaturesNocheck(vdev: VirtIODevice, val: bigint): number {
  const k = virtioDeviceGetClass(vdev);
  const bad = (val & ~vdev.hostFeatures) !== 0n;
  const v = val & vdev.hostFeatures;
  k.setFeatures?.(vdev, v);
  vdev.guestFeatures = v;
  return bad ? -1 : 0;
}

/**
 * QEMU's virtio_set_features: the driver acks `val`. Refused with -EINVAL
 * once FEATURES_OK is set; bits the device does not offer are dropped and
 * make the result -1.
 */
export function virtioSetFeatures(vdev: VirtIODevice, val: bigint): number {
  if (vdev.status & VIRTIO_CONFIG_S_FEATURES_OK) return -EINVAL;
  const ret = virtioSetFeaturesNocheck(vdev, BigInt.asUintN(64, val));
  if (
    !ret &&
    !virtioDeviceStarted(vdev, vdev.status) &&
    !virtioVdevHasFeature(vdev, VIRTIO_F_VERSION_1)
  ) {
    vdev.startOnKick = true;
  }
  return ret;
}

/**
 * QEMU's virtio_reset: status 0, the class's reset, runtime state and
 * guest features cleared, and every shared memory mapping dropped (so no
 * stale descriptor stays open).
 */
export function virtioReset(vdev: VirtIODevice): void {
  const k = virtioDeviceGetClass(vdev);
  virtioSetStatus(vdev, 0);
  k.vdevReset?.(vdev);
  vdev.startOnKick = false;
  vdev.started = false;
  vdev.broken = false;
  virtioSetFeaturesNocheck(vdev, 0n);
  vdev.queueSel = 0;
  vdev.status = 0;
  vdev.disabled = false;
  vdev.isr = 0;
  vdev.configVector = VIRTIO_NO_VECTOR;
  virtioShmemDropAll(vdev);
}

function configRead(vdev: VirtIODevice, addr: number, size: number): number {
  if (!Number.isInteger(addr) || addr < 0 || addr + size > vdev.configLen) return 0xffffffff;
  virtioDeviceGetClass(vdev).getConfig?.(vdev, vdev.config);
  const dv = new DataView(vdev.config.buffer, vdev.config.byteOffset, vdev.configLen);
  return size === 1
    ? dv.getUint8(addr)
    : size === 2
      ? dv.getUint16(addr, true)
      : dv.getUint32(addr, true);
}

function configWrite(vdev: VirtIODevice, addr: number, size: number, data: number): void {
  if (!Number.isInteger(addr) || addr < 0 || addr + size > vdev.configLen) return;
  const dv = new DataView(vdev.config.buffer, vdev.config.byteOffset, vdev.configLen);
  if (size === 1) dv.setUint8(addr, data);
  else if (size === 2) dv.setUint16(addr, data, true);
  else dv.setUint32(addr, data, true);
  virtioDeviceGetClass(vdev).setConfig?.(vdev, vdev.config);
}

/** QEMU's virtio_config_readb: a byte of the configuration space (0xffffffff past its end). */
export function virtioConfigReadb(vdev: VirtIODevice, addr: number): number {
  return configRead(vdev, addr, 1);
}
/** QEMU's virtio_config_readw (little-endian, as on x86). */
export function virtioConfigReadw(vdev: VirtIODevice, addr: number): number {
  return configRead(vdev, addr, 2);
}
/** QEMU's virtio_config_readl (little-endian). */
export function virtioConfigReadl(vdev: VirtIODevice, addr: number): number {
  return configRead(vdev, addr, 4);
}
/** QEMU's virtio_config_writeb (ignored past the end of the space). */
export function virtioConfigWriteb(vdev: VirtIODevice, addr: number, data: number): void {
  configWrite(vdev, addr, 1, data);
}
/** QEMU's virtio_config_writew. */
export function virtioConfigWritew(vdev: VirtIODevice, addr: number, data: number): void {
  configWrite(vdev, addr, 2, data);
}
/** QEMU's virtio_config_writel. */
export function virtioConfigWritel(vdev: VirtIODevice, addr: number, data: number): void {
  configWrite(vdev, addr, 4, data);
}

/**
 * Maps the device's VIRTIO Shared Memory Regions into `parent` (default:
 * system memory) at `addr`, the way QEMU's vhost-user-test-device-pci
 * lays them out in its BAR: a container `virtio-shmem-bar` owned by the
 * device, holding each region at a running offset, added with `priority`
 * (1, like a BAR). Returns the container, or null if the device has no
 * regions. `Total shared memory required overflow` if the sizes do not fit
 * in 64 bits.
 */
export function virtioShmemMapBar(
  vdev: VirtIODevice,
  addr: Hwaddr,
  parent: MemoryRegion = getSystemMemory(),
  priority = 1,
): MemoryRegion | null {
  if (vdev.shmemBar) throw new QomError('VIRTIO Shared Memory Regions are already mapped');
  if (vdev.shmemList.length === 0) return null;
  let total = 0n;
  for (const s of vdev.shmemList) {
    total += s.mr.size;
    if (total > UINT64_MAX) throw new QomError('Total shared memory required overflow');
  }
  // A window that wraps past 2^64 would be accepted by the memory core and
  // never reach the guest (`info mtree` says [DETECTED OVERFLOW!]).
  const base = typeof addr === 'bigint' ? addr : BigInt(addr);
  if (total > 0n && base + total - 1n > UINT64_MAX) {
    throw new QomError(
      `VIRTIO Shared Memory Regions (0x${total.toString(16)} bytes) at 0x${base.toString(16)} ` +
        'end past the end of the address space',
    );
  }
  const bar = memoryRegionInit(memoryRegionNew(), vdev, VIRTIO_SHMEM_BAR_NAME, total);
  try {
    withTransaction(() => {
      let offset = 0n;
      for (const s of vdev.shmemList) {
        memoryRegionAddSubregion(bar, offset, s.mr);
        offset += s.mr.size;
      }
      memoryRegionAddSubregionOverlap(parent, addr, bar, priority);
    });
  } catch (e) {
    bar.unparent();
    throw e;
  }
  vdev.shmemBar = bar;
  return bar;
}

/** Undoes {@link virtioShmemMapBar}. */
export function virtioShmemUnmapBar(vdev: VirtIODevice): void {
  const bar = vdev.shmemBar;
  if (!bar) return;
  vdev.shmemBar = null;
  withTransaction(() => {
    if (bar.container) memoryRegionDelSubregion(bar.container, bar);
    for (const s of [...bar.subregions]) memoryRegionDelSubregion(bar, s);
  });
  bar.unparent();
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function'
  );
}

// What virtio_bus_device_plugged does for a transport-less device.
function virtioDevicePlugged(vdev: VirtIODevice): void {
  const vdc = virtioDeviceGetClass(vdev);
  try {
    if (vdc.getFeatures) vdev.hostFeatures = vdc.getFeatures(vdev, vdev.hostFeatures);
    if (vdev.shmemBase !== UINT64_MAX) virtioShmemMapBar(vdev, vdev.shmemBase);
  } catch (e) {
    vdc.vdevUnrealize?.(vdev);
    throw e;
  }
}

function virtioDeviceRealize(vdev: VirtIODevice): void | Promise<void> {
  const r = virtioDeviceGetClass(vdev).vdevRealize?.(vdev);
  if (isThenable(r)) return Promise.resolve(r).then(() => virtioDevicePlugged(vdev));
  virtioDevicePlugged(vdev);
}

function virtioDeviceUnrealize(vdev: VirtIODevice): void {
  virtioShmemUnmapBar(vdev);
  virtioDeviceGetClass(vdev).vdevUnrealize?.(vdev);
}
