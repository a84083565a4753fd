/**
 * QEMU's `KEY=VALUE,...` parser (util/keyval.c), as `-object` and HMP
 * `object_add` use it: dotted keys build nested objects, numeric
 * fragments build lists, `,,` escapes a comma, an implied first key may be
 * left out, and `help` / `?` ask for help. Every leaf is a string.
 * @module
 */
import type { JsonObject, JsonValue } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import { jsonObjectSet, qdictKeys } from '../qobject/qdict.js';

const INT_MAX = 2147483647;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isAlnum = (c: string | undefined): boolean => isAlpha(c) || isDigit(c);

/** `key_to_index()`: leading digits as a list index (capped at INT_MAX), or -1. */
function keyToIndex(s: string, at: number, whole: boolean): { index: number; end: number } {
  if (!isDigit(s[at])) return { index: -1, end: at };
  let end = at;
  while (isDigit(s[end])) end++;
  if (whole && end !== s.length) return { index: -1, end };
  const n = Number(s.slice(at, end));
  return { index: n > INT_MAX ? INT_MAX : n, end };
}

/** `parse_qapi_name(str, false)`: length of the QAPI name at `at`, or -1. */
function parseQapiName(s: string, at: number): number {
  let p = at;
  if (s[p] === '_') {
    p++;
    if (s[p] !== '_') return -1;
    while (++p < s.length && (isAlnum(s[p]) || s[p] === '-' || s[p] === '.'));
    if (s[p] !== '_') return -1;
    p++;
  }
  if (!isAlpha(s[p])) return -1;
  while (++p < s.length && (isAlnum(s[p]) || s[p] === '-' || s[p] === '_'));
  return p - at;
}

/** `starts_with_help_option()`. */
function helpOptionLength(s: string, at: number): number {
  if (s[at] === '?') return 1;
  if (s.startsWith('help', at)) return 4;
  return 0;
}

function isDict(v: JsonValue | undefined): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `keyval_parse_put()`: `value` undefined asks for a nested object. */
function put(
  cur: JsonObject,
  k: string,
  value: string | undefined,
  keyText: string,
): JsonObject | string {
  const old = Object.prototype.hasOwnProperty.call(cur, k) ? cur[k] : undefined;
  if (old !== undefined) {
    if ((value === undefined) !== isDict(old)) {
      throw new QomError(`Parameters '${keyText}.*' used inconsistently`);
    }
    if (value === undefined) return old as JsonObject;
  }
  const v: JsonObject | string = value ?? {};
  jsonObjectSet(cur, k, v);
  return v;
}

/** `keyval_parse_one()`: returns the position after this parameter. */
function parseOne(
  root: JsonObject,
  params: string,
  pos: number,
  impliedKey: string | null,
  state: { help: boolean },
): number {
  let len = 0;
  while (pos + len < params.length && params[pos + len] !== '=' && params[pos + len] !== ',') len++;
  let keySrc = params;
  let key = pos;
  let valEnd = -1;
  if (len && params[pos + len] !== '=') {
    if (helpOptionLength(params, pos) === len) {
      state.help = true;
      let s = pos + len;
      if (params[s] === ',') s++;
      return s;
    }
    if (impliedKey !== null) {
      keySrc = impliedKey;
      key = 0;
      valEnd = pos + len;
      len = impliedKey.length;
    }
  }
  const keyEnd = key + len;
  const implied = valEnd >= 0;
  let cur = root;
  let s = key;
  let keyInCur = '';
  for (;;) {
    let flen: number;
    const idx = s !== key ? keyToIndex(keySrc, s, false) : { index: -1, end: s };
    if (idx.index >= 0) {
      flen = idx.end - s;
    } else {
      const r = parseQapiName(keySrc.slice(0, keyEnd), s);
      flen = r < 0 ? 0 : r;
    }
    if (!flen || (s + flen < keyEnd && keySrc[s + flen] !== '.')) {
      throw new QomError(`Invalid parameter '${keySrc.slice(key, keyEnd)}'`);
    }
    if (flen >= 128) {
      const frag = s !== key || s + flen !== keyEnd ? ' fragment' : '';
      throw new QomError(`Parameter${frag} '${keySrc.slice(s, s + flen)}' is too long`);
    }
    if (s !== key) {
      cur = put(cur, keyInCur, undefined, keySrc.slice(key, s - 1)) as JsonObject;
    }
    keyInCur = keySrc.slice(s, s + flen);
    s += flen;
    if (keySrc[s] !== '.') break;
    s++;
  }
  let value: string;
  let next: number;
  if (implied) {
    value = params.slice(pos, valEnd);
    next = valEnd;
    if (params[next] === ',') next++;
  } else {
    if (params[s] !== '=')
      throw new QomError(`Expected '=' after parameter '${params.slice(key, s)}'`);
    s++;
    value = '';
    for (;;) {
      if (s >= params.length) break;
      if (params[s] === ',') {
        s++;
        if (params[s] !== ',') break;
      }
      value += params[s++];
    }
    next = s;
  }
  put(cur, keyInCur, value, keySrc.slice(key, keyEnd));
  return next;
}

/** `keyval_listify()`: objects whose keys are all indexes become lists. */
function listify(cur: JsonObject, path: string[]): JsonObject | JsonValue[] {
  let hasIndex = false;
  let hasMember = false;
  const keys = qdictKeys(cur);
  for (const k of keys) {
    if (keyToIndex(k, 0, true).index >= 0) hasIndex = true;
    else hasMember = true;
    const v = cur[k];
    if (!isDict(v)) continue;
    const l = listify(v, [...path, k]);
    if (l !== v) jsonObjectSet(cur, k, l);
  }
  const prefix = path.map((p) => p + '.').join('');
  if (hasIndex && hasMember) throw new QomError(`Parameters '${prefix}*' used inconsistently`);
  if (!hasIndex) return cur;
  const nelt = keys.length + 1;
  const elt: Array<JsonValue | undefined> = new Array(nelt).fill(undefined);
  let maxIndex = -1;
  for (const k of keys) {
    const { index } = keyToIndex(k, 0, true);
    if (index > maxIndex) maxIndex = index;
    if (index >= nelt - 1) continue;
    elt[index] = cur[k];
  }
  const list: JsonValue[] = [];
  for (let i = 0; i < Math.min(nelt, maxIndex + 1); i++) {
    if (elt[i] === undefined) throw new QomError(`Parameter '${prefix}${i}' missing`);
    list.push(elt[i]!);
  }
  return list;
}

/** Result of {@link keyvalParse}. */
export interface KeyvalResult {
  /** The parsed parameters: nested objects and lists with string leaves. */
  dict: JsonObject;
  /** Whether `help` or `?` was given. */
  help: boolean;
}

/**
 * QEMU's `keyval_parse(params, implied_key, &help)`. Throws QEMU's error
 * texts (`Invalid parameter '%s'`, `Expected '=' after parameter '%s'`,
 * `Parameters '%s.*' used inconsistently`, ...).
 */
export function keyvalParse(params: string, impliedKey: string | null = null): KeyvalResult {
  const dict: JsonObject = {};
  const state = { help: false };
  let s = 0;
  let implied = impliedKey;
  while (s < params.length) {
    s = parseOne(dict, params, s, implied, state);
    implied = null;
  }
  listify(dict, []);
  return { dict, help: state.help };
}
