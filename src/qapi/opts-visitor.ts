/**
 * QEMU's options visitor (qapi/opts-visitor.c): how QEMU 7.2 turns a parsed
 * `-object` option group into QAPI values. It differs from the keyval and
 * JSON visitors in its texts (`Invalid parameter 'x'` for leftovers, `expects
 * a uint64 value`), in taking the last of repeated keys for scalars, and in
 * accepting `a-b` ranges in integer lists (`host-nodes=0-3`).
 * @module
 */
import type { JsonObject, JsonValue } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import { qemuStrtoi64Prefix, qemuStrtou64Prefix, qemuStrtosz } from '../util/cutils.js';
import type { QemuOpt, QemuOpts } from '../util/qemu-option.js';
import {
  isFlatUnion,
  type QapiArgsSchema,
  type QapiEnumType,
  type QapiMembers,
  type QapiType,
} from './qapi.js';
import { GHashOrder } from '../qobject/qdict.js';

/** The widest range `a-b` a list element may give (QEMU's OPTS_VISITOR_RANGE_MAX). */
export const OPTS_VISITOR_RANGE_MAX = 65536n;

const UINT_MAX: Record<string, bigint> = {
  uint8: 255n,
  uint16: 65535n,
  uint32: 4294967295n,
  uint64: (1n << 64n) - 1n,
  size: (1n << 64n) - 1n,
};
const INT_RANGE: Record<string, [bigint, bigint]> = {
  int8: [-128n, 127n],
  int16: [-32768n, 32767n],
  int32: [-2147483648n, 2147483647n],
  int: [-(1n << 63n), (1n << 63n) - 1n],
  int64: [-(1n << 63n), (1n << 63n) - 1n],
};

const asJsonInt = (b: bigint): number | bigint =>
  b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;

const valueError = (name: string, what: string): QomError =>
  new QomError(`Parameter '${name}' expects ${what}`);

/** QEMU's `qapi_bool_parse`. */
function parseBool(s: string): boolean | undefined {
  if (s === 'on' || s === 'yes' || s === 'true' || s === 'y') return true;
  if (s === 'off' || s === 'no' || s === 'false' || s === 'n') return false;
  return undefined;
}

class OptsVisitor {
  /** Unprocessed options by name, each a queue of occurrences in order. */
  private readonly unprocessed = new Map<string, QemuOpt[]>();
  /** Mirrors QEMU's GHashTable so the leftover it reports is the same one. */
  private readonly order = new GHashOrder();

  constructor(opts: QemuOpts) {
    const all = [...opts.opts];
    if (opts.id !== undefined) all.push({ name: 'id', str: opts.id });
    for (const o of all) {
      const q = this.unprocessed.get(o.name);
      if (q) q.push(o);
      else {
        this.unprocessed.set(o.name, [o]);
        this.order.insert(o.name);
      }
    }
  }

  private processed(name: string): void {
    if (this.unprocessed.delete(name)) this.order.remove(name);
  }

  /** The last occurrence of a scalar, or QEMU's missing-parameter error. */
  private lookupScalar(name: string): QemuOpt {
    const q = this.unprocessed.get(name);
    if (!q) throw new QomError(`Parameter '${name}' is missing`);
    return q[q.length - 1];
  }

  visitTop(schema: QapiArgsSchema): JsonObject {
    const out: JsonObject = {};
    if (isFlatUnion(schema)) {
      this.visitMembers(schema.base, out);
      const tag = out[schema.discriminator];
      const branch = typeof tag === 'string' ? schema.branches(tag) : undefined;
      if (branch === 'passthrough') {
        for (const [name, q] of this.unprocessed) out[name] = q[q.length - 1].str;
        return out;
      }
      if (branch) this.visitMembers(branch, out);
    } else {
      this.visitMembers(schema, out);
    }
    const first = this.order.first();
    if (first !== undefined) throw new QomError(`Invalid parameter '${first}'`);
    return out;
  }

  private visitMembers(members: QapiMembers, out: JsonObject): void {
    for (const raw of Object.keys(members)) {
      const optional = raw.startsWith('*');
      const name = optional ? raw.slice(1) : raw;
      if (optional && !this.unprocessed.has(name)) continue;
      out[name] = this.visitMember(members[raw], name);
    }
  }

  private visitMember(type: QapiType, name: string): JsonValue {
    if (Array.isArray(type)) return this.visitList(type[0] as QapiType, name);
    const opt = this.lookupScalar(name);
    const v = this.scalar(type, name, opt.str, false);
    this.processed(name);
    return v.value;
  }

  /** Repeated options make a list; integer elements may be `a-b` ranges. */
  private visitList(elem: QapiType, name: string): JsonValue[] {
    const q = this.unprocessed.get(name);
    if (!q) throw new QomError(`Parameter '${name}' is missing`);
    const out: JsonValue[] = [];
    for (const opt of q) {
      const v = this.scalar(elem, name, opt.str, true);
      if (v.rangeEnd === undefined) {
        out.push(v.value);
        continue;
      }
      for (let i = BigInt(v.value as number | bigint); i <= v.rangeEnd; i++) out.push(asJsonInt(i));
    }
    this.processed(name);
    return out;
  }

  private scalar(
    type: QapiType,
    name: string,
    str: string,
    inList: boolean,
  ): { value: JsonValue; rangeEnd?: bigint } {
    if (typeof type === 'object' && !Array.isArray(type)) {
      if ('struct' in type)
        throw new QomError(`Parameter '${name}' expects a struct, which -object cannot give`);
      const e = (type as QapiEnumType).enum;
      const values = typeof e === 'function' ? e() : e;
      if (!values.includes(str))
        throw new QomError(`Parameter '${name}' does not accept value '${str}'`);
      return { value: str };
    }
    switch (type) {
      case 'str':
      case 'any':
        return { value: str };
      case 'bool': {
        const b = parseBool(str);
        if (b === undefined) throw valueError(name, "'on' or 'off'");
        return { value: b };
      }
      case 'size': {
        const r = qemuStrtosz(str);
        if (r.err < 0) throw valueError(name, 'a size value');
        return { value: asJsonInt(r.value) };
      }
      case 'number': {
        const n = Number(str);
        if (str.trim() === '' || !Number.isFinite(n)) throw valueError(name, 'a number');
        return { value: n };
      }
      case 'null':
        throw new QomError(`Parameter '${name}' expects null, which -object cannot give`);
    }
    const unsigned = (type as string) in UINT_MAX;
    const what = unsigned ? 'a uint64 value' : 'an int64 value';
    const fail = (): QomError => valueError(name, inList ? `${what} or range` : what);
    const parse = unsigned ? qemuStrtou64Prefix : qemuStrtoi64Prefix;
    const first = parse(str, 0, 0);
    if (first.err !== 0) throw fail();
    let value = first.value;
    let rangeEnd: bigint | undefined;
    if (first.end !== str.length) {
      if (!inList || str[first.end] !== '-') throw fail();
      const second = parse(str, first.end + 1, 0);
      if (second.err !== 0 || second.end !== str.length || second.value < value) throw fail();
      if (second.value - value >= OPTS_VISITOR_RANGE_MAX) throw fail();
      rangeEnd = second.value;
    }
    // visit_type_uintN/intN narrow after the 64-bit visit, with their own text.
    const check = (x: bigint): void => {
      const bad = unsigned
        ? x > UINT_MAX[type as string]
        : x < (INT_RANGE[type as string] ?? INT_RANGE.int64)[0] ||
          x > (INT_RANGE[type as string] ?? INT_RANGE.int64)[1];
      if (bad) throw valueError(name, `${type as string}_t`);
    };
    check(value);
    if (rangeEnd !== undefined) check(rangeEnd);
    value = BigInt(value);
    return { value: asJsonInt(value), rangeEnd };
  }
}

/**
 * Visits a parsed option group against a QAPI schema as QEMU 7.2's options
 * visitor does, returning typed JSON values in schema order. Throws QEMU's
 * error for the first problem.
 */
export function optsVisit(schema: QapiArgsSchema, opts: QemuOpts): JsonObject {
  return new OptsVisitor(opts).visitTop(schema);
}
