/**
 * QMP commands for the object model (qom/qom-qmp-cmds.c): `qom-list`,
 * `qom-get`, `qom-set`, `qom-list-types`, `qom-list-properties`,
 * `object-add`, `object-del`, with QEMU 7.2's replies and errors.
 *
 * `object-add` checks its arguments like QAPI's `ObjectOptions` union:
 * `qom-type` must name a concrete user-creatable type
 * (`Parameter 'qom-type' does not accept value '...'`), then the members
 * registered for that type with {@link registerObjectOptions} are checked
 * in schema order. A type without registered members passes its
 * arguments to the object unchecked (QEMU has a schema for every type it
 * accepts; tsqom also serves types embedders define).
 * @module
 */
import { HostMemoryBackend, hostMemoryBackendWaitPrealloc } from '../backends/hostmem.js';
import {
  type JsonObject,
  type JsonValue,
  jsonCopyFloatMarks,
  jsonIsFloat,
} from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import {
  type QomObject,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  objectClassByName,
  objectClassForeach,
  objectNew,
  objectResolvePath,
} from '../qom/object.js';
import {
  type KeyvalProps,
  userCreatableAddType,
  userCreatableDel,
} from '../qom/object_interfaces.js';
import { type QapiFlatUnion, type QapiMembers, qapiInputVisit } from '../qapi/qapi.js';
import { qdictReorder } from '../qobject/qdict.js';
import { qmpCommands, type QmpCommandRegistry } from './qmp-dispatch.js';

const objectOptions = new Map<string, QapiMembers>();

/**
 * Declares the QAPI members `object-add` (and `-object`) accept for a QOM
 * type, in schema order, e.g. `MemoryBackendProperties` for
 * `memory-backend-ram`. `qom-type` and `id` are implied.
 */
export function registerObjectOptions(qomType: string, members: QapiMembers): void {
  objectOptions.set(qomType, members);
}

/** The members registered for a type, if any. */
export function objectOptionsFor(qomType: string): QapiMembers | undefined {
  return objectOptions.get(qomType);
}

/** Whether `name` is in QAPI's `ObjectType` enum: a concrete user-creatable type. */
export function isObjectType(name: string): boolean {
  const k = objectClassByName(name);
  return !!k && !k.isAbstract && !!k.dynamicCast(TYPE_USER_CREATABLE);
}

/** The `ObjectType` enum: every concrete user-creatable type, sorted. */
export function objectTypes(): string[] {
  const out: string[] = [];
  objectClassForeach((k) => out.push(k.typeName), TYPE_USER_CREATABLE, false);
  return out.sort();
}

/** QAPI `ObjectOptions`: the flat union `object-add` takes. */
export const OBJECT_OPTIONS: QapiFlatUnion = {
  base: { 'qom-type': { enum: objectTypes, accepts: isObjectType }, id: 'str' },
  discriminator: 'qom-type',
  branches: (tag) => objectOptions.get(tag) ?? 'passthrough',
};

/** `ObjectOptions` after checking, as the object receives them. */
export interface ParsedObjectOptions {
  /** The QOM type. */
  qomType: string;
  /** The object's id. */
  id: string;
  /** Typed properties, in QDict order (the order they are set in). */
  props: JsonObject;
  /** No members are registered for the type: `props` went unchecked. */
  untyped: boolean;
}

/**
 * Checks `ObjectOptions` (from JSON, or from keyval strings) and returns
 * the type, id and properties as `user_creatable_add_qapi()` hands them
 * to the object: typed values, in QDict order.
 */
export function parseObjectOptions(args: JsonObject, keyval = false): ParsedObjectOptions {
  const checked = qapiInputVisit(OBJECT_OPTIONS, args, { keyval });
  const { 'qom-type': qomType, id, ...rest } = checked;
  const untyped = !objectOptions.has(qomType as string);
  const props = qdictReorder(rest);
  jsonCopyFloatMarks(checked, props);
  return { qomType: qomType as string, id: id as string, props, untyped };
}

/** `user_creatable_add_qapi()`: creates the object; `/objects/<id>` keeps it. */
export async function objectAdd(args: JsonObject, keyval = false): Promise<void> {
  const { qomType, id, props, untyped } = parseObjectOptions(args, keyval);
  // Unchecked keyval members go to the object as the keyval parser left
  // them (strings, or dicts of strings for dotted keys).
  const obj =
    keyval && untyped
      ? await userCreatableAddType(qomType, id, props as KeyvalProps, { keyval: true })
      : await userCreatableAddType(qomType, id, props);
  obj.unref();
}

/** `qom_resolve_path()` of qom-list: distinguishes ambiguity. */
function qomResolvePath(path: string): QomObject {
  const r = objectResolvePath(path);
  if (!r.obj) {
    if (r.ambiguous) throw new QomError(`Path '${path}' is ambiguous`);
    throw new QomError(`Device '${path}' not found`, 'DeviceNotFound');
  }
  return r.obj;
}

/** Path resolution of qom-get and qom-set: ambiguity is "not found". */
function resolveOrNotFound(path: string): QomObject {
  const r = objectResolvePath(path);
  if (!r.obj) throw new QomError(`Device '${path}' not found`, 'DeviceNotFound');
  return r.obj;
}

/** `qmp_qom_list()`: `[{name, type}]`, last property first as in QEMU. */
export function qmpQomList(path: string): JsonObject[] {
  const obj = qomResolvePath(path);
  const out: JsonObject[] = [];
  for (const p of obj.properties()) out.push({ name: p.name, type: p.type });
  return out.reverse();
}

/** `qmp_qom_get()`. */
export function qmpQomGet(path: string, property: string): JsonValue {
  return resolveOrNotFound(path).propertyGet(property);
}

/**
 * `qmp_qom_set()`. `valueIsFloat`: `value` is a double with an integral
 * value (`1.0`), which integer properties refuse as QEMU's do (see
 * {@link QomObject.propertySet}).
 */
export function qmpQomSet(
  path: string,
  property: string,
  value: JsonValue,
  valueIsFloat = false,
): void {
  resolveOrNotFound(path).propertySet(property, value, valueIsFloat);
}

/** `qmp_qom_list_types()`. */
export function qmpQomListTypes(implementsType?: string, abstract = false): JsonObject[] {
  const out: JsonObject[] = [];
  objectClassForeach(
    (k) => {
      const info: JsonObject = { name: k.typeName };
      if (k.isAbstract) info.abstract = true;
      const parent = k.parent;
      if (parent) info.parent = parent.typeName;
      out.push(info);
    },
    implementsType ?? null,
    abstract,
  );
  return out.reverse();
}

/**
 * `qmp_qom_list_properties()` (QEMU 7.2: name, type and description;
 * defaults are not reported). An abstract type lists its class
 * properties; a concrete one is instantiated so instance properties show.
 */
export function qmpQomListProperties(typename: string): JsonObject[] {
  const klass = objectClassByName(typename);
  if (!klass) throw new QomError(`Class '${typename}' not found`, 'DeviceNotFound');
  if (!klass.dynamicCast(TYPE_OBJECT))
    throw new QomError("Parameter 'typename' expects a QOM type");
  const out: JsonObject[] = [];
  const add = (p: { name: string; type: string; description?: string }): void => {
    const info: JsonObject = { name: p.name, type: p.type };
    if (p.description !== undefined) info.description = p.description;
    out.push(info);
  };
  if (klass.isAbstract) {
    for (const p of klass.properties()) add(p);
  } else {
    const obj = objectNew(typename);
    try {
      for (const p of obj.properties()) add(p);
    } finally {
      obj.unref();
    }
  }
  return out.reverse();
}

/** Registers the QOM commands in a registry (the global one already has them). */
export function registerQomCommands(registry: QmpCommandRegistry): void {
  registry.register({
    name: 'qom-list',
    args: { path: 'str' },
    allowPreconfig: true,
    handler: (args) => qmpQomList(args.path as string),
  });
  registry.register({
    name: 'qom-set',
    args: { path: 'str', property: 'str', value: 'any' },
    allowPreconfig: true,
    async handler(args) {
      const obj = resolveOrNotFound(args.path as string);
      obj.propertySet(args.property as string, args.value, jsonIsFloat(args, 'value'));
      // QEMU replies once a preallocation started by the set has finished (or
      // failed); tsqom waits too, without blocking other monitors.
      if (args.property === 'prealloc' && obj instanceof HostMemoryBackend) {
        await hostMemoryBackendWaitPrealloc(obj);
      }
      return {};
    },
  });
  registry.register({
    name: 'qom-get',
    args: { path: 'str', property: 'str' },
    allowPreconfig: true,
    handler: (args) => qmpQomGet(args.path as string, args.property as string),
  });
  registry.register({
    name: 'qom-list-types',
    args: { '*implements': 'str', '*abstract': 'bool' },
    allowPreconfig: true,
    handler: (args) =>
      qmpQomListTypes(args.implements as string | undefined, args.abstract as boolean | undefined),
  });
  registry.register({
    name: 'qom-list-properties',
    args: { typename: 'str' },
    allowPreconfig: true,
    handler: (args) => qmpQomListProperties(args.typename as string),
  });
  registry.register({
    name: 'object-add',
    rawArgs: true,
    allowPreconfig: true,
    async handler(args) {
      await objectAdd(args);
      return {};
    },
  });
  registry.register({
    name: 'object-del',
    args: { id: 'str' },
    allowPreconfig: true,
    handler(args) {
      userCreatableDel(args.id as string);
      return {};
    },
  });
}

registerQomCommands(qmpCommands);
