/**
 * QEMU's JSON output (qobject/json-writer.c, qobject/qjson.c), byte for
 * byte: `", "` and `": "` separators, everything outside printable ASCII
 * escaped as `\uXXXX`, doubles as `%.17g`, and the optional pretty layout.
 * Member order is the caller's: the monitor passes QDict's order.
 * @module
 */
import type { JsonObject, JsonValue } from './qobject.js';

/** Whether `cp` is a Unicode scalar value QEMU accepts (no surrogates, no noncharacters). */
export function isValidCodepoint(cp: number): boolean {
  if (cp < 0 || cp > 0x10ffff) return false;
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return false;
  return !(cp >= 0xd800 && cp <= 0xdfff);
}

/** An object's present members in insertion order. */
export function jsonOwnKeys(obj: JsonObject): string[] {
  return Object.keys(obj).filter((k) => obj[k] !== undefined);
}

const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}

/** A JSON string literal as QEMU's writer quotes it. */
export function quoteString(s: string): string {
  if (PLAIN.test(s)) return '"' + s + '"';
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < s.length) {
      const lo = s.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    switch (cp) {
      case 0x22:
        out += '\\"';
        continue;
      case 0x5c:
        out += '\\\\';
        continue;
      case 0x08:
        out += '\\b';
        continue;
      case 0x0c:
        out += '\\f';
        continue;
      case 0x0a:
        out += '\\n';
        continue;
      case 0x0d:
        out += '\\r';
        continue;
      case 0x09:
        out += '\\t';
        continue;
    }
    if (!isValidCodepoint(cp)) cp = 0xfffd;
    if (cp > 0xffff) {
      out += `\\u${hex4(0xd800 + ((cp - 0x10000) >> 10))}\\u${hex4(0xdc00 + ((cp - 0x10000) & 0x3ff))}`;
    } else if (cp < 0x20 || cp >= 0x7f) {
      out += `\\u${hex4(cp)}`;
    } else {
      out += String.fromCharCode(cp);
    }
  }
  return out + '"';
}

/**
 * C's `printf("%.17g", d)` with glibc's exact round-half-even, which QEMU
 * uses for doubles (`inf`, `-inf` and `nan` included).
 */
export function jsonWriterDouble(d: number): string {
  if (Number.isNaN(d)) return 'nan';
  if (!Number.isFinite(d)) return d > 0 ? 'inf' : '-inf';
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  const neg = d < 0;
  let { digits, exp } = exactDecimal(Math.abs(d));
  // Round to 17 significant digits, ties to even.
  if (digits.length > 17) {
    const head = digits.slice(0, 17);
    const rest = digits.slice(17);
    let up: boolean;
    if (rest[0] > '5') up = true;
    else if (rest[0] < '5') up = false;
    else if (/[1-9]/.test(rest.slice(1))) up = true;
    else up = (head.charCodeAt(16) - 48) % 2 === 1;
    let n = BigInt(head);
    if (up) n += 1n;
    let s = n.toString();
    exp += digits.length - 17;
    if (s.length > 17) {
      s = s.slice(0, 17);
      exp += 1;
    }
    digits = s;
  }
  // digits × 10^exp; X is the decimal exponent of the first digit.
  const X = digits.length - 1 + exp;
  digits = digits.replace(/0+$/, '') || '0';
  let body: string;
  if (X < -4 || X >= 17) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ax = Math.abs(X);
    body = `${mant}e${X < 0 ? '-' : '+'}${ax < 10 ? '0' + ax : ax}`;
  } else if (X < 0) {
    body = '0.' + '0'.repeat(-X - 1) + digits;
  } else if (digits.length <= X + 1) {
    body = digits + '0'.repeat(X + 1 - digits.length);
  } else {
    body = `${digits.slice(0, X + 1)}.${digits.slice(X + 1)}`;
  }
  return neg ? '-' + body : body;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** The exact decimal value of a positive finite double: digits × 10^exp. */
function exactDecimal(d: number): { digits: string; exp: number } {
  f64[0] = d;
  const lo = u32[0];
  const hi = u32[1];
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (bexp === 0) {
    e = -1074;
  } else {
    mant |= 1n << 52n;
    e = bexp - 1075;
  }
  if (e >= 0) return { digits: (mant << BigInt(e)).toString(), exp: 0 };
  // mant / 2^-e = mant * 5^-e / 10^-e
  const digits = (mant * 5n ** BigInt(-e)).toString();
  return { digits, exp: e };
}

/** A number as QEMU prints a QNum: integers plainly, doubles as `%.17g`. */
export function formatNumber(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isSafeInteger(v) && !Object.is(v, -0)) return String(v);
  return jsonWriterDouble(v);
}

/**
 * Serialises a JSON value as QEMU's `qobject_to_json_pretty()` does, with
 * object members in the order `keys` gives (insertion order by default).
 */
export function qobjectToJson(
  v: JsonValue,
  pretty = false,
  keys: (obj: JsonObject) => string[] = jsonOwnKeys,
): string {
  const parts: string[] = [];
  write(v, 0);
  return parts.join('');

  function nl(depth: number): void {
    parts.push('\n' + ' '.repeat(depth * 4));
  }

  function write(x: JsonValue, depth: number): void {
    if (x === null) {
      parts.push('null');
      return;
    }
    switch (typeof x) {
      case 'boolean':
        parts.push(x ? 'true' : 'false');
        return;
      case 'bigint':
      case 'number':
        parts.push(formatNumber(x));
        return;
      case 'string':
        parts.push(quoteString(x));
        return;
    }
    if (Array.isArray(x)) {
      parts.push('[');
      for (let i = 0; i < x.length; i++) {
        if (i > 0) parts.push(pretty ? ',' : ', ');
        if (pretty) nl(depth + 1);
        write(x[i], depth + 1);
      }
      if (pretty) nl(depth);
      parts.push(']');
      return;
    }
    parts.push('{');
    const obj = x as JsonObject;
    const names = keys(obj);
    for (let i = 0; i < names.length; i++) {
      if (i > 0) parts.push(pretty ? ',' : ', ');
      if (pretty) nl(depth + 1);
      parts.push(quoteString(names[i]), ': ');
      write(obj[names[i]], depth + 1);
    }
    if (pretty) nl(depth);
    parts.push('}');
  }
}
