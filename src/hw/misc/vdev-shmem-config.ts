/**
 * Configuration of the inter-guest shared memory device (`vdev-shmem`),
 * from either of its two sources, which give the same
 * {@link VdevShmemConfig}:
 *
 * 1. QOM properties, as `-device vdev-shmem,...` gives them in QEMU's
 *    keyval syntax (or as JSON):
 *
 *    | property | value |
 *    |---|---|
 *    | `loc` | guest-physical address of the factory page (uint64); absent: placed by the machine |
 *    | `intr` | the interrupt: `N` or `CONTROLLER:N` |
 *    | `subst.match`, `subst.prefix` | the `subst [match],prefix` option (`match` may be empty or absent) |
 *    | `create.N.name`, `create.N.size` | pre-created regions, in order; size in bytes with QEMU's size syntax (`8K`, `0x2000`) |
 *    | `create.N.mode`, `create.N.gid` | optional permissions (octal) and group (name or number) |
 *    | `create.N.subst` | bool, default on: whether `subst` applies to this region (a `create` written before `subst` in QNX syntax is `off`) |
 *    | `rules.N.allow` or `rules.N.deny` | the restriction list, in order, one pattern per element |
 *    | `umask`, `gid` | defaults for regions without `mode`/`gid`, and for regions guests create |
 *    | `sched` | priority of notification pulses (kept for QNX compatibility; unused) |
 *    | `config` | path of a file holding a QNX `vdev shmem` option block (source 2) |
 *
 *    Example: `-device vdev-shmem,id=shm0,loc=0x1c0000,intr=45,subst.prefix=vm1_,
 *    create.0.name=wombat,create.0.size=8K,rules.0.deny=pluto,rules.1.allow=pluto*`.
 *    With `config`, the file gives the options and `create`, `rules`,
 *    `subst`, `umask` and `gid` properties are refused; `loc`, `intr` and
 *    `sched` may come from either but must agree.
 *
 * 2. A QNX `vdev shmem` option block, verbatim: whitespace-separated
 *    options, `#` at the start of a word comments out the rest of the
 *    line, an optional leading `vdev shmem`, double quotes around a word
 *    that holds spaces (`\"` inside quotes is a quote). Options:
 *    `allow PATTERN`, `deny PATTERN`, `create NAME,SIZE[,MODE[,GID]]`,
 *    `subst [MATCH],PREFIX`, `loc [ADDR]`, `intr [CONTROLLER:]N`,
 *    `gid NAME|ID`, `umask MODE`, `sched PRIORITY`. As in QNX, `subst`,
 *    `umask` and `gid` affect only the `create` options that follow them.
 *
 * Numbers follow C (`0x` hex, a leading `0` octal, else decimal); `mode`
 * and `umask` are always octal; sizes use QEMU's size syntax (decimal or
 * `0x` hex, optional `K`/`M`/`G`/`T`/`P`/`E` suffix). Created regions get
 * mode `0600` unless given, minus the umask in force, never with execute
 * bits (QNX's rule).
 * @module
 */
import { readFileSync } from 'node:fs';
import { QomError, TsqomError } from '../../util/error.js';
import { qemuStrtosz, qemuStrtou64 } from '../../util/cutils.js';
import { GUEST_SHM_PAGE_SIZE, bytesToPages } from './guest-shm.js';
import {
  FnmatchPatternError,
  ShmemPolicy,
  checkFnmatchPattern,
  checkShmemName,
  hostShmemName,
  type ShmemRule,
  type ShmemSubst,
} from './vdev-shmem-rules.js';

/** QOM type name of the device. */
export const TYPE_VDEV_SHMEM = 'vdev-shmem';

/**
 * Default permissions of a created region (before the umask): 0600, so only
 * the user running the emulators can attach (QNX uses 0666; a region's
 * header is shared state every client trusts). Give `mode` to share wider.
 */
export const VDEV_SHMEM_DEFAULT_MODE = 0o600;

/** Largest region: the factory page's `size` register counts pages in 32 bits. */
export const VDEV_SHMEM_MAX_SIZE = 0xffffffffn * BigInt(GUEST_SHM_PAGE_SIZE);

/**
 * A configuration error; `message` says what is wrong (for the QNX syntax,
 * prefixed with `FILE:LINE: ` as QEMU reports configuration files). The
 * device reports it at realize.
 */
export class VdevShmemConfigError extends QomError {
  /** @param message - what is wrong. */
  constructor(message: string) {
    super(message);
    this.name = 'VdevShmemConfigError';
  }
}

/** A region to create when the device starts (`create name,size[,mode[,gid]]`). */
export interface VdevShmemCreate {
  /** The guest-visible name. */
  name: string;
  /** The host-side name (`subst` applied when it preceded this option). */
  hostName: string;
  /** Size in bytes, as configured. */
  size: bigint;
  /** Size in pages (rounded up), as guests see it. */
  pages: bigint;
  /** Permission bits: the given mode or 0600, minus the umask in force, never execute bits. */
  mode: number;
  /** Group (name or number); undefined for the process's own group. */
  gid?: string | number;
  /** Whether `subst` applied to this region. */
  subst: boolean;
}

/** The `intr` option. */
export interface VdevShmemIntr {
  /** The interrupt controller's name, when given as `CONTROLLER:N`. */
  controller?: string;
  /** The interrupt number (the factory page's `vector`). */
  line: number;
}

/** A parsed vdev-shmem configuration. */
export interface VdevShmemConfig {
  /** Factory page address; undefined when not given (the machine places the device). */
  loc?: bigint;
  /** The interrupt. */
  intr?: VdevShmemIntr;
  /** Notification priority (`sched`). */
  sched?: number;
  /** The umask in force at the end (applies to regions guests create). */
  umask: number;
  /** The group in force at the end (applies to regions guests create). */
  gid?: string | number;
  /** The `subst` option. */
  subst?: ShmemSubst;
  /** Pre-created regions, in order. */
  creates: VdevShmemCreate[];
  /** The restriction list, in order. */
  rules: ShmemRule[];
}

/** Builds the {@link ShmemPolicy} a configuration describes. */
export function vdevShmemPolicy(config: VdevShmemConfig): ShmemPolicy {
  return new ShmemPolicy({ rules: config.rules, subst: config.subst });
}

/** Mode of a region a guest creates under `config`: 0600 minus the umask, never execute bits. */
export function vdevShmemGuestMode(config: VdevShmemConfig): number {
  return finalMode(undefined, config.umask);
}

function finalMode(mode: number | undefined, umask: number): number {
  return (mode ?? VDEV_SHMEM_DEFAULT_MODE) & ~umask & 0o666;
}

// ---------------------------------------------------------------------------
// shared value parsers; each throws a plain message, the caller adds context

class ValueError extends TsqomError {
  constructor(message: string) {
    super(message, 'ERR_VDEV_SHMEM_CONFIG');
  }
}

function parseUnsigned(s: string, what: string, max: bigint): bigint {
  // C's strtoul(s, NULL, 0) without sign or white space: 0x hex, leading 0 octal, else decimal.
  if (!/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(s))
    throw new ValueError(`invalid ${what} '${s}'`);
  const r = qemuStrtou64(s);
  if (r.err || r.value > max) throw new ValueError(`${what} '${s}' out of range`);
  return r.value;
}

function parseOctal(s: string, what: string, max: number): number {
  if (!/^[0-7]+$/.test(s)) throw new ValueError(`invalid ${what} '${s}' (octal expected)`);
  const v = parseInt(s, 8);
  if (v > max) throw new ValueError(`${what} '${s}' out of range`);
  return v;
}

function parseSize(s: string): bigint {
  const r = qemuStrtosz(s);
  if (r.err || s.length === 0) throw new ValueError(`invalid size '${s}'`);
  if (r.value === 0n) throw new ValueError('size must not be zero');
  if (r.value > VDEV_SHMEM_MAX_SIZE)
    throw new ValueError(`size '${s}' larger than 0xffffffff pages`);
  return r.value;
}

function parseIntr(s: string): VdevShmemIntr {
  const colon = s.lastIndexOf(':');
  const controller = colon >= 0 ? s.slice(0, colon) : undefined;
  const num = colon >= 0 ? s.slice(colon + 1) : s;
  if (controller === '') throw new ValueError(`invalid intr '${s}'`);
  let line: bigint;
  try {
    line = parseUnsigned(num, 'intr', 0xffffffffn);
  } catch {
    throw new ValueError(`invalid intr '${s}'`);
  }
  return controller === undefined ? { line: Number(line) } : { controller, line: Number(line) };
}

function parseGid(s: string): string | number {
  if (s.length === 0) throw new ValueError('empty gid');
  if (/^[0-9]+$/.test(s)) return Number(parseUnsigned(s, 'gid', 0xfffffffen));
  return s;
}

function checkName(name: string, what: string): void {
  const bad = checkShmemName(name);
  if (bad) throw new ValueError(`${what} '${name}': ${bad}`);
}

function checkPattern(pattern: string): void {
  try {
    checkFnmatchPattern(pattern);
  } catch (e) {
    if (e instanceof FnmatchPatternError) throw new ValueError(e.message);
    throw e;
  }
}

function parseSubst(match: string, prefix: string): ShmemSubst {
  if (prefix.length === 0) throw new ValueError('subst prefix must not be empty');
  for (const [what, v] of [
    ['match', match],
    ['prefix', prefix],
  ] as const) {
    if (v.includes('/') || v.includes('\0'))
      throw new ValueError(`subst ${what} '${v}' contains '/' or NUL`);
  }
  return { match, prefix };
}

// Builds the create entry; `subst` is the subst option in force for it.
function makeCreate(
  name: string,
  size: bigint,
  mode: number | undefined,
  gid: string | number | undefined,
  subst: ShmemSubst | undefined,
  umask: number,
): VdevShmemCreate {
  checkName(name, 'create name');
  const h = hostShmemName(name, subst);
  if (h.hostName === undefined) throw new ValueError(`create name '${name}': ${h.reason}`);
  const c: VdevShmemCreate = {
    name,
    hostName: h.hostName,
    size,
    pages: bytesToPages(size),
    mode: finalMode(mode, umask),
    subst: subst !== undefined,
  };
  if (gid !== undefined) c.gid = gid;
  return c;
}

function checkUniqueCreates(creates: readonly VdevShmemCreate[]): void {
  const seen = new Set<string>();
  for (const c of creates) {
    if (seen.has(c.hostName)) throw new ValueError(`region '${c.hostName}' created twice`);
    seen.add(c.hostName);
  }
}

// ---------------------------------------------------------------------------
// source 2: QNX syntax

interface Word {
  text: string;
  line: number;
}

function tokenize(text: string, where: (line: number) => string): Word[] {
  const words: Word[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    const start = line;
    let w = '';
    while (i < text.length && !/\s/.test(text[i]!)) {
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length || text[i] === '\n')
            throw new VdevShmemConfigError(`${where(start)}unterminated quote`);
          if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
            w += text[i + 1];
            i += 2;
          } else if (text[i] === '"') {
            i++;
            break;
          } else {
            w += text[i++];
          }
        }
      } else {
        w += text[i++];
      }
    }
    words.push({ text: w, line: start });
  }
  return words;
}

/**
 * Parses a QNX `vdev shmem` option block (see the module documentation).
 * @param text - the block, e.g. a file's contents.
 * @param source - file name for error messages (`FILE:LINE: ...`).
 * @throws VdevShmemConfigError on any error.
 */
export function parseVdevShmemOptions(text: string, source = 'vdev shmem'): VdevShmemConfig {
  const where = (line: number): string => `${source}:${line}: `;
  const words = tokenize(text, where);
  let i = 0;
  if (words[0]?.text === 'vdev') {
    const kind = words[1];
    if (kind === undefined || (kind.text !== 'shmem' && kind.text !== 'vdev-shmem.so')) {
      throw new VdevShmemConfigError(`${where(words[0].line)}expected 'vdev shmem'`);
    }
    i = 2;
  }
  const cfg: VdevShmemConfig = { umask: 0, creates: [], rules: [] };
  let locSeen = false;
  const fail = (w: Word, msg: string): never => {
    throw new VdevShmemConfigError(`${where(w.line)}${msg}`);
  };
  const arg = (opt: Word): Word => {
    const a = words[i++];
    if (a === undefined) return fail(opt, `option '${opt.text}' needs an argument`);
    return a;
  };
  while (i < words.length) {
    const opt = words[i++]!;
    const guard = <T>(w: Word, f: () => T): T => {
      try {
        return f();
      } catch (e) {
        if (e instanceof ValueError) return fail(w, e.message);
        throw e;
      }
    };
    switch (opt.text) {
      case 'allow':
      case 'deny': {
        const a = arg(opt);
        guard(a, () => checkPattern(a.text));
        cfg.rules.push({ action: opt.text, pattern: a.text });
        break;
      }
      case 'create': {
        const a = arg(opt);
        const parts = a.text.split(',');
        if (parts.length < 2 || parts.length > 4)
          fail(a, `create takes name,size[,mode[,gid]], not '${a.text}'`);
        guard(a, () => {
          const size = parseSize(parts[1]!);
          const mode = parts[2] !== undefined ? parseOctal(parts[2], 'mode', 0o7777) : undefined;
          const gid = parts[3] !== undefined ? parseGid(parts[3]) : cfg.gid;
          cfg.creates.push(makeCreate(parts[0]!, size, mode, gid, cfg.subst, cfg.umask));
          checkUniqueCreates(cfg.creates);
        });
        break;
      }
      case 'subst': {
        const a = arg(opt);
        if (cfg.subst) fail(opt, 'only one subst option is allowed');
        const parts = a.text.split(',');
        if (parts.length !== 2) fail(a, `subst takes [match],prefix, not '${a.text}'`);
        cfg.subst = guard(a, () => parseSubst(parts[0]!, parts[1]!));
        break;
      }
      case 'loc': {
        if (locSeen) fail(opt, "option 'loc' given twice");
        locSeen = true;
        const a = words[i];
        if (a && /^[0-9]/.test(a.text)) {
          i++;
          cfg.loc = guard(a, () => parseUnsigned(a.text, 'loc', (1n << 64n) - 1n));
        }
        break;
      }
      case 'intr': {
        if (cfg.intr) fail(opt, "option 'intr' given twice");
        const a = arg(opt);
        cfg.intr = guard(a, () => parseIntr(a.text));
        break;
      }
      case 'sched': {
        const a = arg(opt);
        cfg.sched = guard(a, () => Number(parseUnsigned(a.text, 'sched priority', 255n)));
        break;
      }
      case 'gid': {
        const a = arg(opt);
        cfg.gid = guard(a, () => parseGid(a.text));
        break;
      }
      case 'umask': {
        const a = arg(opt);
        cfg.umask = guard(a, () => parseOctal(a.text, 'umask', 0o777));
        break;
      }
      default:
        fail(opt, `unknown vdev shmem option '${opt.text}'`);
    }
  }
  return cfg;
}

// ---------------------------------------------------------------------------
// source 1: QOM properties

type Scalar = string | number | bigint | boolean;

/** Property values: keyval strings, or JSON values (numbers, bigints, booleans, nested objects and arrays). */
export type VdevShmemPropValue =
  string | number | bigint | boolean | VdevShmemPropValue[] | VdevShmemProps;

/** The device's properties, flat (`create.0.name`) or nested (`{ create: [{ name }] }`), or mixed. */
export interface VdevShmemProps {
  [key: string]: VdevShmemPropValue | undefined;
}

function flatten(props: VdevShmemProps, prefix: string, out: Map<string, Scalar>): void {
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    const key = prefix + k;
    if (Array.isArray(v)) {
      v.forEach((e, idx) => {
        if (Array.isArray(e))
          throw new VdevShmemConfigError(
            `Invalid parameter type for '${key}.${idx}', expected: object`,
          );
        if (typeof e === 'object') flatten(e, `${key}.${idx}.`, out);
        else setFlat(out, `${key}.${idx}`, e);
      });
    } else if (typeof v === 'object') {
      flatten(v, `${key}.`, out);
    } else {
      setFlat(out, key, v);
    }
  }
}

function setFlat(
  out: Map<string, Scalar>,
  key: string,
  v: string | number | bigint | boolean,
): void {
  if (out.has(key)) throw new VdevShmemConfigError(`Parameter '${key}' is set more than once`);
  out.set(key, v);
}

/** Reads the list `name.N...` from the flat map: the list of element property maps. */
function takeList(flat: Map<string, Scalar>, name: string): Map<string, Scalar>[] {
  const elems = new Map<number, Map<string, Scalar>>();
  for (const [k, v] of [...flat]) {
    if (!k.startsWith(`${name}.`)) continue;
    const rest = k.slice(name.length + 1);
    const m = /^(0|[1-9][0-9]*)(?:\.(.*))?$/.exec(rest);
    if (!m) throw new VdevShmemConfigError(`Invalid parameter '${k}'`);
    const idx = Number(m[1]);
    let e = elems.get(idx);
    if (!e) elems.set(idx, (e = new Map()));
    e.set(m[2] ?? '', v);
    flat.delete(k);
  }
  const list: Map<string, Scalar>[] = [];
  for (let idx = 0; idx < elems.size; idx++) {
    const e = elems.get(idx);
    if (!e) throw new VdevShmemConfigError(`Parameter '${name}.${idx}' missing`);
    list.push(e);
  }
  return list;
}

function str(v: Scalar, key: string): string {
  if (typeof v === 'string') return v;
  throw new VdevShmemConfigError(`Invalid parameter type for '${key}', expected: string`);
}

function uint(v: Scalar, key: string, max: bigint): bigint {
  if (typeof v === 'string') {
    const r = qemuStrtou64(v);
    if (r.err) throw new VdevShmemConfigError(`Parameter '${key}' expects a uint64 value`);
    if (r.value > max)
      throw new VdevShmemConfigError(`Parameter '${key}' expects a value up to ${max}`);
    return r.value;
  }
  if (
    (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) ||
    (typeof v === 'bigint' && v >= 0n)
  ) {
    const b = BigInt(v);
    if (b > max) throw new VdevShmemConfigError(`Parameter '${key}' expects a value up to ${max}`);
    return b;
  }
  throw new VdevShmemConfigError(`Invalid parameter type for '${key}', expected: integer`);
}

function bool(v: Scalar, key: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'on' || v === 'yes' || v === 'true' || v === 'y') return true;
  if (v === 'off' || v === 'no' || v === 'false' || v === 'n') return false;
  throw new VdevShmemConfigError(`Parameter '${key}' expects 'on' or 'off'`);
}

function valueGuard<T>(key: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ValueError) throw new VdevShmemConfigError(`Parameter '${key}': ${e.message}`);
    throw e;
  }
}

/** What {@link vdevShmemConfigFromProps} returns: the configuration and the `config` file, if named. */
export interface VdevShmemPropsResult {
  /** The configuration the properties give (without the file's contents). */
  config: VdevShmemConfig;
  /** The `config` property: a QNX option file still to be read and merged. */
  configFile?: string;
}

/**
 * Parses the device's QOM properties (see the module documentation).
 * Unknown properties fail with QEMU's `Property 'vdev-shmem.X' not found`.
 * @throws VdevShmemConfigError on any error.
 */
export function vdevShmemConfigFromProps(props: VdevShmemProps): VdevShmemPropsResult {
  const flat = new Map<string, Scalar>();
  flatten(props, '', flat);
  const cfg: VdevShmemConfig = { umask: 0, creates: [], rules: [] };
  const take = (k: string): Scalar | undefined => {
    const v = flat.get(k);
    flat.delete(k);
    return v;
  };
  let configFile: string | undefined;
  const file = take('config');
  if (file !== undefined) configFile = str(file, 'config');
  const loc = take('loc');
  if (loc !== undefined) cfg.loc = uint(loc, 'loc', (1n << 64n) - 1n);
  const intr = take('intr');
  if (intr !== undefined) {
    cfg.intr =
      typeof intr === 'string'
        ? valueGuard('intr', () => parseIntr(intr))
        : { line: Number(uint(intr, 'intr', 0xffffffffn)) };
  }
  const sched = take('sched');
  if (sched !== undefined) cfg.sched = Number(uint(sched, 'sched', 255n));
  const umask = take('umask');
  if (umask !== undefined) {
    cfg.umask =
      typeof umask === 'string'
        ? valueGuard('umask', () => parseOctal(umask, 'umask', 0o777))
        : Number(uint(umask, 'umask', 0o777n));
  }
  const gid = take('gid');
  if (gid !== undefined)
    cfg.gid =
      typeof gid === 'string'
        ? valueGuard('gid', () => parseGid(gid))
        : Number(uint(gid, 'gid', 0xfffffffen));
  const match = take('subst.match');
  const prefix = take('subst.prefix');
  if (match !== undefined && prefix === undefined)
    throw new VdevShmemConfigError("Parameter 'subst.prefix' is missing");
  if (prefix !== undefined) {
    const m = match === undefined ? '' : str(match, 'subst.match');
    const p = str(prefix, 'subst.prefix');
    cfg.subst = valueGuard('subst', () => parseSubst(m, p));
  }
  const creates = takeList(flat, 'create');
  const rules = takeList(flat, 'rules');
  for (const [k] of flat) {
    throw new VdevShmemConfigError(`Property '${TYPE_VDEV_SHMEM}.${k}' not found`);
  }
  creates.forEach((e, idx) => {
    const key = (f: string): string => `create.${idx}.${f}`;
    const get = (f: string): Scalar | undefined => {
      const v = e.get(f);
      e.delete(f);
      return v;
    };
    const name = get('name');
    const size = get('size');
    const mode = get('mode');
    const cgid = get('gid');
    const subst = get('subst');
    for (const [f] of e)
      throw new VdevShmemConfigError(`Invalid parameter '${f === '' ? `create.${idx}` : key(f)}'`);
    if (name === undefined) throw new VdevShmemConfigError(`Parameter '${key('name')}' is missing`);
    if (size === undefined) throw new VdevShmemConfigError(`Parameter '${key('size')}' is missing`);
    const sizeVal =
      typeof size === 'string'
        ? valueGuard(key('size'), () => parseSize(size))
        : valueGuard(key('size'), () =>
            parseSize(uint(size, key('size'), (1n << 64n) - 1n).toString()),
          );
    const modeVal =
      mode === undefined
        ? undefined
        : typeof mode === 'string'
          ? valueGuard(key('mode'), () => parseOctal(mode, 'mode', 0o7777))
          : Number(uint(mode, key('mode'), 0o7777n));
    const gidVal =
      cgid === undefined
        ? cfg.gid
        : typeof cgid === 'string'
          ? valueGuard(key('gid'), () => parseGid(cgid))
          : Number(uint(cgid, key('gid'), 0xfffffffen));
    const useSubst = subst === undefined ? true : bool(subst, key('subst'));
    cfg.creates.push(
      valueGuard(`create.${idx}`, () => {
        const c = makeCreate(
          str(name, key('name')),
          sizeVal,
          modeVal,
          gidVal,
          useSubst ? cfg.subst : undefined,
          cfg.umask,
        );
        checkUniqueCreates([...cfg.creates, c]);
        return c;
      }),
    );
  });
  rules.forEach((e, idx) => {
    const allow = e.get('allow');
    const deny = e.get('deny');
    e.delete('allow');
    e.delete('deny');
    for (const [f] of e)
      throw new VdevShmemConfigError(
        `Invalid parameter '${f === '' ? `rules.${idx}` : `rules.${idx}.${f}`}'`,
      );
    if ((allow === undefined) === (deny === undefined)) {
      throw new VdevShmemConfigError(
        `Parameter 'rules.${idx}' needs exactly one of 'allow' and 'deny'`,
      );
    }
    const action = allow !== undefined ? 'allow' : 'deny';
    const key = `rules.${idx}.${action}`;
    const pattern = str((allow ?? deny)!, key);
    valueGuard(key, () => checkPattern(pattern));
    cfg.rules.push({ action, pattern });
  });
  return configFile === undefined ? { config: cfg } : { config: cfg, configFile };
}

/**
 * Merges properties and the `config` file's options: the file supplies
 * the restriction list, `subst`, `create`, `umask` and `gid` (the
 * properties must not); `loc`, `intr` and `sched` may come from either
 * and must agree when both give them.
 * @throws VdevShmemConfigError on a conflict.
 */
export function mergeVdevShmemConfig(
  fromProps: VdevShmemConfig,
  fromFile: VdevShmemConfig,
): VdevShmemConfig {
  if (
    fromProps.rules.length ||
    fromProps.creates.length ||
    fromProps.subst ||
    fromProps.umask !== 0 ||
    fromProps.gid !== undefined
  ) {
    throw new VdevShmemConfigError(
      "'config' cannot be combined with 'create', 'rules', 'subst', 'umask' or 'gid'",
    );
  }
  const out: VdevShmemConfig = {
    ...fromFile,
    creates: [...fromFile.creates],
    rules: [...fromFile.rules],
  };
  if (fromProps.loc !== undefined) {
    if (fromFile.loc !== undefined && fromFile.loc !== fromProps.loc) {
      throw new VdevShmemConfigError("'loc' differs between the properties and the 'config' file");
    }
    out.loc = fromProps.loc;
  }
  if (fromProps.intr !== undefined) {
    const a = fromProps.intr;
    const b = fromFile.intr;
    if (
      b !== undefined &&
      (a.line !== b.line ||
        (a.controller !== undefined && b.controller !== undefined && a.controller !== b.controller))
    ) {
      throw new VdevShmemConfigError("'intr' differs between the properties and the 'config' file");
    }
    const controller = b?.controller ?? a.controller;
    out.intr = controller === undefined ? { line: a.line } : { controller, line: a.line };
  }
  if (fromProps.sched !== undefined) {
    if (fromFile.sched !== undefined && fromFile.sched !== fromProps.sched) {
      throw new VdevShmemConfigError(
        "'sched' differs between the properties and the 'config' file",
      );
    }
    out.sched = fromProps.sched;
  }
  return out;
}

/**
 * The whole configuration of a device from its properties: parses them,
 * reads the `config` file when one is named (with `readFile`, by default
 * `fs.readFileSync(path, 'latin1')`, so every byte of a name survives) and
 * merges the two.
 * @throws VdevShmemConfigError on any error, including an unreadable file
 * (`Could not open 'PATH': REASON`, QEMU's text).
 */
export function resolveVdevShmemConfig(
  props: VdevShmemProps,
  readFile: (path: string) => string = (path) => readFileSync(path, 'latin1'),
): VdevShmemConfig {
  const { config, configFile } = vdevShmemConfigFromProps(props);
  if (configFile === undefined) return config;
  let text: string;
  try {
    text = readFile(configFile);
  } catch (e) {
    const reason =
      e instanceof Error && 'code' in e ? describeErrno(e as NodeJS.ErrnoException) : String(e);
    throw new VdevShmemConfigError(`Could not open '${configFile}': ${reason}`);
  }
  return mergeVdevShmemConfig(config, parseVdevShmemOptions(text, configFile));
}

function describeErrno(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
      return 'Permission denied';
    case 'EISDIR':
      return 'Is a directory';
    default:
      return e.message;
  }
}
