/**
 * The user-creatable interface (QEMU's qom/object_interfaces.c) and object
 * creation with properties (object_new_with_props): what `-object` and
 * QMP `object-add` / `object-del` do.
 *
 * A type becomes user-creatable by listing {@link TYPE_USER_CREATABLE} in
 * its interfaces. Its per-type {@link UserCreatableClass} may set
 * `complete` (runs after the properties are set; may return a Promise) and
 * `canBeDeleted`. With the `QomType` decorator (or any type registered with
 * an `instanceType`), instance methods named `complete()` and
 * `canBeDeleted()` defined on the class are wired into the interface class.
 * @module
 */
import { QomError } from '../util/error.js';
import { idWellformed } from '../util/cutils.js';
import {
  type JsonObject,
  type JsonValue,
  jsonCopyFloatMarks,
  jsonStringify,
} from '../qobject/qobject.js';
import { QObjectInputVisitor, type Visitor } from '../qapi/visitor.js';
import {
  type InstanceConstructor,
  type ObjectClass,
  type ObjectProperty,
  instanceTypeName,
  objectCheck,
  QomObject,
  TYPE_USER_CREATABLE,
  UserCreatableClass,
  objectClassByName,
  objectClassGetListSorted,
  objectGetObjectsRoot,
  objectNewWithClass,
  userCreatableCanBeDeleted,
  userCreatableComplete,
} from './object.js';

export {
  TYPE_USER_CREATABLE,
  UserCreatableClass,
  userCreatableComplete,
  userCreatableCanBeDeleted,
  idWellformed,
};

const ID_HINT = "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n";

function isThenable(x: unknown): x is PromiseLike<void> {
  return (
    typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function'
  );
}

/**
 * `object_set_properties_from_qdict`: sets each member of `qdict` (in key
 * order) through `v`, then reports leftovers (`Parameter '%s' is unexpected`).
 */
export function objectSetPropertiesFromQdict(obj: QomObject, qdict: JsonObject, v: Visitor): void {
  v.startStruct(null);
  try {
    for (const key of Object.keys(qdict)) {
      if (qdict[key] === undefined) continue;
      obj.propertySetWith(key, v);
    }
    v.checkStruct();
  } finally {
    v.endStruct();
  }
}

/**
 * QEMU's `object_set_properties_from_keyval`: like
 * {@link objectSetPropertiesFromQdict} with the QObject input visitor
 * (`fromJson`) or its keyval variant.
 */
export function objectSetPropertiesFromKeyval(
  obj: QomObject,
  qdict: JsonObject,
  fromJson: boolean,
): void {
  objectSetPropertiesFromQdict(obj, qdict, new QObjectInputVisitor(qdict, { keyval: !fromJson }));
}

/** Options of {@link userCreatableAddType} for JSON property values (`object-add`). */
export interface UserCreatableAddOptions {
  /** False or absent: the properties are JSON values. */
  keyval?: false;
}

/** Options of {@link userCreatableAddType} for keyval strings (`-object`). */
export interface UserCreatableAddKeyvalOptions {
  /** The properties are keyval strings. */
  keyval: true;
}

/** Properties as the command line gives them: every value a string (`size=1G`). */
export type KeyvalProps = Record<string, string>;

/**
 * An instance class whose `complete()` never returns a Promise: what the
 * synchronous creation paths ({@link userCreatableAddTypeSync},
 * {@link objectNewWithProps}) accept. A class whose `complete()` may be
 * asynchronous (memory backends: `prealloc=on`) is a compile error there;
 * use the asynchronous path.
 */
export type SyncCreatable<T extends QomObject> = InstanceConstructor<T> &
  (T extends WithComplete<infer R>
    ? [Extract<R, PromiseLike<unknown>>] extends [never]
      ? unknown
      : AsyncCompleteRefused
    : unknown);

/** An instance class with a `complete()` method returning `R`. */
export interface WithComplete<R> {
  /** The user-creatable completion. */
  complete(): R;
}

/** What {@link SyncCreatable} demands of a class whose `complete()` may be asynchronous: nothing can be. */
export interface AsyncCompleteRefused {
  /** The compile error's message. */
  readonly 'complete() may be asynchronous: use the asynchronous creation path': never;
}

function typeNameOf(type: string | InstanceConstructor): string {
  return typeof type === 'string' ? type : instanceTypeName(type);
}

// The result of a creation by class: the object is an instance of the class
// (its type was looked up from the class), checked rather than assumed.
function asInstance<T extends QomObject>(obj: QomObject, type: InstanceConstructor<T>): T {
  try {
    return objectCheck(obj, type);
  } catch (e) {
    obj.unref();
    throw e;
  }
}

// keyval values are strings: anything else is refused with QEMU's
// invalid-type text instead of reaching the keyval visitor.
function checkKeyvalProps(props: JsonObject): void {
  for (const k of Object.keys(props)) {
    const v = props[k];
    if (v !== undefined && typeof v !== 'string' && (v === null || typeof v !== 'object')) {
      throw new QomError(`Invalid parameter type for '${k}', expected: string`);
    }
  }
}

/**
 * QEMU's `user_creatable_add_type`, in QEMU's order of checks: the id
 * (`Parameter 'id' expects an identifier`, with a hint), the type
 * (`invalid object type: %s`), user-creatable
 * (`object type '%s' isn't supported by object-add`), abstract
 * (`object type '%s' is abstract`); then the object is created, its
 * properties set in key order (leftovers: `Parameter '%s' is unexpected`),
 * it is added as `/objects/<id>` (a duplicate id fails) and completed
 * (awaited when `complete` is async). Any failure leaves nothing in
 * `/objects`. On success the caller owns one reference (the tree holds
 * the other).
 */
export async function userCreatableAddType<T extends QomObject>(
  type: InstanceConstructor<T>,
  id: string | null,
  props: JsonObject,
  opts?: UserCreatableAddOptions,
): Promise<T>;
export async function userCreatableAddType<T extends QomObject>(
  type: InstanceConstructor<T>,
  id: string | null,
  props: KeyvalProps,
  opts: UserCreatableAddKeyvalOptions,
): Promise<T>;
export async function userCreatableAddType(
  typename: string,
  id: string | null,
  props: JsonObject,
  opts?: UserCreatableAddOptions,
): Promise<QomObject>;
export async function userCreatableAddType(
  typename: string,
  id: string | null,
  props: KeyvalProps,
  opts: UserCreatableAddKeyvalOptions,
): Promise<QomObject>;
export async function userCreatableAddType<T extends QomObject>(
  type: string | InstanceConstructor<T>,
  id: string | null,
  props: JsonObject,
  opts: { keyval?: boolean } = {},
): Promise<QomObject> {
  const obj = userCreatableCreate(typeNameOf(type), id, props, opts.keyval === true);
  try {
    await userCreatableFinish(obj, id);
  } catch (e) {
    obj.unref();
    throw e;
  }
  return typeof type === 'string' ? obj : asInstance(obj, type);
}

/**
 * {@link userCreatableAddType} for types whose `complete()` is
 * synchronous: returns the object itself, not a Promise. By class, a class
 * whose `complete()` may be asynchronous does not compile
 * ({@link SyncCreatable}); by name, such a completion is refused at run
 * time (`object type '%s' completes asynchronously; use
 * userCreatableAddType()`), leaving nothing behind.
 */
export function userCreatableAddTypeSync<T extends QomObject>(
  type: SyncCreatable<T>,
  id: string | null,
  props: JsonObject,
  opts?: UserCreatableAddOptions,
): T;
export function userCreatableAddTypeSync<T extends QomObject>(
  type: SyncCreatable<T>,
  id: string | null,
  props: KeyvalProps,
  opts: UserCreatableAddKeyvalOptions,
): T;
export function userCreatableAddTypeSync(
  typename: string,
  id: string | null,
  props: JsonObject,
  opts?: UserCreatableAddOptions,
): QomObject;
export function userCreatableAddTypeSync(
  typename: string,
  id: string | null,
  props: KeyvalProps,
  opts: UserCreatableAddKeyvalOptions,
): QomObject;
export function userCreatableAddTypeSync<T extends QomObject>(
  type: string | InstanceConstructor<T>,
  id: string | null,
  props: JsonObject,
  opts: { keyval?: boolean } = {},
): QomObject {
  const typename = typeNameOf(type);
  const obj = userCreatableCreate(typename, id, props, opts.keyval === true);
  const undo = (): void => {
    if (obj.finalized) return;
    if (id !== null && obj.parent === objectGetObjectsRoot()) obj.unparent();
    obj.unref();
  };
  let r: void | Promise<void>;
  try {
    r = userCreatableComplete(obj);
  } catch (e) {
    undo();
    throw e;
  }
  if (isThenable(r)) {
    // Out of /objects at once; the reference goes when the completion settles.
    if (id !== null && obj.parent === objectGetObjectsRoot()) obj.unparent();
    r.then(undo, undo);
    throw new QomError(
      `object type '${typename}' completes asynchronously; use userCreatableAddType()`,
    );
  }
  return typeof type === 'string' ? obj : asInstance(obj, type);
}

// Steps 1-6 of user_creatable_add_type (synchronous).
function userCreatableCreate(
  typename: string,
  id: string | null,
  props: JsonObject,
  keyval: boolean,
): QomObject {
  if (id !== null && !idWellformed(id)) {
    throw new QomError(`Parameter 'id' expects an identifier`, 'GenericError', ID_HINT);
  }
  const klass = objectClassByName(typename);
  if (!klass) throw new QomError(`invalid object type: ${typename}`);
  if (!klass.dynamicCast(TYPE_USER_CREATABLE)) {
    throw new QomError(`object type '${typename}' isn't supported by object-add`);
  }
  if (klass.isAbstract) throw new QomError(`object type '${typename}' is abstract`);
  if (keyval) checkKeyvalProps(props);
  const obj = objectNewWithClass(klass);
  try {
    objectSetPropertiesFromQdict(obj, props, new QObjectInputVisitor(props, { keyval }));
    if (id !== null) objectGetObjectsRoot().propertyAddChild(id, obj);
  } catch (e) {
    obj.unref();
    throw e;
  }
  return obj;
}

async function userCreatableFinish(obj: QomObject, id: string | null): Promise<void> {
  try {
    await userCreatableComplete(obj);
  } catch (e) {
    if (id !== null && obj.parent === objectGetObjectsRoot()) obj.unparent();
    throw e;
  }
}

/**
 * QEMU's `user_creatable_add_qapi` for JSON `object-add` arguments:
 * `qom-type` and `id` are taken out of `args`, the rest are properties.
 * The reference is dropped: the object lives in `/objects` (or, without an
 * id, nowhere: it is finalized at once, as in QEMU).
 */
export async function userCreatableAddQapi(args: JsonObject): Promise<void> {
  const { 'qom-type': type, id, ...props } = args;
  if (typeof type !== 'string') {
    throw new QomError(
      type === undefined
        ? "Parameter 'qom-type' is missing"
        : "Invalid parameter type for 'qom-type', expected: string",
    );
  }
  if (id !== undefined && typeof id !== 'string') {
    throw new QomError("Invalid parameter type for 'id', expected: string");
  }
  jsonCopyFloatMarks(args, props);
  const obj = await userCreatableAddType(type, (id as string | undefined) ?? null, props);
  obj.unref();
}

/**
 * QEMU's `user_creatable_del`: `/objects/<id>` missing →
 * `object '%s' not found`; its class says no → `object '%s' is in use, can
 * not be deleted`; else it is unparented.
 */
export function userCreatableDel(id: string): void {
  const container = objectGetObjectsRoot();
  const obj = container.resolvePathComponent(id);
  if (!obj) throw new QomError(`object '${id}' not found`);
  if (obj.isA(TYPE_USER_CREATABLE) && !userCreatableCanBeDeleted(obj)) {
    throw new QomError(`object '${id}' is in use, can not be deleted`);
  }
  obj.unparent();
}

/** QEMU's `user_creatable_cleanup`: unparents `/objects` (at exit). */
export function userCreatableCleanup(): void {
  objectGetObjectsRoot().unparent();
}

function prepareWithProps(typename: string): ObjectClass {
  const klass = objectClassByName(typename);
  if (!klass) throw new QomError(`invalid object type: ${typename}`);
  if (klass.isAbstract) throw new QomError(`object type '${typename}' is abstract`);
  return klass;
}

function createWithProps(
  klass: ObjectClass,
  parent: QomObject | null,
  id: string | null,
  props: Record<string, string>,
): QomObject {
  const obj = objectNewWithClass(klass);
  try {
    for (const k of Object.keys(props)) obj.propertyParse(k, props[k]);
    if (id !== null) {
      if (!parent) throw new QomError('an object with an id needs a parent');
      parent.propertyAddChild(id, obj);
    }
  } catch (e) {
    obj.unref();
    throw e;
  }
  return obj;
}

/**
 * QEMU's `object_new_with_props`: creates `typename` (`invalid object
 * type: %s`, `object type '%s' is abstract`), parses each property from a
 * string in key order (the string input visitor: `yes`, `1G`, `0-3`),
 * adds it as child `id` of `parent`, completes it if user-creatable, and
 * returns it kept alive by its parent. Without an id, the caller owns the
 * returned reference (QEMU would free it).
 *
 * If the type's `complete` is asynchronous this throws, pointing to
 * {@link objectNewWithPropsAsync} (the object is dropped once the pending
 * completion settles).
 */
export function objectNewWithProps<T extends QomObject>(
  type: SyncCreatable<T>,
  parent: QomObject | null,
  id: string | null,
  props?: KeyvalProps,
): T;
export function objectNewWithProps(
  typename: string,
  parent: QomObject | null,
  id: string | null,
  props?: KeyvalProps,
): QomObject;
export function objectNewWithProps<T extends QomObject>(
  type: string | InstanceConstructor<T>,
  parent: QomObject | null,
  id: string | null,
  props: KeyvalProps = {},
): QomObject {
  const typename = typeNameOf(type);
  const klass = prepareWithProps(typename);
  const obj = createWithProps(klass, parent, id, props);
  if (obj.isA(TYPE_USER_CREATABLE)) {
    let r: void | Promise<void>;
    try {
      r = userCreatableComplete(obj);
    } catch (e) {
      if (id !== null) obj.unparent();
      obj.unref();
      throw e;
    }
    if (isThenable(r)) {
      const drop = (): void => {
        if (obj.finalized) return;
        if (id !== null && obj.parent) obj.unparent();
        obj.unref();
      };
      r.then(drop, drop);
      throw new QomError(
        `object type '${typename}' completes asynchronously; use objectNewWithPropsAsync() to create it`,
      );
    }
  }
  if (id !== null) obj.unref();
  return typeof type === 'string' ? obj : asInstance(obj, type);
}

/** {@link objectNewWithProps} for types whose `complete` may be asynchronous. */
export async function objectNewWithPropsAsync<T extends QomObject>(
  type: InstanceConstructor<T>,
  parent: QomObject | null,
  id: string | null,
  props?: KeyvalProps,
): Promise<T>;
export async function objectNewWithPropsAsync(
  typename: string,
  parent: QomObject | null,
  id: string | null,
  props?: KeyvalProps,
): Promise<QomObject>;
export async function objectNewWithPropsAsync<T extends QomObject>(
  type: string | InstanceConstructor<T>,
  parent: QomObject | null,
  id: string | null,
  props: KeyvalProps = {},
): Promise<QomObject> {
  const klass = prepareWithProps(typeNameOf(type));
  const obj = createWithProps(klass, parent, id, props);
  if (obj.isA(TYPE_USER_CREATABLE)) {
    try {
      await userCreatableComplete(obj);
    } catch (e) {
      if (id !== null && obj.parent) obj.unparent();
      obj.unref();
      throw e;
    }
  }
  if (id !== null) obj.unref();
  return typeof type === 'string' ? obj : asInstance(obj, type);
}

/**
 * QEMU's `object_initialize_child_with_props`: creates `typename` as child
 * `propname` of `parent`, sets `props` (strings), completes it if
 * user-creatable; the parent holds the only reference.
 */
export function objectInitializeChild<T extends QomObject>(
  parent: QomObject,
  propname: string,
  type: SyncCreatable<T>,
  props?: KeyvalProps,
): T;
export function objectInitializeChild(
  parent: QomObject,
  propname: string,
  typename: string,
  props?: KeyvalProps,
): QomObject;
export function objectInitializeChild<T extends QomObject>(
  parent: QomObject,
  propname: string,
  type: string | InstanceConstructor<T>,
  props: KeyvalProps = {},
): QomObject {
  const typename = typeNameOf(type);
  const klass = objectClassByName(typename);
  if (!klass) throw new QomError(`unknown type '${typename}'`);
  const obj = objectNewWithClass(klass);
  try {
    for (const k of Object.keys(props)) obj.propertyParse(k, props[k]);
    parent.propertyAddChild(propname, obj);
    if (obj.isA(TYPE_USER_CREATABLE)) {
      try {
        const r = userCreatableComplete(obj);
        if (isThenable(r)) throw new QomError(`object type '${typename}' completes asynchronously`);
      } catch (e) {
        obj.unparent();
        throw e;
      }
    }
  } finally {
    obj.unref();
  }
  return typeof type === 'string' ? obj : objectCheck(obj, type);
}

/**
 * QEMU's `object_property_help`: one line of `-object TYPE,help`:
 * `  name=<type>`, padded to 24 columns, ` - description`,
 * ` (default: value)` (strings raw, booleans on/off, others JSON).
 */
export function objectPropertyHelp(
  name: string,
  type: string,
  defval: JsonValue | undefined,
  description: string | undefined,
): string {
  let s = `  ${name}=<${type}>`;
  if (description !== undefined || defval !== undefined) {
    if (s.length < 24) s += ' '.repeat(24 - s.length);
    s += ' - ';
  }
  if (description !== undefined) s += description;
  if (defval !== undefined) {
    const def =
      typeof defval === 'string'
        ? defval
        : typeof defval === 'boolean'
          ? defval
            ? 'on'
            : 'off'
          : jsonStringify(defval);
    s += ` (default: ${def})`;
  }
  return s;
}

/**
 * QEMU's `type_print_class_properties`: the help text for a type's
 * settable class properties, sorted, or null for an unknown type.
 */
export function typeClassPropertiesHelp(typename: string): string | null {
  const klass = objectClassByName(typename);
  if (!klass) return null;
  const lines: string[] = [];
  for (const p of klass.properties() as Iterable<ObjectProperty>) {
    if (!p.set) continue;
    lines.push(objectPropertyHelp(p.name, p.type, p.defval, p.description));
  }
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (lines.length === 0) return `There are no options for ${typename}.\n`;
  return `${typename} options:\n${lines.map((l) => l + '\n').join('')}`;
}

/** QEMU's `user_creatable_print_types`: the `-object help` text. */
export function userCreatableTypesHelp(): string {
  return (
    'List of user creatable objects:\n' +
    objectClassGetListSorted(TYPE_USER_CREATABLE, false)
      .map((k) => `  ${k.typeName}\n`)
      .join('')
  );
}
