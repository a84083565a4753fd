/**
 * The `@QomType` class decorator: declares a QOM type from a class, as
 * sugar for {@link typeRegister}. It builds the same TypeInfo a hand-written
 * registration would:
 *
 * - the decorated class is the instance constructor (`instanceType`);
 * - `parent` defaults to the type of the class it extends;
 * - own static `classInit(oc, data)` / `classBaseInit(oc, data)` become the
 *   class hooks;
 * - own instance methods `instanceInit()`, `instancePostInit()`,
 *   `instanceFinalize()` are the lifecycle hooks (never call `super` in
 *   them: the framework runs every level in QOM order);
 * - own instance methods named after the class struct's slots (the
 *   `instanceMethods` of its class struct, e.g. `realize()` for devices,
 *   `alloc()` for memory backends) fill those slots, with the instance as
 *   `this`; for user-creatable types, `complete()` and `canBeDeleted()`
 *   fill the UserCreatableClass's;
 * - the class struct is `classType`, else the class's own static
 *   `classType`, else the parent's; the decorator checks at compile time
 *   that `classInit` takes it and that slot methods match their slots.
 *
 * Registration happens when the class is defined; initialisation is lazy.
 * Nothing depends on `design:type` metadata.
 * @module
 */
import { QomError } from '../util/error.js';
import {
  type AnyCtor,
  type ClassConstructor,
  type ClassType,
  type InterfaceClass,
  type ObjectClass,
  type QomObject,
  TYPE_INTERFACE,
  typeNameOfConstructor,
  typeRegister,
} from './object.js';

/** What `@QomType` takes (the rest of the TypeInfo comes from the class). */
export interface QomTypeOptions<C extends ObjectClass = ObjectClass> {
  /** Type name. */
  name: string;
  /** Parent type; defaults to the type of the class this one extends. */
  parent?: string;
  /** Whether instances may not be created. */
  abstract?: boolean;
  /** Interfaces implemented. */
  interfaces?: readonly string[];
  /**
   * The class struct constructor. Defaults to the decorated class's own
   * static `classType`, else the parent's class struct.
   */
  classType?: ClassConstructor<C>;
  /** Passed to classInit / classBaseInit. */
  classData?: unknown;
}

/** The class struct an instance class declares through its static `classType`. */
export type ClassOf<K> = K extends HasClassType<infer C> ? C : ObjectClass;

/** An instance class that names its class struct (see `QomObject.classType`). */
export interface HasClassType<C extends ObjectClass> {
  /** The class struct constructor. */
  readonly classType: ClassType<C>;
}

/**
 * The instance methods that may fill the "virtual method" slots of class
 * struct `C`: a slot `(obj, ...args) => R` is implemented by a method
 * `(...args) => R` whose `this` is the instance (see
 * `ObjectClass.instanceMethods`). Slots of ObjectClass itself are not
 * methods.
 */
export type InstanceMethodsOf<C> = {
  [
    K in keyof C as K extends keyof ObjectClass
      ? never
      : NonNullable<C[K]> extends (obj: never, ...args: never[]) => unknown
        ? K
        : never
  ]?: NonNullable<C[K]> extends (obj: never, ...args: infer A) => infer R
    ? (...args: A) => R
    : never;
};

/** The user-creatable methods an instance class may define (see `UserCreatableClass`). */
export interface UserCreatableMethods {
  /** Finishes creation after the properties are set (may be asynchronous). */
  complete?: () => void | Promise<void>;
  /** Whether object-del may delete the object. */
  canBeDeleted?: () => boolean;
}

/**
 * What `@QomType` checks on the decorated class, given its class struct
 * `C`: static `classInit` / `classBaseInit` take `C`, and instance methods
 * that fill class slots have the slots' signatures.
 */
export type QomTypeHooks<C extends ObjectClass> = {
  /** QEMU's class_init, receiving the type's own class struct. */
  classInit?: (oc: C, data?: unknown) => void;
  /** QEMU's class_base_init. */
  classBaseInit?: (oc: C, data?: unknown) => void;
} & (abstract new () => QomObject & InstanceMethodsOf<C> & UserCreatableMethods);

type StaticHooks = {
  classInit?: (oc: ObjectClass, data?: unknown) => void;
  classBaseInit?: (oc: ObjectClass, data?: unknown) => void;
};

/**
 * Declares the decorated class as a QOM type; see the module notes. The
 * class struct `C` is `opts.classType`, else the class's static
 * `classType`: `classInit(oc)` receives it, and instance methods named
 * after its slots (`realize()`, `alloc()`, ...) must match the slots.
 */
export function QomType<C extends ObjectClass = never>(
  opts: QomTypeOptions<C>,
): <K extends abstract new () => QomObject>(
  ctor: K & QomTypeHooks<[C] extends [never] ? ClassOf<K> : C>,
) => void {
  return (ctor) => {
    let parent = opts.parent;
    if (parent === undefined) {
      const pc: unknown = Object.getPrototypeOf(ctor);
      parent =
        typeof pc === 'function' ? (typeNameOfConstructor(pc as AnyCtor) ?? undefined) : undefined;
      if (parent === undefined) {
        throw new QomError(
          `@QomType '${opts.name}': the class it extends is not a registered QOM type`,
        );
      }
    }
    const own = (k: keyof StaticHooks): ((oc: ObjectClass, data: unknown) => void) | undefined => {
      if (!Object.prototype.hasOwnProperty.call(ctor, k)) return undefined;
      const fn = (ctor as StaticHooks)[k];
      return typeof fn === 'function' ? (oc, data) => fn.call(ctor, oc, data) : undefined;
    };
    typeRegister<ObjectClass, QomObject>({
      name: opts.name,
      parent,
      abstract: opts.abstract,
      interfaces: opts.interfaces,
      classType: opts.classType,
      classData: opts.classData,
      instanceType: ctor,
      classInit: own('classInit'),
      classBaseInit: own('classBaseInit'),
    });
  };
}

/** What `@QomInterface` takes. */
export interface QomInterfaceOptions {
  /** Interface type name. */
  name: string;
  /** The interface it extends; QEMU's `interface` by default. */
  parent?: string;
}

/**
 * Declares a QOM interface from its class struct: interfaces have no
 * instances, so the decorated class is the interface's class (QEMU's
 * `FooClass` of an `INTERFACE_CHECK` type), registered as a type whose
 * parent is `interface` unless `opts.parent` names another interface.
 * Types implement it by listing its name in `@QomType({ interfaces })`.
 */
export function QomInterface(
  opts: QomInterfaceOptions,
): <K extends ClassConstructor<InterfaceClass>>(ctor: K) => void {
  return (ctor) => {
    typeRegister({
      name: opts.name,
      parent: opts.parent ?? TYPE_INTERFACE,
      abstract: true,
      classType: ctor,
    });
  };
}
