/**
 * Modified UTF-8, as QEMU's JSON code handles it (util/unicode.c): U+0000
 * travels as the overlong pair `C0 80`, noncharacters and surrogates are
 * invalid, and every invalid sequence counts once.
 * @module
 */

import { isValidCodepoint } from '../qobject/json-writer.js';

export { isValidCodepoint };

/** A decoded sequence: its code point (-1 when invalid) and where it ends. */
export interface Utf8Decoded {
  /** The code point, or -1. */
  cp: number;
  /** Index just past the sequence. */
  end: number;
}

const MIN_CP = [0x80, 0x800, 0x10000, 0x200000, 0x4000000];

/**
 * Decodes the modified UTF-8 sequence at `bytes[i]`, reading no further
 * than `limit`. Returns the code point (-1 when invalid) and where the
 * sequence ends; like QEMU, an invalid sequence ends after the
 * continuation bytes that were present.
 */
export function modUtf8Codepoint(bytes: Uint8Array, i: number, limit: number): Utf8Decoded {
  if (i >= limit || bytes[i] === 0) return { cp: -1, end: i };
  const lead = bytes[i];
  let p = i + 1;
  if (lead < 0x80) return { cp: lead, end: p };
  if (lead >= 0xfe || (lead & 0x40) === 0) return { cp: -1, end: p };
  let len = 0;
  let mask = 0x80;
  for (; lead & mask; mask >>= 1) len++;
  let cp = lead & (mask - 1);
  for (let k = 1; k < len; k++) {
    const b = p < limit ? bytes[p] : 0;
    if ((b & 0xc0) !== 0x80) return { cp: -1, end: p };
    p++;
    cp = cp * 64 + (b & 0x3f);
  }
  if (!isValidCodepoint(cp)) return { cp: -1, end: p };
  if (cp < MIN_CP[len - 2] && !(cp === 0 && len === 2)) return { cp: -1, end: p };
  return { cp, end: p };
}

/**
 * Decodes bytes the way QEMU's JSON writer reads a C string: it stops at
 * the first NUL byte, and each invalid sequence becomes U+FFFD.
 */
export function decodeLenient(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b === 0) break;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    const { cp, end: e } = modUtf8Codepoint(bytes, i, end);
    out += cp < 0 ? '\ufffd' : String.fromCodePoint(cp);
    i = e;
  }
  return out;
}

/**
 * Encodes a JS string as QEMU holds strings internally: UTF-8 with U+0000
 * as `C0 80`. Lone surrogates become U+FFFD.
 */
export function encodeModUtf8(s: string): Uint8Array {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(s, 'latin1');
  const out: number[] = [];
  for (const ch of s) {
    let cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp === 0) out.push(0xc0, 0x80);
    else if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000)
      out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else
      out.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 0x3f),
        0x80 | ((cp >> 6) & 0x3f),
        0x80 | (cp & 0x3f),
      );
  }
  return Uint8Array.from(out);
}
