/**
 * The number parsers of QEMU's util/cutils.c and util/id.c, with C library
 * (`strtoll`, `strtoull`, `strtod`) semantics in the C locale. They decide
 * which strings the command line and the string input visitor accept, so
 * they follow QEMU's rules exactly, with bigints for 64-bit values.
 * @module
 */

/** `-EINVAL` as QEMU's parsers return it. */
export const EINVAL = -22;
/** `-ERANGE` as QEMU's parsers return it. */
export const ERANGE = -34;

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * Result of a whole-string parse (QEMU's parsers called with a NULL end
 * pointer): `err` is 0, {@link EINVAL} or {@link ERANGE}.
 */
export interface FullParseResult<T> {
  /** 0 on success, else a negative errno. */
  err: number;
  /** The value (meaningful as QEMU defines it for each error). */
  value: T;
}

/** Result of a prefix parse: a {@link FullParseResult} plus where parsing stopped. */
export interface ParseResult<T> extends FullParseResult<T> {
  /** Index of the first character not consumed. */
  end: number;
}

function isCSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function digitValue(c: string | undefined): number {
  if (c === undefined) return 99;
  const code = c.charCodeAt(0);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  if (code >= 65 && code <= 90) return code - 55;
  return 99;
}

/**
 * glibc `strtoull`/`strtoll` in the C locale: leading white space, one
 * optional sign, `0x` prefix for base 0/16, octal for base 0 with a leading
 * `0`. Returns errno semantics (`ERANGE` with a saturated value) and the
 * end index (`start` when nothing was converted).
 */
export function cStrtoInt(
  s: string,
  start: number,
  base: number,
  unsigned: boolean,
): ParseResult<bigint> {
  let i = start;
  while (isCSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  if (
    (base === 0 || base === 16) &&
    s[i] === '0' &&
    (s[i + 1] === 'x' || s[i + 1] === 'X') &&
    digitValue(s[i + 2]) < 16
  ) {
    i += 2;
    base = 16;
  } else if (base === 0) {
    base = s[i] === '0' ? 8 : 10;
  }
  const digitsStart = i;
  let mag = 0n;
  const b = BigInt(base);
  while (digitValue(s[i]) < base) {
    mag = mag * b + BigInt(digitValue(s[i]));
    i++;
  }
  if (i === digitsStart) return { err: 0, value: 0n, end: start };
  if (unsigned) {
    if (mag > UINT64_MAX) return { err: ERANGE, value: UINT64_MAX, end: i };
    return { err: 0, value: neg ? (UINT64_MAX + 1n - mag) & UINT64_MAX : mag, end: i };
  }
  if (neg) {
    if (mag > -INT64_MIN) return { err: ERANGE, value: INT64_MIN, end: i };
    return { err: 0, value: -mag, end: i };
  }
  if (mag > INT64_MAX) return { err: ERANGE, value: INT64_MAX, end: i };
  return { err: 0, value: mag, end: i };
}

// check_strtox_error() for callers that pass endptr == NULL: the whole
// string must be consumed.
function checkFull<T>(s: string, r: ParseResult<T>): number {
  if (r.err === 0 && r.end === 0) return EINVAL;
  if (r.end < s.length) return EINVAL;
  return r.err;
}

/** `qemu_strtoi64(str, NULL, base, &v)`: the whole string must be an int64. */
export function qemuStrtoi64(s: string, base = 0): FullParseResult<bigint> {
  const r = cStrtoInt(s, 0, base, false);
  return { err: checkFull(s, r), value: r.value };
}

/**
 * `qemu_strtou64(str, NULL, base, &v)`: the whole string must be a uint64.
 * Like `strtoull`, a leading `-` negates modulo 2^64 ("-1" is 2^64-1).
 */
export function qemuStrtou64(s: string, base = 0): FullParseResult<bigint> {
  const r = cStrtoInt(s, 0, base, true);
  return { err: checkFull(s, r), value: r.value };
}

/**
 * `qemu_strtou64(str, &end, base, &v)`: parse a prefix. Returns `end`
 * (index) too; no conversion is `EINVAL` with `end` = `start`.
 */
export function qemuStrtou64Prefix(s: string, start: number, base = 0): ParseResult<bigint> {
  const r = cStrtoInt(s, start, base, true);
  if (r.end === start && r.err === 0) return { err: EINVAL, value: 0n, end: start };
  return r;
}

/** `qemu_strtoi64(str, &end, base, &v)`: parse a prefix. */
export function qemuStrtoi64Prefix(s: string, start: number, base = 0): ParseResult<bigint> {
  const r = cStrtoInt(s, start, base, false);
  if (r.end === start && r.err === 0) return { err: EINVAL, value: 0n, end: start };
  return r;
}

/**
 * QEMU's `parse_uint(s, &end, base, &v)`: like strtoull but a negative
 * number is `ERANGE` (value 0).
 */
export function parseUint(s: string, start: number, base: number): ParseResult<bigint> {
  const r = cStrtoInt(s, start, base, true);
  if (r.err === ERANGE) return r;
  if (r.end === start) return { err: EINVAL, value: 0n, end: start };
  let j = start;
  while (isCSpace(s[j])) j++;
  if (s[j] === '-') return { err: ERANGE, value: 0n, end: r.end };
  return r;
}

/** `parse_uint_full(s, base, &v)`: the whole string must be a non-negative integer. */
export function parseUintFull(s: string, base = 0): FullParseResult<bigint> {
  const r = parseUint(s, 0, base);
  if (r.end < s.length) return { err: EINVAL, value: 0n };
  return { err: r.err, value: r.value };
}

const FLOAT_RE =
  /^[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)/i;

/** glibc `strtod` in the C locale, on a prefix of `s` starting at `start`. */
export function cStrtod(s: string, start: number): ParseResult<number> {
  let i = start;
  while (isCSpace(s[i])) i++;
  const m = FLOAT_RE.exec(s.slice(i));
  if (!m) return { err: 0, value: 0, end: start };
  let text = m[0];
  // A decimal mantissa followed by a dangling exponent marker: strtod stops before it.
  let v: number;
  const lower = text.toLowerCase();
  const sign = text[0] === '-' ? -1 : 1;
  const body = text[0] === '-' || text[0] === '+' ? lower.slice(1) : lower;
  if (body.startsWith('inf')) v = sign * Infinity;
  else if (body.startsWith('nan')) v = NaN;
  else if (body.startsWith('0x')) {
    const hm = /^0x([0-9a-f]*)\.?([0-9a-f]*)(?:p([+-]?[0-9]+))?$/.exec(body)!;
    const intPart = hm[1] ? parseInt(hm[1], 16) : 0;
    let frac = 0;
    for (let k = 0; k < hm[2].length; k++) frac += parseInt(hm[2][k], 16) / 16 ** (k + 1);
    v = sign * (intPart + frac) * 2 ** Number(hm[3] ?? 0);
  } else {
    v = Number(text);
    if (Number.isNaN(v)) {
      // e.g. "1." is fine for Number(); anything else: trim the exponent.
      text = text.replace(/[eE][+-]?$/, '');
      v = Number(text);
    }
  }
  const end = i + text.length;
  if (!Number.isFinite(v) && !Number.isNaN(v) && !body.startsWith('inf'))
    return { err: ERANGE, value: v, end };
  // Underflow to zero: glibc reports ERANGE when nonzero digits round to 0.
  if (v === 0 && !body.startsWith('0x') && /[1-9]/.test(body.replace(/e.*$/, '')))
    return { err: ERANGE, value: v, end };
  if (v !== 0 && Number.isFinite(v) && Math.abs(v) < 2.2250738585072014e-308)
    return { err: ERANGE, value: v, end };
  return { err: 0, value: v, end };
}

/**
 * `qemu_strtod_finite(str, &end, &v)` (with `wantEnd`) or with a NULL end
 * pointer (the whole string must be consumed). NaN and infinities are
 * rejected with EINVAL.
 */
export function qemuStrtodFinite(s: string, start = 0, wantEnd = false): ParseResult<number> {
  const r = cStrtod(s, start);
  let err = r.err;
  if (r.end === start) err = EINVAL;
  if (!Number.isFinite(r.value)) return { err: EINVAL, value: 0, end: start };
  if (!wantEnd && r.end < s.length) err = EINVAL;
  return { err, value: r.end === start ? 0 : r.value, end: r.end };
}

function suffixMul(c: string | undefined, unit: bigint): bigint {
  switch (c?.toUpperCase()) {
    case 'B':
      return 1n;
    case 'K':
      return unit;
    case 'M':
      return unit ** 2n;
    case 'G':
      return unit ** 3n;
    case 'T':
      return unit ** 4n;
    case 'P':
      return unit ** 5n;
    case 'E':
      return unit ** 6n;
    default:
      return -1n;
  }
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function doStrtosz(s: string, defaultSuffix: string, unit: bigint): FullParseResult<bigint> {
  let r = parseUint(s, 0, 10);
  let err = r.err;
  let val = r.value;
  let end = r.end;
  let valf = 0n;
  out: {
    if (err === ERANGE) break out;
    if (err === 0 && val === 0n && (s[end] === 'x' || s[end] === 'X')) {
      r = qemuStrtou64Prefix(s, 0, 16);
      err = r.err;
      val = r.value;
      end = r.end;
      if (err) break out;
      if (s[end] === '.' || suffixMul(s[end], unit) > 0n) {
        end = 0;
        err = EINVAL;
        break out;
      }
    } else if (s[end] === '.' || (end === 0 && s.includes('.'))) {
      let fraction = 0;
      if (err === 0 && s[end] === '.' && !isDigit(s[end + 1])) {
        end++;
      } else {
        let copy = s.slice(end);
        const e1 = copy.indexOf('e');
        if (e1 >= 0) copy = copy.slice(0, e1);
        const e2 = copy.indexOf('E');
        if (e2 >= 0) copy = copy.slice(0, e2);
        const fr = qemuStrtodFinite(copy, 0, true);
        err = fr.err;
        fraction = fr.value;
        end += fr.end;
        if (fraction < 0 || Object.is(fraction, -0)) {
          err = ERANGE;
          break out;
        }
      }
      if (fraction === 1.0) {
        if (val === UINT64_MAX) {
          err = ERANGE;
          break out;
        }
        val++;
      } else if (err === ERANGE) {
        valf = 1n;
        err = 0;
      } else {
        valf = fractionToFixed64(fraction);
        if (valf === 0n && fraction > 0) valf = 1n;
      }
    }
    if (err) break out;
    let mul = suffixMul(s[end], unit);
    if (mul > 0n) end++;
    else mul = suffixMul(defaultSuffix, unit);
    if (mul === 1n) {
      if (valf !== 0n) {
        end = 0;
        err = EINVAL;
        break out;
      }
    } else {
      const p = valf * mul;
      const total = val * mul + (p >> 64n) + ((p >> 63n) & 1n);
      if (total > UINT64_MAX) {
        err = ERANGE;
        break out;
      }
      val = total;
    }
    err = 0;
  }
  if (end < s.length) err = EINVAL;
  return err === 0 ? { err, value: val } : { err, value: 0n };
}

// (uint64_t)(fraction * 0x1p64) for 0 <= fraction < 1, exactly as C does it
// (the product is exact in binary floating point; the cast truncates).
function fractionToFixed64(f: number): bigint {
  if (f <= 0) return 0n;
  // f = m * 2^e exactly; scale by 2^64 and truncate.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, f);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (expBits === 0) {
    e = -1074;
  } else {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  const shift = e + 64;
  const v = shift >= 0 ? mant << BigInt(shift) : mant >> BigInt(-shift);
  return v > UINT64_MAX ? UINT64_MAX : v;
}

/**
 * `qemu_strtosz(str, NULL, &v)`: sizes with optional binary suffixes
 * B, K, M, G, T, P, E (either case), decimal fractions with a suffix
 * (`1.5G`), hexadecimal without suffix. Negative values are `ERANGE`.
 */
export function qemuStrtosz(s: string): FullParseResult<bigint> {
  return doStrtosz(s, 'B', 1024n);
}

/** `qemu_strtosz_MiB`: like {@link qemuStrtosz} but a bare number means MiB. */
export function qemuStrtoszMiB(s: string): FullParseResult<bigint> {
  return doStrtosz(s, 'M', 1024n);
}

/** `qemu_strtosz_metric`: like {@link qemuStrtosz} with powers of 1000. */
export function qemuStrtoszMetric(s: string): FullParseResult<bigint> {
  return doStrtosz(s, 'B', 1000n);
}

function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/**
 * QEMU's `id_wellformed()`: letters, digits, `-`, `.`, `_`, starting with
 * a letter.
 */
export function idWellformed(id: string): boolean {
  if (id.length === 0 || !isAlpha(id[0])) return false;
  for (let i = 1; i < id.length; i++) {
    const c = id[i];
    if (!isAlpha(c) && !isDigit(c) && c !== '-' && c !== '.' && c !== '_') return false;
  }
  return true;
}

/**
 * QEMU's `size_to_str()`: `"1 KiB"`, `"1.5 GiB"` (`%0.3g` of the value in
 * the largest binary unit it reaches 1000 of).
 */
export function sizeToStr(val: bigint | number): string {
  const x = Number(val) / (1000.0 / 1024.0);
  let i = frexpExponent(x);
  i = Math.trunc((i - 1) / 10) * 10;
  const div = 2 ** i;
  const prefixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  return `${formatG3(Number(val) / div)} ${prefixes[i / 10]}B`;
}

function frexpExponent(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return 0;
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  const expBits = (dv.getUint16(0) >> 4) & 0x7ff;
  if (expBits === 0) return frexpExponent(x * 2 ** 64) - 64;
  return expBits - 1022;
}

function formatG3(d: number): string {
  // C's %0.3g
  if (d === 0) return '0';
  const e = d.toExponential(2);
  const X = Number(e.split('e')[1]);
  if (X < -4 || X >= 3) {
    const m = e.split('e')[0].replace(/\.?0+$/, '');
    return `${m}e${X < 0 ? '-' : '+'}${String(Math.abs(X)).padStart(2, '0')}`;
  }
  let f = d.toFixed(Math.max(0, 2 - X));
  if (f.includes('.')) f = f.replace(/0+$/, '').replace(/\.$/, '');
  return f;
}
