/**
 * QEMU's streaming JSON parser (qobject/json-lexer.c, json-streamer.c,
 * json-parser.c) with QEMU 7.2's semantics, for QMP input.
 *
 * - Bytes in, one value or one error out per message. A message ends when
 *   brackets and braces balance (or go negative), or right after a
 *   top-level scalar; input may be split anywhere across reads.
 * - Extensions QEMU has: single-quoted strings and the `\'` escape.
 *   `%`-interpolation is off (QMP never enables it).
 * - After a lexical error (a stray byte) the lexer skips to the next
 *   structural character, control character or 0xFE/0xFF byte, the
 *   resynchronisation points QMP clients rely on.
 * - Limits: 64 MiB per token and per message, 2 Mi tokens per message,
 *   nesting depth 1024.
 * - Integers that fit int64 or uint64 are exact (`number` when safe,
 *   `bigint` beyond); other numbers are doubles. A double with an integral
 *   value (`1.0`, `-0.0`, an integer literal too big for 64 bits) is
 *   marked inside its container (see {@link jsonIsFloat}), and reported
 *   for a top-level value, because QAPI rejects it where an integer is
 *   expected.
 * @module
 */
import { type JsonObject, type JsonValue, jsonMarkFloat } from './qobject.js';
import { QomError } from '../util/error.js';
import { jsonObjectSet } from './qdict.js';
import { decodeLenient, isValidCodepoint, modUtf8Codepoint } from '../util/unicode.js';

/** Longest token, and most bytes in one message (json-lexer.c, json-streamer.c). */
export const MAX_TOKEN_SIZE = 64 * 1024 * 1024;
/** Most tokens in one message. */
export const MAX_TOKEN_COUNT = 2 * 1024 * 1024;
/** Deepest nesting of arrays and objects together. */
export const MAX_NESTING = 1024;

// Lexer states. ERROR must be 0: unlisted transitions lead there.
const ERROR = 0;
const RECOVERY = 1;
const DQ_ESC = 2;
const DQ = 3;
const SQ_ESC = 4;
const SQ = 5;
const ZERO = 6;
const EXP_DIGITS = 7;
const EXP_SIGN = 8;
const EXP_E = 9;
const MANTISSA = 10;
const MANTISSA_DIGITS = 11;
const DIGITS = 12;
const SIGN = 13;
const KEYWORD = 14;
const START = 15;
const NSTATES = 16;

// Token types (above every state).
const T_LCURLY = 100;
const T_RCURLY = 101;
const T_LSQUARE = 102;
const T_RSQUARE = 103;
const T_COLON = 104;
const T_COMMA = 105;
const T_INTEGER = 106;
const T_FLOAT = 107;
const T_KEYWORD = 108;
const T_STRING = 109;
const T_MIN = T_LCURLY;

/** The transition does not consume the byte: it ends the token before it. */
const LOOKAHEAD = 0x80;

const TABLE: Uint8Array = (() => {
  const t = new Uint8Array(NSTATES * 256);
  const set = (s: number, from: number, to: number, v: number): void => {
    for (let c = from; c <= to; c++) t[s * 256 + c] = v;
  };
  const ch = (c: string): number => c.charCodeAt(0);
  // Error recovery: skip to something promising.
  set(RECOVERY, 0x00, 0x1f, START | LOOKAHEAD);
  set(RECOVERY, 0x20, 0xfd, RECOVERY);
  set(RECOVERY, 0xfe, 0xff, START | LOOKAHEAD);
  set(RECOVERY, 0x09, 0x09, RECOVERY);
  for (const c of '[]{}:,') set(RECOVERY, ch(c), ch(c), START | LOOKAHEAD);
  // Strings.
  set(DQ_ESC, 0x20, 0xfd, DQ);
  set(DQ, 0x20, 0xfd, DQ);
  set(DQ, ch('\\'), ch('\\'), DQ_ESC);
  set(DQ, ch('"'), ch('"'), T_STRING);
  set(SQ_ESC, 0x20, 0xfd, SQ);
  set(SQ, 0x20, 0xfd, SQ);
  set(SQ, ch('\\'), ch('\\'), SQ_ESC);
  set(SQ, ch("'"), ch("'"), T_STRING);
  // Numbers.
  set(ZERO, 0, 255, T_INTEGER | LOOKAHEAD);
  set(ZERO, ch('0'), ch('9'), ERROR);
  set(ZERO, ch('.'), ch('.'), MANTISSA);
  set(EXP_DIGITS, 0, 255, T_FLOAT | LOOKAHEAD);
  set(EXP_DIGITS, ch('0'), ch('9'), EXP_DIGITS);
  set(EXP_SIGN, ch('0'), ch('9'), EXP_DIGITS);
  set(EXP_E, ch('-'), ch('-'), EXP_SIGN);
  set(EXP_E, ch('+'), ch('+'), EXP_SIGN);
  set(EXP_E, ch('0'), ch('9'), EXP_DIGITS);
  set(MANTISSA_DIGITS, 0, 255, T_FLOAT | LOOKAHEAD);
  set(MANTISSA_DIGITS, ch('0'), ch('9'), MANTISSA_DIGITS);
  set(MANTISSA_DIGITS, ch('e'), ch('e'), EXP_E);
  set(MANTISSA_DIGITS, ch('E'), ch('E'), EXP_E);
  set(MANTISSA, ch('0'), ch('9'), MANTISSA_DIGITS);
  set(DIGITS, 0, 255, T_INTEGER | LOOKAHEAD);
  set(DIGITS, ch('0'), ch('9'), DIGITS);
  set(DIGITS, ch('e'), ch('e'), EXP_E);
  set(DIGITS, ch('E'), ch('E'), EXP_E);
  set(DIGITS, ch('.'), ch('.'), MANTISSA);
  set(SIGN, ch('0'), ch('0'), ZERO);
  set(SIGN, ch('1'), ch('9'), DIGITS);
  // Keywords: [a-z]+, judged by the parser.
  set(KEYWORD, 0, 255, T_KEYWORD | LOOKAHEAD);
  set(KEYWORD, ch('a'), ch('z'), KEYWORD);
  // Start.
  set(START, ch('"'), ch('"'), DQ);
  set(START, ch("'"), ch("'"), SQ);
  set(START, ch('0'), ch('0'), ZERO);
  set(START, ch('1'), ch('9'), DIGITS);
  set(START, ch('-'), ch('-'), SIGN);
  set(START, ch('{'), ch('{'), T_LCURLY);
  set(START, ch('}'), ch('}'), T_RCURLY);
  set(START, ch('['), ch('['), T_LSQUARE);
  set(START, ch(']'), ch(']'), T_RSQUARE);
  set(START, ch(','), ch(','), T_COMMA);
  set(START, ch(':'), ch(':'), T_COLON);
  set(START, ch('a'), ch('z'), KEYWORD);
  for (const c of ' \t\r\n') set(START, ch(c), ch(c), START);
  return t;
})();

/**
 * What a {@link JsonMessageParser} hands over for each message: the value
 * or the error, and whether the value is a top-level double with an
 * integral value (a float mark has no container to live in there; see
 * {@link jsonIsFloat} for the values inside).
 */
export type JsonMessageCallback = (
  value: JsonValue | undefined,
  error: QomError | undefined,
  isFloat: boolean,
) => void;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function parseError(message: string): QomError {
  // QEMU formats the parser's message into a 1024-byte buffer; only
  // messages quoting a keyword ([a-z]+, so one byte per character) get
  // that long.
  return new QomError(
    `JSON parse error, ${message.length > 1023 ? message.slice(0, 1023) : message}`,
  );
}

/**
 * A byte-stream JSON message parser: {@link feed} it whatever arrives,
 * it calls back once per complete message with a value or an error,
 * exactly when and how QEMU 7.2's QMP monitor would.
 */
export class JsonMessageParser {
  private state = START;
  /** Bytes of the current token held over from earlier chunks. */
  private carry: Buffer[] = [];
  private carryLen = 0;
  /** Length of the current token (carry plus bytes in this chunk). */
  private tokLen = 0;

  private braceCount = 0;
  private bracketCount = 0;
  private tokenSize = 0;
  private ntokens = 0;
  private types = new Uint8Array(64);
  private starts = new Int32Array(64);
  private ends = new Int32Array(64);
  private text = Buffer.allocUnsafe(1024);
  private textLen = 0;
  /** Messages handed out so far (so {@link feed} can stop after one). */
  private emitted = 0;

  /** @param emitMessage - called once per message, with a value or an error. */
  constructor(private readonly emitMessage: JsonMessageCallback) {}

  private emit(value: JsonValue | undefined, error: QomError | undefined, isFloat: boolean): void {
    this.emitted++;
    this.emitMessage(value, error, isFloat);
  }

  /** Forgets any partial message (QEMU does this when a client disconnects). */
  reset(): void {
    this.state = START;
    this.carry = [];
    this.carryLen = 0;
    this.tokLen = 0;
    this.resetMessage();
  }

  /**
   * Feeds bytes; may call the callback any number of times. With `stop`,
   * feeding pauses after the first message for which `stop()` returns
   * true: the return value says how many bytes were consumed, and the
   * caller feeds the rest later (a monitor whose replies are not being
   * read stops there). Without it, all of `chunk` is consumed.
   */
  feed(chunk: Uint8Array, stop?: () => boolean): number {
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let n = buf.length;
    let state = this.state;
    let emitted = this.emitted;
    // tokLen counts consumed bytes of the current token; those in this
    // chunk are the last (tokLen - carryLen) bytes before position i.
    for (let i = 0; i < n; i++) {
      const c = buf[i];
      // Fast path through string bodies.
      if (state === DQ || state === SQ) {
        const q = state === DQ ? 0x22 : 0x27;
        let j = i;
        const lim = Math.min(n, i + (MAX_TOKEN_SIZE + 1 - this.tokLen));
        while (j < lim) {
          const b = buf[j];
          if (b < 0x20 || b > 0xfd || b === 0x5c || b === q) break;
          j++;
        }
        if (j > i) {
          this.tokLen += j - i;
          i = j - 1;
          if (this.tokLen > MAX_TOKEN_SIZE) {
            this.state = state;
            this.tokenTooBig(buf, i);
            state = this.state;
          }
          continue;
        }
      }
      let consumed = false;
      while (!consumed) {
        let next = TABLE[state * 256 + c];
        consumed = (next & LOOKAHEAD) === 0;
        next &= ~LOOKAHEAD;
        if (consumed) this.tokLen++;
        if (next >= T_MIN) {
          this.processToken(buf, consumed ? i + 1 : i, next);
          this.clearToken();
          next = START;
        } else if (next === START) {
          this.clearToken();
        } else if (next === ERROR) {
          this.processToken(buf, i + 1, ERROR);
          this.clearToken();
          next = RECOVERY;
        } else if (next === RECOVERY) {
          this.clearToken();
        }
        state = next;
      }
      if (this.tokLen > MAX_TOKEN_SIZE) {
        this.state = state;
        this.tokenTooBig(buf, i);
        state = this.state;
      }
      if (stop !== undefined && this.emitted !== emitted) {
        emitted = this.emitted;
        if (stop()) {
          n = i + 1;
          break;
        }
      }
    }
    this.state = state;
    // Keep the unfinished token's bytes for the next chunk.
    const inChunk = this.tokLen - this.carryLen;
    if (inChunk > 0) {
      this.carry.push(Buffer.from(buf.subarray(n - inChunk, n)));
      this.carryLen += inChunk;
    }
    return n;
  }

  /**
   * `json_message_parser_flush()`: ends the input. A pending token is
   * finished (or reported as stray), and pending tokens are parsed as a
   * message even if unbalanced (`premature EOI`). QMP never does this;
   * `qobject_from_json()` does.
   */
  flush(): void {
    const empty = Buffer.alloc(0);
    let state = this.state;
    while (state !== START) {
      let next = TABLE[state * 256] & ~LOOKAHEAD;
      if (next >= T_MIN) {
        this.processToken(empty, 0, next);
        this.clearToken();
        next = START;
      } else if (next === START) {
        this.clearToken();
      } else if (next === ERROR) {
        this.processToken(empty, 0, ERROR);
        this.clearToken();
        next = RECOVERY;
      } else if (next === RECOVERY) {
        this.clearToken();
      }
      state = next;
    }
    this.state = START;
    if (this.ntokens === 0) return;
    let value: { value: JsonValue; isFloat: boolean } | undefined;
    let err: QomError | undefined;
    try {
      value = new TokenParser(this.types, this.starts, this.ends, this.text, this.ntokens).parse();
    } catch (e) {
      if (!(e instanceof QomError)) throw e;
      err = e;
    }
    this.resetMessage();
    if (err || !value) this.emit(undefined, err, false);
    else this.emit(value.value, undefined, value.isFloat);
  }

  private clearToken(): void {
    this.tokLen = 0;
    if (this.carryLen) {
      this.carry = [];
      this.carryLen = 0;
    }
  }

  /** A single token grew past the limit: QEMU passes it on as it is. */
  private tokenTooBig(buf: Buffer, i: number): void {
    this.processToken(buf, i + 1, this.state);
    this.clearToken();
    this.state = START;
  }

  /** The current token's bytes, ending at `end` in `buf`. */
  private tokenBytes(buf: Buffer, end: number): Buffer {
    const inChunk = this.tokLen - this.carryLen;
    if (!this.carryLen) return buf.subarray(end - inChunk, end);
    return Buffer.concat([...this.carry, buf.subarray(end - inChunk, end)]);
  }

  private resetMessage(): void {
    this.braceCount = 0;
    this.bracketCount = 0;
    this.tokenSize = 0;
    this.ntokens = 0;
    this.textLen = 0;
    if (this.types.length > 4096) {
      this.types = new Uint8Array(64);
      this.starts = new Int32Array(64);
      this.ends = new Int32Array(64);
    }
    if (this.text.length > 65536) this.text = Buffer.allocUnsafe(1024);
  }

  private fail(err: QomError): void {
    this.resetMessage();
    this.emit(undefined, err, false);
  }

  /** json-streamer.c: collect tokens into messages. */
  private processToken(buf: Buffer, end: number, type: number): void {
    const len = this.tokLen;
    switch (type) {
      case T_LCURLY:
        this.braceCount++;
        break;
      case T_RCURLY:
        this.braceCount--;
        break;
      case T_LSQUARE:
        this.bracketCount++;
        break;
      case T_RSQUARE:
        this.bracketCount--;
        break;
      case ERROR:
        this.fail(
          new QomError(`JSON parse error, stray '${decodeLenient(this.tokenBytes(buf, end))}'`),
        );
        return;
    }
    if (this.tokenSize + len + 1 > MAX_TOKEN_SIZE) {
      this.fail(new QomError('JSON token size limit exceeded'));
      return;
    }
    if (this.ntokens + 1 > MAX_TOKEN_COUNT) {
      this.fail(new QomError('JSON token count limit exceeded'));
      return;
    }
    if (this.bracketCount + this.braceCount > MAX_NESTING) {
      this.fail(new QomError('JSON nesting depth limit exceeded'));
      return;
    }
    this.pushToken(buf, end, type, len);
    this.tokenSize += len;
    if (
      (this.braceCount > 0 || this.bracketCount > 0) &&
      this.braceCount >= 0 &&
      this.bracketCount >= 0
    )
      return;
    let value: { value: JsonValue; isFloat: boolean } | undefined;
    let err: QomError | undefined;
    try {
      value = new TokenParser(this.types, this.starts, this.ends, this.text, this.ntokens).parse();
    } catch (e) {
      if (!(e instanceof QomError)) throw e;
      err = e;
    }
    this.resetMessage();
    if (err || !value) this.emit(undefined, err, false);
    else this.emit(value.value, undefined, value.isFloat);
  }

  private pushToken(buf: Buffer, end: number, type: number, len: number): void {
    const k = this.ntokens;
    if (k === this.types.length) {
      const grow = <T extends Uint8Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.types = grow(this.types, (m) => new Uint8Array(m));
      this.starts = grow(this.starts, (m) => new Int32Array(m));
      this.ends = grow(this.ends, (m) => new Int32Array(m));
    }
    this.types[k] = type;
    if (
      type === T_STRING ||
      type === T_INTEGER ||
      type === T_FLOAT ||
      type === T_KEYWORD ||
      type < T_MIN
    ) {
      if (this.textLen + len > this.text.length) {
        const t = Buffer.allocUnsafe(Math.max(this.text.length * 2, this.textLen + len));
        this.text.copy(t, 0, 0, this.textLen);
        this.text = t;
      }
      this.starts[k] = this.textLen;
      if (this.carryLen === 0) {
        // The common case: the token lies within this chunk.
        this.textLen += buf.copy(this.text, this.textLen, end - len, end);
      } else {
        this.textLen += this.tokenBytes(buf, end).copy(this.text, this.textLen);
      }
      this.ends[k] = this.textLen;
    }
    this.ntokens = k + 1;
  }
}

function hexVal(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  return -1;
}

/** json-parser.c: recursive descent over one message's tokens. */
class TokenParser {
  private pos = 0;

  constructor(
    private readonly types: Uint8Array,
    private readonly starts: Int32Array,
    private readonly ends: Int32Array,
    private readonly text: Buffer,
    private readonly count: number,
  ) {}

  parse(): { value: JsonValue; isFloat: boolean } {
    const v = this.parseValue();
    if (v === undefined) throw parseError('expecting value');
    return v;
  }

  private peek(): number {
    return this.pos < this.count ? this.types[this.pos] : -1;
  }

  /** Returns `{value, isFloat}`; throws the first error it meets. */
  private parseValue(): { value: JsonValue; isFloat: boolean } {
    const t = this.peek();
    switch (t) {
      case -1:
        throw parseError('premature EOI');
      case T_LCURLY:
        return { value: this.parseObject(), isFloat: false };
      case T_LSQUARE:
        return { value: this.parseArray(), isFloat: false };
      case T_INTEGER:
      case T_FLOAT:
        return this.parseNumber();
      case T_STRING:
        return { value: this.parseString(), isFloat: false };
      case T_KEYWORD:
        return { value: this.parseKeyword(), isFloat: false };
      default:
        throw parseError('expecting value');
    }
  }

  private parseObject(): JsonObject {
    this.pos++;
    const obj: JsonObject = {};
    if (this.peek() === -1) throw parseError('premature EOI');
    if (this.peek() === T_RCURLY) {
      this.pos++;
      return obj;
    }
    this.parsePair(obj);
    for (;;) {
      const t = this.peek();
      if (t === -1) throw parseError('premature EOI');
      this.pos++;
      if (t === T_RCURLY) return obj;
      if (t !== T_COMMA) throw parseError('expected separator in dict');
      this.parsePair(obj);
    }
  }

  private parsePair(obj: JsonObject): void {
    if (this.peek() === -1) throw parseError('premature EOI');
    const isString = this.peek() === T_STRING;
    const key = this.parseValue().value;
    if (!isString) throw parseError('key is not a string in object');
    const t = this.peek();
    if (t === -1) throw parseError('premature EOI');
    this.pos++;
    if (t !== T_COLON) throw parseError('missing : in object pair');
    const { value, isFloat } = this.parseValue();
    const k = key as string;
    if (Object.prototype.hasOwnProperty.call(obj, k)) throw parseError('duplicate key');
    jsonObjectSet(obj, k, value);
    if (isFloat) jsonMarkFloat(obj, k);
  }

  private parseArray(): JsonValue[] {
    this.pos++;
    const arr: JsonValue[] = [];
    if (this.peek() === -1) throw parseError('premature EOI');
    if (this.peek() === T_RSQUARE) {
      this.pos++;
      return arr;
    }
    for (;;) {
      const { value, isFloat } = this.parseValue();
      if (isFloat) jsonMarkFloat(arr, arr.length);
      arr.push(value);
      const t = this.peek();
      if (t === -1) throw parseError('premature EOI');
      this.pos++;
      if (t === T_RSQUARE) return arr;
      if (t !== T_COMMA) throw parseError('expected separator in list');
    }
  }

  private parseKeyword(): JsonValue {
    const s = this.text.toString('latin1', this.starts[this.pos], this.ends[this.pos]);
    this.pos++;
    if (s === 'true') return true;
    if (s === 'false') return false;
    if (s === 'null') return null;
    throw parseError(`invalid keyword '${s}'`);
  }

  private parseNumber(): { value: number | bigint; isFloat: boolean } {
    const type = this.types[this.pos];
    const s = this.text.toString('latin1', this.starts[this.pos], this.ends[this.pos]);
    this.pos++;
    if (type === T_INTEGER) {
      if (s.length < 16) {
        const v = Number(s);
        return { value: v === 0 ? 0 : v, isFloat: false };
      }
      const b = BigInt(s);
      if ((b >= INT64_MIN && b <= INT64_MAX) || (b > 0n && b <= UINT64_MAX)) {
        return {
          value:
            b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
              ? Number(b)
              : b,
          isFloat: false,
        };
      }
    }
    // A double: a float literal, or an integer literal too big for 64 bits.
    const d = Number(s);
    return { value: d, isFloat: Number.isInteger(d) };
  }

  private parseString(): string {
    const start = this.starts[this.pos];
    const end = this.ends[this.pos] - 1; // before the closing quote
    this.pos++;
    const t = this.text;
    let plain = true;
    for (let i = start + 1; i < end; i++) {
      const b = t[i];
      if (b === 0x5c || b >= 0x80) {
        plain = false;
        break;
      }
    }
    if (plain) return t.toString('latin1', start + 1, end);
    let out = '';
    let i = start + 1;
    while (i < end) {
      const b = t[i];
      if (b === 0x5c) {
        const beg = i;
        const e = t[i + 1];
        i += 2;
        switch (e) {
          case 0x22:
            out += '"';
            break;
          case 0x27:
            out += "'";
            break;
          case 0x5c:
            out += '\\';
            break;
          case 0x2f:
            out += '/';
            break;
          case 0x62:
            out += '\b';
            break;
          case 0x66:
            out += '\f';
            break;
          case 0x6e:
            out += '\n';
            break;
          case 0x72:
            out += '\r';
            break;
          case 0x74:
            out += '\t';
            break;
          case 0x75: {
            let cp = this.hex4(i, end + 1);
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && t[i] === 0x5c && t[i + 1] === 0x75 && i + 1 < end) {
              const trailing = this.hex4(i + 2, end + 1);
              if (trailing >= 0xdc00 && trailing <= 0xdfff) {
                cp = 0x10000 + ((cp & 0x3ff) << 10) + (trailing & 0x3ff);
                i += 6;
              } else {
                cp = -1;
              }
            }
            if (!isValidCodepoint(cp)) {
              // QEMU prints the escape as "%.*s", which stops at the token's end.
              const shown = decodeLenient(t, beg, Math.min(i, end + 1));
              throw parseError(`${shown} is not a valid Unicode character`);
            }
            out += String.fromCodePoint(cp);
            break;
          }
          default:
            throw parseError('invalid escape sequence in string');
        }
      } else if (b < 0x80) {
        out += String.fromCharCode(b);
        i++;
      } else {
        const { cp, end: e } = modUtf8Codepoint(t, i, Math.min(i + 6, end));
        if (cp < 0) throw parseError('invalid UTF-8 sequence in string');
        out += String.fromCodePoint(cp);
        i = e;
      }
    }
    return out;
  }

  /** Four hex digits at `i` (not reading past `limit`), else -1. */
  private hex4(i: number, limit: number): number {
    let cp = 0;
    for (let k = 0; k < 4; k++) {
      if (i + k >= limit) return -1;
      const h = hexVal(this.text[i + k]);
      if (h < 0) return -1;
      cp = cp * 16 + h;
    }
    return cp;
  }
}

/**
 * QEMU's `qobject_from_json()`: exactly one JSON value from a string, with
 * QEMU's parser and errors (`Expecting a JSON value`, `Expecting at most
 * one JSON value`, `JSON parse error, ...`).
 */
export function qobjectFromJson(text: string | Uint8Array): JsonValue {
  return qobjectFromJsonMarked(text).value;
}

/** A value parsed on its own, with the float mark of a top-level number. */
export interface JsonTopValue {
  /** The value. */
  value: JsonValue;
  /**
   * The value itself is a double with an integral value (`1.0`): QEMU
   * keeps it a double QNum, which integer visits refuse. Values inside
   * containers carry their marks in the container ({@link jsonIsFloat}).
   */
  isFloat: boolean;
}

/**
 * {@link qobjectFromJson}, also saying whether the value is a top-level
 * double with an integral value, for callers that visit it as a property
 * value (HMP `qom-set -j`).
 */
export function qobjectFromJsonMarked(text: string | Uint8Array): JsonTopValue {
  let result: JsonTopValue | undefined;
  let error: QomError | undefined;
  const p = new JsonMessageParser((value, err, isFloat) => {
    if (result !== undefined) {
      result = undefined;
      error = new QomError('Expecting at most one JSON value');
    }
    if (error) return;
    if (err) error = err;
    else result = { value: value!, isFloat };
  });
  p.feed(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  p.flush();
  if (error) throw error;
  if (result === undefined) throw new QomError('Expecting a JSON value');
  return result;
}

/** One message out of {@link jsonParseMessages}: a value or an error. */
export interface JsonMessage {
  /** The value, when the message parsed. */
  value?: JsonValue;
  /** The error, when it did not. */
  error?: QomError;
  /** Present (true) when the value is a top-level double with an integral value. */
  isFloat?: true;
}

/**
 * Parses a complete string of JSON text with QMP's parser and returns
 * the values it yields, errors included, in order (a test convenience).
 */
export function jsonParseMessages(input: string | Uint8Array): JsonMessage[] {
  const out: JsonMessage[] = [];
  const p = new JsonMessageParser((value, error, isFloat) =>
    out.push(error ? { error } : isFloat ? { value, isFloat } : { value }),
  );
  p.feed(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  return out;
}
