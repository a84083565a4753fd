/**
 * Device properties (QEMU's hw/core/qdev-properties.c): class properties
 * backed by a field of the device, with QEMU's type names (`bool`,
 * `uint32`, `size`, `str`, ...), default values, and the rule that they
 * cannot change once the device is realized.
 *
 * Where QEMU names a struct offset, tsqom names a field:
 *
 * ```ts
 * deviceClassSetProps(dc.propertiesOf(this), [
 *   definePropUint16<MyDevice>('num_vqs', 'numVqs', 1),
 *   definePropBit64<MyDevice>('indirect_desc', 'hostFeatures', 28, true),
 *   definePropString<MyDevice>('chardev', 'chardev'),
 * ]);
 * ```
 * @module
 */
import {
  type ClassProperties,
  type GlobalProperty,
  type JsonValue,
  type ObjectProperty,
  type OutputVisitor,
  QomError,
  type Visitor,
  objectApplyGlobalProps,
  objectClassByName,
} from '../../qom/index.js';
import { warnReport } from '../../util/error-report.js';
import { DeviceClass, type DeviceState, TYPE_DEVICE } from './qdev.js';

/** The field names of `D` whose values are `T`. */
export type FieldOfType<D, T> = {
  [K in keyof D]-?: D[K] extends T ? (T extends D[K] ? K : never) : never;
}[keyof D] &
  string;

/**
 * One device property (QEMU's `Property` with its `PropertyInfo`): the
 * name, the QOM type string, the accessors on the device, and the
 * optional description and default.
 */
export interface QdevProperty<D extends DeviceState = DeviceState> {
  /** Property name, e.g. `num_vqs`. */
  readonly name: string;
  /** QOM type string, e.g. `uint16` (QEMU's `PropertyInfo.name`). */
  readonly type: string;
  /** QEMU's `PropertyInfo.description`. */
  readonly description?: string;
  /** Default value, applied to every new device; absent for none. */
  readonly defval?: JsonValue;
  /** Writes the value to an output visitor. */
  get(dev: D, v: OutputVisitor, name: string): void;
  /** Reads a new value from an input visitor and stores it. */
  set(dev: D, v: Visitor, name: string): void;
}

function field<D>(dev: D, key: string): unknown {
  return (dev as Record<string, unknown>)[key];
}

function store<D>(dev: D, key: string, value: unknown): void {
  (dev as Record<string, unknown>)[key] = value;
}

/** DEFINE_PROP_BOOL: a `bool` field. */
export function definePropBool<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, boolean>,
  defval?: boolean,
): QdevProperty<D> {
  return {
    name,
    type: 'bool',
    defval,
    get: (dev, v, n) => v.typeBool(n, field(dev, key) as boolean),
    set: (dev, v, n) => store(dev, key, v.typeBool(n)),
  };
}

/** DEFINE_PROP_BIT64: bit `bit` of a bigint field, as a `bool` described `on/off`. */
export function definePropBit64<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, bigint>,
  bit: number,
  defval: boolean,
): QdevProperty<D> {
  const mask = 1n << BigInt(bit);
  return {
    name,
    type: 'bool',
    description: 'on/off',
    defval,
    get: (dev, v, n) => v.typeBool(n, ((field(dev, key) as bigint) & mask) !== 0n),
    set: (dev, v, n) => {
      const on = v.typeBool(n);
      const cur = field(dev, key) as bigint;
      store(dev, key, on ? cur | mask : cur & ~mask);
    },
  };
}

/** DEFINE_PROP_UINT8: a number field, 0..255. */
export function definePropUint8<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, number>,
  defval?: number,
): QdevProperty<D> {
  return {
    name,
    type: 'uint8',
    defval,
    get: (dev, v, n) => v.typeUint8(n, field(dev, key) as number),
    set: (dev, v, n) => store(dev, key, v.typeUint8(n)),
  };
}

/** DEFINE_PROP_UINT16: a number field, 0..65535. */
export function definePropUint16<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, number>,
  defval?: number,
): QdevProperty<D> {
  return {
    name,
    type: 'uint16',
    defval,
    get: (dev, v, n) => v.typeUint16(n, field(dev, key) as number),
    set: (dev, v, n) => store(dev, key, v.typeUint16(n)),
  };
}

/** DEFINE_PROP_UINT32: a number field, 0..2^32-1. */
export function definePropUint32<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, number>,
  defval?: number,
): QdevProperty<D> {
  return {
    name,
    type: 'uint32',
    defval,
    get: (dev, v, n) => v.typeUint32(n, field(dev, key) as number),
    set: (dev, v, n) => store(dev, key, v.typeUint32(n)),
  };
}

/** DEFINE_PROP_INT32: a number field, signed 32-bit. */
export function definePropInt32<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, number>,
  defval?: number,
): QdevProperty<D> {
  return {
    name,
    type: 'int32',
    defval,
    get: (dev, v, n) => v.typeInt32(n, field(dev, key) as number),
    set: (dev, v, n) => store(dev, key, v.typeInt32(n)),
  };
}

/** DEFINE_PROP_UINT64: a bigint field. */
export function definePropUint64<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, bigint>,
  defval?: bigint | number,
): QdevProperty<D> {
  return {
    name,
    type: 'uint64',
    defval,
    get: (dev, v, n) => v.typeUint64(n, field(dev, key) as bigint),
    set: (dev, v, n) => store(dev, key, v.typeUint64(n)),
  };
}

/** DEFINE_PROP_SIZE: a bigint field; strings take K/M/G/T/P/E suffixes. */
export function definePropSize<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, bigint>,
  defval?: bigint | number,
): QdevProperty<D> {
  return {
    name,
    type: 'size',
    defval,
    get: (dev, v, n) => v.typeSize(n, field(dev, key) as bigint),
    set: (dev, v, n) => store(dev, key, v.typeSize(n)),
  };
}

/** DEFINE_PROP_STRING: a `string | null` field (null reads as ""). */
export function definePropString<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, string | null>,
): QdevProperty<D> {
  return {
    name,
    type: 'str',
    get: (dev, v, n) => v.typeStr(n, (field(dev, key) as string | null) ?? ''),
    set: (dev, v, n) => store(dev, key, v.typeStr(n)),
  };
}

/**
 * DEFINE_PROP_CHR's shape: the id of a chardev, stored as a string (type
 * `str`, QEMU's description). Resolving the chardev is the device's job.
 */
export function definePropChr<D extends DeviceState>(
  name: string,
  key: FieldOfType<D, string | null>,
): QdevProperty<D> {
  return { ...definePropString<D>(name, key), description: 'ID of a chardev to use as a backend' };
}

/**
 * QEMU's qdev_prop_set_after_realize: the error for changing a property
 * of a realized device.
 */
export function qdevPropSetAfterRealize(dev: DeviceState, name: string): QomError {
  return dev.id !== null
    ? new QomError(
        `Attempt to set property '${name}' on device '${dev.id}' (type '${dev.typeName}') after it was realized`,
      )
    : new QomError(
        `Attempt to set property '${name}' on anonymous device (type '${dev.typeName}') after it was realized`,
      );
}

/**
 * QEMU's device_class_set_props: adds each property to the class (reached
 * through `dc.propertiesOf(Ctor)`, so the fields belong to the class's
 * instances), with its description and default; setting one on a realized
 * device fails with {@link qdevPropSetAfterRealize}'s text.
 */
export function deviceClassSetProps<D extends DeviceState>(
  dc: ClassProperties<D>,
  props: readonly QdevProperty<D>[],
): ObjectProperty[] {
  const klass = dc.klass;
  return props.map((p) => {
    const op = dc.propertyAdd(
      p.name,
      p.type,
      (dev, v, name) => p.get(dev, v, name),
      (dev, v, name) => {
        if (dev.realized) throw qdevPropSetAfterRealize(dev, name);
        p.set(dev, v, name);
      },
    );
    if (p.defval !== undefined) klass.propertySetDefault(p.name, p.defval);
    klass.propertySetDescription(p.name, p.description);
    return op;
  });
}

/** The `-global` properties, in registration order (QEMU's global_props()). */
const globalProps: GlobalProperty[] = [];

/**
 * QEMU's qdev_prop_register_global: devices of `prop.driver` (and its
 * subtypes) created from now on get the value before their own
 * properties are set. Globals for other types are kept and reported by
 * {@link qdevPropCheckGlobals}, as QEMU 7.2 does: they apply to devices
 * only.
 */
export function qdevPropRegisterGlobal(prop: Omit<GlobalProperty, 'used'>): void {
  globalProps.push({ ...prop, used: false });
}

/** The registered globals (QEMU's global_props()). */
export function qdevGlobalProps(): readonly GlobalProperty[] {
  return globalProps;
}

/** Forgets every registered global (a process that starts a machine again). */
export function qdevPropClearGlobals(): void {
  globalProps.length = 0;
}

/**
 * QEMU's qdev_prop_set_globals, from device_post_init: applies the
 * globals to a new device. A failure is an error for a device created
 * with the machine (the command line's) and a warning for a hot-plugged
 * one, as in QEMU.
 */
export function qdevPropSetGlobals(dev: DeviceState): void {
  if (globalProps.length === 0) return;
  objectApplyGlobalProps(dev, globalProps, dev.hotplugged ? 'warn' : 'throw');
}

/**
 * QEMU's qdev_prop_check_globals, once the machine is created: warns
 * about each global that was never applied and names no device type
 * (`global D.P has invalid class name`) or a device type that cannot be
 * hot-plugged later (`global D.P=V not used`). Returns whether it warned.
 */
export function qdevPropCheckGlobals(): boolean {
  let warned = false;
  for (const p of globalProps) {
    if (p.used) continue;
    const oc = objectClassByName(p.driver);
    const dc = oc?.isA(TYPE_DEVICE) ? oc.dynamicCast(DeviceClass) : null;
    if (!dc) {
      warnReport(`global ${p.driver}.${p.property} has invalid class name`);
      warned = true;
      continue;
    }
    if (!dc.hotpluggable) {
      warnReport(`global ${p.driver}.${p.property}=${p.value} not used`);
      warned = true;
    }
  }
  return warned;
}
