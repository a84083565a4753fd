/**
 * QObject, QEMU's JSON value model, as plain JavaScript values.
 *
 * Integers within `Number.MIN_SAFE_INTEGER..Number.MAX_SAFE_INTEGER` are
 * `number`; integers beyond are `bigint`, so that every int64 and uint64
 * QEMU can send or receive survives exactly. Non-integer numbers are
 * `number` (QEMU's double QNum).
 * @module
 */
import { TsqomError } from '../native/errors.js';
import { jsonWriterDouble, qobjectToJson } from './json-writer.js';

/** A JSON value (QEMU's QObject: QNull, QBool, QNum, QString, QList, QDict). */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;

/** A JSON object (QEMU's QDict). Key order is insertion order, as in QEMU. */
export interface JsonObject {
  [key: string]: JsonValue;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/**
 * Converts an integer to the JSON convention: a `number` when it is a
 * safe integer, a `bigint` otherwise.
 */
export function jsonInt(v: bigint | number): number | bigint {
  if (typeof v === 'number') return v;
  return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v;
}

/** Whether `v` is a JSON object (a QDict), not an array or null. */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The QAPI/QMP name of a JSON value's kind, as used in QEMU's
 * `Invalid parameter type for '%s', expected: %s` messages.
 */
export function qtypeName(
  v: JsonValue,
): 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'boolean';
    case 'number':
    case 'bigint':
      return 'number';
    case 'string':
      return 'string';
    default:
      return Array.isArray(v) ? 'array' : 'object';
  }
}

/** Whether a JSON number is an integer (QEMU: a QNum of kind int or uint). */
export function isJsonInteger(v: JsonValue): v is number | bigint {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

// ---------------------------------------------------------------------------
// Float literals
//
// QEMU's JSON parser keeps `1.0` a double QNum (so is an integer literal
// too big for 64 bits), and its QObject input visitor refuses a double
// where an integer is expected. A JavaScript number cannot say how it was
// written, so the mark lives next to the value: per container, the keys
// (or list indexes) whose number is such a double. Only integral values
// need it (`1.0`, `2e3`, `-0.0`); any other double is no integer anyway.
// Containers are held weakly.

const floatMarks = new WeakMap<object, Set<string | number>>();

/**
 * Marks `container[key]` as a double QNum: a number written as a float
 * literal (`1.0`), or an integer literal too big for 64 bits. Integer
 * visits refuse it, as QEMU's do. With `isFloat` false, clears the mark.
 * The JSON parsers call this; so can embedders that build values by hand.
 */
export function jsonMarkFloat(
  container: JsonObject | JsonValue[],
  key: string | number,
  isFloat = true,
): void {
  let keys = floatMarks.get(container);
  if (isFloat) {
    if (!keys) floatMarks.set(container, (keys = new Set()));
    keys.add(key);
  } else if (keys) {
    keys.delete(key);
  }
}

/**
 * Whether `container[key]` is marked as a double QNum with an integral
 * value (see {@link jsonMarkFloat}). Lists are keyed by index (a number),
 * objects by member name.
 */
export function jsonIsFloat(container: JsonObject | JsonValue[], key: string | number): boolean {
  return floatMarks.get(container)?.has(key) ?? false;
}

/**
 * Carries the float marks of `from` over to the members of `to` that hold
 * the same value under the same name: for code that copies members into
 * a new object (argument checking, splitting off `qom-type` and `id`).
 */
export function jsonCopyFloatMarks(from: JsonObject, to: JsonObject): void {
  const keys = floatMarks.get(from);
  if (!keys) return;
  for (const k of keys) {
    if (
      typeof k === 'string' &&
      Object.prototype.hasOwnProperty.call(to, k) &&
      Object.is(to[k], from[k])
    )
      jsonMarkFloat(to, k);
  }
}

/** C's `%.17g`, which QEMU uses to print doubles. */
export function formatDouble(d: number): string {
  return jsonWriterDouble(d);
}

/**
 * Serialises a JSON value exactly as QEMU's JSON writer does
 * (`qobject_to_json`): `", "` between members, `": "` after keys, bigints
 * as plain digits, non-ASCII escaped as `\uXXXX`, doubles as `%.17g`;
 * members in insertion order. With `pretty`, QEMU's pretty layout.
 */
export function jsonStringify(v: JsonValue, pretty = false): string {
  return qobjectToJson(v, pretty);
}

/**
 * Structural equality of JSON values (QEMU's `qobject_is_equal`): numbers
 * compare by value whether `number` or `bigint`; object key order does
 * not matter.
 */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === 'number' || ta === 'bigint') && (tb === 'number' || tb === 'bigint')) {
    if (isJsonInteger(a) && isJsonInteger(b))
      return BigInt(a as number | bigint) === BigInt(b as number | bigint);
    return Number(a) === Number(b);
  }
  if (a === null || b === null || ta !== 'object' || tb !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const oa = a as JsonObject;
  const ob = b as JsonObject;
  const ka = Object.keys(oa);
  if (ka.length !== Object.keys(ob).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(ob, k) || !jsonEqual(oa[k], ob[k])) return false;
  }
  return true;
}

/** Deep copy of a JSON value, float marks ({@link jsonMarkFloat}) included. */
export function jsonClone<T extends JsonValue>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  const marks = floatMarks.get(v);
  if (Array.isArray(v)) {
    const arr = v.map((x) => jsonClone(x));
    if (marks) floatMarks.set(arr, new Set(marks));
    return arr as T;
  }
  const out: JsonObject = {};
  for (const k of Object.keys(v)) {
    Object.defineProperty(out, k, {
      value: jsonClone((v as JsonObject)[k]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  if (marks) floatMarks.set(out, new Set(marks));
  return out as T;
}

/** A syntax error from {@link jsonParse}. */
export class JsonParseError extends TsqomError {
  /** Offset in the input where parsing failed. */
  readonly offset: number;
  /**
   * @param message - what went wrong.
   * @param offset - where, in UTF-16 code units.
   */
  constructor(message: string, offset: number) {
    super(message, 'ERR_JSON_PARSE');
    this.offset = offset;
  }
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Parses one JSON value the way QEMU's parser types numbers: an integer
 * literal that fits int64 or uint64 stays an integer (`number` when safe,
 * else `bigint`), anything else is a double, marked (see
 * {@link jsonIsFloat}) when its value is integral. Like QEMU it also accepts
 * single-quoted strings. Throws {@link JsonParseError} on bad input or
 * trailing garbage.
 */
export function jsonParse(text: string): JsonValue {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const fail = (msg: string): never => {
    throw new JsonParseError(msg, i);
  };
  // Whether the scalar value() just returned was an integral float literal.
  let lastFloat = false;
  const value = (depth: number): JsonValue => {
    if (depth > 1024) fail('JSON nesting too deep');
    lastFloat = false;
    ws();
    if (i >= n) fail('unexpected end of input');
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: JsonObject = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"' && text[i] !== "'") fail('expected a string key');
        const k = str();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        const v = value(depth + 1);
        const isFloat = lastFloat && typeof v === 'number';
        if (Object.prototype.hasOwnProperty.call(obj, k)) fail(`duplicate key '${k}'`);
        // defineProperty: a "__proto__" key stays an ordinary member.
        Object.defineProperty(obj, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        if (isFloat) jsonMarkFloat(obj, k);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        const v = value(depth + 1);
        if (lastFloat && typeof v === 'number') jsonMarkFloat(arr, arr.length);
        arr.push(v);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"' || c === "'") return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    return num();
  };
  const str = (): string => {
    const q = text[i++];
    let out = '';
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text[i++];
      if (c === q) return out;
      if (c === '\\') {
        const e = text[i++];
        switch (e) {
          case '"':
          case "'":
          case '\\':
          case '/':
            out += e;
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const h = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
            out += String.fromCharCode(parseInt(h, 16));
            i += 4;
            break;
          }
          default:
            fail('bad escape');
        }
      } else {
        if (c.charCodeAt(0) < 0x20) fail('control character in string');
        out += c;
      }
    }
  };
  const num = (): number | bigint => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) fail('invalid token');
    i += m![0].length;
    if (m![2] === undefined && m![3] === undefined) {
      const b = BigInt(m![0]);
      if (b >= INT64_MIN && b <= UINT64_MAX) return jsonInt(b);
    }
    // A double, from a float literal or an integer too big for 64 bits.
    const d = Number(m![0]);
    lastFloat = Number.isInteger(d);
    return d;
  };
  const v = value(0);
  ws();
  if (i < n) fail('trailing characters');
  return v;
}
