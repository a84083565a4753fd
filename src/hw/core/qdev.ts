/**
 * A minimal device model (QEMU's hw/core/qdev.c): the abstract `device`
 * type with its `realized`, `hotpluggable`, `hotplugged` and `parent_bus`
 * properties, realize/unrealize/reset as class "virtual methods", the
 * machine creation phases that decide whether a device is hot-plugged, and
 * the containers `/machine/peripheral`, `/machine/peripheral-anon` and
 * `/machine/unattached`.
 *
 * tsqom has no buses: every device is bus-less, and the machine acts as
 * the hotplug handler of all of them (as it does in QEMU for bus-less
 * devices such as pc-dimm), so `device_add` and `device_del` work once the
 * machine is ready. `parent_bus` is always empty.
 *
 * A realize hook may be asynchronous (a vhost-user device talks to its
 * back-end while it realizes): {@link qdevRealize} awaits it. Setting the
 * `realized` property on such a device starts the realization and returns
 * before it completes; a failure is then reported on stderr, as QEMU's
 * error_report would.
 * @module
 */
import { errorReport } from '../../util/error-report.js';
import {
  type JsonObject,
  ObjectClass,
  QomError,
  QomObject,
  TYPE_OBJECT,
  containerGet,
  objectClassByName,
  objectGetRoot,
  objectNew,
  QomType,
  objectCheck,
  type InstanceConstructor,
  objectGetClass,
} from '../../qom/index.js';
import { machineGetContainer } from '../../system/memory.js';
import { qdevPropSetGlobals } from './qdev-properties.js';

/** QEMU's TYPE_DEVICE. */
export const TYPE_DEVICE = 'device';

/** A realize hook: throw (or reject) to fail; the device is then left unrealized. */
export type DeviceRealize = (dev: DeviceState) => void | Promise<void>;
/** An unrealize hook; it cannot fail. */
export type DeviceUnrealize = (dev: DeviceState) => void;
/** A (legacy, single-phase) reset hook. */
export type DeviceReset = (dev: DeviceState) => void;

/**
 * QEMU's DeviceClass: the "virtual methods" and class data of device
 * types. Set them in `classInit`; a subclass starts with a copy of its
 * parent's values (use {@link deviceClassSetParentRealize} and friends to
 * chain to the parent's hook).
 */
export class DeviceClass extends ObjectClass {
  /** Realizes the device (QEMU's `dc->realize`); may be asynchronous. */
  realize: DeviceRealize | null = null;
  /** Undoes realize (QEMU's `dc->unrealize`). */
  unrealize: DeviceUnrealize | null = null;
  /** Cold reset (QEMU's `dc->reset`, the legacy single-phase reset). */
  reset: DeviceReset | null = null;
  /** Whether `-device` / `device_add` may create the type (default true). */
  userCreatable = true;
  /** Whether the device may be added or removed once the machine is ready (default true). */
  hotpluggable = true;
  /** A description (`-device help`). */
  desc: string | null = null;
  /**
   * QEMU's device categories by the name `-device help` prints
   * (`Misc`, `Storage`, ...); none means "Uncategorized".
   */
  categories: string[] = [];
  /** The bus type the device plugs into; always null in tsqom (no buses). */
  busType: string | null = null;
  /** Device classes' own `realize()`, `unrealize()` and `reset()` methods fill these slots. */
  static override readonly instanceMethods: readonly string[] = ['realize', 'unrealize', 'reset'];
}

/**
 * QEMU's machine creation phases (`MachineInitPhase`). Devices created
 * once the machine is ready are hot-plugged.
 */
export const MachineInitPhase = Object.freeze({
  /** No machine yet. */
  NoMachine: 0,
  /** The machine object exists. */
  MachineCreated: 1,
  /** The accelerator is set up. */
  AccelCreated: 2,
  /** Board initialisation ran. */
  MachineInitialized: 3,
  /** Cold-plugged devices are done; everything later is hot-plugged. */
  MachineReady: 4,
});
/** One of the {@link MachineInitPhase} values. */
export type MachineInitPhase = (typeof MachineInitPhase)[keyof typeof MachineInitPhase];

let machinePhase: MachineInitPhase = MachineInitPhase.NoMachine;

/** QEMU's phase_check: whether the machine reached `phase`. */
export function phaseCheck(phase: MachineInitPhase): boolean {
  return machinePhase >= phase;
}

/** The current machine creation phase. */
export function phaseGet(): MachineInitPhase {
  return machinePhase;
}

/**
 * QEMU's phase_advance: moves to a later phase (skipped phases are
 * allowed here; QEMU asserts they come one by one). Going back throws.
 */
export function phaseAdvance(phase: MachineInitPhase): void {
  if (phase <= machinePhase) {
    throw new QomError(`machine phase ${phase} is not after the current phase ${machinePhase}`);
  }
  machinePhase = phase;
}

/**
 * QEMU's qdev_machine_creation_done: the machine is ready; devices created
 * from now on are hot-plugged. Call it once the command line's devices
 * exist (before serving QMP). Does nothing if the machine is already ready.
 */
export function qdevMachineCreationDone(): void {
  if (!phaseCheck(MachineInitPhase.MachineReady)) phaseAdvance(MachineInitPhase.MachineReady);
}

/** Callbacks on device realization (QEMU's DeviceListener). */
export interface DeviceListener {
  /** A device was realized. */
  realize?(dev: DeviceState): void;
  /** A device is being unrealized. */
  unrealize?(dev: DeviceState): void;
}

const deviceListeners: DeviceListener[] = [];

/** QEMU's device_listener_register: `realize` is replayed for every realized device. */
export function deviceListenerRegister(listener: DeviceListener): void {
  deviceListeners.push(listener);
  qdevGetMachine().childForeachRecursive((obj) => {
    const dev = obj.dynamicCast(DeviceState);
    if (dev?.realized) listener.realize?.(dev);
  });
}

/** QEMU's device_listener_unregister. */
export function deviceListenerUnregister(listener: DeviceListener): void {
  const i = deviceListeners.indexOf(listener);
  if (i >= 0) deviceListeners.splice(i, 1);
}

/** How QMP events leave the device model (set by the monitor). */
export type QdevEventEmitter = (event: string, data: JsonObject) => void;
let eventEmitter: QdevEventEmitter | null = null;
let scopedEmitter: QdevEventEmitter | null = null;

/**
 * Sets where device events (`DEVICE_DELETED`) go; null drops them. The
 * QMP commands of qdev-monitor.ts fall back to the calling monitor's
 * event function while they run.
 */
export function qdevSetEventEmitter(emitter: QdevEventEmitter | null): void {
  eventEmitter = emitter;
}

/** @internal Runs `fn` with a fallback event emitter. */
export function qdevWithEventEmitter<T>(emitter: QdevEventEmitter | null, fn: () => T): T {
  const saved = scopedEmitter;
  scopedEmitter = emitter;
  try {
    return fn();
  } finally {
    scopedEmitter = saved;
  }
}

function emitEvent(event: string, data: JsonObject): void {
  const e = eventEmitter ?? scopedEmitter;
  if (e) e(event, data);
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function'
  );
}

/**
 * QEMU's DeviceState: a device instance. The fields mirror QEMU's and are
 * read-only by convention; change them through the functions and
 * properties.
 */
@QomType({ name: TYPE_DEVICE, parent: TYPE_OBJECT, abstract: true })
export class DeviceState extends QomObject {
  /** Devices' class struct. */
  static override readonly classType = DeviceClass;

  /** The `id` given to `-device` / `device_add`, or null for anonymous devices. */
  id: string | null = null;
  /** Whether the device is realized. */
  realized = false;
  /** Whether the device was created once the machine was ready. */
  hotplugged = false;
  /** The canonical path recorded at realize (DEVICE_DELETED reports it). */
  canonicalPathAtRealize: string | null = null;
  /** Set by unrealize: finalization then emits DEVICE_DELETED. */
  pendingDeletedEvent = false;
  /** The options the device was created with (minus driver, bus and id). */
  opts: JsonObject | null = null;
  /** Reasons that block device_del (QEMU's unplug blockers). */
  readonly unplugBlockers: QomError[] = [];
  /** @internal The realization in progress, if it is asynchronous. */
  realizing: Promise<void> | null = null;

  /** QEMU's device_class_init: the properties every device has. */
  static override classInit(dc: DeviceClass): void {
    const props = dc.propertiesOf(this);
    dc.unparent = (obj) => deviceUnparent(objectCheck(obj, DeviceState));
    dc.hotpluggable = true;
    dc.userCreatable = true;
    props.propertyAddBool(
      'realized',
      (dev) => dev.realized,
      (dev, value) => {
        const r = deviceSetRealized(dev, value);
        if (isThenable(r)) {
          r.then(undefined, (e: unknown) =>
            errorReport(e instanceof QomError ? e.pretty() : String(e)),
          );
        }
      },
    );
    props.propertyAddBool('hotpluggable', (dev) => deviceGetClass(dev).hotpluggable);
    props.propertyAddBool('hotplugged', (dev) => dev.hotplugged);
    props.propertyAddLink('parent_bus', 'bus', () => null, null);
  }

  /** QEMU's device_initfn: hot-plugged when created after the machine is ready. */
  override instanceInit(): void {
    if (phaseCheck(MachineInitPhase.MachineReady)) this.hotplugged = true;
  }

  /** QEMU's device_post_init: the `-global` values, before the creator sets its own. */
  override instancePostInit(): void {
    qdevPropSetGlobals(this);
  }

  /** QEMU's device_finalize: DEVICE_DELETED for a device that was realized then unrealized. */
  override instanceFinalize(): void {
    if (this.pendingDeletedEvent && this.canonicalPathAtRealize !== null) {
      const data: JsonObject = {};
      if (this.id !== null) data.device = this.id;
      data.path = this.canonicalPathAtRealize;
      this.canonicalPathAtRealize = null;
      emitEvent('DEVICE_DELETED', data);
    }
  }

  /** The device's class. */
  get deviceClass(): DeviceClass {
    return objectGetClass(this, DeviceClass);
  }
}

/** The DeviceClass of a device (QEMU's DEVICE_GET_CLASS). */
export function deviceGetClass(dev: DeviceState): DeviceClass {
  return objectGetClass(dev, DeviceClass);
}

/** QEMU's DEVICE(): `obj` as a device, or a QomError if it is not one. */
export function deviceCast(obj: QomObject): DeviceState {
  const dev = obj.dynamicCast(DeviceState);
  if (!dev) throw new QomError(`object of type '${obj.typeName}' is not a device`);
  return dev;
}

/** QEMU's qdev_get_machine: `/machine`, created on first use. */
export function qdevGetMachine(): QomObject {
  // The machine object once it exists; a container before (tests, embedders).
  return (
    objectGetRoot().resolvePathComponent('machine') ?? containerGet(objectGetRoot(), 'machine')
  );
}

/** QEMU's qdev_get_peripheral: `/machine/peripheral`, where devices with an id live. */
export function qdevGetPeripheral(): QomObject {
  return machineGetContainer('peripheral');
}

/** QEMU's qdev_get_peripheral_anon: `/machine/peripheral-anon`, for devices without an id. */
export function qdevGetPeripheralAnon(): QomObject {
  return machineGetContainer('peripheral-anon');
}

/** The QERR_DEVICE_NO_HOTPLUG text. */
export function qerrDeviceNoHotplug(typename: string): QomError {
  return new QomError(`Device '${typename}' does not support hotplugging`);
}

let unattachedCount = 0;

function realizeFailed(dev: DeviceState, unattached: boolean, e: unknown): never {
  if (unattached) {
    dev.unparent();
    unattachedCount--;
  }
  throw e;
}

function realizeDone(dev: DeviceState): void {
  for (const l of deviceListeners) l.realize?.(dev);
  dev.canonicalPathAtRealize = dev.canonicalPath();
  if (dev.hotplugged) deviceColdReset(dev);
  dev.pendingDeletedEvent = false;
  dev.realized = true;
}

/**
 * QEMU's device_set_realized: realizes (`value` true) or unrealizes a
 * device. A device without a parent is first put in
 * `/machine/unattached` as `device[N]` (and taken out again if realizing
 * fails). A hot-plugged device is cold-reset once realized. Returns a
 * Promise when the class's realize is asynchronous.
 */
export function deviceSetRealized(dev: DeviceState, value: boolean): void | Promise<void> {
  const dc = deviceGetClass(dev);
  if (dev.hotplugged && !dc.hotpluggable) throw qerrDeviceNoHotplug(dev.typeName);
  if (dev.realizing) {
    throw new QomError(`Device '${dev.id ?? dev.typeName}' is being realized`);
  }
  if (value && !dev.realized) {
    let unattached = false;
    if (!dev.parent) {
      machineGetContainer('unattached').propertyAddChild(`device[${unattachedCount++}]`, dev);
      unattached = true;
    }
    let r: void | Promise<void>;
    try {
      r = dc.realize?.(dev);
    } catch (e) {
      realizeFailed(dev, unattached, e);
    }
    if (isThenable(r)) {
      const p = Promise.resolve(r).then(
        () => {
          dev.realizing = null;
          realizeDone(dev);
        },
        (e: unknown) => {
          dev.realizing = null;
          realizeFailed(dev, unattached, e);
        },
      );
      dev.realizing = p;
      return p;
    }
    realizeDone(dev);
  } else if (!value && dev.realized) {
    dev.realized = false;
    dc.unrealize?.(dev);
    dev.pendingDeletedEvent = true;
    for (let i = deviceListeners.length - 1; i >= 0; i--) deviceListeners[i].unrealize?.(dev);
  }
}

/**
 * QEMU's qdev_realize (without a bus): realizes `dev`, awaiting an
 * asynchronous realize hook. Throws the hook's error.
 */
export async function qdevRealize(dev: DeviceState): Promise<void> {
  if (dev.realized) throw new QomError(`Device '${dev.id ?? dev.typeName}' is already realized`);
  await deviceSetRealized(dev, true);
}

/** QEMU's qdev_unrealize. */
export function qdevUnrealize(dev: DeviceState): void {
  const r = deviceSetRealized(dev, false);
  if (isThenable(r)) throw new QomError('unrealize cannot be asynchronous');
}

/**
 * QEMU's device_cold_reset, for tsqom's single-phase devices: runs the
 * class's reset hook.
 */
export function deviceColdReset(dev: DeviceState): void {
  deviceGetClass(dev).reset?.(dev);
}

/**
 * QEMU's qemu_devices_reset, for a bus-less world: cold-resets every
 * realized device under `/machine`, in tree order.
 */
export function qemuDevicesReset(): void {
  const devs: DeviceState[] = [];
  qdevGetMachine().childForeachRecursive((obj) => {
    const dev = obj.dynamicCast(DeviceState);
    if (dev?.realized) devs.push(dev);
  });
  for (const d of devs) if (!d.finalized) deviceColdReset(d);
}

/** QEMU's qdev_add_unplug_blocker: device_del then fails with `reason`. */
export function qdevAddUnplugBlocker(dev: DeviceState, reason: QomError): void {
  dev.unplugBlockers.unshift(reason);
}

/** QEMU's qdev_del_unplug_blocker. */
export function qdevDelUnplugBlocker(dev: DeviceState, reason: QomError): void {
  const i = dev.unplugBlockers.indexOf(reason);
  if (i >= 0) dev.unplugBlockers.splice(i, 1);
}

/** QEMU's qdev_unplug_blocked: throws the first blocker's error. */
export function qdevUnplugBlocked(dev: DeviceState): boolean {
  if (dev.unplugBlockers.length) throw dev.unplugBlockers[0];
  return false;
}

/**
 * QEMU's device_class_set_parent_realize: installs `realize` and returns
 * the parent's hook for it to chain to.
 */
export function deviceClassSetParentRealize(
  dc: DeviceClass,
  realize: DeviceRealize,
): DeviceRealize | null {
  const parent = dc.realize;
  dc.realize = realize;
  return parent;
}

/** QEMU's device_class_set_parent_unrealize. */
export function deviceClassSetParentUnrealize(
  dc: DeviceClass,
  unrealize: DeviceUnrealize,
): DeviceUnrealize | null {
  const parent = dc.unrealize;
  dc.unrealize = unrealize;
  return parent;
}

/** QEMU's device_class_set_parent_reset. */
export function deviceClassSetParentReset(dc: DeviceClass, reset: DeviceReset): DeviceReset | null {
  const parent = dc.reset;
  dc.reset = reset;
  return parent;
}

/**
 * QEMU's qdev_new: a new device (reference count 1). Given the device's
 * instance class the result has its type; given a type name, it is a
 * DeviceState. Throws `unknown type '%s'` (QEMU aborts) or if the type is
 * not a device.
 */
export function qdevNew<T extends DeviceState>(type: InstanceConstructor<T>): T;
export function qdevNew(typename: string): DeviceState;
export function qdevNew<T extends DeviceState>(type: string | InstanceConstructor<T>): DeviceState {
  if (typeof type !== 'string') return objectNew(type);
  if (!objectClassByName(type)) throw new QomError(`unknown type '${type}'`);
  const obj = objectNew(type);
  const dev = obj.dynamicCast(DeviceState);
  if (!dev) {
    obj.unref();
    throw new QomError(`object type '${type}' is not a device`);
  }
  return dev;
}

// device_unparent: unrealize on the way out of the tree.
function deviceUnparent(dev: DeviceState): void {
  if (dev.realized) qdevUnrealize(dev);
}
