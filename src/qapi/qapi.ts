/**
 * QAPI argument checking, as QEMU's generated marshallers do it with the
 * QObject input visitor (qapi/qobject-input-visitor.c,
 * qapi/qapi-visit-core.c): members are visited in schema order, so the
 * first missing or mistyped member is the one reported, and leftovers are
 * reported afterwards (the first one in GLib hash order) as
 * `Parameter '%s' is unexpected`.
 *
 * Schemas use QAPI's own notation: `{ path: 'str', '*abstract': 'bool' }`,
 * `['uint16']` for a list, `{ enum: [...] }`, `{ struct: {...} }`.
 * @module
 */
import {
  type JsonObject,
  type JsonValue,
  jsonCopyFloatMarks,
  jsonIsFloat,
  jsonMarkFloat,
} from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import { GHashOrder, jsonObjectSet, qdictKeys } from '../qobject/qdict.js';
import { qemuStrtodFinite, qemuStrtoi64, qemuStrtosz, qemuStrtou64 } from '../util/cutils.js';

/** QAPI's built-in scalar types. */
export type QapiScalar =
  | 'str'
  | 'bool'
  | 'number'
  | 'any'
  | 'null'
  | 'int'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'size';

/** A QAPI enum; the values may be computed when the check runs. */
export interface QapiEnumType {
  /** The accepted values. */
  readonly enum: readonly string[] | (() => readonly string[]);
  /** A faster membership test, used instead of listing the values when given. */
  readonly accepts?: (value: string) => boolean;
}

/** A nested QAPI struct. */
export interface QapiStructType {
  /** Its members. */
  readonly struct: QapiMembers;
}

/** A QAPI type. A one-element array `[T]` is a list of T. */
export type QapiType = QapiScalar | QapiEnumType | QapiStructType | readonly [QapiType];

/** Struct members in schema order; a name starting with `*` is optional. */
export type QapiMembers = { readonly [name: string]: QapiType };

/**
 * A flat union, like `ObjectOptions`: the base members, then the members
 * of the branch the discriminator selects. A branch of `undefined` has no
 * members; a branch of `'passthrough'` accepts any further members
 * unchecked.
 */
export interface QapiFlatUnion {
  /** Common members, in order; must include the discriminator. */
  readonly base: QapiMembers;
  /** The base member whose value picks the branch. */
  readonly discriminator: string;
  /** The branch members for a discriminator value. */
  branches(tag: string): QapiMembers | 'passthrough' | undefined;
}

/** What a command's arguments may be described with. */
export type QapiArgsSchema = QapiMembers | QapiFlatUnion;

/** Whether an argument schema is a flat union. */
export function isFlatUnion(s: QapiArgsSchema): s is QapiFlatUnion {
  return (
    typeof (s as QapiFlatUnion).discriminator === 'string' &&
    typeof (s as QapiFlatUnion).branches === 'function'
  );
}

/** Options for {@link qapiInputVisit}. */
export interface QapiVisitOptions {
  /**
   * Input comes from `keyval_parse()` (command line, HMP): scalars are
   * strings and are converted as QEMU's keyval input visitor does.
   */
  keyval?: boolean;
}

const INT64_MAX = 2n ** 63n - 1n;
const TWO64 = 2n ** 64n;

const INT_RANGES: Record<string, [bigint, bigint, string]> = {
  int8: [-128n, 127n, 'int8_t'],
  int16: [-32768n, 32767n, 'int16_t'],
  int32: [-2147483648n, 2147483647n, 'int32_t'],
  uint8: [0n, 255n, 'uint8_t'],
  uint16: [0n, 65535n, 'uint16_t'],
  uint32: [0n, 4294967295n, 'uint32_t'],
};

function toJsonInt(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(b)
    : b;
}

function typeError(name: string, expected: string): QomError {
  return new QomError(`Invalid parameter type for '${name}', expected: ${expected}`);
}

function valueError(name: string, expected: string): QomError {
  return new QomError(`Parameter '${name}' expects ${expected}`);
}

/** An integer QNum's value (int or uint kind), or undefined for anything else. */
function qnumInt(
  container: JsonObject | JsonValue[],
  key: string | number,
  v: JsonValue,
): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && !jsonIsFloat(container, key))
    return BigInt(v);
  return undefined;
}

/** `qapi_bool_parse()`. */
function parseBool(s: string): boolean | undefined {
  if (s === 'on' || s === 'yes' || s === 'true' || s === 'y') return true;
  if (s === 'off' || s === 'no' || s === 'false' || s === 'n') return false;
  return undefined;
}

/** Joins a visitor path the way `full_name()` does. */
function memberName(parent: string | undefined, name: string): string {
  return parent === undefined ? name : `${parent}.${name}`;
}

/**
 * Checks and converts `args` against a schema exactly as QEMU's input
 * visitor would, throwing QEMU's error for the first problem. Returns a
 * new object with the present members, in schema order, with integers
 * normalised (negative values for unsigned types wrap, as in QEMU) and,
 * for keyval input, strings converted to typed values.
 */
export function qapiInputVisit(
  schema: QapiArgsSchema,
  args: JsonObject,
  opts: QapiVisitOptions = {},
): JsonObject {
  const v = new InputVisitor(!!opts.keyval);
  return v.visitTop(schema, args);
}

/**
 * The members of one struct being visited. QEMU keeps the unvisited ones
 * in a GLib hash table; the table is only rebuilt (replaying the same
 * inserts and removals) when something is left over to report.
 */
class StructState {
  readonly consumed = new Set<string>();
  private readonly order: string[] = [];

  constructor(private readonly obj: JsonObject) {}

  consume(name: string): void {
    if (!this.consumed.has(name)) {
      this.consumed.add(name);
      this.order.push(name);
    }
  }

  /** `visit_check_struct()`: reports the first leftover in hash order. */
  check(path: string | undefined): void {
    const keys = qdictKeys(this.obj);
    if (keys.length === this.consumed.size) return;
    const h = new GHashOrder();
    for (const k of keys) h.insert(k);
    for (const k of this.order) h.remove(k);
    const first = h.first();
    if (first !== undefined)
      throw new QomError(`Parameter '${memberName(path, first)}' is unexpected`);
  }
}

class InputVisitor {
  constructor(private readonly keyval: boolean) {}

  visitTop(schema: QapiArgsSchema, args: JsonObject): JsonObject {
    const seen = new StructState(args);
    const out: JsonObject = {};
    if (isFlatUnion(schema)) {
      this.visitMembers(schema.base, args, undefined, seen, out);
      const tag = out[schema.discriminator];
      const branch = typeof tag === 'string' ? schema.branches(tag) : undefined;
      if (branch === 'passthrough') {
        for (const k of qdictKeys(args)) {
          if (!seen.consumed.has(k)) jsonObjectSet(out, k, args[k]);
        }
        jsonCopyFloatMarks(args, out);
        return out;
      }
      if (branch) this.visitMembers(branch, args, undefined, seen, out);
    } else {
      this.visitMembers(schema, args, undefined, seen, out);
    }
    seen.check(undefined);
    return out;
  }

  private visitMembers(
    members: QapiMembers,
    obj: JsonObject,
    path: string | undefined,
    seen: StructState,
    out: JsonObject,
  ): void {
    for (const raw of Object.keys(members)) {
      const optional = raw.charCodeAt(0) === 42; // '*'
      const name = optional ? raw.slice(1) : raw;
      const present = Object.prototype.hasOwnProperty.call(obj, name) && obj[name] !== undefined;
      const full = memberName(path, name);
      if (!present) {
        if (optional) continue;
        throw new QomError(`Parameter '${full}' is missing`);
      }
      seen.consume(name);
      const v = this.visitValue(members[raw], obj, name, full, name);
      jsonObjectSet(out, name, v);
      // An `any` or `number` member passes a double through: it stays one.
      if (typeof v === 'number' && jsonIsFloat(obj, name)) jsonMarkFloat(out, name);
    }
  }

  private visitStruct(members: QapiMembers, obj: JsonObject, path: string): JsonObject {
    const seen = new StructState(obj);
    const out: JsonObject = {};
    this.visitMembers(members, obj, path, seen, out);
    seen.check(path);
    return out;
  }

  /** The keyval visitor's view of a scalar: it must be a string. */
  private keyvalString(v: JsonValue, full: string): string {
    if (typeof v === 'string') return v;
    if (v !== null && typeof v === 'object')
      throw new QomError(`Parameters '${full}.*' are unexpected`);
    throw new QomError(`Internal error: parameter ${full} invalid`);
  }

  private visitValue(
    type: QapiType,
    container: JsonObject | JsonValue[],
    key: string | number,
    full: string,
    short: string | undefined,
  ): JsonValue {
    const v = (container as Record<string | number, JsonValue>)[key];
    if (Array.isArray(type)) {
      if (!Array.isArray(v)) throw typeError(full, 'array');
      const out: JsonValue[] = [];
      for (let i = 0; i < v.length; i++) {
        const el = this.visitValue(
          type[0],
          v,
          i,
          this.keyval ? `${full}.${i}` : `${full}[${i}]`,
          undefined,
        );
        if (typeof el === 'number' && jsonIsFloat(v, i)) jsonMarkFloat(out, i);
        out.push(el);
      }
      return out;
    }
    if (typeof type === 'object') {
      if ('struct' in type) {
        if (v === null || typeof v !== 'object' || Array.isArray(v))
          throw typeError(full, 'object');
        return this.visitStruct((type as QapiStructType).struct, v as JsonObject, full);
      }
      const et = type as QapiEnumType;
      const s = this.visitStr(v, full);
      const ok = et.accepts
        ? et.accepts(s)
        : (typeof et.enum === 'function' ? et.enum() : et.enum).includes(s);
      if (!ok) {
        throw new QomError(`Parameter '${short ?? 'null'}' does not accept value '${s}'`);
      }
      return s;
    }
    switch (type) {
      case 'any':
        return v;
      case 'str':
        return this.visitStr(v, full);
      case 'null':
        if (v !== null) throw typeError(full, 'null');
        return null;
      case 'bool':
        if (this.keyval) {
          const b = parseBool(this.keyvalString(v, full));
          if (b === undefined) throw valueError(full, "'on' or 'off'");
          return b;
        }
        if (typeof v !== 'boolean') throw typeError(full, 'boolean');
        return v;
      case 'number':
        if (this.keyval) {
          const r = qemuStrtodFinite(this.keyvalString(v, full));
          if (r.err < 0) throw typeError(full, 'number');
          return r.value;
        }
        if (typeof v === 'bigint') return Number(v);
        if (typeof v !== 'number') throw typeError(full, 'number');
        return v;
      case 'int':
      case 'int64':
        return toJsonInt(this.visitInt64(container, key, v, full));
      case 'int8':
      case 'int16':
      case 'int32': {
        const n = this.visitInt64(container, key, v, full);
        const [min, max, cname] = INT_RANGES[type];
        if (n < min || n > max) throw valueError(short ?? 'null', cname);
        return Number(n);
      }
      case 'uint64':
        return toJsonInt(this.visitUint64(container, key, v, full));
      case 'size': {
        if (this.keyval) {
          const r = qemuStrtosz(this.keyvalString(v, full));
          if (r.err < 0) throw valueError(full, 'size');
          return toJsonInt(r.value);
        }
        return toJsonInt(this.visitUint64(container, key, v, full));
      }
      case 'uint8':
      case 'uint16':
      case 'uint32': {
        const n = this.visitUint64(container, key, v, full);
        const [, max, cname] = INT_RANGES[type];
        if (n > max) throw valueError(short ?? 'null', cname);
        return Number(n);
      }
    }
    throw new Error(`unknown QAPI type ${String(type)}`);
  }

  private visitStr(v: JsonValue, full: string): string {
    if (this.keyval) return this.keyvalString(v, full);
    if (typeof v !== 'string') throw typeError(full, 'string');
    return v;
  }

  private visitInt64(
    container: JsonObject | JsonValue[],
    key: string | number,
    v: JsonValue,
    full: string,
  ): bigint {
    if (this.keyval) {
      const r = qemuStrtoi64(this.keyvalString(v, full));
      if (r.err < 0) throw valueError(full, 'integer');
      return r.value;
    }
    const n = qnumInt(container, key, v);
    if (n === undefined || n > INT64_MAX) throw typeError(full, 'integer');
    return n;
  }

  private visitUint64(
    container: JsonObject | JsonValue[],
    key: string | number,
    v: JsonValue,
    full: string,
  ): bigint {
    if (this.keyval) {
      const r = qemuStrtou64(this.keyvalString(v, full));
      if (r.err < 0) throw valueError(full, 'integer');
      return r.value;
    }
    const n = qnumInt(container, key, v);
    if (n === undefined) throw valueError(full, 'uint64');
    return n < 0n ? n + TWO64 : n;
  }
}
