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
 * - for user-creatable types, own instance methods `complete()` and
 *   `canBeDeleted()` are wired into the type's UserCreatableClass.
 *
 * Registration happens when the class is defined; initialisation is lazy.
 * Nothing depends on `design:type` metadata.
 * @module
 */
import { QomError } from '../util/error.js';
import {
  type ClassConstructor,
  type ObjectClass,
  type QomObject,
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
  /** The class struct constructor (defaults to the parent's). */
  classType?: ClassConstructor<C>;
  /** Passed to classInit / classBaseInit. */
  classData?: unknown;
}

type StaticHooks = {
  classInit?: (oc: ObjectClass, data?: unknown) => void;
  classBaseInit?: (oc: ObjectClass, data?: unknown) => void;
};

/** Declares the decorated class as a QOM type; see the module notes. */
export function QomType<C extends ObjectClass = ObjectClass>(
  opts: QomTypeOptions<C>,
): (ctor: abstract new () => QomObject) => void {
  return (ctor) => {
    let parent = opts.parent;
    if (parent === undefined) {
      const pc = Object.getPrototypeOf(ctor) as abstract new () => QomObject;
      parent = typeNameOfConstructor(pc) ?? undefined;
      if (parent === undefined) {
        throw new QomError(
          `@QomType '${opts.name}': the class it extends is not a registered QOM type`,
        );
      }
    }
    const own = (k: keyof StaticHooks): ((oc: ObjectClass, data: unknown) => void) | undefined => {
      if (!Object.prototype.hasOwnProperty.call(ctor, k)) return undefined;
      const fn = (ctor as unknown as StaticHooks)[k];
      return typeof fn === 'function' ? (oc, data) => fn.call(ctor, oc, data) : undefined;
    };
    typeRegister<C, QomObject>({
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
