/**
 * Creating and removing devices from the command line and QMP (QEMU 7.2's
 * softmmu/qdev-monitor.c): `-device DRIVER,id=ID,prop=value,...`,
 * `device_add` and `device_del`, with QEMU's order of steps and error
 * texts.
 *
 * Creation follows qdev_device_add_from_qdict: the driver is looked up
 * (`'%s' is not a valid device model name`, `Parameter 'driver' expects a
 * non-abstract device type`, `... a pluggable device type`), the device is
 * created, placed as `/machine/peripheral/<id>` (`Duplicate device ID
 * '%s'`) or `/machine/peripheral-anon/device[N]`, its properties are set
 * from strings (`Property '%s.%s' not found`, the visitors' texts), and it
 * is realized. If any step fails nothing remains in the tree.
 * @module
 */
import { jsonCopyFloatMarks } from '../../qobject/qobject.js';
import {
  type JsonObject,
  type JsonValue,
  QomError,
  formatDouble,
  objectClassByName,
  objectResolvePathAt,
  objectSetPropertiesFromKeyval,
} from '../../qom/index.js';
import { ID_HINT, QemuOptsList, idWellformed, type QemuOpts } from '../../util/qemu-option.js';
import {
  DeviceClass,
  DeviceState,
  MachineInitPhase,
  TYPE_DEVICE,
  deviceGetClass,
  phaseCheck,
  qdevGetPeripheral,
  qdevGetPeripheralAnon,
  qdevNew,
  qdevRealize,
  qdevUnplugBlocked,
  qdevWithEventEmitter,
  qerrDeviceNoHotplug,
  type QdevEventEmitter,
} from './qdev.js';

/**
 * QEMU's `device` option list (`-device`, implied key `driver`). Parse
 * `-device` arguments with it so that a duplicate `id` is refused as QEMU
 * does (`Duplicate ID 'x' for device`); {@link qdevDeviceAdd} forgets a
 * group once the device is created, so the id can be used again after
 * `device_del`.
 */
export const qemuDeviceOpts = new QemuOptsList('device', 'driver');

/**
 * QEMU's qdev_get_device_class: the class of `driver` if it is a
 * creatable device type, else QEMU's error.
 */
export function qdevGetDeviceClass(driver: string): DeviceClass {
  const oc = objectClassByName(driver);
  const dc = oc?.isA(TYPE_DEVICE) ? oc.dynamicCast(DeviceClass) : null;
  if (!dc) {
    throw new QomError(`'${driver}' is not a valid device model name`);
  }
  if (dc.isAbstract) {
    throw new QomError("Parameter 'driver' expects a non-abstract device type");
  }
  if (!dc.userCreatable || (phaseCheck(MachineInitPhase.MachineReady) && !dc.hotpluggable)) {
    throw new QomError("Parameter 'driver' expects a pluggable device type");
  }
  return dc;
}

let anonCount = 0;

/**
 * QEMU's qdev_set_id: makes `dev` the child `id` of `/machine/peripheral`
 * (`Duplicate device ID '%s'` if the name is taken, by a device or by any
 * property), or `device[N]` of `/machine/peripheral-anon` without an id.
 * Returns the child property's name.
 */
export function qdevSetId(dev: DeviceState, id: string | null): string {
  if (dev.id !== null || dev.realized) {
    throw new QomError(`Device '${dev.id ?? dev.typeName}' already has an id or is realized`);
  }
  if (id !== null) {
    const peripheral = qdevGetPeripheral();
    if (peripheral.propertyFind(id)) throw new QomError(`Duplicate device ID '${id}'`);
    peripheral.propertyAddChild(id, dev);
    dev.id = id;
    return id;
  }
  const name = `device[${anonCount++}]`;
  qdevGetPeripheralAnon().propertyAddChild(name, dev);
  return name;
}

function qdictGetTryStr(d: JsonObject, key: string): string | null {
  const v = d[key];
  return typeof v === 'string' ? v : null;
}

function firstBusElement(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.length ? parts[0] : path;
}

/**
 * QEMU's qdev_device_add_from_qdict: creates, places, configures and
 * realizes a device from `opts` (`driver`, optional `bus` and `id`, the
 * rest are properties). `fromJson` false means the values are QemuOpts
 * strings (parsed as `-device` does); true means JSON values. On success
 * the device is kept alive by its place in the tree and returned; on
 * failure it is removed and the error thrown.
 */
export async function qdevDeviceAddFromQdict(
  opts: JsonObject,
  fromJson: boolean,
): Promise<DeviceState> {
  const driver = qdictGetTryStr(opts, 'driver');
  if (driver === null) throw new QomError("Parameter 'driver' is missing");
  qdevGetDeviceClass(driver);
  const bus = qdictGetTryStr(opts, 'bus');
  // tsqom has no buses: any bus path names one that does not exist.
  if (bus !== null) throw new QomError(`Bus '${firstBusElement(bus)}' not found`);

  const id = qdictGetTryStr(opts, 'id');
  if (id !== null && !idWellformed(id)) {
    throw new QomError("Parameter 'id' expects an identifier", 'GenericError', ID_HINT);
  }
  const dev = qdevNew(driver);
  try {
    qdevSetId(dev, id);
    const props: JsonObject = {};
    for (const k of Object.keys(opts)) {
      if (k === 'driver' || k === 'bus' || k === 'id') continue;
      props[k] = opts[k];
    }
    jsonCopyFloatMarks(opts, props);
    dev.opts = props;
    objectSetPropertiesFromKeyval(dev, props, fromJson);
    await qdevRealize(dev);
  } catch (e) {
    if (!dev.finalized) {
      dev.unparent();
      dev.unref();
    }
    throw e;
  }
  dev.unref();
  return dev;
}

/** QEMU's qemu_opts_to_qdict: `id` first, then each option (a later repeat wins). */
export function qemuOptsToQdict(opts: QemuOpts): JsonObject {
  const d: JsonObject = {};
  if (opts.id !== undefined) d.id = opts.id;
  for (const o of opts.opts) d[o.name] = o.str;
  return d;
}

/**
 * QEMU's qdev_device_add: creates the device an option group describes
 * (from `qemuDeviceOpts.parse('driver,id=x,prop=v')` or any QemuOpts).
 * The group is forgotten from {@link qemuDeviceOpts} afterwards.
 */
export async function qdevDeviceAdd(opts: QemuOpts): Promise<DeviceState> {
  try {
    return await qdevDeviceAddFromQdict(qemuOptsToQdict(opts), false);
  } finally {
    if (opts.id !== undefined) qemuDeviceOpts.del(opts.id);
  }
}

// qemu_opts_from_qdict_entry: strings as they are, numbers and booleans
// printed, anything else silently dropped.
function qoptValue(v: JsonValue): string | null {
  switch (typeof v) {
    case 'string':
      return v;
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isInteger(v) ? String(v) : formatDouble(v);
    case 'boolean':
      return v ? 'on' : 'off';
    default:
      return null;
  }
}

/**
 * QMP `device_add` (QEMU 7.2's qmp_device_add): the arguments become a
 * `device` option group first (`Parameter 'id' expects an identifier`
 * with its hint, `Duplicate ID '%s' for device`; numbers and booleans
 * become strings, other values are dropped), then the device is created
 * as `-device` would. Resolves with the device.
 */
export async function qmpDeviceAdd(args: JsonObject): Promise<DeviceState> {
  const id = qdictGetTryStr(args, 'id');
  if (id !== null) {
    if (!idWellformed(id)) {
      throw new QomError("Parameter 'id' expects an identifier", 'GenericError', ID_HINT);
    }
    if (qemuDeviceOpts.find(id)) throw new QomError(`Duplicate ID '${id}' for device`);
  }
  const qdict: JsonObject = {};
  if (id !== null) qdict.id = id;
  for (const k of Object.keys(args)) {
    if (k === 'id') continue;
    const s = qoptValue(args[k]);
    if (s !== null) qdict[k] = s;
  }
  return qdevDeviceAddFromQdict(qdict, false);
}

/**
 * QEMU's find_device_state: `id` is a path relative to
 * `/machine/peripheral` (or absolute). Unknown: DeviceNotFound `Device
 * '%s' not found`; not a device: `%s is not a hotpluggable device`.
 */
export function findDeviceState(id: string): DeviceState {
  const obj = objectResolvePathAt(qdevGetPeripheral(), id);
  if (!obj) throw new QomError(`Device '${id}' not found`, 'DeviceNotFound');
  const dev = obj.dynamicCast(DeviceState);
  if (!dev) throw new QomError(`${id} is not a hotpluggable device`);
  return dev;
}

/**
 * QEMU's qdev_unplug, with the machine as the hotplug handler of every
 * (bus-less) device: unplug blockers, then `Device '%s' does not support
 * hotplugging` for a class that is not hotpluggable, then the device is
 * unrealized and removed from the tree (it is finalized once nothing else
 * holds it; DEVICE_DELETED is emitted then).
 */
export function qdevUnplug(dev: DeviceState): void {
  qdevUnplugBlocked(dev);
  if (!deviceGetClass(dev).hotpluggable) throw qerrDeviceNoHotplug(dev.typeName);
  dev.unparent();
}

/** QMP `device_del`. */
export function qmpDeviceDel(id: string): void {
  qdevUnplug(findDeviceState(id));
}

/** The shape of a QMP command this module registers (structurally the monitor's QmpCommand). */
export interface QdevQmpCommand {
  /** Command name. */
  name: string;
  /** QAPI argument schema (member name to type). */
  args?: { readonly [name: string]: 'str' };
  /** Arguments passed through unchecked (QAPI `gen: false`). */
  rawArgs?: boolean;
  /** Runs the command; resolves with the `return` value. */
  handler(args: JsonObject, ctx: QdevQmpContext): JsonObject | Promise<JsonObject>;
}

/** The part of the monitor's host the commands use. */
export interface QdevQmpHost {
  /** Sends an event to the monitors. */
  emitEvent(event: string, data?: JsonObject): void;
}

/** The part of the calling monitor the commands use. */
export interface QdevQmpMonitor {
  /** Its host, for events. */
  readonly host: QdevQmpHost;
}

/** What the commands use from the monitor's context: its event function. */
export interface QdevQmpContext {
  /** The calling monitor. */
  readonly monitor: QdevQmpMonitor;
}

function ctxEmitter(ctx: QdevQmpContext): QdevEventEmitter {
  return (event, data) => ctx.monitor.host.emitEvent(event, data);
}

/**
 * Registers `device_add` (arguments unchecked, as QEMU's `gen: false`
 * command) and `device_del` (`{id: 'str'}`) with a monitor's register
 * function, e.g. `registerQdevQmpCommands((c) => registry.register(c))`.
 * Unless `qdevSetEventEmitter` set one, a DEVICE_DELETED caused by
 * `device_del` goes to the calling monitor's host.
 */
export function registerQdevQmpCommands(register: (cmd: QdevQmpCommand) => void): void {
  register({
    name: 'device_add',
    rawArgs: true,
    async handler(args) {
      await qmpDeviceAdd(args);
      return {};
    },
  });
  register({
    name: 'device_del',
    args: { id: 'str' },
    handler(args, ctx) {
      qdevWithEventEmitter(ctxEmitter(ctx), () => qmpDeviceDel(args.id as string));
      return {};
    },
  });
}
