/**
 * QEMU's traditional `key=value,...` option syntax (QemuOpts), as QEMU 7.2
 * parses `-object`, `-device`, `-chardev` and friends: an optional implied
 * first key, `,,` for a literal comma in values, an `id` that names the
 * options group and must be unique in its list, `help`/`?` requests, and the
 * deprecated short-form booleans (`share` for `share=on`, `noshare` for
 * `share=off`), which warn.
 * @module
 */
import { TsqomError } from '../native/errors.js';

/** One `name=value` of a parsed option group, in the order given. */
export interface QemuOpt {
  /** Key, as written (after `no` stripping for short-form booleans). */
  readonly name: string;
  /** Value, with `,,` already turned into `,`. */
  readonly str: string;
}

/** A parsed option group: QEMU's `QemuOpts`. */
export interface QemuOpts {
  /** The group's `id=`, if any (validated as an identifier). */
  readonly id: string | undefined;
  /** Every option except `id`, in the order given; repeated keys repeat. */
  readonly opts: readonly QemuOpt[];
  /** Whether a `help` or `?` flag was seen (parsing stops there). */
  readonly helpWanted: boolean;
  /** Deprecation warnings to print (short-form booleans), without prefix. */
  readonly warnings: readonly string[];
}

/** A parse error; `hint` is printed on its own line after the message, as QEMU does. */
export class QemuOptsError extends TsqomError {
  /** Extra explanation QEMU appends as a hint (ends with a newline). */
  readonly hint: string | undefined;
  /** @param message QEMU's text. @param hint QEMU's hint, if it has one. */
  constructor(message: string, hint?: string) {
    super(message, 'ERR_QEMU_OPTS');
    this.hint = hint;
  }
}

/** The hint QEMU prints after `Parameter 'id' expects an identifier`. */
export const ID_HINT =
  "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n";

/** QEMU's `id_wellformed`: a letter, then letters, digits, `-`, `.` or `_`. */
export function idWellformed(id: string): boolean {
  return /^[A-Za-z][A-Za-z0-9._-]*$/.test(id);
}

/** QEMU's `is_help_option`. */
export function isHelpOption(s: string): boolean {
  return s === '?' || s === 'help';
}

/** Reads a value up to a lone `,` (a `,,` is a literal comma); returns it and the stop index. */
function getOptValue(params: string, start: number): [string, number] {
  let out = '';
  let i = start;
  while (i < params.length) {
    const c = params[i];
    if (c === ',') {
      if (params[i + 1] !== ',') break;
      i++; // the second comma of ",," is the literal
    }
    out += params[i];
    i++;
  }
  return [out, i];
}

interface NameValue {
  name: string;
  value: string;
  next: number;
  isHelp: boolean;
  flagPrefix: string | undefined; // set when the option was a short-form boolean
}

function getOptNameValue(params: string, start: number, firstname: string | undefined): NameValue {
  let len = 0;
  while (start + len < params.length && params[start + len] !== '=' && params[start + len] !== ',')
    len++;
  let name: string;
  let value: string;
  let p: number;
  let isHelp = false;
  let flagPrefix: string | undefined;
  if (params[start + len] !== '=') {
    if (firstname !== undefined) {
      name = firstname;
      [value, p] = getOptValue(params, start);
    } else {
      name = params.slice(start, start + len);
      p = start + len;
      if (name.startsWith('no')) {
        name = name.slice(2);
        value = 'off';
        flagPrefix = 'no';
      } else {
        value = 'on';
        isHelp = isHelpOption(name);
        flagPrefix = '';
      }
    }
  } else {
    name = params.slice(start, start + len);
    [value, p] = getOptValue(params, start + len + 1);
  }
  if (params[p] === ',') p++;
  return { name, value, next: p, isHelp, flagPrefix };
}

/** Finds the first `id=` in the string, tokenising as QEMU's `opts_parse_id` does. */
function parseId(params: string): string | undefined {
  for (let p = 0; p < params.length;) {
    const nv = getOptNameValue(params, p, undefined);
    if (nv.name === 'id') return nv.value;
    p = nv.next;
  }
  return undefined;
}

/**
 * One of QEMU's option lists (`object`, `device`, `chardev`, ...): it holds
 * the groups parsed so far so that a duplicate `id` is refused as QEMU does.
 */
export class QemuOptsList {
  /** The groups parsed into this list, by id (groups without id are not kept). */
  private readonly byId = new Map<string, QemuOpts>();

  /**
   * @param name The list's name, used in `Duplicate ID 'x' for NAME`.
   * @param impliedOptName The key of a first option given without `key=`.
   */
  constructor(
    readonly name: string,
    readonly impliedOptName?: string,
  ) {}

  /**
   * Parses one option string into a new group (QEMU's `qemu_opts_parse` with
   * abbreviation permitted and short-form boolean warnings on). Throws a
   * {@link QemuOptsError} with QEMU's text; nothing is added on error.
   */
  parse(params: string, permitAbbrev = true): QemuOpts {
    const id = parseId(params);
    if (id !== undefined) {
      if (!idWellformed(id)) {
        throw new QemuOptsError("Parameter 'id' expects an identifier", ID_HINT);
      }
      if (this.byId.has(id)) throw new QemuOptsError(`Duplicate ID '${id}' for ${this.name}`);
    }
    let firstname = permitAbbrev ? this.impliedOptName : undefined;
    const opts: QemuOpt[] = [];
    const warnings: string[] = [];
    let helpWanted = false;
    for (let p = 0; p < params.length;) {
      const nv = getOptNameValue(params, p, firstname);
      p = nv.next;
      firstname = undefined;
      if (nv.flagPrefix !== undefined && !nv.isHelp) {
        const hint =
          nv.name === 'delay'
            ? `Please use nodelay=${nv.flagPrefix ? 'on' : 'off'} instead`
            : `Please use ${nv.name}=${nv.value} instead`;
        warnings.push(`short-form boolean option '${nv.flagPrefix}${nv.name}' deprecated\n${hint}`);
      }
      if (nv.isHelp) {
        helpWanted = true;
        break;
      }
      if (nv.name === 'id') continue;
      opts.push({ name: nv.name, str: nv.value });
    }
    const group: QemuOpts = { id, opts, helpWanted, warnings };
    if (id !== undefined && !helpWanted) this.byId.set(id, group);
    return group;
  }

  /** Forgets a group (as `qemu_opts_del`), so its id may be used again. */
  del(id: string): void {
    this.byId.delete(id);
  }

  /** The group with this id, if one was parsed. */
  find(id: string): QemuOpts | undefined {
    return this.byId.get(id);
  }
}

/** The last value given for a key (QemuOpts lookups return the last occurrence). */
export function qemuOptGet(opts: QemuOpts, name: string): string | undefined {
  for (let i = opts.opts.length - 1; i >= 0; i--)
    if (opts.opts[i].name === name) return opts.opts[i].str;
  return undefined;
}
