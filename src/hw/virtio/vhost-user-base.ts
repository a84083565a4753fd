/**
 * The generic vhost-user device (QEMU's hw/virtio/vhost-user-base.c and
 * vhost-user-device.c, SHMEM_MAP series v11): a VIRTIO device whose whole
 * implementation lives in a vhost-user back-end.
 *
 * `-device vhost-user-device,id=ID,chardev=CHR,virtio-id=N[,num_vqs=N]
 * [,vq_size=N][,config_size=N]` with QEMU's properties, defaults and
 * texts. Realize connects to the back-end (the handshake of
 * vhost_dev_init), asks for its VIRTIO Shared Memory Regions
 * (GET_SHMEM_CONFIG) and creates one region per non-zero size; setting
 * DRIVER_OK starts the vrings, clearing it (or a reset) stops them; a
 * reset also drops every shared memory mapping; SHMEM_MAP and
 * SHMEM_UNMAP requests from the back-end map into those regions.
 *
 * What a transport (virtio-pci) would do for a guest, tsqom's device
 * offers as methods: {@link VHostUserBase.setQueueRings} and
 * {@link VHostUserBase.setQueueNum} place a queue's rings,
 * {@link VHostUserBase.queueKickFd} / {@link VHostUserBase.queueCallFd}
 * are the notifiers, and {@link vhostUserBaseSetStatus} /
 * {@link vhostUserBaseGetConfig} are the asynchronous forms of status
 * and config accesses (see frontend-driver.ts for a ready-made driver).
 *
 * Differences from QEMU, deliberate: realize waits (without blocking) for
 * a `server=on,wait=off` chardev's first client; when the back-end goes
 * away the device stops, drops its mappings, reports it and stays
 * disconnected (QEMU keeps the mappings and re-attaches without a
 * handshake); `vq_size` above 1024 and `config_size` above 256 are
 * refused at realize (QEMU aborts later).
 * @module
 */
import { hostOs } from '../../util/machine-context.js';
import 'reflect-metadata';
import { EventEmitter } from 'node:events';
import { HostOs } from '../../native/host.js';
import type { NativeFdWatcher } from '../../native/index.js';
import { UV_READABLE } from '../../native/constants.js';
import { QomError, QomType, errorPrepend } from '../../qom/index.js';
import type { QdevProperty } from '../core/qdev-properties.js';
import {
  definePropUint16,
  definePropUint32,
  deviceClassSetProps,
} from '../core/qdev-properties.js';
import {
  addressSpaceMemory,
  memoryListenerRegister,
  memoryListenerUnregister,
} from '../../system/memory.js';
import { addressSpaceLduwLe } from '../../system/physmem.js';
import { type Chardev, qemuChrFeDeinit, qemuChrFeInit, qemuChrFind } from '../../chardev/char.js';
import '../../chardev/char-socket.js';
import {
  VIRTIO_QUEUE_MAX,
  VirtIODevice,
  VirtioDeviceClass,
  virtioDeviceStarted,
  virtioInit,
  virtioSetStatus,
  virtioVdevHasFeature,
} from './virtio.js';
import {
  virtioNewShmemRegion,
  virtioShmemDropAll,
  virtioShmemMap,
  virtioShmemUnmap,
  type VirtioSharedMemory,
} from './virtio-shmem.js';
import { VIRTQUEUE_MAX_SIZE } from './virtqueue.js';
import { VIRTIO_RING_F_EVENT_IDX } from './standard-headers.js';
import {
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_MAX_CONFIG_SIZE,
  VIRTIO_MAX_SHMEM_REGIONS,
} from './vhost-user/protocol/protocol.js';
import {
  VhostUserFrontend,
  VhostUserFrontendError,
  type VhostUserVringConfig,
} from './vhost-user/frontend/frontend.js';
import { VhostMemoryListener } from './vhost-user/frontend/frontend-memory.js';
import type { VhostUserBackendChannelHandler } from './vhost-user/frontend/frontend-channel.js';
import { type ErrorReportSink, errorReportSinkOf } from '../../util/error-report.js';

/** QEMU's TYPE_VHOST_USER_BASE (abstract). */
export const TYPE_VHOST_USER_BASE = 'vhost-user-base';
/** The generic device (QEMU 8.2's `vhost-user-device`, later renamed `vhost-user-test-device`). */
export const TYPE_VHOST_USER_DEVICE = 'vhost-user-device';

const ENOMEM = 12;

/** One virtqueue as the (virtual) transport configured it. */
export interface VhostUserVirtQueue {
  /** Queue size the driver chose (starts at `vq_size`). */
  num: number;
  /** The largest size (`vq_size`). */
  numMax: number;
  /** Guest physical address of the descriptor table (0: the queue is not set up). */
  desc: bigint;
  /** Guest physical address of the available ring. */
  avail: bigint;
  /** Guest physical address of the used ring. */
  used: bigint;
  /** The next available index the back-end will process (SET/GET_VRING_BASE). */
  lastAvailIdx: number;
  /** The kick eventfd (QEMU's host notifier), -1 until first needed. */
  kickFd: number;
  /** The call eventfd (QEMU's guest notifier), -1 until first needed. */
  callFd: number;
}

/** Events of a {@link VHostUserBase} device. */
export interface VHostUserBaseEvents {
  /** The back-end reported a config change (CONFIG_CHANGE_MSG). */
  'config-change': [];
  /** The vrings started (DRIVER_OK went through). */
  started: [];
  /** The vrings stopped. */
  stopped: [];
  /** Starting failed; the text was reported. */
  'start-failed': [error: Error];
  /** The back-end went away; the device dropped its mappings. */
  disconnect: [];
}

/** The class of vhost-user-base devices. */
export class VHostUserBaseClass extends VirtioDeviceClass {}

/**
 * QEMU's VHostUserBase: the properties (`chardev`, `virtio-id`,
 * `num_vqs`, `vq_size`, `config_size`) and the connection state.
 */
@QomType({ name: TYPE_VHOST_USER_BASE, abstract: true })
export class VHostUserBase extends VirtIODevice {
  /** The class struct of vhost-user devices. */
  static override readonly classType = VHostUserBaseClass;

  /** The chardev (property `chardev`). */
  chardev: Chardev | null = null;
  /** Property `virtio-id`. */
  virtioId = 0;
  /** Property `num_vqs`. */
  numVqs = 1;
  /** Property `vq_size`. */
  vqSize = 64;
  /** Property `config_size`. */
  configSize = 0;
  /** The vhost-user connection, from realize on. */
  frontend: VhostUserFrontend | null = null;
  /** The memory listener feeding SET_MEM_TABLE. */
  memListener: VhostMemoryListener | null = null;
  /** Whether the back-end is connected (QEMU's `connected`). */
  connected = false;
  /** Whether the vrings run or are starting (QEMU's vhost_dev_is_started). */
  vhostStarted = false;
  /** The queues. */
  vqs: VhostUserVirtQueue[] = [];
  /** Notifications for embedders and tests. */
  readonly events = new EventEmitter<VHostUserBaseEvents>();
  /** Where reports go (default: the process-wide vhost-user sink). */
  report: ErrorReportSink = errorReportSinkOf();
  /** The OS layer. */
  os: HostOs = hostOs();
  /** @internal The chardev `closed` handler installed at realize. */
  chrClosedHandler: (() => void) | null = null;
  /** Bumped by every reset, so a stop that finishes later does not undo it. */
  resetGeneration = 0;
  #op: Promise<void> = Promise.resolve();
  readonly #callWatch = new Map<
    number,
    {
      w: NativeFdWatcher;
      signaled: boolean;
      waiters: { resolve: () => void; reject: (e: Error) => void }[];
    }
  >();

  /** Releases the chardev (QEMU's release_chr) and any notifier left. */
  override instanceFinalize(): void {
    this.teardown();
    if (this.chardev) qemuChrFeDeinit(this.chardev, this);
    this.chardev = null;
    this.events.removeAllListeners();
  }

  /** Waits for every status transition (start/stop) issued so far. */
  settle(): Promise<void> {
    return this.#op;
  }

  /** The kick eventfd of queue `n` (created on first use). */
  queueKickFd(n: number): number {
    const q = this.#queue(n);
    if (q.kickFd < 0) q.kickFd = this.os.eventfd(0);
    return q.kickFd;
  }

  /** The call eventfd of queue `n` (created on first use). */
  queueCallFd(n: number): number {
    const q = this.#queue(n);
    if (q.callFd < 0) q.callFd = this.os.eventfd(0);
    return q.callFd;
  }

  /**
   * Resolves when the back-end signals queue `n` (its call eventfd; the
   * signal is consumed), at once if it did since the last wait. Rejects
   * when the device loses its back-end or is unrealized meanwhile.
   *
   * The first wait starts a watcher that stays on until the notifiers are
   * closed: signals are collected as they come (one read of the eventfd
   * each), so a busy queue costs no epoll_ctl or extra read per wait.
   */
  waitCall(n: number): Promise<void> {
    let e = this.#callWatch.get(n);
    if (!e) {
      const fd = this.queueCallFd(n);
      const entry = {
        signaled: this.os.eventfdRead(fd) !== null,
        w: this.os.watch(fd, UV_READABLE, () => {
          if (this.os.eventfdRead(fd) === null) return;
          const ws = entry.waiters;
          if (ws.length === 0) {
            entry.signaled = true;
            return;
          }
          entry.waiters = [];
          for (const x of ws) x.resolve();
        }),
        waiters: [] as { resolve: () => void; reject: (e: Error) => void }[],
      };
      entry.w.start();
      e = entry;
      this.#callWatch.set(n, e);
    }
    if (e.signaled) {
      e.signaled = false;
      return Promise.resolve();
    }
    const entry = e;
    return new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }

  #queue(n: number): VhostUserVirtQueue {
    const q = this.vqs[n];
    if (q === undefined) throw new RangeError(`virtqueue ${n} does not exist`);
    return q;
  }

  /**
   * QEMU's virtio_queue_set_rings: where queue `n`'s rings live in guest
   * physical memory (desc 0 disables the queue).
   */
  setQueueRings(n: number, desc: bigint, avail: bigint, used: bigint): void {
    const q = this.#queue(n);
    q.desc = desc;
    q.avail = avail;
    q.used = used;
  }

  /**
   * QEMU's virtio_queue_set_num: the queue size the driver chose; ignored,
   * as in QEMU, if it is out of range (0, above the maximum, or not a
   * power of 2 here since tsqom's rings are split rings).
   */
  setQueueNum(n: number, num: number): void {
    const q = this.#queue(n);
    if (!Number.isInteger(num) || num <= 0 || num > q.numMax || (num & (num - 1)) !== 0) return;
    q.num = num;
  }

  /** The VIRTIO Shared Memory Region with this ID, if the back-end asked for it. */
  shmemRegion(shmid: number): VirtioSharedMemory | null {
    return this.shmemList.find((s) => s.shmid === shmid) ?? null;
  }

  #closeNotifiers(): void {
    // Watchers go before their descriptors; whoever waits learns why.
    const gone = new Error(`vhost-user device '${this.id ?? this.typeName}' has no back-end`);
    for (const e of this.#callWatch.values()) {
      e.w.close();
      for (const x of e.waiters.splice(0)) x.reject(gone);
      e.waiters = [];
    }
    this.#callWatch.clear();
    for (const q of this.vqs) {
      for (const fd of [q.kickFd, q.callFd]) if (fd >= 0) this.os.close(fd);
      q.kickFd = -1;
      q.callFd = -1;
    }
  }

  /**
   * @internal vub_disconnect + vhost_dev_cleanup: drops the connection
   * and what hangs on it (a running device is stopped first, without
   * waiting, unless the back-end is known to be gone).
   */
  teardown(graceful = true): void {
    if (this.chardev && this.chrClosedHandler) {
      this.chardev.events.off('closed', this.chrClosedHandler);
      this.chrClosedHandler = null;
    }
    const fe = this.frontend;
    // Detached first: the listener's last commit must not reach the back-end.
    this.frontend = null;
    this.connected = false;
    if (this.memListener) {
      memoryListenerUnregister(this.memListener);
      this.memListener = null;
    }
    if (fe) {
      fe.removeAllListeners('disconnect');
      if (graceful && fe.started && !fe.closed) {
        // Stop the rings politely, then hang up (unrealize cannot wait).
        fe.stop(this.vqs.map((q) => q.desc !== 0n)).finally(() => fe.close());
      } else {
        fe.close();
      }
    }
    this.vhostStarted = false;
    this.#closeNotifiers();
  }

  /** The back-end went away (CHR_EVENT_CLOSED). */
  onBackendGone(): void {
    if (!this.connected) return;
    const label = this.chardev?.label ?? '';
    this.connected = false;
    const wasStarted = this.vhostStarted;
    this.teardown(false);
    const n = [...this.shmemList].reduce((k, s) => k + s.mappingCount, 0);
    virtioShmemDropAll(this);
    this.report(
      `vhost-user back-end on chardev '${label}' disconnected` +
        (wasStarted ? ' while running' : '') +
        (n ? `; dropped ${n} VIRTIO Shared Memory mapping${n === 1 ? '' : 's'}` : ''),
      'error',
    );
    this.events.emit('disconnect');
  }

  #ringSizes(q: VhostUserVirtQueue): [number, number, number] {
    const s = virtioVdevHasFeature(this, VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;
    return [16 * q.num, 4 + 2 * q.num + s, 4 + 8 * q.num + s];
  }

  /** vub_start. */
  async start(): Promise<void> {
    const fe = this.frontend;
    const ml = this.memListener;
    try {
      if (!fe || !ml || !this.connected) {
        throw new VhostUserFrontendError('vhost-user back-end is not connected', 5);
      }
      const vrings: (VhostUserVringConfig | null)[] = this.vqs.map((q, i) => {
        if (q.desc === 0n) return null;
        const [ds, as, us] = this.#ringSizes(q);
        const d = ml.translate(q.desc, BigInt(ds));
        const a = ml.translate(q.avail, BigInt(as));
        const u = ml.translate(q.used, BigInt(us));
        if (d === null || a === null || u === null) {
          throw new VhostUserFrontendError(
            `vhost VQ ${i} rings are not in shared guest RAM`,
            ENOMEM,
          );
        }
        return {
          num: q.num,
          lastAvailIdx: q.lastAvailIdx,
          descUserAddr: d,
          availUserAddr: a,
          usedUserAddr: u,
          usedGuestAddr: q.used,
          kickFd: this.queueKickFd(i),
          callFd: this.queueCallFd(i),
        };
      });
      fe.memTable = ml.table;
      await fe.start(this.guestFeatures, vrings);
      this.events.emit('started');
    } catch (e) {
      this.vhostStarted = false;
      const errno = e instanceof VhostUserFrontendError ? e.errno : 5;
      this.report(`Error starting vhost-user-base: ${errno}`, 'error');
      this.events.emit('start-failed', e instanceof Error ? e : new Error(String(e)));
    }
  }

  /**
   * vub_stop: stops the rings that `running` marks and keeps where each
   * stopped (unless the device was reset meanwhile).
   */
  async stop(running: readonly boolean[] = this.vqs.map((q) => q.desc !== 0n)): Promise<void> {
    const fe = this.frontend;
    if (!fe) return;
    const gen = this.resetGeneration;
    const bases = await fe.stop(running);
    if (gen !== this.resetGeneration) {
      this.events.emit('stopped');
      return;
    }
    this.vqs.forEach((q, i) => {
      if (!running[i] || q.desc === 0n) return;
      const b = bases[i];
      if (b !== null) {
        q.lastAvailIdx = b;
      } else {
        // virtio_queue_restore_last_avail_idx: the back-end is gone, use the used index.
        q.lastAvailIdx = addressSpaceLduwLe(addressSpaceMemory(), q.used + 2n);
      }
    });
    this.events.emit('stopped');
  }

  /** Queues a status transition after the ones in flight. */
  enqueue(fn: () => Promise<void>): void {
    this.#op = this.#op.then(fn, fn);
  }

  /** The handlers the back-end channel calls. */
  backendHandler(): VhostUserBackendChannelHandler {
    return {
      shmemMap: (fd, req, beforeCommit) => {
        virtioShmemMap(
          this,
          fd,
          {
            shmid: req.shmid,
            fdOffset: req.fdOffset,
            shmOffset: req.shmOffset,
            len: req.len,
            flags: req.flags,
          },
          { beforeCommit },
        );
      },
      shmemUnmap: (req, beforeCommit) => {
        virtioShmemUnmap(
          this,
          { shmid: req.shmid, shmOffset: req.shmOffset, len: req.len },
          { beforeCommit },
        );
      },
      configChange: () => {
        // vub_config_notifier: the guest re-reads the config on demand.
        this.events.emit('config-change');
      },
    };
  }

  /** vub_device_realize (the VIRTIO device realize). */
  vdevRealize(): Promise<void> {
    return vubDeviceRealize(this);
  }

  /** vub_device_unrealize. */
  vdevUnrealize(): void {
    vubDeviceUnrealize(this);
  }

  /** vub_get_features. */
  getFeatures(): bigint {
    return vubGetFeatures(this);
  }

  /** vub_set_config. */
  setConfig(config: Uint8Array): void {
    vubSetConfig(this, config);
  }

  /** vub_set_status. */
  setStatus(status: number): number {
    return vubSetStatus(this, status);
  }

  /** The device's own reset. */
  vdevReset(): void {
    vubReset(this);
  }
}

/** The chardev property (QEMU's DEFINE_PROP_CHR): resolved and claimed when set. */
function definePropChr(name: string): QdevProperty<VHostUserBase> {
  return {
    name,
    type: 'str',
    description: 'ID of a chardev to use as a backend',
    get: (dev, v, n) => v.typeStr(n, dev.chardev?.label ?? ''),
    set: (dev, v, n) => {
      const str = v.typeStr(n);
      if (dev.chardev) {
        throw new QomError(`${n}=${str} conflicts, and override is not implemented`);
      }
      if (str === '') return;
      const chr = qemuChrFind(str);
      if (!chr) throw new QomError(`Property '${dev.typeName}.${n}' can't find value '${str}'`);
      try {
        qemuChrFeInit(chr, dev);
      } catch (e) {
        throw errorPrepend(e, `Property '${dev.typeName}.${n}' can't take value '${str}': `);
      }
      dev.chardev = chr;
    },
  };
}

/** vub_device_realize. */
async function vubDeviceRealize(vub: VHostUserBase): Promise<void> {
  if (!vub.chardev) throw new QomError('vhost-user-base: missing chardev');
  if (!vub.virtioId) throw new QomError('vhost-user-base: need to define device id');
  if (!vub.numVqs) vub.numVqs = 1;
  if (!vub.vqSize) vub.vqSize = 64;
  if (vub.numVqs > VIRTIO_QUEUE_MAX) {
    throw new QomError(
      `vhost-user-base: num_vqs ${vub.numVqs} exceeds the maximum ${VIRTIO_QUEUE_MAX}`,
    );
  }
  if (vub.vqSize > VIRTQUEUE_MAX_SIZE) {
    throw new QomError(
      `vhost-user-base: vq_size ${vub.vqSize} exceeds the maximum ${VIRTQUEUE_MAX_SIZE}`,
    );
  }
  if (vub.configSize > VHOST_USER_MAX_CONFIG_SIZE) {
    throw new QomError(
      `vhost-user-base: config_size ${vub.configSize} exceeds the maximum ${VHOST_USER_MAX_CONFIG_SIZE}`,
    );
  }
  const chr = vub.chardev;
  await chr.waitConnected();
  const conn = chr.takeStream();
  if (!conn) throw new QomError(`chardev '${chr.label ?? ''}' is not connected`);
  const stream = conn.stream;
  virtioInit(vub, vub.virtioId, vub.configSize);
  vub.vqs = [];
  for (let i = 0; i < vub.numVqs; i++) {
    vub.vqs.push({
      num: vub.vqSize,
      numMax: vub.vqSize,
      desc: 0n,
      avail: 0n,
      used: 0n,
      lastAvailIdx: 0,
      kickFd: -1,
      callFd: -1,
    });
  }
  const fe = new VhostUserFrontend(stream, {
    nvqs: vub.numVqs,
    supportsConfig: vub.configSize > 0,
    backendHandler: vub.backendHandler(),
    pending: conn.pending,
    report: (m, l) => vub.report(m, l),
    os: vub.os,
  });
  vub.frontend = fe;
  try {
    try {
      await fe.init();
    } catch (e) {
      throw new QomError(e instanceof Error ? e.message : String(e));
    }
    const ml = new VhostMemoryListener({
      report: (m, l) => vub.report(m, l),
      onChange: (l) => {
        // vhost_commit: a running device gets the new table at once. A
        // stopped one reads it at start: building it at every change would
        // cost O(n) per SHMEM_MAP with n mappings.
        if (vub.frontend === fe && fe.started) {
          const table = l.table;
          fe.memTable = table;
          fe.setMemTable(table).catch((e: unknown) => {
            const errno = e instanceof VhostUserFrontendError ? e.errno : 5;
            vub.report(
              `vhost_set_mem_table failed: ${e instanceof Error ? e.message : String(e)} (${errno})`,
              'error',
            );
          });
        }
      },
    });
    memoryListenerRegister(ml, addressSpaceMemory());
    vub.memListener = ml;
    fe.memTable = ml.table;
    let cfg;
    try {
      cfg = await fe.getShmemConfig();
    } catch (e) {
      throw new QomError(e instanceof Error ? e.message : String(e));
    }
    const page = BigInt(vub.os.pageSize());
    let processed = 0;
    for (let i = 0; i < VIRTIO_MAX_SHMEM_REGIONS && processed < cfg.nregions; i++) {
      const size = cfg.memorySizes[i];
      if (!size) continue;
      processed++;
      if (size % page !== 0n) {
        throw new QomError(
          `Shared memory ${i} size must be a power of 2 no smaller than the page size`,
        );
      }
      virtioNewShmemRegion(vub, i, size);
    }
  } catch (e) {
    vubCleanup(vub);
    throw e;
  }
  vub.connected = true;
  fe.on('disconnect', () => vub.onBackendGone());
  const onClosed = (): void => vub.onBackendGone();
  chr.events.on('closed', onClosed);
  vub.chrClosedHandler = onClosed;
}

function vubCleanup(vub: VHostUserBase): void {
  if (vub.memListener) {
    memoryListenerUnregister(vub.memListener);
    vub.memListener = null;
  }
  vub.frontend?.close();
  vub.frontend = null;
  vub.connected = false;
}

/** vub_get_features: everything the back-end offers but the protocol-features bit. */
function vubGetFeatures(vub: VHostUserBase): bigint {
  const f = vub.frontend?.features ?? 0n;
  return f & ~(1n << BigInt(VHOST_USER_F_PROTOCOL_FEATURES));
}

/** vub_set_status: starts or stops the vrings as DRIVER_OK comes and goes. */
function vubSetStatus(vub: VHostUserBase, status: number): number {
  const shouldStart = virtioDeviceStarted(vub, status);
  if (vub.vhostStarted === shouldStart) return 0;
  vub.vhostStarted = shouldStart;
  if (shouldStart) {
    vub.enqueue(() => vub.start());
  } else {
    const running = vub.vqs.map((q) => q.desc !== 0n);
    vub.enqueue(() => vub.stop(running));
  }
  return 0;
}

/** The device's own reset: the queues forget their rings (QEMU's __virtio_queue_reset). */
function vubReset(vub: VHostUserBase): void {
  vub.resetGeneration++;
  for (const q of vub.vqs) {
    q.desc = 0n;
    q.avail = 0n;
    q.used = 0n;
    q.lastAvailIdx = 0;
    q.num = q.numMax;
  }
}

/** vub_set_config: fire and forget, reported on failure. */
function vubSetConfig(vub: VHostUserBase, config: Uint8Array): void {
  const fe = vub.frontend;
  if (!fe || !vub.configSize) return;
  fe.setConfig(config.slice(0, vub.configSize)).catch((e: unknown) => {
    const errno = e instanceof VhostUserFrontendError ? e.errno : 5;
    vub.report(`vhost guest set device config space failed: ${-errno}`, 'error');
  });
}

/** vub_device_unrealize. */
function vubDeviceUnrealize(vub: VHostUserBase): void {
  vub.teardown();
}

/** QEMU's vhost-user-device: the generic vhost-user device, configured by its properties. */
@QomType({ name: TYPE_VHOST_USER_DEVICE })
export class VHostUserDevice extends VHostUserBase {
  /** QEMU's vud_class_init: the properties. */
  static override classInit(dc: VHostUserBaseClass): void {
    deviceClassSetProps(dc.propertiesOf(this), [
      definePropChr('chardev'),
      definePropUint16('virtio-id', 'virtioId', 0),
      definePropUint32('vq_size', 'vqSize', 64),
      definePropUint32('num_vqs', 'numVqs', 1),
      definePropUint32('config_size', 'configSize', 0),
    ]);
    dc.desc = 'generic vhost-user device';
    dc.categories = ['Misc'];
  }
}

/**
 * Sets the device status the way a driver's status register write would
 * (QEMU's virtio_set_status) and waits for the vrings to start or stop.
 * Returns virtio_set_status's result.
 */
export async function vhostUserBaseSetStatus(dev: VHostUserBase, status: number): Promise<number> {
  const r = virtioSetStatus(dev, status);
  await dev.settle();
  return r;
}

/**
 * vub_get_config: reads the config space from the back-end into
 * `dev.config` and returns it (QEMU re-reads it at every access; so does
 * this). Rejects with QEMU's text if the back-end does not answer.
 */
export async function vhostUserBaseGetConfig(dev: VHostUserBase): Promise<Uint8Array> {
  const fe = dev.frontend;
  if (!dev.configSize || !fe) return dev.config;
  const data = await fe.getConfig(dev.configSize);
  dev.config.set(data.subarray(0, dev.config.length));
  return dev.config;
}
