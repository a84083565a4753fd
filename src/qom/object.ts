/**
 * The QEMU Object Model: types, classes, objects, properties and the
 * composition tree (QEMU's qom/object.c, qom/container.c and
 * qom/qom-qobject.c).
 *
 * Types are registered with {@link typeRegister} (or the {@link QomType}
 * decorator in `decorator.ts`) and initialised lazily on first use: the
 * parent class first, then the class struct is created and the parent's
 * fields are copied into it (QEMU's memcpy of the class struct), interface
 * classes are built, `classBaseInit` of every ancestor runs, then the
 * type's own `classInit`.
 *
 * Objects are created with {@link objectNew} (reference count 1); the
 * `instanceInit` hooks run root to leaf, then the `instancePostInit` hooks
 * root to leaf; when the last reference goes, the object's properties are
 * released (children first, as they come) and the `instanceFinalize` hooks
 * run leaf to root. Lifecycle hooks defined as methods on a class must not
 * call `super`: the framework runs every level itself, in QOM order.
 *
 * `new SomeQomClass()` outside {@link objectNew} throws: an object
 * constructed that way would have skipped its class's initialisation.
 * @module
 */
import { trace } from '../util/trace.js';
import { QomError, errorPrepend } from '../util/error.js';
import { warnReport } from '../util/error-report.js';
import { type JsonValue, isJsonInteger } from '../qobject/qobject.js';
import {
  ForwardFieldInputVisitor,
  ForwardFieldOutputVisitor,
  type OutputVisitor,
  type QEnumLookup,
  QObjectInputVisitor,
  QObjectOutputVisitor,
  StringInputVisitor,
  StringOutputVisitor,
  type Visitor,
  qapiEnumParse,
} from '../qapi/visitor.js';

const traceQom = trace('qom');

/** The root of all object types (abstract). */
export const TYPE_OBJECT = 'object';
/** The root of all interface types. */
export const TYPE_INTERFACE = 'interface';
/** A plain object that only holds children (QEMU's `container`). */
export const TYPE_CONTAINER = 'container';
/** The interface of objects that `-object` and `object-add` can create. */
export const TYPE_USER_CREATABLE = 'user-creatable';

// ---------------------------------------------------------------------------
// Property accessor types

/** Setter: reads the new value from an input visitor (QEMU's ObjectPropertyAccessor). */
export type ObjectPropertyAccessor<O extends QomObject = QomObject> = (
  obj: O,
  v: Visitor,
  name: string,
  opaque: unknown,
) => void;
/** Getter: writes the value to an output visitor. */
export type ObjectPropertyGetter<O extends QomObject = QomObject> = (
  obj: O,
  v: OutputVisitor,
  name: string,
  opaque: unknown,
) => void;
/** Called when the property is deleted or its object finalized. */
export type ObjectPropertyRelease<O extends QomObject = QomObject> = (
  obj: O,
  name: string,
  opaque: unknown,
) => void;
/** Path resolution through the property (child, link and alias properties). */
export type ObjectPropertyResolve<O extends QomObject = QomObject> = (
  obj: O,
  opaque: unknown,
  part: string,
) => QomObject | null;
/** Runs at object creation for class properties (used for default values). */
export type ObjectPropertyInit<O extends QomObject = QomObject> = (
  obj: O,
  prop: ObjectProperty,
) => void;

/**
 * The hook slots of a stored {@link ObjectProperty}. They are declared as
 * methods so that hooks written for a subtype (`(obj: MyDevice, ...) =>`)
 * fit: a property only ever runs its hooks on objects of the type it was
 * added to, as in QEMU.
 */
export interface ObjectPropertyHooks {
  /** See {@link ObjectPropertyGetter}. */
  get(obj: QomObject, v: OutputVisitor, name: string, opaque: unknown): void;
  /** See {@link ObjectPropertyAccessor}. */
  set(obj: QomObject, v: Visitor, name: string, opaque: unknown): void;
  /** See {@link ObjectPropertyRelease}. */
  release(obj: QomObject, name: string, opaque: unknown): void;
  /** See {@link ObjectPropertyResolve}. */
  resolve(obj: QomObject, opaque: unknown, part: string): QomObject | null;
  /** See {@link ObjectPropertyInit}. */
  init(obj: QomObject, prop: ObjectProperty): void;
}

/** A link property's check hook: throw to refuse `target` (QEMU's `check`). */
export type LinkCheck<O extends QomObject = QomObject, T extends QomObject = QomObject> = (
  obj: O,
  name: string,
  target: T | null,
) => void;

/**
 * QEMU's `object_property_allow_set_link`: a link check that always
 * allows. A link property without a check is read-only, as in QEMU.
 */
export function objectPropertyAllowSetLink(
  _obj: QomObject,
  _name: string,
  _target: QomObject | null,
): void {}

/**
 * One property of an object or of a class (QEMU's `ObjectProperty`).
 * Class properties are shared by all instances; their accessors receive the
 * instance as first argument.
 */
export class ObjectProperty {
  /** Property name. */
  readonly name: string;
  /** Type string, e.g. `bool`, `string`, `uint64`, `link<memory-backend>`, `child<container>`. */
  readonly type: string;
  /** Human description (qom-list-properties, `-object help`). */
  description: string | undefined = undefined;
  /** Getter, or null when the property is not readable. */
  get: ObjectPropertyHooks['get'] | null;
  /** Setter, or null when the property is not writable. */
  set: ObjectPropertyHooks['set'] | null;
  /** Release hook, or null. */
  release: ObjectPropertyHooks['release'] | null;
  /** Path resolution hook, or null. */
  resolve: ObjectPropertyHooks['resolve'] | null;
  /** Creation-time hook (defaults), or null. */
  init: ObjectPropertyHooks['init'] | null = null;
  /** Data for the accessors (QEMU's opaque pointer). */
  opaque: unknown;
  /** Default value (reported as `default-value`), or undefined. */
  defval: JsonValue | undefined = undefined;
  /** For enum properties: the lookup table. */
  enumLookup: QEnumLookup | undefined = undefined;
  /** Whether this is a `child<...>` property. */
  readonly isChild: boolean;
  /**
   * @internal A shortcut for well-typed JSON input: stores the value and
   * returns true, or returns false to let the visitor path run (and report
   * QEMU's error). Only used while `set` is still `fastSetFor`.
   */
  fastSet: ((obj: any, value: JsonValue) => boolean) | null = null;
  /** @internal The setter `fastSet` stands for. */
  fastSetFor: ObjectPropertyAccessor<any> | null = null;

  /**
   * @param name - the name.
   * @param type - the type string.
   * @param get - getter or null.
   * @param set - setter or null.
   * @param release - release hook or null.
   * @param resolve - resolve hook or null.
   * @param opaque - accessor data.
   */
  constructor(
    name: string,
    type: string,
    get: ObjectPropertyHooks['get'] | null = null,
    set: ObjectPropertyHooks['set'] | null = null,
    release: ObjectPropertyHooks['release'] | null = null,
    resolve: ObjectPropertyHooks['resolve'] | null = null,
    opaque: unknown = undefined,
  ) {
    this.name = name;
    this.type = type;
    this.get = get;
    this.set = set;
    this.release = release;
    this.resolve = resolve;
    this.opaque = opaque;
    this.isChild = type.startsWith('child<');
  }

  /** Whether this is a `link<...>` property. */
  get isLink(): boolean {
    return this.type.startsWith('link<');
  }

  /**
   * QEMU's `object_property_set_default_*`: records `value` as the default
   * and, for class properties, applies it through the setter to every new
   * instance before `instanceInit` runs.
   */
  setDefault(value: JsonValue): this {
    if (this.defval !== undefined || this.init !== null) {
      throw new QomError(`property '${this.name}' already has a default value`);
    }
    if (!this.set) throw new QomError(`property '${this.name}' has a default value but no setter`);
    this.defval = value;
    this.init = initDefval;
    return this;
  }
}

function initDefval(obj: QomObject, prop: ObjectProperty): void {
  prop.set!(obj, new QObjectInputVisitor(prop.defval as JsonValue), prop.name, prop.opaque);
}

// ---------------------------------------------------------------------------
// Types

/**
 * The constructor of a class struct (`TypeInfo.classType`): it takes no
 * arguments because QOM builds and initialises class structs itself.
 */
export type ClassConstructor<C extends ObjectClass = ObjectClass> = new () => C;

/**
 * The constructor of instances (`TypeInfo.instanceType`). It may be
 * abstract: QOM instantiates only the concrete types' constructors, and
 * takes no arguments because properties are set after creation.
 */
export type InstanceConstructor<O extends QomObject = QomObject> = abstract new () => O;

/**
 * Any QOM instance constructor, whatever its instance type: the key under
 * which a registered class is found again (see {@link typeNameOfConstructor}).
 */
export type AnyCtor = abstract new () => object;

/**
 * A class struct constructor used as a type in casts
 * ({@link objectClassDynamicCast}); abstract ones are allowed.
 */
export type ClassType<C extends ObjectClass = ObjectClass> = abstract new () => C;

/**
 * A type's registration record (QEMU's `TypeInfo`). Instance and class
 * sizes become constructors: `instanceType` is the JS class of instances
 * (default: the parent's), `classType` the class struct (default: the
 * parent's); a child's `classType` must extend its parent's.
 */
export interface TypeInfo<C extends ObjectClass = ObjectClass, O extends QomObject = QomObject> {
  /** Type name: `[A-Za-z0-9][A-Za-z0-9._-]+`, not starting with 0. */
  name: string;
  /** Parent type name (required except for the roots). */
  parent?: string;
  /** Whether instances may not be created. */
  abstract?: boolean;
  /** Names of the interfaces this type implements. */
  interfaces?: readonly string[];
  /** The class struct constructor (QEMU's class_size). */
  classType?: ClassConstructor<C>;
  /**
   * The instance constructor (QEMU's instance_size). Methods named
   * `instanceInit`, `instancePostInit`, `instanceFinalize` defined on this
   * class itself (not inherited) serve as the hooks the info leaves unset;
   * so do own `complete`/`canBeDeleted` methods for user-creatable types.
   */
  instanceType?: InstanceConstructor<O>;
  /** Initialises the type's class, after its parents'. */
  classInit?(oc: C, data: unknown): void;
  /** Runs for every descendant class, before its classInit (nearest ancestor first). */
  classBaseInit?(oc: C, data: unknown): void;
  /** Initialises an instance (root to leaf). */
  instanceInit?(obj: O): void;
  /** Runs after every instanceInit (root to leaf). */
  instancePostInit?(obj: O): void;
  /** Tears an instance down (leaf to root). */
  instanceFinalize?(obj: O): void;
  /** Passed to classInit and classBaseInit. */
  classData?: unknown;
}

type Hook = (obj: QomObject) => void;

class TypeImpl {
  readonly name: string;
  readonly parentName: string | null;
  parentType: TypeImpl | null = null;
  readonly info: Readonly<TypeInfo<any, any>>;
  abstract: boolean;
  klass: ObjectClass | null = null;
  initializing = false;
  classCtor: (new () => ObjectClass) | null = null;
  instanceCtor: AnyCtor | null = null;
  readonly interfaceNames: readonly string[];
  readonly classInit: ((oc: any, data: unknown) => void) | undefined;
  readonly classBaseInit: ((oc: any, data: unknown) => void) | undefined;
  readonly classData: unknown;
  readonly instanceInit: Hook | undefined;
  readonly instancePostInit: Hook | undefined;
  readonly instanceFinalize: Hook | undefined;
  /** The instance class's prototype whose own methods fill class slots (claimed ctor only). */
  readonly ownProto: Record<string, unknown> | null;
  /** The class struct this registration names (TypeInfo or the instance class's static). */
  readonly declaredClassType: (new () => ObjectClass) | undefined;
  // Computed at initialisation:
  ancestors: Set<string> = new Set();
  initChain: Hook[] = [];
  postInitChain: Hook[] = [];
  finalizeChain: Hook[] = [];
  isInterface = false;

  constructor(info: TypeInfo<any, any>, parentType: TypeImpl | null = null, claimsCtor = false) {
    this.info = Object.freeze({ ...info });
    this.name = info.name;
    this.parentName = info.parent ?? null;
    this.parentType = parentType;
    this.abstract = info.abstract === true;
    this.interfaceNames = Object.freeze([...(info.interfaces ?? [])]);
    this.classInit = info.classInit;
    this.classBaseInit = info.classBaseInit;
    this.classData = info.classData;
    // QomObject's own hooks are no-ops: nothing to adopt for `object`.
    const proto =
      claimsCtor && info.instanceType && info.instanceType !== QomObject
        ? (info.instanceType.prototype as Record<string, unknown>)
        : null;
    const own = (k: string): Hook | undefined => {
      if (!proto || !Object.prototype.hasOwnProperty.call(proto, k)) return undefined;
      const fn = proto[k];
      return typeof fn === 'function'
        ? (obj: QomObject) => (fn as (this: QomObject) => void).call(obj)
        : undefined;
    };
    this.instanceInit = info.instanceInit ?? own('instanceInit');
    this.instancePostInit = info.instancePostInit ?? own('instancePostInit');
    this.instanceFinalize = info.instanceFinalize ?? own('instanceFinalize');
    this.ownProto = proto;
    let cls = info.classType as (new () => ObjectClass) | undefined;
    // The instance class's own static `classType` names the class struct
    // (QOM's default, the parent's, applies when the class declares none).
    if (
      !cls &&
      info.instanceType &&
      Object.prototype.hasOwnProperty.call(info.instanceType, 'classType')
    ) {
      cls = staticClassType(info.instanceType);
    }
    this.declaredClassType = cls;
  }

  getParent(): TypeImpl | null {
    if (!this.parentType && this.parentName !== null) {
      const p = typeTable.get(this.parentName);
      if (!p) throw new QomError(`Type '${this.name}' is missing its parent '${this.parentName}'`);
      this.parentType = p;
    }
    return this.parentType;
  }

  isAncestor(target: TypeImpl): boolean {
    if (this === target) return true;
    for (let t = this.getParent(); t; t = t.getParent()) if (t === target) return true;
    return false;
  }
}

const typeTable = new Map<string, TypeImpl>();
const ctorTypes = new Map<AnyCtor, TypeImpl>();
// Class struct constructors, each mapped to the first type that declared it.
const classCtorTypes = new Map<abstract new () => ObjectClass, TypeImpl>();
let enumeratingTypes = false;
let typeInterface: TypeImpl | null = null;

function typeNameIsValid(name: string): boolean {
  if (typeof name !== 'string' || name.length <= 1) return false;
  const c = name[0];
  if (!/[A-Za-z0-9]/.test(c) || c === '0') return false;
  return /^[A-Za-z0-9._-]+$/.test(name);
}

function typeRegisterInternal(info: TypeInfo<any, any>): TypeImpl {
  if (!typeNameIsValid(info.name)) {
    throw new QomError(`Registering '${info.name}' with illegal type name`);
  }
  if (typeTable.has(info.name)) {
    throw new QomError(`Registering \`${info.name}' which already exists`);
  }
  if (enumeratingTypes) throw new QomError(`Registering '${info.name}' while enumerating types`);
  const claims = info.instanceType !== undefined && !ctorTypes.has(info.instanceType);
  const ti = new TypeImpl(info, null, claims);
  typeTable.set(ti.name, ti);
  if (claims) ctorTypes.set(info.instanceType!, ti);
  const cls = ti.declaredClassType;
  if (cls && !classCtorTypes.has(cls)) classCtorTypes.set(cls, ti);
  return ti;
}

/** Opaque handle returned by {@link typeRegister} (QEMU's `Type`). */
export interface TypeHandle {
  /** The registered name. */
  readonly name: string;
}

/**
 * Registers a type (QEMU's `type_register_static`). Throws QEMU's texts
 * for an illegal name (``Registering 'x' with illegal type name``) or a
 * duplicate (``Registering `x' which already exists``). The type is
 * initialised lazily, on first use.
 */
export function typeRegister<C extends ObjectClass = ObjectClass, O extends QomObject = QomObject>(
  info: TypeInfo<C, O>,
): TypeHandle {
  if (!info.parent) throw new QomError(`Registering '${info.name}' without a parent type`);
  const ti = typeRegisterInternal(info);
  return { name: ti.name };
}

/** Registers several types in order (QEMU's `type_register_static_array` / DEFINE_TYPES). */
export function typeRegisterArray(infos: readonly TypeInfo[]): TypeHandle[] {
  return infos.map((i) => typeRegister(i));
}

/** The frozen TypeInfo a type was registered with, or null. */
export function typeGetInfo(name: string): Readonly<TypeInfo> | null {
  return typeTable.get(name)?.info ?? null;
}

/** The type name registered for an instance constructor (the decorator's parent default). */
export function typeNameOfConstructor(ctor: AnyCtor): string | null {
  return ctorTypes.get(ctor)?.name ?? null;
}

let constructingClass: TypeImpl | null = null;
let classPropsVersion = 0;

function typeInitialize(ti: TypeImpl): ObjectClass {
  if (ti.klass) return ti.klass;
  if (ti.initializing) throw new QomError(`type '${ti.name}' is initialised recursively`);
  ti.initializing = true;
  try {
    const parent = ti.getParent();
    const parentClass = parent ? typeInitialize(parent) : null;
    ti.classCtor =
      ti.declaredClassType ??
      parent?.classCtor ??
      (ti.name === TYPE_INTERFACE ? InterfaceClass : ObjectClass);
    ti.instanceCtor = (ti.info.instanceType as AnyCtor | undefined) ?? parent?.instanceCtor ?? null;
    if (
      parent &&
      parent.classCtor &&
      ti.classCtor !== parent.classCtor &&
      !(ti.classCtor.prototype instanceof parent.classCtor)
    ) {
      throw new QomError(
        `class type of '${ti.name}' must extend the class type of '${parent.name}'`,
      );
    }
    if (
      parent?.instanceCtor &&
      ti.instanceCtor !== parent.instanceCtor &&
      !(ti.instanceCtor!.prototype instanceof parent.instanceCtor)
    ) {
      throw new QomError(
        `instance type of '${ti.name}' must extend the instance type of '${parent.name}'`,
      );
    }
    // A type without instances is implicitly abstract (QEMU: instance_size 0).
    if (!ti.instanceCtor) ti.abstract = true;
    ti.isInterface = typeInterface !== null && ti.isAncestor(typeInterface);
    if (ti.isInterface) {
      if (
        ti.info.instanceType ||
        ti.instanceInit ||
        ti.instancePostInit ||
        ti.instanceFinalize ||
        ti.interfaceNames.length
      ) {
        throw new QomError(`interface type '${ti.name}' may not have instances or interfaces`);
      }
      if (!(ti.classCtor.prototype instanceof InterfaceClass) && ti.classCtor !== InterfaceClass) {
        throw new QomError(`class type of interface '${ti.name}' must extend InterfaceClass`);
      }
    }

    constructingClass = ti;
    let klass: ObjectClass;
    try {
      klass = new ti.classCtor();
    } finally {
      constructingClass = null;
    }
    if (parentClass) {
      // QEMU copies the parent's class struct: "virtual methods" and class
      // data are inherited by value.
      for (const k of Object.keys(parentClass)) {
        (klass as unknown as Record<string, unknown>)[k] = (
          parentClass as unknown as Record<string, unknown>
        )[k];
      }
    }
    ti.klass = klass;

    if (parent && parentClass) {
      for (const iface of parentClass.interfaces) {
        typeInitializeInterface(ti, iface.interfaceTypeImpl, iface.typeImpl);
      }
      for (const ifname of ti.interfaceNames) {
        const t = typeTable.get(ifname);
        if (!t) throw new QomError(`missing interface '${ifname}' for object '${parent.name}'`);
        if (klass.interfaces.some((ic) => ic.typeImpl.isAncestor(t))) continue;
        typeInitializeInterface(ti, t, t);
      }
    }

    const anc = new Set<string>();
    for (let t: TypeImpl | null = ti; t; t = t.getParent()) anc.add(t.name);
    ti.ancestors = anc;
    if (parent) {
      ti.initChain = ti.instanceInit ? [...parent.initChain, ti.instanceInit] : parent.initChain;
      ti.postInitChain = ti.instancePostInit
        ? [...parent.postInitChain, ti.instancePostInit]
        : parent.postInitChain;
      ti.finalizeChain = ti.instanceFinalize
        ? [ti.instanceFinalize, ...parent.finalizeChain]
        : parent.finalizeChain;
    } else {
      ti.initChain = ti.instanceInit ? [ti.instanceInit] : [];
      ti.postInitChain = ti.instancePostInit ? [ti.instancePostInit] : [];
      ti.finalizeChain = ti.instanceFinalize ? [ti.instanceFinalize] : [];
    }

    if (ti.ownProto) {
      adoptInstanceMethods(klass, ti.ownProto);
      for (const ic of klass.interfaces) adoptInstanceMethods(ic, ti.ownProto);
    }

    for (let p = parent; p; p = p.getParent()) {
      p.classBaseInit?.(klass, ti.classData);
    }
    ti.classInit?.(klass, ti.classData);
    return klass;
  } catch (e) {
    ti.klass = null;
    throw e;
  } finally {
    ti.initializing = false;
  }
}

// The instance class's static `classType`, if it is a class struct constructor.
function staticClassType(ctor: AnyCtor): (new () => ObjectClass) | undefined {
  const c: unknown = (ctor as { classType?: unknown }).classType;
  return typeof c === 'function' && (c === ObjectClass || c.prototype instanceof ObjectClass)
    ? (c as new () => ObjectClass)
    : undefined;
}

// The slot names a class struct declares (static `instanceMethods` along its chain).
function instanceMethodSlots(klass: ObjectClass): string[] {
  const out: string[] = [];
  for (
    let c: unknown = klass.constructor;
    typeof c === 'function' && c !== Function.prototype;
    c = Object.getPrototypeOf(c)
  ) {
    if (Object.prototype.hasOwnProperty.call(c, 'instanceMethods')) {
      out.push(...(c as unknown as { instanceMethods: readonly string[] }).instanceMethods);
    }
  }
  return out;
}

// Fills the class's slots with the instance class's own methods of the same name:
// the slot calls the method with the instance as `this`.
function adoptInstanceMethods(klass: ObjectClass, proto: Record<string, unknown>): void {
  const slots = klass as unknown as Record<string, unknown>;
  for (const name of instanceMethodSlots(klass)) {
    if (!Object.prototype.hasOwnProperty.call(proto, name)) continue;
    const fn = proto[name];
    if (typeof fn !== 'function') continue;
    slots[name] = (obj: QomObject, ...args: unknown[]): unknown =>
      (fn as (...a: unknown[]) => unknown).apply(obj, args);
  }
}

function typeInitializeInterface(ti: TypeImpl, ifaceType: TypeImpl, parentType: TypeImpl): void {
  const impl = new TypeImpl(
    { name: `${ti.name}::${ifaceType.name}`, parent: parentType.name, abstract: true },
    parentType,
  );
  const ic = typeInitialize(impl);
  if (!(ic instanceof InterfaceClass)) {
    throw new QomError(`class type of interface '${ifaceType.name}' must extend InterfaceClass`);
  }
  ic.setInterfaceType(ifaceType);
  ti.klass!.addInterface(ic);
}

function typeGetOrLoadByName(name: string): TypeImpl {
  const t = typeTable.get(name);
  if (!t) throw new QomError(`unknown type '${name}'`);
  return t;
}

// ---------------------------------------------------------------------------
// Classes

/** Adds a `uint8`/`uint16`/`uint32` property to a class or an object. */
function addUintN<O extends QomObject = QomObject>(
  target: { propertyAdd(name: string, type: string, get: any, set: any): ObjectProperty },
  name: string,
  bits: 8 | 16 | 32,
  get: ((obj: O) => number) | null | undefined,
  set: ((obj: O, value: number) => void) | null | undefined,
): ObjectProperty {
  const p = target.propertyAdd(
    name,
    `uint${bits}`,
    get ? uintGetter(get) : null,
    set ? uintSetter(set, bits) : null,
  );
  return withFast(p, set ? fastUint(set, 2 ** bits - 1) : null);
}

/**
 * A type's class (QEMU's `ObjectClass`): class properties, interfaces and,
 * in subclasses used as `classType`, "virtual methods" and class data. A
 * subclass's class struct starts as a copy of its parent's fields.
 */
export class ObjectClass {
  readonly #type: TypeImpl;
  readonly #props = new Map<string, ObjectProperty>();
  readonly #interfaces: InterfaceClass[] = [];
  #flat: Map<string, ObjectProperty> | null = null;
  #initProps: ObjectProperty[] = [];
  #releaseProps: ObjectProperty[] = [];
  #flatVersion = -1;

  /**
   * The "virtual methods" of this class struct that an instance class may
   * implement as methods of the same name (declare them in a subclass's
   * own static list; the lists of its ancestors apply too). When a type's
   * instance class defines such a method itself, QOM fills the slot with
   * it before `classInit` runs: the method runs with the instance as
   * `this`, so it sees its own type. `classInit` may still overwrite the
   * slot, as QEMU-style ports do.
   */
  static readonly instanceMethods: readonly string[] = [];

  /**
   * QEMU's `ObjectClass.unparent`: called with the child when a child
   * property holding an instance is released, before the reference drops.
   */
  unparent: ((obj: QomObject) => void) | null = null;

  /** Class structs are created by the type system only. */
  constructor() {
    const ti = constructingClass;
    if (!ti) throw new QomError('QOM classes are created by the type system, not with new');
    constructingClass = null;
    this.#type = ti;
  }

  /** @internal */
  get typeImpl(): TypeImpl {
    return this.#type;
  }
  /** The type name. */
  get typeName(): string {
    return this.#type.name;
  }
  /** The parent type's class, or null for the roots. */
  get parent(): ObjectClass | null {
    const p = this.#type.getParent();
    return p ? typeInitialize(p) : null;
  }
  /** Whether the type is abstract. */
  get isAbstract(): boolean {
    return this.#type.abstract;
  }
  /** The per-type interface classes (QEMU's `klass->interfaces`). */
  get interfaces(): readonly InterfaceClass[] {
    return this.#interfaces;
  }
  /** @internal */
  addInterface(ic: InterfaceClass): void {
    this.#interfaces.push(ic);
  }

  /**
   * QEMU's `object_class_dynamic_cast`: this class if it is `typename` or a
   * descendant; for an interface, this type's interface class (null when
   * several of its interfaces match: the cast is ambiguous); else null.
   * Given a class struct constructor instead of a name: this class if it
   * was built from that struct (or a subclass of it), or this type's
   * interface class when the struct is an interface's.
   */
  dynamicCast<C extends ObjectClass>(type: ClassType<C>): C | null;
  dynamicCast(typename: string): ObjectClass | null;
  dynamicCast<C extends ObjectClass>(type: string | ClassType<C>): ObjectClass | null {
    if (typeof type !== 'string') {
      // A class struct is a layout: any class built from it (or a subclass) is one.
      if (this instanceof type) return this;
      // An interface's class struct: this type's interface class for it.
      const t = classCtorTypes.get(type);
      if (!t || !isInterfaceType(t)) return null;
      const r = this.dynamicCast(t.name);
      return r instanceof type ? r : null;
    }
    const typename = type;
    const t = this.#type;
    if (t.name === typename) return this;
    const target = typeTable.get(typename);
    if (!target) return null;
    if (this.#interfaces.length && isInterfaceType(target)) {
      let ret: InterfaceClass | null = null;
      let found = 0;
      for (const ic of this.#interfaces) {
        if (ic.typeImpl.isAncestor(target)) {
          ret = ic;
          found++;
        }
      }
      return found > 1 ? null : ret;
    }
    if (t.ancestors.size ? t.ancestors.has(typename) : t.isAncestor(target)) return this;
    return null;
  }

  /** Whether this class is (or implements) the type (a name or a class struct constructor). */
  isA(type: string | ClassType): boolean {
    return typeof type === 'string'
      ? this.dynamicCast(type) !== null
      : this.dynamicCast(type) !== null;
  }

  // --- class properties ----------------------------------------------------

  #flatten(): Map<string, ObjectProperty> {
    if (this.#flat && this.#flatVersion === classPropsVersion) return this.#flat;
    const parent = this.parent;
    const flat = new Map<string, ObjectProperty>(parent ? parent.#flatten() : undefined);
    for (const [k, p] of this.#props) if (!flat.has(k)) flat.set(k, p);
    this.#flat = flat;
    const all = [...this.properties()];
    this.#initProps = all.filter((p) => p.init !== null);
    this.#releaseProps = all.filter((p) => p.release !== null);
    this.#flatVersion = classPropsVersion;
    return flat;
  }

  /** @internal Class properties that have an init hook (defaults). */
  initProps(): ObjectProperty[] {
    if (this.#flatVersion !== classPropsVersion) this.#flatten();
    return this.#initProps;
  }
  /** @internal Class properties that have a release hook. */
  releaseProps(): ObjectProperty[] {
    if (this.#flatVersion !== classPropsVersion) this.#flatten();
    return this.#releaseProps;
  }
  /** @internal Invalidates cached lookups after a hook change. */
  static invalidate(): void {
    classPropsVersion++;
  }

  /**
   * QEMU's `object_class_property_find`: this class's property `name` or an
   * ancestor's (ancestors win), or null.
   */
  propertyFind(name: string): ObjectProperty | null {
    const flat = this.#flatVersion === classPropsVersion ? this.#flat! : this.#flatten();
    return flat.get(name) ?? null;
  }

  /** Like {@link propertyFind} but throws QEMU's `Property '.%s' not found`. */
  propertyFindErr(name: string): ObjectProperty {
    const p = this.propertyFind(name);
    if (!p) throw new QomError(`Property '.${name}' not found`);
    return p;
  }

  /** This class's own properties, then each ancestor's (QEMU's class iterator). */
  *properties(): IterableIterator<ObjectProperty> {
    yield* this.#props.values();
    for (let k = this.parent; k; k = k.parent) yield* k.#props.values();
  }

  /** This class's own properties only. */
  ownProperties(): IterableIterator<ObjectProperty> {
    return this.#props.values();
  }

  /**
   * The class's property adders with accessors typed by an instance class:
   * `oc.propertiesOf(this)` inside a static `classInit(oc)` gives accessors
   * that receive the type's own instances. Throws a {@link QomError} unless
   * this class is `ctor`'s type's class or a descendant's (QEMU's
   * `object_class_dynamic_cast`), so the accessors never see another type.
   */
  propertiesOf<K extends InstanceConstructor>(ctor: K): ClassProperties<InstanceType<K>> {
    const want = instanceTypeName(ctor);
    const own = this.#type.instanceCtor;
    const isInstanceOf = own !== null && (own === ctor || own.prototype instanceof ctor);
    if (this.dynamicCast(want) !== this || !isInstanceOf) {
      throw new QomError(
        `class of type '${this.typeName}' is not a class of type '${want}': ` +
          `its property accessors cannot take ${ctor.name} instances`,
      );
    }
    return ClassProperties.bind<InstanceType<K>>(this);
  }

  /** @internal Adds a built property; QEMU's duplicate check. */
  propertyInsert(p: ObjectProperty): ObjectProperty {
    if (this.propertyFind(p.name)) {
      throw new QomError(
        `attempt to add duplicate property '${p.name}' to class (type '${this.typeName}')`,
      );
    }
    this.#props.set(p.name, p);
    classPropsVersion++;
    return p;
  }

  // The adders below take accessors on any QomObject; the typed route is
  // propertiesOf(Ctor), whose accessors receive Ctor's instances.
  #untyped(): ClassProperties<QomObject> {
    return ClassProperties.bind<QomObject>(this);
  }

  /**
   * QEMU's `object_class_property_add`. Accessors receive the instance as
   * first argument. The name must be unique across the class and its
   * ancestors. See {@link propertiesOf} for accessors typed by class.
   */
  propertyAdd(
    name: string,
    type: string,
    get?: ObjectPropertyGetter | null,
    set?: ObjectPropertyAccessor | null,
    release?: ObjectPropertyRelease | null,
    resolve?: ObjectPropertyResolve | null,
    opaque?: unknown,
  ): ObjectProperty {
    return this.#untyped().propertyAdd(name, type, get, set, release, resolve, opaque);
  }

  /** QEMU's `object_class_property_add_str` (type `string`). */
  propertyAddStr(
    name: string,
    get?: ((obj: QomObject) => string) | null,
    set?: ((obj: QomObject, value: string) => void) | null,
  ): ObjectProperty {
    return this.#untyped().propertyAddStr(name, get, set);
  }

  /** QEMU's `object_class_property_add_bool` (type `bool`). */
  propertyAddBool(
    name: string,
    get?: ((obj: QomObject) => boolean) | null,
    set?: ((obj: QomObject, value: boolean) => void) | null,
  ): ObjectProperty {
    return this.#untyped().propertyAddBool(name, get, set);
  }

  /**
   * QEMU's `object_class_property_add_enum`: the type is the enum's QAPI
   * name (`lookup.name`); values are indices into `lookup.values`.
   */
  propertyAddEnum(
    name: string,
    lookup: QEnumLookup,
    get?: ((obj: QomObject) => number) | null,
    set?: ((obj: QomObject, value: number) => void) | null,
  ): ObjectProperty {
    return this.#untyped().propertyAddEnum(name, lookup, get, set);
  }

  /** Class `uint8` property (QEMU's `_ptr` variants, with accessors). */
  propertyAddUint8(
    name: string,
    get?: ((obj: QomObject) => number) | null,
    set?: ((obj: QomObject, value: number) => void) | null,
  ): ObjectProperty {
    return this.#untyped().propertyAddUint8(name, get, set);
  }
  /** Class `uint16` property. */
  propertyAddUint16(
    name: string,
    get?: ((obj: QomObject) => number) | null,
    set?: ((obj: QomObject, value: number) => void) | null,
  ): ObjectProperty {
    return this.#untyped().propertyAddUint16(name, get, set);
  }
  /** Class `uint32` property. */
  propertyAddUint32(
    name: string,
    get?: ((obj: QomObject) => number) | null,
    set?: ((obj: QomObject, value: number) => void) | null,
  ): ObjectProperty {
    return this.#untyped().propertyAddUint32(name, get, set);
  }
  /** Class `uint64` property; the setter receives a bigint (exact). */
  propertyAddUint64(
    name: string,
    get?: ((obj: QomObject) => bigint) | null,
    set?: ((obj: QomObject, value: bigint) => void) | null,
  ): ObjectProperty {
    return this.#untyped().propertyAddUint64(name, get, set);
  }
  /**
   * A size property: visited with `typeSize`, so strings take K/M/G/T/P/E
   * suffixes. `typeName` is the type string (QEMU's memory-backend `size`
   * says `int`).
   */
  propertyAddSize(
    name: string,
    get?: ((obj: QomObject) => bigint) | null,
    set?: ((obj: QomObject, value: bigint) => void) | null,
    typeName = 'size',
  ): ObjectProperty {
    return this.#untyped().propertyAddSize(name, get, set, typeName);
  }

  /**
   * QEMU's `object_class_property_add_link`: `link<typename>`. The link's
   * storage is the `get`/`set` pair (QEMU's offset). Without `opts.check`
   * the property is read-only, as in QEMU; `opts.strong` makes the link
   * hold a reference on its target.
   */
  propertyAddLink<T extends QomObject>(
    name: string,
    target: InstanceConstructor<T>,
    get: (obj: QomObject) => T | null,
    set: ((obj: QomObject, target: T | null) => void) | null,
    opts?: LinkOptions<QomObject, T>,
  ): ObjectProperty;
  propertyAddLink(
    name: string,
    typename: string,
    get: (obj: QomObject) => QomObject | null,
    set: ((obj: QomObject, target: QomObject | null) => void) | null,
    opts?: LinkOptions,
  ): ObjectProperty;
  propertyAddLink<T extends QomObject>(
    name: string,
    target: string | InstanceConstructor<T>,
    get: (obj: QomObject) => T | null,
    set: ((obj: QomObject, target: T | null) => void) | null,
    opts: LinkOptions<QomObject, T> = {},
  ): ObjectProperty {
    return addLink(this.#untyped(), name, target, get, set, opts);
  }

  /** QEMU's `object_class_property_set_description` (own properties). */
  propertySetDescription(name: string, description: string | undefined): void {
    const p = this.#props.get(name) ?? this.propertyFind(name);
    if (!p) throw new QomError(`Property '.${name}' not found`);
    p.description = description;
  }

  /** Sets a class property's default value (applied to each new instance). */
  propertySetDefault(name: string, value: JsonValue): ObjectProperty {
    const p = this.#props.get(name) ?? this.propertyFind(name);
    if (!p) throw new QomError(`Property '.${name}' not found`);
    p.setDefault(value);
    classPropsVersion++;
    return p;
  }
}

/**
 * A class's property adders with accessors typed for the instances `O`
 * (from {@link ObjectClass.propertiesOf}, which checked that the class
 * belongs to `O`'s type or a descendant). Each adder is the
 * {@link ObjectClass} one of the same name.
 */
export class ClassProperties<O extends QomObject> {
  readonly #oc: ObjectClass;

  // Private: a facade made elsewhere would skip propertiesOf's check.
  private constructor(oc: ObjectClass) {
    this.#oc = oc;
  }

  /** @internal The facade for `oc`, whose type the caller has checked. */
  static bind<O extends QomObject>(oc: ObjectClass): ClassProperties<O> {
    return new ClassProperties<O>(oc);
  }

  /** The class the properties are added to. */
  get klass(): ObjectClass {
    return this.#oc;
  }

  /** See {@link ObjectClass.propertyAdd}. */
  propertyAdd(
    name: string,
    type: string,
    get?: ObjectPropertyGetter<O> | null,
    set?: ObjectPropertyAccessor<O> | null,
    release?: ObjectPropertyRelease<O> | null,
    resolve?: ObjectPropertyResolve<O> | null,
    opaque?: unknown,
  ): ObjectProperty {
    return this.#oc.propertyInsert(
      new ObjectProperty(
        name,
        type,
        get ?? null,
        set ?? null,
        release ?? null,
        resolve ?? null,
        opaque,
      ),
    );
  }

  /** See {@link ObjectClass.propertyAddStr}. */
  propertyAddStr(
    name: string,
    get?: ((obj: O) => string) | null,
    set?: ((obj: O, value: string) => void) | null,
  ): ObjectProperty {
    const p = this.propertyAdd(
      name,
      'string',
      get ? strGetter(get) : null,
      set ? strSetter(set) : null,
    );
    return withFast(p, set ? fastStr(set) : null);
  }

  /** See {@link ObjectClass.propertyAddBool}. */
  propertyAddBool(
    name: string,
    get?: ((obj: O) => boolean) | null,
    set?: ((obj: O, value: boolean) => void) | null,
  ): ObjectProperty {
    const p = this.propertyAdd(
      name,
      'bool',
      get ? boolGetter(get) : null,
      set ? boolSetter(set) : null,
    );
    return withFast(p, set ? fastBool(set) : null);
  }

  /** See {@link ObjectClass.propertyAddEnum}. */
  propertyAddEnum(
    name: string,
    lookup: QEnumLookup,
    get?: ((obj: O) => number) | null,
    set?: ((obj: O, value: number) => void) | null,
  ): ObjectProperty {
    const p = this.propertyAdd(
      name,
      lookup.name,
      get ? enumGetter(get, lookup) : null,
      set ? enumSetter(set, lookup) : null,
    );
    p.enumLookup = lookup;
    return p;
  }

  /** See {@link ObjectClass.propertyAddUint8}. */
  propertyAddUint8(
    name: string,
    get?: ((obj: O) => number) | null,
    set?: ((obj: O, value: number) => void) | null,
  ): ObjectProperty {
    return addUintN<O>(this, name, 8, get, set);
  }
  /** See {@link ObjectClass.propertyAddUint16}. */
  propertyAddUint16(
    name: string,
    get?: ((obj: O) => number) | null,
    set?: ((obj: O, value: number) => void) | null,
  ): ObjectProperty {
    return addUintN<O>(this, name, 16, get, set);
  }
  /** See {@link ObjectClass.propertyAddUint32}. */
  propertyAddUint32(
    name: string,
    get?: ((obj: O) => number) | null,
    set?: ((obj: O, value: number) => void) | null,
  ): ObjectProperty {
    return addUintN<O>(this, name, 32, get, set);
  }
  /** See {@link ObjectClass.propertyAddUint64}. */
  propertyAddUint64(
    name: string,
    get?: ((obj: O) => bigint) | null,
    set?: ((obj: O, value: bigint) => void) | null,
  ): ObjectProperty {
    const p = this.propertyAdd(
      name,
      'uint64',
      get ? uint64Getter(get) : null,
      set ? uint64Setter(set) : null,
    );
    return withFast(p, set ? fastUint64(set) : null);
  }
  /** See {@link ObjectClass.propertyAddSize}. */
  propertyAddSize(
    name: string,
    get?: ((obj: O) => bigint) | null,
    set?: ((obj: O, value: bigint) => void) | null,
    typeName = 'size',
  ): ObjectProperty {
    return this.propertyAdd(
      name,
      typeName,
      get ? sizeGetter(get) : null,
      set ? sizeSetter(set) : null,
    );
  }

  /** See {@link ObjectClass.propertyAddLink}; `T` is the target's type. */
  propertyAddLink<T extends QomObject>(
    name: string,
    target: InstanceConstructor<T>,
    get: (obj: O) => T | null,
    set: ((obj: O, target: T | null) => void) | null,
    opts?: LinkOptions<O, T>,
  ): ObjectProperty;
  /** See {@link ObjectClass.propertyAddLink}; the target is named by type. */
  propertyAddLink(
    name: string,
    typename: string,
    get: (obj: O) => QomObject | null,
    set: ((obj: O, target: QomObject | null) => void) | null,
    opts?: LinkOptions<O>,
  ): ObjectProperty;
  propertyAddLink<T extends QomObject>(
    name: string,
    target: string | InstanceConstructor<T>,
    get: (obj: O) => T | null,
    set: ((obj: O, target: T | null) => void) | null,
    opts: LinkOptions<O, T> = {},
  ): ObjectProperty {
    return addLink(this, name, target, get, set, opts);
  }
}

/** Adds a `link<...>` class property (both `propertyAddLink` routes). */
function addLink<O extends QomObject, T extends QomObject>(
  props: ClassProperties<O>,
  name: string,
  target: string | InstanceConstructor<T>,
  get: (obj: O) => T | null,
  set: ((obj: O, target: T | null) => void) | null,
  opts: LinkOptions<O, T>,
): ObjectProperty {
  const typename = typeof target === 'string' ? target : instanceTypeName(target);
  const lp = linkProp<O, T>(typeof target === 'string' ? null : target, get, set, opts);
  return props.propertyAdd(
    name,
    `link<${typename}>`,
    linkGet,
    lp.check && lp.set ? linkSet : null,
    linkRelease,
    linkResolve,
    lp,
  );
}

/** Options of link properties. */
export interface LinkOptions<O extends QomObject = QomObject, T extends QomObject = QomObject> {
  /** Check hook: throw to refuse; absent makes the link read-only. */
  check?: LinkCheck<O, T>;
  /** Hold a reference on the target (QEMU's OBJ_PROP_LINK_STRONG). */
  strong?: boolean;
}

function isInterfaceType(t: TypeImpl): boolean {
  return typeInterface !== null && t.isAncestor(typeInterface);
}

/**
 * The class of an interface (QEMU's `InterfaceClass`). Each type
 * implementing an interface gets its own interface class, named
 * `<type>::<interface>`, whose fields start as a copy of its parent type's.
 */
export class InterfaceClass extends ObjectClass {
  #ifaceType: TypeImpl | null = null;
  /** @internal */
  setInterfaceType(t: TypeImpl): void {
    this.#ifaceType = t;
  }
  /** @internal */
  get interfaceTypeImpl(): TypeImpl {
    return this.#ifaceType ?? this.typeImpl;
  }
  /** The interface type's own class (e.g. the `user-creatable` class). */
  get interfaceType(): ObjectClass {
    return typeInitialize(this.interfaceTypeImpl);
  }
  /** The interface type's name. */
  get interfaceTypeName(): string {
    return this.interfaceTypeImpl.name;
  }
}

/**
 * The `user-creatable` interface's class (QEMU's `UserCreatableClass`).
 * `complete` runs after the properties are set (it may be async);
 * `canBeDeleted` vetoes object-del.
 */
export class UserCreatableClass extends InterfaceClass {
  /** Instance methods `complete()` and `canBeDeleted()` fill these slots. */
  static override readonly instanceMethods: readonly string[] = ['complete', 'canBeDeleted'];
  /** Finishes creation after the properties are set; throw to fail. */
  complete: ((obj: QomObject) => void | Promise<void>) | null = null;
  /** Whether object-del may delete the object (default: yes). */
  canBeDeleted: ((obj: QomObject) => boolean) | null = null;
}

/**
 * QEMU's `user_creatable_complete`: runs the object's `complete` if its
 * class has one. Returns its result (a Promise for async completion).
 */
export function userCreatableComplete(obj: QomObject): void | Promise<void> {
  const ucc = obj.klass.dynamicCast(UserCreatableClass);
  if (!ucc) throw new QomError(`object type '${obj.typeName}' is not user-creatable`);
  if (ucc.complete) return ucc.complete(obj);
}

/** QEMU's `user_creatable_can_be_deleted`: the class's verdict, default true. */
export function userCreatableCanBeDeleted(obj: QomObject): boolean {
  const ucc = obj.klass.dynamicCast(UserCreatableClass);
  if (ucc?.canBeDeleted) return ucc.canBeDeleted(obj);
  return true;
}

// ---------------------------------------------------------------------------
// Typed accessors

// A JSON integer as the QObject layer holds it: a number when safe, else a bigint.
function jsonInteger(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

function withFast(
  p: ObjectProperty,
  fast: ((obj: any, value: JsonValue) => boolean) | null,
): ObjectProperty {
  if (fast && p.set) {
    p.fastSet = fast;
    p.fastSetFor = p.set;
  }
  return p;
}
function fastBool(
  set: (obj: any, value: boolean) => void,
): (obj: any, value: JsonValue) => boolean {
  return (obj, value) => {
    if (typeof value !== 'boolean') return false;
    set(obj, value);
    return true;
  };
}
function fastStr(set: (obj: any, value: string) => void): (obj: any, value: JsonValue) => boolean {
  return (obj, value) => {
    if (typeof value !== 'string') return false;
    set(obj, value);
    return true;
  };
}
function fastUint(
  set: (obj: any, value: number) => void,
  max: number,
): (obj: any, value: JsonValue) => boolean {
  return (obj, value) => {
    if (typeof value !== 'number' || !(value >= 0 && value <= max) || !Number.isInteger(value))
      return false;
    set(obj, value + 0); // -0 becomes 0, as through the visitor
    return true;
  };
}
function fastUint64(
  set: (obj: any, value: bigint) => void,
): (obj: any, value: JsonValue) => boolean {
  return (obj, value) => {
    if (
      typeof value !== 'number' ||
      !(value >= 0 && value <= Number.MAX_SAFE_INTEGER) ||
      !Number.isInteger(value)
    ) {
      return false;
    }
    set(obj, BigInt(value));
    return true;
  };
}

function strGetter(get: (obj: any) => string): ObjectPropertyGetter {
  return (obj, v, name) => v.typeStr(name, get(obj));
}
function strSetter(set: (obj: any, value: string) => void): ObjectPropertyAccessor {
  return (obj, v, name) => set(obj, v.typeStr(name));
}
function boolGetter(get: (obj: any) => boolean): ObjectPropertyGetter {
  return (obj, v, name) => v.typeBool(name, get(obj));
}
function boolSetter(set: (obj: any, value: boolean) => void): ObjectPropertyAccessor {
  return (obj, v, name) => set(obj, v.typeBool(name));
}
function enumGetter(get: (obj: any) => number, lookup: QEnumLookup): ObjectPropertyGetter {
  return (obj, v, name) => v.typeEnum(name, get(obj), lookup);
}
function enumSetter(
  set: (obj: any, value: number) => void,
  lookup: QEnumLookup,
): ObjectPropertyAccessor {
  return (obj, v, name) => set(obj, v.typeEnum(name, lookup));
}
function uintGetter(get: (obj: any) => number): ObjectPropertyGetter {
  return (obj, v, name) => v.typeUint64(name, get(obj));
}
function uintSetter(
  set: (obj: any, value: number) => void,
  bits: 8 | 16 | 32,
): ObjectPropertyAccessor {
  switch (bits) {
    case 8:
      return (obj, v, name) => set(obj, v.typeUint8(name));
    case 16:
      return (obj, v, name) => set(obj, v.typeUint16(name));
    default:
      return (obj, v, name) => set(obj, v.typeUint32(name));
  }
}
function uint64Getter(get: (obj: any) => bigint): ObjectPropertyGetter {
  return (obj, v, name) => v.typeUint64(name, get(obj));
}
function uint64Setter(set: (obj: any, value: bigint) => void): ObjectPropertyAccessor {
  return (obj, v, name) => set(obj, v.typeUint64(name));
}
function sizeGetter(get: (obj: any) => bigint): ObjectPropertyGetter {
  return (obj, v, name) => v.typeSize(name, get(obj));
}
function sizeSetter(set: (obj: any, value: bigint) => void): ObjectPropertyAccessor {
  return (obj, v, name) => set(obj, v.typeSize(name));
}

interface LinkProp {
  get: (obj: QomObject) => QomObject | null;
  set: ((obj: QomObject, t: QomObject | null) => void) | null;
  check: LinkCheck | null;
  strong: boolean;
}

// A link's storage, erased to QomObject: the accessors are only ever called
// with the object the property belongs to and with a target that resolved
// as the link's type, which `ctor` (when given) checks again.
function linkProp<O extends QomObject, T extends QomObject>(
  ctor: InstanceConstructor<T> | null,
  get: (obj: O) => T | null,
  set: ((obj: O, t: T | null) => void) | null,
  opts: LinkOptions<O, T>,
): LinkProp {
  const own = (o: QomObject): O => o as O;
  const tgt = (t: QomObject | null): T | null => {
    if (t === null) return null;
    if (ctor && !(t instanceof ctor)) throw castError(t.typeName, instanceTypeName(ctor));
    return t as T;
  };
  const check = opts.check;
  return {
    get: (o) => get(own(o)),
    set: set && ((o, t) => set(own(o), tgt(t))),
    check: check ? (o, n, t) => check(own(o), n, tgt(t)) : null,
    strong: opts.strong === true,
  };
}

function linkGet(obj: QomObject, v: OutputVisitor, name: string, opaque: unknown): void {
  const target = (opaque as LinkProp).get(obj);
  v.typeStr(name, target ? (target.canonicalPath() ?? '') : '');
}

function objectResolveLink(obj: QomObject, name: string, path: string): QomObject {
  const type = obj.propertyGetType(name);
  const targetType = type.slice(5, type.length - 1);
  const r = objectResolvePathType(path, targetType);
  if (r.ambiguous) throw new QomError(`Path '${path}' does not uniquely identify an object`);
  if (!r.obj) {
    const any = objectResolvePathType(path, TYPE_OBJECT);
    if (any.obj || any.ambiguous) {
      throw new QomError(`Invalid parameter type for '${name}', expected: ${targetType}`);
    }
    throw new QomError(`Device '${path}' not found`, 'DeviceNotFound');
  }
  return r.obj;
}

function linkSet(obj: QomObject, v: Visitor, name: string, opaque: unknown): void {
  const lp = opaque as LinkProp;
  const old = lp.get(obj);
  const path = v.typeStr(name);
  const target = path !== '' ? objectResolveLink(obj, name, path) : null;
  lp.check!(obj, name, target);
  lp.set!(obj, target);
  if (lp.strong) {
    target?.ref();
    old?.unref();
  }
}

function linkResolve(obj: QomObject, opaque: unknown): QomObject | null {
  return (opaque as LinkProp).get(obj);
}

function linkRelease(obj: QomObject, _name: string, opaque: unknown): void {
  const lp = opaque as LinkProp;
  if (lp.strong) {
    const t = lp.get(obj);
    if (t) t.unref();
  }
}

function childGet(_obj: QomObject, v: OutputVisitor, name: string, opaque: unknown): void {
  v.typeStr(name, (opaque as QomObject).canonicalPath() ?? '');
}
function childResolve(_obj: QomObject, opaque: unknown): QomObject | null {
  return opaque as QomObject;
}
function childRelease(_obj: QomObject, _name: string, opaque: unknown): void {
  releaseFromParent(opaque as QomObject);
}

interface AliasProp {
  target: QomObject;
  targetName: string;
}
function aliasGet(_obj: QomObject, v: OutputVisitor, name: string, opaque: unknown): void {
  const a = opaque as AliasProp;
  a.target.propertyGetWith(a.targetName, new ForwardFieldOutputVisitor(v, a.targetName, name));
}
function aliasSet(_obj: QomObject, v: Visitor, name: string, opaque: unknown): void {
  const a = opaque as AliasProp;
  a.target.propertySetWith(a.targetName, new ForwardFieldInputVisitor(v, a.targetName, name));
}
function aliasResolve(_obj: QomObject, opaque: unknown): QomObject | null {
  const a = opaque as AliasProp;
  return a.target.resolvePathComponent(a.targetName);
}

// ---------------------------------------------------------------------------
// Objects

let constructingObject: TypeImpl | null = null;
// Privileged operations on objects, bound in QomObject's static block so
// that they reach its private state without being public methods.
let initObject: (obj: QomObject, ti: TypeImpl) => void;
let releaseFromParent: (child: QomObject) => void;
let instancePropsOf: (obj: QomObject) => Map<string, ObjectProperty> | null;

const enum State {
  Alive,
  Finalizing,
  Finalized,
}

const INT16_MAX = 32767;
const INT_MAX = 2147483647;

/**
 * A QOM object (QEMU's `Object`). Subclass it for instance state and
 * declare the type with {@link typeRegister} or the `QomType` decorator;
 * create instances with {@link objectNew}, never with `new`.
 *
 * Lifecycle hooks are methods: `instanceInit`, `instancePostInit`,
 * `instanceFinalize`. Override them without calling `super`: the framework
 * calls each level's own hook in QOM order (init and post-init from the
 * root type down, finalize from the leaf up).
 *
 * Reference counting is explicit: {@link objectNew} returns a reference,
 * {@link QomObject.ref} takes one, {@link QomObject.unref} drops one, and
 * the object is finalized when the count reaches zero. A finalized object
 * throws a {@link QomError} on any further use. `using obj = objectNew(...)`
 * drops the reference at the end of the scope.
 */
export class QomObject {
  readonly #klass: ObjectClass;
  #ref = 1;
  #state = State.Alive;
  #parent: QomObject | null = null;
  #parentProp: ObjectProperty | null = null;
  #props: Map<string, ObjectProperty> | null = null;

  /** Instances are created by {@link objectNew}; `new` alone throws. */
  constructor() {
    const ti = constructingObject;
    if (!ti) {
      throw new QomError(
        `QOM objects are created with objectNew(), not with new (${new.target.name})`,
      );
    }
    constructingObject = null;
    this.#klass = ti.klass!;
  }

  /**
   * The class struct of this instance class's types (QEMU Rust's
   * `ObjectType::Class`): a subclass that introduces a class struct
   * declares it here (`static override readonly classType = DeviceClass`);
   * `@QomType` and {@link typeRegister} then use it as the type's
   * `classType`, and the decorator types `classInit` and the instance
   * methods that fill class slots with it. Subclasses that declare none
   * use their parent's.
   */
  static readonly classType: ClassConstructor = ObjectClass;

  /** QEMU's static class_init hook for decorated classes; see `QomType`. */
  static classInit(_oc: ObjectClass, _data?: unknown): void {}
  /** QEMU's static class_base_init hook for decorated classes; see `QomType`. */
  static classBaseInit(_oc: ObjectClass, _data?: unknown): void {}

  /** This level's instance_init (no `super` call: the framework chains). */
  instanceInit(): void {}
  /** This level's instance_post_init (no `super` call). */
  instancePostInit(): void {}
  /** This level's instance_finalize (no `super` call). */
  instanceFinalize(): void {}

  /** The type name (`object_get_typename`). */
  get typeName(): string {
    return this.#klass.typeImpl.name;
  }
  /** The object's class (`object_get_class`). */
  get klass(): ObjectClass {
    return this.#klass;
  }
  /** The current reference count. */
  get refcount(): number {
    return this.#ref;
  }
  /** Whether the object has been finalized (any use now throws). */
  get finalized(): boolean {
    return this.#state === State.Finalized;
  }
  /** The parent in the composition tree, or null. */
  get parent(): QomObject | null {
    return this.#parent;
  }

  #alive(): void {
    if (this.#state === State.Finalized) {
      throw new QomError(
        `object of type '${this.#klass.typeImpl.name}' used after it was finalized`,
      );
    }
  }

  /** Takes a reference (`object_ref`); returns this. */
  ref(): this {
    this.#alive();
    if (this.#state === State.Finalizing) {
      throw new QomError(`object of type '${this.typeName}' referenced while being finalized`);
    }
    if (this.#ref >= INT_MAX) throw new QomError('reference count overflow');
    this.#ref++;
    return this;
  }

  /** Drops a reference (`object_unref`); the last one finalizes the object. */
  unref(): void {
    this.#alive();
    if (this.#ref <= 0) {
      throw new QomError(`object of type '${this.typeName}' unreferenced while being finalized`);
    }
    if (this.#ref === 1 && this.#parent !== null) {
      // The parent's child property owns that last reference.
      throw new QomError(
        `object of type '${this.typeName}' unreferenced while its parent still holds it`,
      );
    }
    if (--this.#ref === 0) this.#finalize();
  }

  /** `using` support: drops one reference. */
  [Symbol.dispose](): void {
    this.unref();
  }

  #finalize(): void {
    if (traceQom.enabled) traceQom('object_finalize %s', this.typeName);
    this.#state = State.Finalizing;
    try {
      // object_property_del_all(): release instance properties (children
      // are released as they come; release hooks may delete other
      // properties, which the live iteration then skips), then the class
      // properties that have a release hook (strong class links).
      const props = this.#props;
      if (props) {
        for (const p of props.values()) {
          if (p.release) p.release(this, p.name, p.opaque);
        }
      }
      for (const p of this.#klass.releaseProps()) p.release!(this, p.name, p.opaque);
      this.#props = null;
      const chain = this.#klass.typeImpl.finalizeChain;
      for (let i = 0; i < chain.length; i++) chain[i](this);
    } finally {
      this.#state = State.Finalized;
    }
    if (this.#parent !== null) {
      throw new QomError(`object of type '${this.typeName}' finalized while it still has a parent`);
    }
  }

  static {
    initObject = (obj, ti) => obj.#initialize(ti);
    releaseFromParent = (child) => {
      // object_finalize_child_property()
      const hook = child.#klass.unparent;
      if (hook) hook(child);
      child.#parent = null;
      child.#parentProp = null;
      child.unref();
    };
    instancePropsOf = (obj) => obj.#props;
  }

  // Class property defaults, then the instance_init and instance_post_init
  // chains (objectNew).
  #initialize(ti: TypeImpl): void {
    const klass = this.#klass;
    try {
      const ip = klass.initProps();
      for (let i = 0; i < ip.length; i++) ip[i].init!(this, ip[i]);
      const ic = ti.initChain;
      for (let i = 0; i < ic.length; i++) ic[i](this);
      const pc = ti.postInitChain;
      for (let i = 0; i < pc.length; i++) pc[i](this);
    } catch (e) {
      // instance_init cannot fail in QEMU; here we drop what was built.
      this.#state = State.Finalizing;
      try {
        if (this.#props) for (const p of this.#props.values()) p.release?.(this, p.name, p.opaque);
        for (const p of klass.releaseProps()) p.release!(this, p.name, p.opaque);
      } finally {
        this.#props = null;
        this.#ref = 0;
        this.#state = State.Finalized;
      }
      throw e;
    }
  }

  /**
   * QEMU's `object_dynamic_cast`: this object as an instance of the type,
   * or null. Given the type's instance class, the result has that class's
   * type; given a name (QEMU-style), it is a QomObject. See
   * {@link objectDynamicCast}.
   */
  dynamicCast<T extends QomObject>(type: InstanceConstructor<T>): T | null;
  dynamicCast(typename: string): QomObject | null;
  dynamicCast<T extends QomObject>(type: string | InstanceConstructor<T>): QomObject | null {
    if (typeof type === 'string') return this.#klass.dynamicCast(type) ? this : null;
    return this.#klass.dynamicCast(instanceTypeName(type)) && this instanceof type ? this : null;
  }

  /** Whether the object is (or implements) the type (a name or an instance class). */
  isA(type: string | InstanceConstructor): boolean {
    return (
      this.#klass.dynamicCast(typeof type === 'string' ? type : instanceTypeName(type)) !== null
    );
  }

  // --- properties ----------------------------------------------------------

  /**
   * QEMU's `object_property_find`: class properties first (ancestors
   * before descendants), then instance properties; null if absent.
   */
  propertyFind(name: string): ObjectProperty | null {
    if (this.#state === State.Finalized) this.#alive();
    const p = this.#klass.propertyFind(name);
    if (p !== null) return p;
    const props = this.#props;
    return props === null ? null : (props.get(name) ?? null);
  }

  /** Like {@link propertyFind} but throws `Property '<type>.<name>' not found`. */
  propertyFindErr(name: string): ObjectProperty {
    const p = this.propertyFind(name);
    if (!p) throw new QomError(`Property '${this.typeName}.${name}' not found`);
    return p;
  }

  /** All properties: the instance's, then the class's, then each ancestor class's. */
  *properties(): IterableIterator<ObjectProperty> {
    this.#alive();
    if (this.#props) yield* this.#props.values();
    yield* this.#klass.properties();
  }

  /** The instance properties only. */
  instanceProperties(): IterableIterator<ObjectProperty> {
    this.#alive();
    return (this.#props ?? new Map<string, ObjectProperty>()).values();
  }

  /**
   * QEMU's `object_property_try_add`: adds an instance property. A name
   * ending in `[*]` gets the first free index (`name[0]`, `name[1]`, ...).
   * A duplicate (including a class property) throws
   * `attempt to add duplicate property '%s' to object (type '%s')`.
   * The accessors receive this object, typed as the object's own type.
   */
  propertyAdd(
    name: string,
    type: string,
    get?: ObjectPropertyGetter<this> | null,
    set?: ObjectPropertyAccessor<this> | null,
    release?: ObjectPropertyRelease<this> | null,
    resolve?: ObjectPropertyResolve<this> | null,
    opaque?: unknown,
  ): ObjectProperty {
    this.#alive();
    if (name.endsWith('[*]')) {
      const base = name.slice(0, -3);
      for (let i = 0; i < INT16_MAX; i++) {
        const full = `${base}[${i}]`;
        if (!this.propertyFind(full))
          return this.propertyAdd(full, type, get, set, release, resolve, opaque);
      }
      throw new QomError(
        `no free index for property '${name}' on object (type '${this.typeName}')`,
      );
    }
    if (this.propertyFind(name)) {
      throw new QomError(
        `attempt to add duplicate property '${name}' to object (type '${this.typeName}')`,
      );
    }
    const p = new ObjectProperty(
      name,
      type,
      get ?? null,
      set ?? null,
      release ?? null,
      resolve ?? null,
      opaque,
    );
    (this.#props ??= new Map()).set(name, p);
    return p;
  }

  /**
   * QEMU's `object_property_del`: removes an instance property, calling
   * its release hook.
   */
  propertyDel(name: string): void {
    this.#alive();
    const p = this.#props?.get(name);
    if (!p) throw new QomError(`Property '${this.typeName}.${name}' not found`);
    if (p.release) p.release(this, name, p.opaque);
    this.#props!.delete(name);
  }

  /** Instance `string` property with closure accessors. */
  propertyAddStr(
    name: string,
    get?: (() => string) | null,
    set?: ((value: string) => void) | null,
  ): ObjectProperty {
    const p = this.propertyAdd(
      name,
      'string',
      get ? strGetter(() => get()) : null,
      set ? strSetter((_o, v) => set(v)) : null,
    );
    return withFast(p, set ? fastStr((_o, v) => set(v)) : null);
  }
  /** Instance `bool` property with closure accessors. */
  propertyAddBool(
    name: string,
    get?: (() => boolean) | null,
    set?: ((value: boolean) => void) | null,
  ): ObjectProperty {
    const p = this.propertyAdd(
      name,
      'bool',
      get ? boolGetter(() => get()) : null,
      set ? boolSetter((_o, v) => set(v)) : null,
    );
    return withFast(p, set ? fastBool((_o, v) => set(v)) : null);
  }
  /** Instance enum property (type = `lookup.name`; values are indices). */
  propertyAddEnum(
    name: string,
    lookup: QEnumLookup,
    get?: (() => number) | null,
    set?: ((value: number) => void) | null,
  ): ObjectProperty {
    const p = this.propertyAdd(
      name,
      lookup.name,
      get ? enumGetter(() => get(), lookup) : null,
      set ? enumSetter((_o, v) => set(v), lookup) : null,
    );
    p.enumLookup = lookup;
    return p;
  }
  /** Instance `uint8` property (QEMU's `object_property_add_uint8_ptr`, with closures). */
  propertyAddUint8(
    name: string,
    get?: (() => number) | null,
    set?: ((value: number) => void) | null,
  ): ObjectProperty {
    return addUintN(this, name, 8, get && (() => get()), set && ((_o, v) => set(v)));
  }
  /** Instance `uint16` property. */
  propertyAddUint16(
    name: string,
    get?: (() => number) | null,
    set?: ((value: number) => void) | null,
  ): ObjectProperty {
    return addUintN(this, name, 16, get && (() => get()), set && ((_o, v) => set(v)));
  }
  /** Instance `uint32` property. */
  propertyAddUint32(
    name: string,
    get?: (() => number) | null,
    set?: ((value: number) => void) | null,
  ): ObjectProperty {
    return addUintN(this, name, 32, get && (() => get()), set && ((_o, v) => set(v)));
  }
  /** Instance `uint64` property; the setter receives a bigint. */
  propertyAddUint64(
    name: string,
    get?: (() => bigint) | null,
    set?: ((value: bigint) => void) | null,
  ): ObjectProperty {
    const p = this.propertyAdd(
      name,
      'uint64',
      get ? uint64Getter(() => get()) : null,
      set ? uint64Setter((_o, v) => set(v)) : null,
    );
    return withFast(p, set ? fastUint64((_o, v) => set(v)) : null);
  }
  /** Instance size property (suffixes accepted from strings); see {@link ObjectClass.propertyAddSize}. */
  propertyAddSize(
    name: string,
    get?: (() => bigint) | null,
    set?: ((value: bigint) => void) | null,
    typeName = 'size',
  ): ObjectProperty {
    return this.propertyAdd(
      name,
      typeName,
      get ? sizeGetter(() => get()) : null,
      set ? sizeSetter((_o, v) => set(v)) : null,
    );
  }

  /**
   * QEMU's `object_property_add_link`: a `link<typename>` property whose
   * storage is the `get`/`set` pair. Reading gives the target's canonical
   * path (or `''`); writing takes a path (`''` clears), resolves it as a
   * `typename`, runs `opts.check`, stores, and with `opts.strong` refs the
   * new target and unrefs the old one. Without `opts.check` the link is
   * read-only, as in QEMU (use {@link objectPropertyAllowSetLink} to allow
   * everything). Releasing a strong link unrefs its target.
   */
  propertyAddLink<T extends QomObject>(
    name: string,
    target: InstanceConstructor<T>,
    get: () => T | null,
    set: ((target: T | null) => void) | null,
    opts?: LinkOptions<this, T>,
  ): ObjectProperty;
  propertyAddLink(
    name: string,
    typename: string,
    get: () => QomObject | null,
    set: ((target: QomObject | null) => void) | null,
    opts?: LinkOptions<this>,
  ): ObjectProperty;
  propertyAddLink<T extends QomObject>(
    name: string,
    target: string | InstanceConstructor<T>,
    get: () => T | null,
    set: ((target: T | null) => void) | null,
    opts: LinkOptions<this, T> = {},
  ): ObjectProperty {
    const typename = typeof target === 'string' ? target : instanceTypeName(target);
    const lp = linkProp<this, T>(
      typeof target === 'string' ? null : target,
      () => get(),
      set && ((_o, t) => set(t)),
      opts,
    );
    return this.propertyAdd(
      name,
      `link<${typename}>`,
      linkGet,
      lp.check && lp.set ? linkSet : null,
      linkRelease,
      linkResolve,
      lp,
    );
  }

  /** QEMU's `object_property_add_const_link`: a read-only link to `target`. */
  propertyAddConstLink(name: string, target: QomObject): ObjectProperty {
    const lp: LinkProp = { get: () => target, set: null, check: null, strong: false };
    return this.propertyAdd(
      name,
      `link<${target.typeName}>`,
      linkGet,
      null,
      linkRelease,
      linkResolve,
      lp,
    );
  }

  /**
   * QEMU's `object_property_try_add_child`: adds `child<type>` holding a
   * new reference to `child` and makes this object its parent. Supports
   * `name[*]`. The child must not have a parent yet.
   */
  propertyAddChild(name: string, child: QomObject): ObjectProperty {
    this.#alive();
    child.#alive();
    if (child.#parent) {
      throw new QomError(`object of type '${child.typeName}' already has a parent`);
    }
    const op = this.propertyAdd(
      `${name}`,
      `child<${child.typeName}>`,
      childGet,
      null,
      childRelease,
      childResolve,
      child,
    );
    child.ref();
    child.#parent = this;
    child.#parentProp = op;
    return op;
  }

  /**
   * QEMU's `object_property_add_alias`: `name` forwards to `target`'s
   * `targetName` (type copied, `child<X>` shown as `link<X>`; default and
   * description copied). The caller keeps `target` alive.
   */
  propertyAddAlias(name: string, target: QomObject, targetName: string): ObjectProperty {
    const tp = target.propertyFindErr(targetName);
    const type = tp.isChild ? `link${tp.type.slice('child'.length)}` : tp.type;
    const a: AliasProp = { target, targetName };
    const op = this.propertyAdd(name, type, aliasGet, aliasSet, null, aliasResolve, a);
    if (tp.defval !== undefined) op.defval = tp.defval;
    op.enumLookup = tp.enumLookup;
    op.description = tp.description;
    return op;
  }

  /** QEMU's `object_property_set_description`. */
  propertySetDescription(name: string, description: string | undefined): void {
    this.propertyFindErr(name).description = description;
  }

  /** QEMU's `object_property_get_type`. */
  propertyGetType(name: string): string {
    return this.propertyFindErr(name).type;
  }

  /**
   * QEMU's `object_property_get` with a caller's output visitor. Throws
   * `Property '%s.%s' not found` / `... is not readable`.
   */
  propertyGetWith(name: string, v: OutputVisitor): void {
    const p = this.propertyFindErr(name);
    if (!p.get) throw new QomError(`Property '${this.typeName}.${name}' is not readable`);
    p.get(this, v, name, p.opaque);
  }

  /**
   * QEMU's `object_property_set` with a caller's input visitor. Throws
   * `Property '%s.%s' not found` / `... is not writable`, or the setter's
   * error.
   */
  propertySetWith(name: string, v: Visitor): void {
    const p = this.propertyFindErr(name);
    if (!p.set) throw new QomError(`Property '${this.typeName}.${name}' is not writable`);
    p.set(this, v, name, p.opaque);
  }

  /** QEMU's `object_property_get_qobject`: the value as JSON (qom-get). */
  propertyGet(name: string): JsonValue {
    const v = new QObjectOutputVisitor();
    this.propertyGetWith(name, v);
    return v.result;
  }

  /**
   * QEMU's `object_property_set_qobject`: sets from JSON (qom-set).
   * `valueIsFloat` says `value` is a double QNum with an integral value
   * (a `1.0` literal, see {@link "tsqom/qom"!jsonMarkFloat | jsonMarkFloat}), which integer
   * properties refuse as QEMU's do; numbers inside containers carry their
   * own marks.
   */
  propertySet(name: string, value: JsonValue, valueIsFloat = false): void {
    const p = this.propertyFindErr(name);
    const set = p.set;
    if (!set) throw new QomError(`Property '${this.typeName}.${name}' is not writable`);
    if (valueIsFloat) {
      set(this, new QObjectInputVisitor(value, { rootIsFloat: true }), name, p.opaque);
      return;
    }
    if (p.fastSetFor === set && p.fastSet!(this, value)) return;
    set(this, new QObjectInputVisitor(value), name, p.opaque);
  }

  /** QEMU's `object_property_parse`: sets from a string (command line). */
  propertyParse(name: string, value: string): void {
    this.propertySetWith(name, new StringInputVisitor(value));
  }

  /** QEMU's `object_property_print`: the value as a string. */
  propertyPrint(name: string, human = false): string {
    const v = new StringOutputVisitor(human);
    this.propertyGetWith(name, v);
    return v.result;
  }

  /** QEMU's `object_property_get_bool`. */
  propertyGetBool(name: string): boolean {
    const r = this.propertyGet(name);
    if (typeof r !== 'boolean')
      throw new QomError(`Invalid parameter type for '${name}', expected: boolean`);
    return r;
  }
  /** QEMU's `object_property_get_str`. */
  propertyGetStr(name: string): string {
    const r = this.propertyGet(name);
    if (typeof r !== 'string')
      throw new QomError(`Invalid parameter type for '${name}', expected: string`);
    return r;
  }
  /** QEMU's `object_property_get_int`: an int64, always a bigint. */
  propertyGetInt(name: string): bigint {
    const r = this.propertyGet(name);
    if (!isJsonInteger(r) || BigInt(r) > (1n << 63n) - 1n || BigInt(r) < -(1n << 63n)) {
      throw new QomError(`Invalid parameter type for '${name}', expected: int`);
    }
    return BigInt(r);
  }
  /** QEMU's `object_property_get_uint`: a uint64, always a bigint. */
  propertyGetUint(name: string): bigint {
    const r = this.propertyGet(name);
    if (!isJsonInteger(r) || BigInt(r) < 0n || BigInt(r) > (1n << 64n) - 1n) {
      throw new QomError(`Invalid parameter type for '${name}', expected: uint`);
    }
    return BigInt(r);
  }
  /**
   * QEMU's `object_property_get_enum`: the enum value of property `name`
   * whose type must be `typename` (else
   * `Property %s on %s is not '%s' enum type`).
   */
  propertyGetEnum(name: string, typename: string): number {
    const p = this.propertyFindErr(name);
    if (p.type !== typename) {
      throw new QomError(`Property ${name} on ${this.typeName} is not '${typename}' enum type`);
    }
    const s = this.propertyGetStr(name);
    if (!p.enumLookup)
      throw new QomError(`Property ${name} on ${this.typeName} is not '${typename}' enum type`);
    return qapiEnumParse(p.enumLookup, s);
  }
  /**
   * QEMU's `object_property_get_link`: resolves the path the property
   * holds; an unknown path is DeviceNotFound `Device '%s' not found`.
   */
  propertyGetLink(name: string): QomObject | null {
    const s = this.propertyGetStr(name);
    if (!s) return null;
    const r = objectResolvePath(s);
    if (!r.obj) throw new QomError(`Device '${s}' not found`, 'DeviceNotFound');
    return r.obj;
  }
  /** QEMU's `object_property_set_bool`. */
  propertySetBool(name: string, value: boolean): void {
    this.propertySet(name, value);
  }
  /** QEMU's `object_property_set_str`. */
  propertySetStr(name: string, value: string): void {
    this.propertySet(name, value);
  }
  /** QEMU's `object_property_set_int` (an int64, given as a bigint). */
  propertySetInt(name: string, value: bigint): void {
    this.propertySet(name, jsonInteger(value));
  }
  /** QEMU's `object_property_set_uint` (a uint64, given as a bigint). */
  propertySetUint(name: string, value: bigint): void {
    this.propertySet(name, jsonInteger(value));
  }
  /** QEMU's `object_property_set_link`: writes the target's canonical path, or `''`. */
  propertySetLink(name: string, target: QomObject | null): void {
    this.propertySetStr(name, target ? (target.canonicalPath() ?? '') : '');
  }

  // --- composition tree ----------------------------------------------------

  /**
   * QEMU's `object_unparent`: if the object has a parent, deletes the child
   * property that holds it (which drops the parent's reference).
   */
  unparent(): void {
    this.#alive();
    const parent = this.#parent;
    if (!parent) return;
    const prop = this.#parentProp!;
    // Release first, then remove (object_property_del_child).
    const release = prop.release;
    prop.release = null;
    if (release) release(parent, prop.name, prop.opaque);
    if (parent.#props?.get(prop.name) === prop) parent.#props.delete(prop.name);
  }

  /** QEMU's `object_get_canonical_path_component`: the child property's name, or null. */
  canonicalPathComponent(): string | null {
    return this.#parentProp ? this.#parentProp.name : null;
  }

  /** QEMU's `object_get_canonical_path`: `/a/b`, `/` for the root, null when detached. */
  canonicalPath(): string | null {
    const root = objectGetRoot();
    if (this === root) return '/';
    const first = this.#parentProp;
    if (first === null) return null;
    let path = `/${first.name}`;
    for (let obj = this.#parent!; obj !== root; obj = obj.#parent!) {
      const c = obj.#parentProp;
      // A canonical path must reach the root; a detached ancestor has none.
      if (c === null) return null;
      path = `/${c.name}${path}`;
    }
    return path;
  }

  /** QEMU's `object_resolve_path_component`: through child, link or alias property `part`. */
  resolvePathComponent(part: string): QomObject | null {
    const p = this.propertyFind(part);
    if (!p || !p.resolve) return null;
    return p.resolve(this, p.opaque, part);
  }

  /** The children (child properties), in insertion order. */
  *children(): IterableIterator<QomObject> {
    this.#alive();
    if (!this.#props) return;
    for (const p of this.#props.values()) if (p.isChild) yield p.opaque as QomObject;
  }

  /**
   * QEMU's `object_child_foreach`: calls `fn` for each child; stops at the
   * first non-zero (truthy) result and returns it, else 0.
   */
  childForeach(fn: (child: QomObject) => number | boolean | void): number | boolean {
    this.#alive();
    if (!this.#props) return 0;
    for (const p of this.#props.values()) {
      if (!p.isChild) continue;
      const r = fn(p.opaque as QomObject);
      if (r) return r;
    }
    return 0;
  }

  /** QEMU's `object_child_foreach_recursive`: depth first, same stopping rule. */
  childForeachRecursive(fn: (child: QomObject) => number | boolean | void): number | boolean {
    this.#alive();
    if (!this.#props) return 0;
    for (const p of this.#props.values()) {
      if (!p.isChild) continue;
      const child = p.opaque as QomObject;
      let r = fn(child);
      if (r) return r;
      r = child.childForeachRecursive(fn);
      if (r) return r;
    }
    return 0;
  }
}

// ---------------------------------------------------------------------------
// Creation and lookup

function objectNewWithType(ti: TypeImpl): QomObject {
  typeInitialize(ti);
  if (ti.abstract) throw new QomError(`object type '${ti.name}' is abstract`);
  constructingObject = ti;
  let obj: QomObject;
  try {
    obj = new (ti.instanceCtor as new () => QomObject)();
  } finally {
    constructingObject = null;
  }
  initObject(obj, ti);
  if (traceQom.enabled) traceQom('object_new %s', ti.name);
  return obj;
}

/**
 * QEMU's `object_new`: a new instance with reference count 1. Given the
 * type's instance class (`objectNew(HostMemoryBackendRam)`), the result
 * has that class's type; given a type name (QEMU-style), it is a
 * {@link QomObject}: use {@link objectCheck} or {@link objectDynamicCast}
 * to reach a subclass. Throws `unknown type '%s'` or
 * `object type '%s' is abstract`.
 */
export function objectNew<T extends QomObject>(type: InstanceConstructor<T>): T;
export function objectNew(typename: string): QomObject;
export function objectNew<T extends QomObject>(type: string | InstanceConstructor<T>): QomObject {
  if (typeof type === 'string') return objectNewWithType(typeGetOrLoadByName(type));
  const obj = objectNewWithType(instanceTypeImpl(type));
  if (!(obj instanceof type)) {
    obj.unref();
    throw castError(obj.typeName, instanceTypeName(type));
  }
  return obj;
}

/** QEMU's `object_new_with_class`. */
export function objectNewWithClass(klass: ObjectClass): QomObject {
  return objectNewWithType(klass.typeImpl);
}

/** QEMU's `object_class_by_name`: the (initialised) class, or null. */
export function objectClassByName(typename: string): ObjectClass | null {
  const t = typeTable.get(typename);
  return t ? typeInitialize(t) : null;
}

/**
 * The type name registered for an instance class; throws if the class is
 * not a QOM type (it was neither decorated nor given as `instanceType`).
 */
export function instanceTypeName(type: InstanceConstructor): string {
  return instanceTypeImpl(type).name;
}

/**
 * The type name that declared a class struct constructor (its first
 * `classType`); throws if no registered type declared it.
 */
export function classTypeName(type: ClassType): string {
  const t = classCtorTypes.get(type);
  if (!t) throw new QomError(`class ${type.name} is not the class type of a registered QOM type`);
  return t.name;
}

function instanceTypeImpl(type: InstanceConstructor): TypeImpl {
  const t = ctorTypes.get(type);
  if (!t) throw new QomError(`class ${type.name} is not a registered QOM type`);
  return t;
}

// QEMU's object_dynamic_cast_assert text (QEMU prints the pointer; we print the type).
function castError(have: string, want: string): QomError {
  return new QomError(`Object ${have} is not an instance of type ${want}`);
}

/**
 * QEMU's `object_dynamic_cast`: `obj` as an instance of the type, or null.
 * Given an instance class the result has its type; given a name, it is a
 * {@link QomObject}. Interfaces are casts on classes: see
 * {@link objectClassDynamicCast} and {@link objectGetInterface}.
 */
export function objectDynamicCast<T extends QomObject>(
  obj: QomObject,
  type: InstanceConstructor<T>,
): T | null;
export function objectDynamicCast(obj: QomObject, typename: string): QomObject | null;
export function objectDynamicCast<T extends QomObject>(
  obj: QomObject,
  type: string | InstanceConstructor<T>,
): QomObject | null {
  return typeof type === 'string' ? obj.dynamicCast(type) : obj.dynamicCast(type);
}

/**
 * QEMU's `object_dynamic_cast_assert` (the `OBJECT_CHECK` macros): `obj`
 * as an instance of the type, or a {@link QomError} with QEMU's text
 * `Object <type> is not an instance of type <name>` (QEMU prints the
 * object's address and aborts; tsqom throws).
 */
export function objectCheck<T extends QomObject>(obj: QomObject, type: InstanceConstructor<T>): T;
export function objectCheck(obj: QomObject, typename: string): QomObject;
export function objectCheck<T extends QomObject>(
  obj: QomObject,
  type: string | InstanceConstructor<T>,
): QomObject {
  if (typeof type === 'string') {
    const r = obj.dynamicCast(type);
    if (!r) throw castError(obj.typeName, type);
    return r;
  }
  const r = obj.dynamicCast(type);
  if (!r) throw castError(obj.typeName, instanceTypeName(type));
  return r;
}

/**
 * QEMU's `object_class_dynamic_cast`: the class as the given class struct
 * type (a subclass of {@link ObjectClass}; for an interface, e.g.
 * `UserCreatableClass`, the type's interface class), or null.
 */
export function objectClassDynamicCast<C extends ObjectClass>(
  klass: ObjectClass,
  type: ClassType<C>,
): C | null;
export function objectClassDynamicCast(klass: ObjectClass, typename: string): ObjectClass | null;
export function objectClassDynamicCast<C extends ObjectClass>(
  klass: ObjectClass,
  type: string | ClassType<C>,
): ObjectClass | null {
  return typeof type === 'string' ? klass.dynamicCast(type) : klass.dynamicCast(type);
}

/**
 * QEMU's `object_class_dynamic_cast_assert` (`OBJECT_CLASS_CHECK`): like
 * {@link objectClassDynamicCast} but throws QEMU's text instead of
 * returning null.
 */
export function objectClassCheck<C extends ObjectClass>(klass: ObjectClass, type: ClassType<C>): C;
export function objectClassCheck(klass: ObjectClass, typename: string): ObjectClass;
export function objectClassCheck<C extends ObjectClass>(
  klass: ObjectClass,
  type: string | ClassType<C>,
): ObjectClass {
  if (typeof type === 'string') {
    const r = klass.dynamicCast(type);
    if (!r) throw castError(klass.typeName, type);
    return r;
  }
  const r = klass.dynamicCast(type);
  if (!r) throw castError(klass.typeName, classCtorTypes.get(type)?.name ?? type.name);
  return r;
}

/**
 * QEMU's `OBJECT_GET_CLASS`: the object's class as the given class struct
 * type (`objectGetClass(dev, DeviceClass)`), or QEMU's cast error.
 */
export function objectGetClass<C extends ObjectClass>(obj: QomObject, type: ClassType<C>): C {
  const k = obj.klass;
  if (k instanceof type) return k;
  throw castError(obj.typeName, classCtorTypes.get(type)?.name ?? type.name);
}

/**
 * QEMU's `object_get_interface` / `INTERFACE_CHECK` for an object: the
 * object's class for the interface whose class struct is `type` (e.g.
 * `UserCreatableClass`), or null when the object does not implement it.
 */
export function objectGetInterface<C extends InterfaceClass>(
  obj: QomObject,
  type: ClassType<C>,
): C | null {
  return obj.klass.dynamicCast(type);
}

/** QEMU's `object_class_get_parent`. */
export function objectClassGetParent(klass: ObjectClass): ObjectClass | null {
  return klass.parent;
}

/**
 * QEMU's `object_class_foreach`: every registered class (initialising
 * it), optionally only those implementing `implementsType`, optionally
 * including abstract ones. Registering types meanwhile throws.
 */
export function objectClassForeach(
  fn: (klass: ObjectClass) => void,
  implementsType: string | null,
  includeAbstract: boolean,
): void {
  const types = [...typeTable.values()];
  enumeratingTypes = true;
  try {
    for (const t of types) {
      const k = typeInitialize(t);
      if (!includeAbstract && t.abstract) continue;
      if (implementsType !== null && !k.dynamicCast(implementsType)) continue;
      fn(k);
    }
  } finally {
    enumeratingTypes = false;
  }
}

/** QEMU's `object_class_get_list` (each class prepended, like QEMU's list). */
export function objectClassGetList(
  implementsType: string | null,
  includeAbstract: boolean,
): ObjectClass[] {
  const out: ObjectClass[] = [];
  objectClassForeach((k) => out.push(k), implementsType, includeAbstract);
  return out.reverse();
}

function strcasecmp(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/** QEMU's `object_class_get_list_sorted`: sorted case-insensitively by name. */
export function objectClassGetListSorted(
  implementsType: string | null,
  includeAbstract: boolean,
): ObjectClass[] {
  return objectClassGetList(implementsType, includeAbstract).sort((a, b) =>
    strcasecmp(a.typeName, b.typeName),
  );
}

// ---------------------------------------------------------------------------
// Root and containers

const ROOT_CONTAINERS = ['audiodevs', 'chardevs', 'objects', 'backend'];
let root: QomObject | null = null;
let internalRoot: QomObject | null = null;

/** QEMU's `object_property_add_new_container`: adds a new container child. */
export function objectPropertyAddNewContainer(obj: QomObject, name: string): QomObject {
  const child = objectNew(TYPE_CONTAINER);
  obj.propertyAddChild(name, child);
  child.unref();
  return child;
}

/**
 * QEMU's `object_get_root`: the root container, created on first use with
 * the containers `audiodevs`, `chardevs`, `objects` and `backend`.
 */
export function objectGetRoot(): QomObject {
  if (!root) {
    const r = objectNew(TYPE_CONTAINER);
    root = r;
  }
  return root;
}

/**
 * QEMU 7.2's `container_get(object_get_root(), "/name")`: the root's
 * container child `name`, created on first use (so `/objects` does not
 * exist before the first object, as in QEMU 7.2).
 */
export function objectGetContainer(name: string): QomObject {
  const root = objectGetRoot();
  const c = root.resolvePathComponent(name);
  if (!c) {
    if (!ROOT_CONTAINERS.includes(name)) throw new QomError(`container '${name}' not found`);
    return objectPropertyAddNewContainer(root, name);
  }
  if (!c.isA(TYPE_CONTAINER)) throw new QomError(`container '${name}' not found`);
  return c;
}

/** QEMU's `object_get_objects_root`: `/objects`, where user-created objects live. */
export function objectGetObjectsRoot(): QomObject {
  return objectGetContainer('objects');
}

/** QEMU's `object_get_internal_root`: a container outside the tree, for internal objects. */
export function objectGetInternalRoot(): QomObject {
  if (!internalRoot) internalRoot = objectNew(TYPE_CONTAINER);
  return internalRoot;
}

// ---------------------------------------------------------------------------
// Paths

/** Result of a path resolution. */
export interface ResolveResult {
  /** The object found, or null. */
  obj: QomObject | null;
  /** True when a partial path matched more than one object. */
  ambiguous: boolean;
}

function splitPath(path: string): string[] {
  // g_strsplit("", "/") is an empty vector.
  return path === '' ? [] : path.split('/');
}

function resolveAbsPath(
  parent: QomObject,
  parts: readonly string[],
  from: number,
  typename: string,
): QomObject | null {
  let obj: QomObject | null = parent;
  for (let i = from; i < parts.length; i++) {
    if (parts[i] === '') continue;
    obj = obj.resolvePathComponent(parts[i]);
    if (!obj) return null;
  }
  return obj.dynamicCast(typename);
}

function resolvePartialPath(
  parent: QomObject,
  parts: readonly string[],
  typename: string,
  amb: { v: boolean },
): QomObject | null {
  let obj = resolveAbsPath(parent, parts, 0, typename);
  const props = instancePropsOf(parent);
  if (!props) return obj;
  for (const p of props.values()) {
    if (!p.isChild) continue;
    const found = resolvePartialPath(p.opaque as QomObject, parts, typename, amb);
    if (found) {
      if (obj) {
        amb.v = true;
        return null;
      }
      obj = found;
    }
    if (amb.v) return null;
  }
  return obj;
}

/**
 * QEMU's `object_resolve_path_type`. An absolute path (leading `/`) walks
 * from the root through child, link and alias properties (empty components
 * are skipped). Any other path is partial: it is tried from every object of
 * the composition tree; one match wins, several are ambiguous. The result
 * must be a `typename`.
 */
export function objectResolvePathType(path: string, typename: string): ResolveResult {
  const parts = splitPath(path);
  const r = objectGetRoot();
  if (parts.length === 0 || parts[0] !== '') {
    const amb = { v: false };
    const obj = resolvePartialPath(r, parts, typename, amb);
    return { obj, ambiguous: amb.v };
  }
  return { obj: resolveAbsPath(r, parts, 1, typename), ambiguous: false };
}

/** QEMU's `object_resolve_path` (any type), or with a `typename` like {@link objectResolvePathType}. */
export function objectResolvePath(path: string, typename: string = TYPE_OBJECT): ResolveResult {
  return objectResolvePathType(path, typename);
}

/**
 * QEMU's `object_resolve_path_at`: a relative path from `parent` (no
 * partial search), an absolute one from the root.
 */
export function objectResolvePathAt(parent: QomObject, path: string): QomObject | null {
  const parts = splitPath(path);
  if (path.startsWith('/')) return resolveAbsPath(objectGetRoot(), parts, 1, TYPE_OBJECT);
  return resolveAbsPath(parent, parts, 0, TYPE_OBJECT);
}

/**
 * QEMU's `object_resolve_type_unambiguous`: the only object of `typename`
 * in the tree; throws `More than one object of type %s` /
 * `No object found of type %s`.
 */
export function objectResolveTypeUnambiguous(typename: string): QomObject {
  const r = objectResolvePathType('', typename);
  if (r.ambiguous) throw new QomError(`More than one object of type ${typename}`);
  if (!r.obj) throw new QomError(`No object found of type ${typename}`);
  return r.obj;
}

// ---------------------------------------------------------------------------
// Built-in types

typeInterface = typeRegisterInternal({
  name: TYPE_INTERFACE,
  classType: InterfaceClass,
  abstract: true,
});
typeRegisterInternal({
  name: TYPE_OBJECT,
  instanceType: QomObject,
  abstract: true,
  classInit(oc: ObjectClass) {
    oc.propertyAddStr('type', (obj) => obj.typeName, null);
  },
});
typeRegister({ name: TYPE_CONTAINER, parent: TYPE_OBJECT });
typeRegister({ name: TYPE_USER_CREATABLE, parent: TYPE_INTERFACE, classType: UserCreatableClass });

/**
 * A property value applied to every object of a type when it is created
 * (QEMU's GlobalProperty: `-global DRIVER.PROPERTY=VALUE`).
 */
export interface GlobalProperty {
  /** The type name; objects of this type and its subtypes are affected. */
  readonly driver: string;
  /** The property to set. */
  readonly property: string;
  /** The value, parsed as the command line parses property values. */
  readonly value: string;
  /** Skip objects that lack the property instead of failing. */
  readonly optional?: boolean;
  /** Set once the global has been applied to some object. */
  used: boolean;
}

/**
 * QEMU's object_apply_global_props: applies each of `props` that matches
 * `obj`'s type, in order (a later one wins). A failure is prefixed
 * `can't apply global D.P=V: ` and thrown when `onError` is `throw`;
 * with `warn` it is reported as a warning and the other globals still
 * apply.
 */
export function objectApplyGlobalProps(
  obj: QomObject,
  props: readonly GlobalProperty[],
  onError: 'throw' | 'warn',
): void {
  for (const p of props) {
    if (!obj.dynamicCast(p.driver)) continue;
    if (p.optional && !obj.propertyFind(p.property)) continue;
    p.used = true;
    try {
      obj.propertyParse(p.property, p.value);
    } catch (e) {
      const err = errorPrepend(e, `can't apply global ${p.driver}.${p.property}=${p.value}: `);
      if (onError === 'throw') throw err;
      warnReport(err.message);
    }
  }
}
