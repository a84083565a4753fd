/**
 * Visitors, after QEMU's qapi/ visitors: property setters read their value
 * from an input {@link Visitor} and getters write it to an
 * {@link OutputVisitor}, so the same accessor serves QMP (JSON values),
 * the command line (`key=value` strings) and `-object` keyval dictionaries.
 *
 * Input visitors:
 * - {@link QObjectInputVisitor}: strict JSON types (qom-set, object-add).
 * - {@link QObjectInputVisitor} with `keyval: true`: every scalar is a
 *   string converted to the requested type (`-object` after keyval_parse).
 * - {@link StringInputVisitor}: one string (object_property_parse), with
 *   integer lists and ranges (`0-3,5`).
 *
 * Output visitors: {@link QObjectOutputVisitor} (qom-get) and
 * {@link StringOutputVisitor} (object_property_print).
 *
 * All error texts are QEMU's.
 * @module
 */
import { QomError, errorAppendHint, invalidParameterValue } from '../util/error.js';
import {
  type JsonObject,
  type JsonValue,
  isJsonObject,
  jsonInt,
  jsonIsFloat,
} from '../qobject/qobject.js';
import {
  EINVAL,
  ERANGE,
  qemuStrtoi64,
  qemuStrtoi64Prefix,
  qemuStrtodFinite,
  qemuStrtosz,
  qemuStrtou64,
  qemuStrtou64Prefix,
  sizeToStr,
} from '../util/cutils.js';

/**
 * A QAPI enum's lookup table (QEMU's `QEnumLookup`): the enum's QAPI type
 * name (also used as the property type, e.g. `HostMemPolicy`) and its
 * values in order; a value's index is its integer.
 */
export interface QEnumLookup {
  /** QAPI type name, e.g. `'HostMemPolicy'`. */
  readonly name: string;
  /** The values; index = enum integer. */
  readonly values: readonly string[];
}

/** `qapi_enum_lookup()`: the string for an enum value. */
export function qapiEnumLookup(lookup: QEnumLookup, value: number): string {
  const s = lookup.values[value];
  if (s === undefined) throw new QomError(`invalid value ${value} for enum ${lookup.name}`);
  return s;
}

/**
 * `qapi_enum_parse()`: the index of `buf` in `lookup`. Without `def`, an
 * unknown value throws `invalid parameter value: %s`.
 */
export function qapiEnumParse(lookup: QEnumLookup, buf: string, def?: number): number {
  const i = lookup.values.indexOf(buf);
  if (i >= 0) return i;
  if (def !== undefined) return def;
  throw new QomError(`invalid parameter value: ${buf}`);
}

/**
 * `qapi_bool_parse()`: `on|yes|true|y` and `off|no|false|n`, else
 * `Parameter '<name>' expects 'on' or 'off'`.
 */
export function qapiBoolParse(name: string, value: string): boolean {
  switch (value) {
    case 'on':
    case 'yes':
    case 'true':
    case 'y':
      return true;
    case 'off':
    case 'no':
    case 'false':
    case 'n':
      return false;
  }
  throw invalidParameterValue(name, "'on' or 'off'");
}

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * An input visitor: property setters call one `type*` method with the
 * property name to read their value. Structs and lists are visited with the
 * `start*`/`end*` pairs, as QEMU's generated visitors do. Every method
 * throws a {@link QomError} with QEMU's text on bad input.
 */
export interface Visitor {
  /** Always `'input'` (QEMU's VISITOR_INPUT). */
  readonly kind: 'input';
  /** Enters the struct `name` (null at the root). */
  startStruct(name: string | null): void;
  /** Fails if the current struct has members nobody visited (`Parameter '%s' is unexpected`). */
  checkStruct(): void;
  /** Leaves the current struct. */
  endStruct(): void;
  /** Enters the list `name`; returns whether it has a first element. */
  startList(name: string | null): boolean;
  /** After visiting an element: whether another one follows. */
  nextList(): boolean;
  /** Fails if elements are left over. */
  checkList(): void;
  /** Leaves the current list. */
  endList(): void;
  /** Whether the optional member `name` is present. */
  optional(name: string): boolean;
  /** Reads an int64. */
  typeInt64(name: string | null): bigint;
  /** Reads a uint64. */
  typeUint64(name: string | null): bigint;
  /** Reads a size (uint64; strings may carry K/M/G/T/P/E suffixes). */
  typeSize(name: string | null): bigint;
  /** Reads an int8. */
  typeInt8(name: string | null): number;
  /** Reads an int16. */
  typeInt16(name: string | null): number;
  /** Reads an int32. */
  typeInt32(name: string | null): number;
  /** Reads a uint8. */
  typeUint8(name: string | null): number;
  /** Reads a uint16. */
  typeUint16(name: string | null): number;
  /** Reads a uint32. */
  typeUint32(name: string | null): number;
  /** Reads a boolean. */
  typeBool(name: string | null): boolean;
  /** Reads a string. */
  typeStr(name: string | null): string;
  /** Reads a double. */
  typeNumber(name: string | null): number;
  /** Reads a JSON null. */
  typeNull(name: string | null): null;
  /** Reads any JSON value. */
  typeAny(name: string | null): JsonValue;
  /** Reads an enum value (its index in `lookup.values`). */
  typeEnum(name: string | null, lookup: QEnumLookup): number;
  /** Reads a list of uint16 (QEMU's uint16List, e.g. `host-nodes`). */
  typeUint16List(name: string | null): number[];
  /** Reads a list of int64 (QEMU's intList). */
  typeInt64List(name: string | null): bigint[];
  /** Reads a list whose elements `elem` visits (with a null name). */
  typeList<T>(name: string | null, elem: (v: Visitor) => T): T[];
}

/**
 * An output visitor: property getters call one `type*` method with the
 * property name and the value.
 */
export interface OutputVisitor {
  /** Always `'output'` (QEMU's VISITOR_OUTPUT). */
  readonly kind: 'output';
  /** Starts a struct member `name` (null at the root). */
  startStruct(name: string | null): void;
  /** Ends the current struct. */
  endStruct(): void;
  /** Starts a list member. */
  startList(name: string | null): void;
  /** Ends the current list. */
  endList(): void;
  /** Writes an int64. */
  typeInt64(name: string | null, value: bigint | number): void;
  /** Writes a uint64. */
  typeUint64(name: string | null, value: bigint | number): void;
  /** Writes a size. */
  typeSize(name: string | null, value: bigint | number): void;
  /** Writes an int8. */
  typeInt8(name: string | null, value: number): void;
  /** Writes an int16. */
  typeInt16(name: string | null, value: number): void;
  /** Writes an int32. */
  typeInt32(name: string | null, value: number): void;
  /** Writes a uint8. */
  typeUint8(name: string | null, value: number): void;
  /** Writes a uint16. */
  typeUint16(name: string | null, value: number): void;
  /** Writes a uint32. */
  typeUint32(name: string | null, value: number): void;
  /** Writes a boolean. */
  typeBool(name: string | null, value: boolean): void;
  /** Writes a string. */
  typeStr(name: string | null, value: string): void;
  /** Writes a double. */
  typeNumber(name: string | null, value: number): void;
  /** Writes null. */
  typeNull(name: string | null): void;
  /** Writes any JSON value. */
  typeAny(name: string | null, value: JsonValue): void;
  /** Writes an enum value as its string. */
  typeEnum(name: string | null, value: number, lookup: QEnumLookup): void;
  /** Writes a list of uint16. */
  typeUint16List(name: string | null, values: readonly number[]): void;
  /** Writes a list of int64. */
  typeInt64List(name: string | null, values: readonly (bigint | number)[]): void;
}

/** Shared derived visits (QEMU's qapi-visit-core.c and generated list visitors). */
export abstract class InputVisitorBase implements Visitor {
  /** @inheritDoc */
  readonly kind = 'input' as const;
  /** @inheritDoc */
  abstract startStruct(name: string | null): void;
  /** @inheritDoc */
  abstract checkStruct(): void;
  /** @inheritDoc */
  abstract endStruct(): void;
  /** @inheritDoc */
  abstract startList(name: string | null): boolean;
  /** @inheritDoc */
  abstract nextList(): boolean;
  /** @inheritDoc */
  abstract checkList(): void;
  /** @inheritDoc */
  abstract endList(): void;
  /** @inheritDoc */
  abstract optional(name: string): boolean;
  /** @inheritDoc */
  abstract typeInt64(name: string | null): bigint;
  /** @inheritDoc */
  abstract typeUint64(name: string | null): bigint;
  /** @inheritDoc */
  abstract typeBool(name: string | null): boolean;
  /** @inheritDoc */
  abstract typeStr(name: string | null): string;
  /** @inheritDoc */
  abstract typeNumber(name: string | null): number;
  /** @inheritDoc */
  abstract typeNull(name: string | null): null;
  /** @inheritDoc */
  abstract typeAny(name: string | null): JsonValue;

  /** @inheritDoc */
  typeSize(name: string | null): bigint {
    return this.typeUint64(name);
  }
  #intN(name: string | null, min: bigint, max: bigint, type: string): number {
    const v = this.typeInt64(name);
    if (v < min || v > max) throw invalidParameterValue(name ?? 'null', type);
    return Number(v);
  }
  /**
   * QEMU wraps negative input to uint64 "for backward compatibility", which
   * lets `size=-1` through to crash QEMU 7.2. tsqom refuses negatives for
   * uint64 and size, but keeps the wrap inside the narrower unsigned types
   * so their errors stay QEMU's (`expects uint32_t`).
   */
  protected wrapNegativeUint = false;
  #uintN(name: string | null, max: bigint, type: string): number {
    this.wrapNegativeUint = true;
    let v: bigint;
    try {
      v = this.typeUint64(name);
    } finally {
      this.wrapNegativeUint = false;
    }
    if (v > max) throw invalidParameterValue(name ?? 'null', type);
    return Number(v);
  }
  /** @inheritDoc */
  typeInt8(name: string | null): number {
    return this.#intN(name, -128n, 127n, 'int8_t');
  }
  /** @inheritDoc */
  typeInt16(name: string | null): number {
    return this.#intN(name, -32768n, 32767n, 'int16_t');
  }
  /** @inheritDoc */
  typeInt32(name: string | null): number {
    return this.#intN(name, -2147483648n, 2147483647n, 'int32_t');
  }
  /** @inheritDoc */
  typeUint8(name: string | null): number {
    return this.#uintN(name, 255n, 'uint8_t');
  }
  /** @inheritDoc */
  typeUint16(name: string | null): number {
    return this.#uintN(name, 65535n, 'uint16_t');
  }
  /** @inheritDoc */
  typeUint32(name: string | null): number {
    return this.#uintN(name, 4294967295n, 'uint32_t');
  }
  /** @inheritDoc */
  typeEnum(name: string | null, lookup: QEnumLookup): number {
    const s = this.typeStr(name);
    const i = lookup.values.indexOf(s);
    if (i < 0) throw new QomError(`Parameter '${name ?? 'null'}' does not accept value '${s}'`);
    return i;
  }
  /** @inheritDoc */
  typeList<T>(name: string | null, elem: (v: Visitor) => T): T[] {
    const out: T[] = [];
    let more = this.startList(name);
    try {
      while (more) {
        out.push(elem(this));
        more = this.nextList();
      }
      this.checkList();
    } finally {
      this.endList();
    }
    return out;
  }
  /** @inheritDoc */
  typeUint16List(name: string | null): number[] {
    return this.typeList(name, (v) => v.typeUint16(null));
  }
  /** @inheritDoc */
  typeInt64List(name: string | null): bigint[] {
    return this.typeList(name, (v) => v.typeInt64(null));
  }
}

interface StackObject {
  name: string | null;
  obj: JsonObject | JsonValue[];
  /** Dict: keys not visited yet. */
  unvisited: Set<string> | null;
  /** List: next element position. */
  pos: number;
  /** List: index as QEMU counts it for messages (starts at -1). */
  index: number;
}

/** Options of {@link QObjectInputVisitor}. */
export interface QObjectInputVisitorOptions {
  /**
   * QEMU's `qobject_input_visitor_new_keyval()`: scalars are strings (as
   * `keyval_parse()` makes them) converted to the type each visit asks for.
   */
  keyval?: boolean;
  /**
   * The root value is a double QNum with an integral value (a `1.0`
   * literal): a number at the root has no container to carry its float
   * mark (see {@link jsonMarkFloat}), so the caller says so here.
   */
  rootIsFloat?: boolean;
}

/**
 * QEMU's QObject input visitor over a JSON value (qapi/qobject-input-visitor.c),
 * including its keyval variant. Numbers marked as doubles
 * ({@link jsonMarkFloat}) are refused where an integer is expected, as
 * QEMU refuses a double QNum, even when their value is integral.
 */
export class QObjectInputVisitor extends InputVisitorBase {
  readonly #root: JsonValue;
  readonly #rootIsFloat: boolean;
  readonly #keyval: boolean;
  readonly #stack: StackObject[];

  /**
   * @param root - the value to read (the whole value at the root, or the
   *   dictionary a struct visit enters).
   * @param opts - `keyval: true` for the keyval variant; `rootIsFloat`
   *   when `root` is a double written with an integral value.
   */
  constructor(root: JsonValue, opts?: QObjectInputVisitorOptions) {
    super();
    this.#root = root;
    this.#rootIsFloat = opts !== undefined && opts.rootIsFloat === true;
    this.#keyval = opts !== undefined && opts.keyval === true;
    this.#stack = [];
  }

  /** Whether this is the keyval variant. */
  get keyval(): boolean {
    return this.#keyval;
  }

  #fullName(name: string | null, n = 0): string {
    let err = '';
    const st = this.#stack;
    for (let k = st.length - 1; k >= 0; k--) {
      const so = st[k];
      if (n) {
        n--;
      } else if (!Array.isArray(so.obj)) {
        err = '.' + (name ?? '<anonymous>') + err;
      } else {
        const idx = so.index < 0 ? so.index + 2 ** 32 : so.index;
        err = (this.#keyval ? `.${idx}` : `[${idx}]`) + err;
      }
      name = so.name;
    }
    if (name !== null) err = name + err;
    else if (err[0] === '.') err = err.slice(1);
    else if (!err) return '<anonymous>';
    return err;
  }

  #tryGet(name: string | null, consume: boolean): JsonValue | undefined {
    const st = this.#stack;
    if (st.length === 0) return this.#root;
    const tos = st[st.length - 1];
    const o = tos.obj;
    if (!Array.isArray(o)) {
      if (name === null || !Object.prototype.hasOwnProperty.call(o, name)) return undefined;
      const ret = o[name];
      if (ret === undefined) return undefined;
      if (consume && tos.unvisited) tos.unvisited.delete(name);
      return ret;
    }
    let ret: JsonValue | undefined;
    if (tos.pos < o.length) {
      ret = o[tos.pos];
      if (consume) tos.pos++;
    }
    if (consume) tos.index++;
    return ret;
  }

  // Whether the value #tryGet(name) would return next is marked as a
  // double (call before consuming it).
  #nextIsFloat(name: string | null): boolean {
    const st = this.#stack;
    if (st.length === 0) return this.#rootIsFloat;
    const tos = st[st.length - 1];
    if (Array.isArray(tos.obj)) return jsonIsFloat(tos.obj, tos.pos);
    return name !== null && jsonIsFloat(tos.obj, name);
  }

  // An integer QNum's value, or null for anything else (a double QNum,
  // even an integral one, included).
  #getInteger(name: string | null): bigint | null {
    const isFloat = this.#nextIsFloat(name);
    const v = this.#get(name);
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isInteger(v) && !isFloat) return BigInt(v);
    return null;
  }

  #get(name: string | null, consume = true): JsonValue {
    const v = this.#tryGet(name, consume);
    if (v === undefined) throw new QomError(`Parameter '${this.#fullName(name)}' is missing`);
    return v;
  }

  #getKeyval(name: string | null): string {
    const v = this.#get(name);
    if (typeof v !== 'string') {
      if (v !== null && typeof v === 'object') {
        throw new QomError(`Parameters '${this.#fullName(name)}.*' are unexpected`);
      }
      throw new QomError(`Internal error: parameter ${this.#fullName(name)} invalid`);
    }
    return v;
  }

  #push(name: string | null, obj: JsonObject | JsonValue[]): void {
    this.#stack.push({
      name,
      obj,
      unvisited: Array.isArray(obj)
        ? null
        : new Set(Object.keys(obj).filter((k) => obj[k] !== undefined)),
      pos: 0,
      index: -1,
    });
  }

  /** @inheritDoc */
  startStruct(name: string | null): void {
    const v = this.#get(name);
    if (!isJsonObject(v)) {
      throw new QomError(`Invalid parameter type for '${this.#fullName(name)}', expected: object`);
    }
    this.#push(name, v);
  }
  /** @inheritDoc */
  checkStruct(): void {
    const tos = this.#stack[this.#stack.length - 1];
    if (!tos || !tos.unvisited) throw new QomError('checkStruct() outside a struct');
    for (const key of tos.unvisited) {
      throw new QomError(`Parameter '${this.#fullName(key)}' is unexpected`);
    }
  }
  /** @inheritDoc */
  endStruct(): void {
    const tos = this.#stack.pop();
    if (!tos || Array.isArray(tos.obj)) throw new QomError('endStruct() outside a struct');
  }
  /** @inheritDoc */
  startList(name: string | null): boolean {
    const v = this.#get(name);
    if (!Array.isArray(v)) {
      throw new QomError(`Invalid parameter type for '${this.#fullName(name)}', expected: array`);
    }
    this.#push(name, v);
    return v.length > 0;
  }
  /** @inheritDoc */
  nextList(): boolean {
    const tos = this.#stack[this.#stack.length - 1];
    return (tos.obj as JsonValue[]).length > tos.pos;
  }
  /** @inheritDoc */
  checkList(): void {
    const tos = this.#stack[this.#stack.length - 1];
    if ((tos.obj as JsonValue[]).length > tos.pos) {
      throw new QomError(
        `Only ${tos.index + 1} list elements expected in ${this.#fullName(null, 1)}`,
      );
    }
  }
  /** @inheritDoc */
  endList(): void {
    const tos = this.#stack.pop();
    if (!tos || !Array.isArray(tos.obj)) throw new QomError('endList() outside a list');
  }
  /** @inheritDoc */
  optional(name: string): boolean {
    return this.#tryGet(name, false) !== undefined;
  }

  /** @inheritDoc */
  typeInt64(name: string | null): bigint {
    if (this.#keyval) {
      const s = this.#getKeyval(name);
      const r = qemuStrtoi64(s, 0);
      if (r.err < 0) throw invalidParameterValue(this.#fullName(name), 'integer');
      return r.value;
    }
    const b = this.#getInteger(name);
    if (b !== null && b >= INT64_MIN && b <= INT64_MAX) return b;
    throw new QomError(`Invalid parameter type for '${this.#fullName(name)}', expected: integer`);
  }
  /** @inheritDoc */
  typeUint64(name: string | null): bigint {
    if (this.#keyval) {
      const s = this.#getKeyval(name);
      const r = qemuStrtou64(s, 0);
      if (r.err < 0) throw invalidParameterValue(this.#fullName(name), 'integer');
      return r.value;
    }
    const b = this.#getInteger(name);
    if (b !== null) {
      if (b >= 0n && b <= UINT64_MAX) return b;
      if (this.wrapNegativeUint && b >= INT64_MIN && b < 0n) return b + UINT64_MAX + 1n;
    }
    throw invalidParameterValue(this.#fullName(name), 'uint64');
  }
  /** @inheritDoc */
  override typeSize(name: string | null): bigint {
    if (!this.#keyval) return this.typeUint64(name);
    const s = this.#getKeyval(name);
    const r = qemuStrtosz(s);
    if (r.err < 0) throw invalidParameterValue(this.#fullName(name), 'size');
    return r.value;
  }
  /** @inheritDoc */
  typeBool(name: string | null): boolean {
    if (this.#keyval) {
      const s = this.#getKeyval(name);
      try {
        return qapiBoolParse(name ?? 'null', s);
      } catch {
        throw invalidParameterValue(this.#fullName(name), "'on' or 'off'");
      }
    }
    const v = this.#get(name);
    if (typeof v !== 'boolean') {
      throw new QomError(`Invalid parameter type for '${this.#fullName(name)}', expected: boolean`);
    }
    return v;
  }
  /** @inheritDoc */
  typeStr(name: string | null): string {
    if (this.#keyval) return this.#getKeyval(name);
    const v = this.#get(name);
    if (typeof v !== 'string') {
      throw new QomError(`Invalid parameter type for '${this.#fullName(name)}', expected: string`);
    }
    return v;
  }
  /** @inheritDoc */
  typeNumber(name: string | null): number {
    if (this.#keyval) {
      const s = this.#getKeyval(name);
      const r = qemuStrtodFinite(s);
      if (r.err)
        throw new QomError(
          `Invalid parameter type for '${this.#fullName(name)}', expected: number`,
        );
      return r.value;
    }
    const v = this.#get(name);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    throw new QomError(`Invalid parameter type for '${this.#fullName(name)}', expected: number`);
  }
  /** @inheritDoc */
  typeNull(name: string | null): null {
    const v = this.#get(name);
    if (v !== null)
      throw new QomError(`Invalid parameter type for '${this.#fullName(name)}', expected: null`);
    return null;
  }
  /** @inheritDoc */
  typeAny(name: string | null): JsonValue {
    return this.#get(name);
  }
}

const enum ListMode {
  None,
  Unparsed,
  Int64Range,
  Uint64Range,
  End,
}

const RANGE_MAX_ELEMENTS = 65536n;

/**
 * QEMU's string input visitor (qapi/string-input-visitor.c): the value of
 * one property as a string, as `object_property_parse()` and
 * `-object type,prop=value` (through object_new_with_props) give it.
 * Integers accept C syntax (decimal, `0x` hex, leading-0 octal); integer
 * lists accept values and ranges, `1,3-5`; sizes accept suffixes.
 */
export class StringInputVisitor extends InputVisitorBase {
  readonly #string: string;
  #lm: ListMode = ListMode.None;
  #rangeNext = 0n;
  #rangeEnd = 0n;
  #unparsed = 0;

  /** @param str - the string to parse. */
  constructor(str: string) {
    super();
    this.#string = str;
  }

  /** @inheritDoc */
  startStruct(name: string | null): void {
    throw new QomError(`Parameter '${name ?? 'null'}' can not be a struct in a string`);
  }
  /** @inheritDoc */
  checkStruct(): void {}
  /** @inheritDoc */
  endStruct(): void {}
  /** @inheritDoc */
  startList(_name: string | null): boolean {
    if (this.#lm !== ListMode.None)
      throw new QomError('nested lists are not supported by the string input visitor');
    this.#unparsed = 0;
    if (this.#string === '') {
      this.#lm = ListMode.End;
      return false;
    }
    this.#lm = ListMode.Unparsed;
    return true;
  }
  /** @inheritDoc */
  nextList(): boolean {
    return this.#lm !== ListMode.End;
  }
  /** @inheritDoc */
  checkList(): void {
    if (this.#lm !== ListMode.End) throw new QomError('Fewer list elements expected');
  }
  /** @inheritDoc */
  endList(): void {
    this.#lm = ListMode.None;
  }
  /** @inheritDoc */
  optional(_name: string): boolean {
    return false;
  }

  #parseListEntry(unsigned: boolean): boolean {
    const s = this.#string;
    const p = unsigned ? qemuStrtou64Prefix : qemuStrtoi64Prefix;
    const a = p(s, this.#unparsed, 0);
    if (a.err) return false;
    let start = a.value;
    let end = start;
    let pos = a.end;
    if (unsigned) {
      // the range comparisons below are unsigned for uint64
      start = BigInt.asUintN(64, start);
      end = start;
    }
    switch (s[pos]) {
      case undefined:
        this.#unparsed = pos;
        break;
      case ',':
        this.#unparsed = pos + 1;
        break;
      case '-': {
        const b = p(s, pos + 1, 0);
        if (b.err) return false;
        end = b.value;
        pos = b.end;
        if (start > end || end - start >= RANGE_MAX_ELEMENTS) return false;
        if (s[pos] === undefined) this.#unparsed = pos;
        else if (s[pos] === ',') this.#unparsed = pos + 1;
        else return false;
        break;
      }
      default:
        return false;
    }
    this.#lm = unsigned ? ListMode.Uint64Range : ListMode.Int64Range;
    this.#rangeNext = start;
    this.#rangeEnd = end;
    return true;
  }

  #nextInRange(max: bigint): bigint {
    const v = this.#rangeNext++;
    if (this.#rangeNext > this.#rangeEnd || v === max) {
      this.#lm = this.#unparsed < this.#string.length ? ListMode.Unparsed : ListMode.End;
    }
    return v;
  }

  /** @inheritDoc */
  typeInt64(name: string | null): bigint {
    switch (this.#lm) {
      case ListMode.None: {
        const r = qemuStrtoi64(this.#string, 0);
        if (r.err) throw invalidParameterValue(name ?? 'null', 'int64');
        return r.value;
      }
      case ListMode.Unparsed:
        if (!this.#parseListEntry(false)) {
          throw invalidParameterValue(name ?? 'null', 'list of int64 values or ranges');
        }
        return this.#nextInRange(INT64_MAX);
      case ListMode.Int64Range:
        return this.#nextInRange(INT64_MAX);
      case ListMode.End:
        throw new QomError('Fewer list elements expected');
      default:
        throw new QomError('int64 requested while parsing a uint64 range');
    }
  }
  /** @inheritDoc */
  typeUint64(name: string | null): bigint {
    switch (this.#lm) {
      case ListMode.None: {
        const r = qemuStrtou64(this.#string, 0);
        if (r.err || (!this.wrapNegativeUint && this.#string.trimStart().startsWith('-'))) {
          throw invalidParameterValue(name ?? 'null', 'uint64');
        }
        return r.value;
      }
      case ListMode.Unparsed:
        if (!this.#parseListEntry(true)) {
          throw invalidParameterValue(name ?? 'null', 'list of uint64 values or ranges');
        }
        return this.#nextInRange(UINT64_MAX);
      case ListMode.Uint64Range:
        return this.#nextInRange(UINT64_MAX);
      case ListMode.End:
        throw new QomError('Fewer list elements expected');
      default:
        throw new QomError('uint64 requested while parsing an int64 range');
    }
  }
  /** @inheritDoc */
  override typeSize(name: string | null): bigint {
    return parseOptionSize(name ?? 'null', this.#string);
  }
  /** @inheritDoc */
  typeBool(name: string | null): boolean {
    return qapiBoolParse(name ?? 'null', this.#string);
  }
  /** @inheritDoc */
  typeStr(_name: string | null): string {
    return this.#string;
  }
  /** @inheritDoc */
  typeNumber(name: string | null): number {
    const r = qemuStrtodFinite(this.#string);
    if (r.err)
      throw new QomError(`Invalid parameter type for '${name ?? 'null'}', expected: number`);
    return r.value;
  }
  /** @inheritDoc */
  typeNull(name: string | null): null {
    if (this.#string !== '') {
      throw new QomError(`Invalid parameter type for '${name ?? 'null'}', expected: null`);
    }
    return null;
  }
  /** @inheritDoc */
  typeAny(name: string | null): JsonValue {
    // QEMU's string input visitor has no type_any; it would crash.
    throw new QomError(`Parameter '${name ?? 'null'}' can not be given as a string`);
  }
}

/**
 * QEMU's `parse_option_size()` (util/qemu-option.c): `qemu_strtosz` with
 * its two messages (out of range; not a size, with a hint).
 */
export function parseOptionSize(name: string, value: string): bigint {
  const r = qemuStrtosz(value);
  if (r.err === ERANGE)
    throw new QomError(`Value '${value}' is out of range for parameter '${name}'`);
  if (r.err === EINVAL || r.err) {
    throw errorAppendHint(
      invalidParameterValue(name, 'a non-negative number below 2^64'),
      'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.\n',
    );
  }
  return r.value;
}

/** Shared derived writes for output visitors. */
export abstract class OutputVisitorBase implements OutputVisitor {
  /** @inheritDoc */
  readonly kind = 'output' as const;
  /** @inheritDoc */
  abstract startStruct(name: string | null): void;
  /** @inheritDoc */
  abstract endStruct(): void;
  /** @inheritDoc */
  abstract startList(name: string | null): void;
  /** @inheritDoc */
  abstract endList(): void;
  /** @inheritDoc */
  abstract typeInt64(name: string | null, value: bigint | number): void;
  /** @inheritDoc */
  abstract typeUint64(name: string | null, value: bigint | number): void;
  /** @inheritDoc */
  abstract typeBool(name: string | null, value: boolean): void;
  /** @inheritDoc */
  abstract typeStr(name: string | null, value: string): void;
  /** @inheritDoc */
  abstract typeNumber(name: string | null, value: number): void;
  /** @inheritDoc */
  abstract typeNull(name: string | null): void;
  /** @inheritDoc */
  abstract typeAny(name: string | null, value: JsonValue): void;
  /** @inheritDoc */
  typeSize(name: string | null, value: bigint | number): void {
    this.typeUint64(name, value);
  }
  /** @inheritDoc */
  typeInt8(name: string | null, value: number): void {
    this.typeInt64(name, value);
  }
  /** @inheritDoc */
  typeInt16(name: string | null, value: number): void {
    this.typeInt64(name, value);
  }
  /** @inheritDoc */
  typeInt32(name: string | null, value: number): void {
    this.typeInt64(name, value);
  }
  /** @inheritDoc */
  typeUint8(name: string | null, value: number): void {
    this.typeUint64(name, value);
  }
  /** @inheritDoc */
  typeUint16(name: string | null, value: number): void {
    this.typeUint64(name, value);
  }
  /** @inheritDoc */
  typeUint32(name: string | null, value: number): void {
    this.typeUint64(name, value);
  }
  /** @inheritDoc */
  typeEnum(name: string | null, value: number, lookup: QEnumLookup): void {
    this.typeStr(name, qapiEnumLookup(lookup, value));
  }
  /** @inheritDoc */
  typeUint16List(name: string | null, values: readonly number[]): void {
    this.startList(name);
    for (const x of values) this.typeUint16(null, x);
    this.endList();
  }
  /** @inheritDoc */
  typeInt64List(name: string | null, values: readonly (bigint | number)[]): void {
    this.startList(name);
    for (const x of values) this.typeInt64(null, x);
    this.endList();
  }
}

/**
 * QEMU's QObject output visitor: builds the JSON value a getter writes
 * ({@link QObjectOutputVisitor.result}). Integers follow the JSON
 * convention (number when safe, bigint beyond).
 */
export class QObjectOutputVisitor extends OutputVisitorBase {
  #root: JsonValue | undefined = undefined;
  readonly #stack: (JsonObject | JsonValue[])[] = [];

  #add(name: string | null, v: JsonValue): void {
    const st = this.#stack;
    if (st.length === 0) {
      this.#root = v;
      return;
    }
    const top = st[st.length - 1];
    if (Array.isArray(top)) top.push(v);
    else top[name ?? ''] = v;
  }

  /** The value written; throws if the getter wrote nothing. */
  get result(): JsonValue {
    if (this.#root === undefined) throw new QomError('property getter produced no value');
    return this.#root;
  }
  /** Whether a value was written. */
  get hasResult(): boolean {
    return this.#root !== undefined;
  }

  /** @inheritDoc */
  startStruct(name: string | null): void {
    const o: JsonObject = {};
    this.#add(name, o);
    this.#stack.push(o);
  }
  /** @inheritDoc */
  endStruct(): void {
    this.#stack.pop();
  }
  /** @inheritDoc */
  startList(name: string | null): void {
    const a: JsonValue[] = [];
    this.#add(name, a);
    this.#stack.push(a);
  }
  /** @inheritDoc */
  endList(): void {
    this.#stack.pop();
  }
  /** @inheritDoc */
  typeInt64(name: string | null, value: bigint | number): void {
    this.#add(name, jsonInt(value));
  }
  /** @inheritDoc */
  typeUint64(name: string | null, value: bigint | number): void {
    this.#add(name, jsonInt(value));
  }
  /** @inheritDoc */
  typeBool(name: string | null, value: boolean): void {
    this.#add(name, value);
  }
  /** @inheritDoc */
  typeStr(name: string | null, value: string): void {
    this.#add(name, value);
  }
  /** @inheritDoc */
  typeNumber(name: string | null, value: number): void {
    this.#add(name, value);
  }
  /** @inheritDoc */
  typeNull(name: string | null): void {
    this.#add(name, null);
  }
  /** @inheritDoc */
  typeAny(name: string | null, value: JsonValue): void {
    this.#add(name, value);
  }
}

function hex64(v: bigint): string {
  return '0x' + BigInt.asUintN(64, v).toString(16);
}

/**
 * QEMU's string output visitor (`object_property_print`): scalars as
 * strings; `human` adds hex for integers (`5 (0x5)`), sizes in units
 * (`1024 (1 KiB)`) and quotes strings; integer lists print as merged
 * ranges (`0-3,5`). Structs print `<omitted>`, as in QEMU.
 */
export class StringOutputVisitor extends OutputVisitorBase {
  readonly #human: boolean;
  #string = '';
  #structNesting = 0;
  #inList = false;
  #listInts: bigint[] = [];
  #listCount = 0;

  /** @param human - QEMU's `human` flag. */
  constructor(human = false) {
    super();
    this.#human = human;
  }

  /** The printed value. */
  get result(): string {
    return this.#string;
  }

  #set(s: string): void {
    if (this.#inList) {
      this.#string = this.#listCount++ === 0 ? s : `${this.#string}, ${s}`;
      return;
    }
    this.#string = s;
  }

  /** @inheritDoc */
  startStruct(_name: string | null): void {
    this.#structNesting++;
  }
  /** @inheritDoc */
  endStruct(): void {
    if (--this.#structNesting) return;
    this.#set('<omitted>');
  }
  /** @inheritDoc */
  startList(_name: string | null): void {
    if (this.#structNesting) return;
    this.#inList = true;
    this.#listInts = [];
    this.#listCount = 0;
  }
  /** @inheritDoc */
  endList(): void {
    if (this.#structNesting) return;
    this.#inList = false;
    if (this.#listInts.length) this.#printRanges(this.#listInts);
  }

  #printRanges(values: bigint[]): void {
    const sorted = [...new Set(values.map((v) => BigInt.asUintN(64, v)))].sort((a, b) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    const ranges: [bigint, bigint][] = [];
    for (const v of sorted) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] + 1n === v) last[1] = v;
      else ranges.push([v, v]);
    }
    const dec = (x: bigint): string => BigInt.asIntN(64, x).toString();
    const fmt = (f: (x: bigint) => string): string =>
      ranges.map(([a, b]) => (a === b ? f(a) : `${f(a)}-${f(b)}`)).join(',');
    let out = this.#string + fmt(dec);
    if (this.#human) out += ` (${fmt(hex64)})`;
    this.#string = out;
  }

  /** @inheritDoc */
  typeInt64(_name: string | null, value: bigint | number): void {
    if (this.#structNesting) return;
    const v = BigInt(value);
    if (this.#inList) {
      this.#listInts.push(v);
      return;
    }
    this.#printRanges([v]);
  }
  /** @inheritDoc */
  typeUint64(name: string | null, value: bigint | number): void {
    // QEMU prints uint64 through int64 (values over INT64_MAX come out negative).
    this.typeInt64(name, BigInt.asIntN(64, BigInt(value)));
  }
  /** @inheritDoc */
  override typeSize(_name: string | null, value: bigint | number): void {
    if (this.#structNesting) return;
    const v = BigInt.asUintN(64, BigInt(value));
    this.#set(this.#human ? `${v} (${sizeToStr(v)})` : `${v}`);
  }
  /** @inheritDoc */
  typeBool(_name: string | null, value: boolean): void {
    if (this.#structNesting) return;
    this.#set(value ? 'true' : 'false');
  }
  /** @inheritDoc */
  typeStr(_name: string | null, value: string): void {
    if (this.#structNesting) return;
    this.#set(this.#human ? `"${value}"` : value);
  }
  /** @inheritDoc */
  typeNumber(_name: string | null, value: number): void {
    if (this.#structNesting) return;
    this.#set(formatG17(value));
  }
  /** @inheritDoc */
  typeNull(_name: string | null): void {
    if (this.#structNesting) return;
    this.#set(this.#human ? '<null>' : '');
  }
  /** @inheritDoc */
  typeAny(name: string | null, value: JsonValue): void {
    // QEMU's string output visitor has no type_any; print scalars sensibly.
    if (value === null) this.typeNull(name);
    else if (typeof value === 'boolean') this.typeBool(name, value);
    else if (typeof value === 'string') this.typeStr(name, value);
    else if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value)))
      this.typeInt64(name, value);
    else if (typeof value === 'number') this.typeNumber(name, value);
    else {
      this.startStruct(name);
      this.endStruct();
    }
  }
}

function formatG17(d: number): string {
  if (!Number.isFinite(d)) return Number.isNaN(d) ? 'nan' : d > 0 ? 'inf' : '-inf';
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  const e = d.toExponential(16);
  const X = Number(e.split('e')[1]);
  if (X < -4 || X >= 17) {
    const m = e.split('e')[0].replace(/\.?0+$/, '');
    return `${m}e${X < 0 ? '-' : '+'}${String(Math.abs(X)).padStart(2, '0')}`;
  }
  let f = d.toFixed(Math.max(0, 16 - X));
  if (f.includes('.')) f = f.replace(/0+$/, '').replace(/\.$/, '');
  return f;
}

/**
 * QEMU's forward-field visitor (`visitor_forward_field`): forwards every
 * visit to `target`, renaming the top-level member `from` to `to`. Alias
 * properties use it so that the target's accessor reads and reports the
 * alias's name.
 */
export class ForwardFieldInputVisitor extends InputVisitorBase {
  readonly #t: Visitor;
  readonly #from: string;
  readonly #to: string;
  #depth = 0;
  /**
   * @param target - the visitor to forward to.
   * @param from - the name the forwarded accessor visits.
   * @param to - the name `target` knows.
   */
  constructor(target: Visitor, from: string, to: string) {
    super();
    this.#t = target;
    this.#from = from;
    this.#to = to;
  }
  #tr(name: string | null): string | null {
    if (this.#depth) return name;
    if (name === this.#from) return this.#to;
    throw new QomError(`Parameter '${name ?? 'null'}' is missing`);
  }
  /** @inheritDoc */
  startStruct(name: string | null): void {
    this.#t.startStruct(this.#tr(name));
    this.#depth++;
  }
  /** @inheritDoc */
  checkStruct(): void {
    this.#t.checkStruct();
  }
  /** @inheritDoc */
  endStruct(): void {
    this.#depth--;
    this.#t.endStruct();
  }
  /** @inheritDoc */
  startList(name: string | null): boolean {
    const r = this.#t.startList(this.#tr(name));
    this.#depth++;
    return r;
  }
  /** @inheritDoc */
  nextList(): boolean {
    return this.#t.nextList();
  }
  /** @inheritDoc */
  checkList(): void {
    this.#t.checkList();
  }
  /** @inheritDoc */
  endList(): void {
    this.#depth--;
    this.#t.endList();
  }
  /** @inheritDoc */
  optional(name: string): boolean {
    return this.#t.optional(this.#tr(name) ?? name);
  }
  /** @inheritDoc */
  typeInt64(name: string | null): bigint {
    return this.#t.typeInt64(this.#tr(name));
  }
  /** @inheritDoc */
  typeUint64(name: string | null): bigint {
    return this.#t.typeUint64(this.#tr(name));
  }
  /** @inheritDoc */
  override typeSize(name: string | null): bigint {
    return this.#t.typeSize(this.#tr(name));
  }
  /** @inheritDoc */
  typeBool(name: string | null): boolean {
    return this.#t.typeBool(this.#tr(name));
  }
  /** @inheritDoc */
  typeStr(name: string | null): string {
    return this.#t.typeStr(this.#tr(name));
  }
  /** @inheritDoc */
  typeNumber(name: string | null): number {
    return this.#t.typeNumber(this.#tr(name));
  }
  /** @inheritDoc */
  typeNull(name: string | null): null {
    return this.#t.typeNull(this.#tr(name));
  }
  /** @inheritDoc */
  typeAny(name: string | null): JsonValue {
    return this.#t.typeAny(this.#tr(name));
  }
}

/** The output twin of {@link ForwardFieldInputVisitor}. */
export class ForwardFieldOutputVisitor extends OutputVisitorBase {
  readonly #t: OutputVisitor;
  readonly #from: string;
  readonly #to: string;
  #depth = 0;
  /**
   * @param target - the visitor to forward to.
   * @param from - the name the forwarded accessor visits.
   * @param to - the name `target` knows.
   */
  constructor(target: OutputVisitor, from: string, to: string) {
    super();
    this.#t = target;
    this.#from = from;
    this.#to = to;
  }
  #tr(name: string | null): string | null {
    if (this.#depth) return name;
    if (name === this.#from) return this.#to;
    throw new QomError(`Parameter '${name ?? 'null'}' is missing`);
  }
  /** @inheritDoc */
  startStruct(name: string | null): void {
    this.#t.startStruct(this.#tr(name));
    this.#depth++;
  }
  /** @inheritDoc */
  endStruct(): void {
    this.#depth--;
    this.#t.endStruct();
  }
  /** @inheritDoc */
  startList(name: string | null): void {
    this.#t.startList(this.#tr(name));
    this.#depth++;
  }
  /** @inheritDoc */
  endList(): void {
    this.#depth--;
    this.#t.endList();
  }
  /** @inheritDoc */
  typeInt64(name: string | null, value: bigint | number): void {
    this.#t.typeInt64(this.#tr(name), value);
  }
  /** @inheritDoc */
  typeUint64(name: string | null, value: bigint | number): void {
    this.#t.typeUint64(this.#tr(name), value);
  }
  /** @inheritDoc */
  override typeSize(name: string | null, value: bigint | number): void {
    this.#t.typeSize(this.#tr(name), value);
  }
  /** @inheritDoc */
  typeBool(name: string | null, value: boolean): void {
    this.#t.typeBool(this.#tr(name), value);
  }
  /** @inheritDoc */
  typeStr(name: string | null, value: string): void {
    this.#t.typeStr(this.#tr(name), value);
  }
  /** @inheritDoc */
  typeNumber(name: string | null, value: number): void {
    this.#t.typeNumber(this.#tr(name), value);
  }
  /** @inheritDoc */
  typeNull(name: string | null): void {
    this.#t.typeNull(this.#tr(name));
  }
  /** @inheritDoc */
  typeAny(name: string | null, value: JsonValue): void {
    this.#t.typeAny(this.#tr(name), value);
  }
}
