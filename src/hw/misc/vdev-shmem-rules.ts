/**
 * The access rules of the inter-guest shared memory device, after the QNX
 * hypervisor's `vdev shmem`: which region names a guest may create or
 * attach to (`allow`/`deny` shell-glob rules), and which name the host
 * uses for a guest-visible name (`subst`).
 *
 * Semantics (QNX's documentation, plus the decisions it leaves open):
 * - Rules are checked in the order given and the first matching rule
 *   decides. A list of only `allow` rules ends with an implicit `deny *`; a
 *   list of only `deny` rules ends with an implicit `allow *`; no rules at
 *   all allow every name. QNX documents mixed lists only by example
 *   (`deny pluto` then `allow pluto*`); tsqom closes a list that holds any
 *   `allow` with an implicit `deny *`, so an `allow` always means "only
 *   these", the reading that fails safe.
 * - Patterns are POSIX `fnmatch()` patterns with flags 0 (see
 *   {@link fnmatch}): `*` also matches a leading `.`, which the implicit
 *   `allow *`/`deny *` need to cover every name; `/` cannot occur in a name.
 * - Rules match the guest-visible name, the one the guest writes into the
 *   factory page, not the host name `subst` makes of it: the same rule
 *   list then means the same thing whatever the prefix.
 * - `subst match,prefix` replaces the first occurrence of `match` in the
 *   guest-visible name by `prefix`; a name without `match` is used
 *   unchanged. `subst ,prefix` (empty match) prepends `prefix` to every
 *   name. The guest name's length plus the prefix's length must not
 *   exceed {@link GUEST_SHM_MAX_NAME}, otherwise the name is illegal.
 * @module
 */
import { TsqomError } from '../../util/error.js';
import { GUEST_SHM_MAX_NAME } from './guest-shm.js';

/** A rule's verdict. */
export type ShmemRuleAction = 'allow' | 'deny';

/** One `allow`/`deny` rule. */
export interface ShmemRule {
  /** What a match means. */
  action: ShmemRuleAction;
  /** The fnmatch pattern, see {@link fnmatch}. */
  pattern: string;
}

/** The `subst [match],prefix` option. */
export interface ShmemSubst {
  /** Text to replace in the guest-visible name; empty means "prepend". */
  match: string;
  /** Replacement (or prefix); never empty. */
  prefix: string;
}

/** Outcome of {@link ShmemPolicy.decide}. */
export type ShmemDecisionStatus = 'ok' | 'illegal-name' | 'no-permission';

/** What {@link ShmemPolicy.decide} answers for a name. */
export interface ShmemDecision {
  /** `ok`, or why the request fails (GSS_ILLEGAL_NAME, GSS_NO_PERMISSION). */
  status: ShmemDecisionStatus;
  /** The host-side name, when `status` is `ok`. */
  hostName?: string;
  /** Why the name is illegal, when it is. */
  reason?: string;
  /**
   * The rule that decided: its index in {@link ShmemPolicy.rules}, or
   * `implicit` for the closing rule. Absent for illegal names.
   */
  rule?: number | 'implicit';
}

/** An invalid fnmatch pattern. */
export class FnmatchPatternError extends TsqomError {
  /**
   * @param pattern - the pattern.
   * @param reason - what is wrong with it.
   */
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`invalid pattern '${pattern}': ${reason}`, 'ERR_VDEV_SHMEM_PATTERN');
  }
}

// ---------------------------------------------------------------------------
// fnmatch

type Bracket = { negate: boolean; items: BracketItem[] };
type BracketItem =
  | { kind: 'char'; c: number }
  | { kind: 'range'; lo: number; hi: number }
  | { kind: 'class'; test: (c: number) => boolean };
type Token =
  | { kind: 'lit'; c: number }
  | { kind: 'any' } // ?
  | { kind: 'star' } // *
  | { kind: 'bracket'; b: Bracket }
  | { kind: 'never' }; // matches nothing (glibc's answer to a trailing backslash)

const CLASSES: Record<string, (c: number) => boolean> = {
  alnum: (c) => isAlpha(c) || isDigit(c),
  alpha: (c) => isAlpha(c),
  blank: (c) => c === 0x20 || c === 0x09,
  cntrl: (c) => c < 0x20 || c === 0x7f,
  digit: (c) => isDigit(c),
  graph: (c) => c > 0x20 && c < 0x7f,
  lower: (c) => c >= 0x61 && c <= 0x7a,
  print: (c) => c >= 0x20 && c < 0x7f,
  punct: (c) => c > 0x20 && c < 0x7f && !isAlpha(c) && !isDigit(c),
  space: (c) => c === 0x20 || (c >= 0x09 && c <= 0x0d),
  upper: (c) => c >= 0x41 && c <= 0x5a,
  xdigit: (c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

// Parses the bracket expression whose '[' is at p[start]. Returns the
// bracket and the index after its ']', or undefined when it is not
// terminated (the '[' is then an ordinary character).
function parseBracket(p: string, start: number): { b: Bracket; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (p[i] === '!' || p[i] === '^') {
    negate = true;
    i++;
  }
  const items: BracketItem[] = [];
  let first = true;
  // One range endpoint or a class; `single` is set when the element can be a range endpoint.
  const element = (): { single?: number; item?: BracketItem } | undefined => {
    const c = p[i];
    if (c === undefined) return undefined;
    if (c === '[' && (p[i + 1] === ':' || p[i + 1] === '=' || p[i + 1] === '.')) {
      const delim = p[i + 1]!;
      const close = p.indexOf(delim + ']', i + 2);
      if (close < 0) throw new FnmatchPatternError(p, `unterminated '[${delim}'`);
      const body = p.slice(i + 2, close);
      i = close + 2;
      if (delim === ':') {
        const test = CLASSES[body];
        if (!test) throw new FnmatchPatternError(p, `unknown character class '[:${body}:]'`);
        return { item: { kind: 'class', test } };
      }
      // Collating symbols and equivalence classes: in the C locale each
      // names exactly one character.
      if (body.length !== 1)
        throw new FnmatchPatternError(p, `unknown collating element '[${delim}${body}${delim}]'`);
      return { single: body.charCodeAt(0) };
    }
    if (c === '\\') {
      const e = p[i + 1];
      if (e === undefined) return undefined;
      i += 2;
      return { single: e.charCodeAt(0) };
    }
    i++;
    return { single: c.charCodeAt(0) };
  };
  for (;;) {
    if (i >= p.length) return undefined;
    if (p[i] === ']' && !first) return { b: { negate, items }, end: i + 1 };
    first = false;
    const lo = element();
    if (lo === undefined) return undefined;
    if (lo.item) {
      if (p[i] === '-' && p[i + 1] !== ']' && p[i + 1] !== undefined) {
        throw new FnmatchPatternError(p, 'a character class cannot start a range');
      }
      items.push(lo.item);
      continue;
    }
    if (p[i] === '-' && p[i + 1] !== ']' && p[i + 1] !== undefined) {
      i++;
      const hi = element();
      if (hi === undefined) return undefined;
      if (hi.item) throw new FnmatchPatternError(p, 'a character class cannot end a range');
      items.push({ kind: 'range', lo: lo.single!, hi: hi.single! });
      continue;
    }
    items.push({ kind: 'char', c: lo.single! });
  }
}

function compile(p: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < p.length;) {
    const c = p[i]!;
    if (c === '*') {
      if (out[out.length - 1]?.kind !== 'star') out.push({ kind: 'star' });
      i++;
    } else if (c === '?') {
      out.push({ kind: 'any' });
      i++;
    } else if (c === '\\') {
      if (i + 1 >= p.length) {
        out.push({ kind: 'never' });
        i++;
      } else {
        out.push({ kind: 'lit', c: p.charCodeAt(i + 1) });
        i += 2;
      }
    } else if (c === '[') {
      const r = parseBracket(p, i);
      if (r) {
        out.push({ kind: 'bracket', b: r.b });
        i = r.end;
      } else {
        // glibc rejects (matches nothing for) an unterminated bracket that
        // opened a class; anything else unterminated is a literal '['.
        if (/\[[:=.]/.test(p.slice(i + 1))) throw new FnmatchPatternError(p, "unterminated '['");
        out.push({ kind: 'lit', c: 0x5b });
        i++;
      }
    } else {
      out.push({ kind: 'lit', c: p.charCodeAt(i) });
      i++;
    }
  }
  return out;
}

function bracketMatches(b: Bracket, c: number): boolean {
  let hit = false;
  for (const it of b.items) {
    if (it.kind === 'char') hit = it.c === c;
    else if (it.kind === 'range') hit = it.lo <= c && c <= it.hi;
    else hit = it.test(c);
    if (hit) break;
  }
  return hit !== b.negate;
}

function tokenMatches(t: Token, c: number): boolean {
  switch (t.kind) {
    case 'lit':
      return t.c === c;
    case 'any':
      return true;
    case 'bracket':
      return bracketMatches(t.b, c);
    default:
      return false;
  }
}

function matchTokens(toks: readonly Token[], s: string): boolean {
  // Iterative matcher with single-star backtracking: linear in practice,
  // O(len(s) * len(pattern)) at worst.
  let ti = 0;
  let si = 0;
  let starTi = -1;
  let starSi = 0;
  while (si < s.length) {
    const t = toks[ti];
    if (t?.kind === 'star') {
      starTi = ti++;
      starSi = si;
      continue;
    }
    if (t !== undefined && tokenMatches(t, s.charCodeAt(si))) {
      ti++;
      si++;
      continue;
    }
    if (starTi < 0) return false;
    ti = starTi + 1;
    si = ++starSi;
  }
  while (toks[ti]?.kind === 'star') ti++;
  return ti === toks.length;
}

const compiled = new Map<string, Token[]>();

function compiledPattern(pattern: string): Token[] {
  let toks = compiled.get(pattern);
  if (!toks) {
    toks = compile(pattern);
    if (compiled.size > 1024) compiled.clear();
    compiled.set(pattern, toks);
  }
  return toks;
}

/**
 * Throws {@link FnmatchPatternError} when `pattern` is one that POSIX
 * leaves undefined or glibc rejects: an unknown `[:class:]`, a multi-character
 * `[.name.]`/`[=name=]`, a class as a range endpoint, an unterminated
 * bracket that opened a class, or a trailing backslash. Configuration
 * parsers call this so such patterns fail loudly instead of silently never
 * matching.
 */
export function checkFnmatchPattern(pattern: string): void {
  if (pattern.length === 0) throw new FnmatchPatternError(pattern, 'empty pattern');
  const toks = compile(pattern);
  if (toks.some((t) => t.kind === 'never'))
    throw new FnmatchPatternError(pattern, 'trailing backslash');
}

/**
 * POSIX `fnmatch(pattern, string, 0)` in the C locale, as glibc implements
 * it: `*` matches any string (including `/` and a leading `.`: no
 * FNM_PATHNAME, no FNM_PERIOD), `?` any one character, `\c` the character
 * `c`; bracket expressions take `!` or `^` for negation, a leading `]` as
 * a member, ranges by byte value (a reversed range matches nothing), the
 * twelve POSIX classes (`[[:alpha:]]`, ASCII only), `[.c.]` and `[=c=]`
 * for single characters, and backslash escapes; an unterminated `[` is an
 * ordinary character. Strings are byte strings (one character per byte).
 * Patterns {@link checkFnmatchPattern} rejects never match.
 */
export function fnmatch(pattern: string, s: string): boolean {
  let toks: Token[];
  try {
    toks = compiledPattern(pattern);
  } catch (e) {
    if (e instanceof FnmatchPatternError) return false;
    throw e;
  }
  return matchTokens(toks, s);
}

// ---------------------------------------------------------------------------
// names

/**
 * Why `name` cannot name a region, or undefined when it can. A name is 1 to
 * {@link GUEST_SHM_MAX_NAME} bytes, without `/` or NUL (it becomes part of
 * a POSIX shared memory object name), and is not `.` or `..`.
 */
export function checkShmemName(name: string): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name.length > GUEST_SHM_MAX_NAME) return `name longer than ${GUEST_SHM_MAX_NAME} characters`;
  if (name === '.' || name === '..') return `'${name}' is not a region name`;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2f) return "name contains '/'";
    if (c === 0) return 'name contains NUL';
    if (c > 0xff) return 'name contains a character above U+00FF';
  }
  return undefined;
}

/**
 * Applies `subst` to a guest-visible name: the first occurrence of
 * `match` replaced by `prefix`, or `prefix` prepended when `match` is
 * empty; names without `match` are unchanged. No checks.
 */
export function applySubst(name: string, subst: ShmemSubst | undefined): string {
  if (!subst) return name;
  if (subst.match === '') return subst.prefix + name;
  const at = name.indexOf(subst.match);
  if (at < 0) return name;
  return name.slice(0, at) + subst.prefix + name.slice(at + subst.match.length);
}

/** {@link hostShmemName}'s answer for a name that has a host-side name. */
export interface HostShmemNameOk {
  /** The host-side name: the guest-visible name with `subst` applied. */
  hostName: string;
  /** Always absent here: the name is legal. */
  reason?: undefined;
}

/** {@link hostShmemName}'s answer for a name that has no host-side name. */
export interface HostShmemNameBad {
  /** Always absent here: there is no host-side name. */
  hostName?: undefined;
  /** Why the name, or the name with the `subst` prefix, is not legal. */
  reason: string;
}

/**
 * What {@link hostShmemName} answers; test `hostName === undefined` to tell
 * the two apart.
 */
export type HostShmemNameResult = HostShmemNameOk | HostShmemNameBad;

/** Which rule of a {@link ShmemPolicy} decides for a name, and what it decides. */
export interface ShmemRuleMatch {
  /** The deciding rule's index in {@link ShmemPolicy.rules}, or `implicit` for the closing rule. */
  rule: number | 'implicit';
  /** What that rule does. */
  action: ShmemRuleAction;
}

/**
 * The host-side name for a guest-visible name, or why there is none: the
 * name must pass {@link checkShmemName}, and its length plus the `subst`
 * prefix's length must not exceed {@link GUEST_SHM_MAX_NAME}.
 */
export function hostShmemName(name: string, subst: ShmemSubst | undefined): HostShmemNameResult {
  const bad = checkShmemName(name);
  if (bad) return { reason: bad };
  if (subst && name.length + subst.prefix.length > GUEST_SHM_MAX_NAME) {
    return { reason: `name plus subst prefix longer than ${GUEST_SHM_MAX_NAME} characters` };
  }
  const hostName = applySubst(name, subst);
  const hostBad = checkShmemName(hostName);
  if (hostBad) return { reason: `host name '${hostName}': ${hostBad}` };
  return { hostName };
}

// ---------------------------------------------------------------------------
// policy

/**
 * The access policy of one vdev-shmem device: its ordered `allow`/`deny`
 * rules and its `subst`. Immutable and pure; see the module documentation
 * for the semantics.
 */
export class ShmemPolicy {
  /** The explicit rules, in order. */
  readonly rules: readonly ShmemRule[];
  /** The `subst` option, if any. */
  readonly subst: ShmemSubst | undefined;
  /** What the implicit closing rule does: `deny` when any rule is an `allow`, else `allow`. */
  readonly defaultAction: ShmemRuleAction;

  /**
   * @param opts - the rules (in order) and the `subst` option.
   * @throws FnmatchPatternError for a pattern {@link checkFnmatchPattern} rejects.
   */
  constructor(opts: { rules?: readonly ShmemRule[]; subst?: ShmemSubst } = {}) {
    const rules = (opts.rules ?? []).map((r) => ({ action: r.action, pattern: r.pattern }));
    for (const r of rules) checkFnmatchPattern(r.pattern);
    this.rules = Object.freeze(rules.map((r) => Object.freeze(r)));
    this.subst = opts.subst
      ? Object.freeze({ match: opts.subst.match, prefix: opts.subst.prefix })
      : undefined;
    this.defaultAction = rules.some((r) => r.action === 'allow') ? 'deny' : 'allow';
  }

  /** The rule that decides for `name` (index, or `implicit`) and its action. */
  match(name: string): ShmemRuleMatch {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i]!;
      if (fnmatch(r.pattern, name)) return { rule: i, action: r.action };
    }
    return { rule: 'implicit', action: this.defaultAction };
  }

  /**
   * Decides a guest's create, attach or find request for the guest-visible
   * `guestName`: `illegal-name` (GSS_ILLEGAL_NAME) when the name, or the
   * name with the subst prefix, is not a legal region name; `no-permission`
   * (GSS_NO_PERMISSION) when the rules deny it; otherwise `ok` with the
   * host-side name.
   */
  decide(guestName: string): ShmemDecision {
    const h = hostShmemName(guestName, this.subst);
    if (h.hostName === undefined) return { status: 'illegal-name', reason: h.reason };
    const m = this.match(guestName);
    if (m.action === 'deny') return { status: 'no-permission', rule: m.rule };
    return { status: 'ok', hostName: h.hostName, rule: m.rule };
  }
}
