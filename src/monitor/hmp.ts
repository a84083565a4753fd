/**
 * The human monitor (monitor/hmp.c): a command table with QEMU's
 * `args_type` argument syntax, command-line parsing with QEMU's messages,
 * and output with `\r\n` line ends, as `human-monitor-command` returns it.
 * @module
 */
import { QomError } from '../util/error.js';
import { errorReportInMonitor } from '../util/error-report.js';
import type { QmpHost } from './qmp-dispatch.js';
import { MachineInitPhase, phaseCheck } from '../hw/core/qdev.js';

/**
 * QEMU 7.2's HMP commands flagged `p` (usable with `-preconfig` before
 * `x-exit-preconfig`), by table: top level, then `info`.
 */
const PRECONFIG_COMMANDS: ReadonlySet<string> = new Set([
  'help|?',
  'info',
  'quit|q',
  'object_add',
  'object_del',
  'qom-list',
  'qom-get',
  'qom-set',
]);
const PRECONFIG_INFO_COMMANDS: ReadonlySet<string> = new Set([
  'version',
  'status',
  'name',
  'uuid',
  'qom-tree',
  'memdev',
]);

/** QEMU's cmd_available: once the machine is ready, or for the commands allowed before. */
function cmdAvailable(cmd: HmpCommand, topLevel: boolean): boolean {
  if (!phaseCheck(MachineInitPhase.MachineCreated) || phaseCheck(MachineInitPhase.MachineReady)) {
    return true;
  }
  return (topLevel ? PRECONFIG_COMMANDS : PRECONFIG_INFO_COMMANDS).has(cmd.name);
}

/** Parsed HMP arguments: strings, flags (`-j`) as booleans. */
export type HmpArgs = Record<string, string | boolean | undefined>;

/** Where an HMP command writes (QEMU's `Monitor` for `monitor_printf`). */
export class HmpOutput {
  #text = '';

  /** Appends text; `\n` becomes `\r\n` when the output is collected. */
  print(s: string): void {
    this.#text += s;
  }

  /** `hmp_handle_error()`: prints `Error: <message>` and the hint, if any. */
  error(err: unknown): void {
    const e =
      err instanceof QomError
        ? err
        : new QomError(err instanceof Error ? err.message : String(err));
    this.#text += `Error: ${e.message}\n`;
    if (e.hint !== undefined) this.#text += e.hint;
  }

  /** The output as the monitor sends it: every `\n` as `\r\n`. */
  collect(): string {
    return this.#text.replace(/\n/g, '\r\n');
  }
}

/** What an HMP command may use besides its output: the monitor's host, when it has one. */
export interface HmpContext {
  /** Server-wide services (events, shutdown, version); absent for a detached HMP. */
  readonly host?: QmpHost;
}

/** An HMP command (QEMU's `HMPCommand`). */
export interface HmpCommand {
  /** The name; `a|b` gives aliases. */
  name: string;
  /** QEMU's argument descriptor, e.g. `path:s?` or `json:-j,path:s,property:s,value:S`. */
  argsType: string;
  /** Parameter synopsis for help, e.g. `[path]`. */
  params: string;
  /** One-line help. */
  help: string;
  /** Runs the command. Errors thrown are printed as `Error: ...`. */
  handler?(args: HmpArgs, out: HmpOutput, ctx?: HmpContext): void | Promise<void>;
  /** Sub-commands (as `info` has). */
  subTable?: HmpCommandTable;
}

/** An ordered table of HMP commands. */
export class HmpCommandTable {
  readonly #commands: HmpCommand[] = [];

  /** Adds a command, replacing one with the same name. */
  register(cmd: HmpCommand): void {
    const i = this.#commands.findIndex((c) => c.name === cmd.name);
    if (i >= 0) this.#commands[i] = cmd;
    else this.#commands.push(cmd);
  }

  /** Removes a command by its full name. */
  unregister(name: string): boolean {
    const i = this.#commands.findIndex((c) => c.name === name);
    if (i < 0) return false;
    this.#commands.splice(i, 1);
    return true;
  }

  /** `search_dispatch_table()`: matches any of the `|`-separated names. */
  find(name: string): HmpCommand | undefined {
    return this.#commands.find((c) => c.name.split('|').includes(name));
  }

  /** All commands in table order. */
  list(): readonly HmpCommand[] {
    return this.#commands;
  }
}

/** `info` sub-commands. */
export const hmpInfoCommands = new HmpCommandTable();
/** Top-level HMP commands. */
export const hmpCommands = new HmpCommandTable();

/** Registers a top-level HMP command. */
export function registerHmpCommand(cmd: HmpCommand): void {
  hmpCommands.register(cmd);
}

/** Registers an `info` sub-command (`name` without the `info ` prefix). */
export function registerHmpInfoCommand(cmd: HmpCommand): void {
  hmpInfoCommands.register(cmd);
}

const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';

/** `get_str()`: a word, or a double-quoted string with `\n \r \\ \' \"` escapes. */
function getStr(line: string, p: number): { value?: string; p: number } {
  while (isSpace(line[p])) p++;
  if (p >= line.length) return { p };
  let out = '';
  if (line[p] === '"') {
    p++;
    while (p < line.length && line[p] !== '"') {
      if (line[p] === '\\') {
        p++;
        const c = line[p++];
        if (c === 'n') out += '\n';
        else if (c === 'r') out += '\r';
        else if (c === '\\' || c === "'" || c === '"') out += c;
        else return { p };
      } else {
        out += line[p++];
      }
    }
    if (line[p] !== '"') return { p };
    p++;
  } else {
    while (p < line.length && !isSpace(line[p])) out += line[p++];
  }
  // QEMU copies into a 1024-byte buffer.
  return { value: out.length > 1023 ? out.slice(0, 1023) : out, p };
}

/** Splits an `args_type` string into `name:type` entries. */
function argSpecs(argsType: string): Array<{ key: string; type: string }> {
  if (argsType === '') return [];
  return argsType.split(',').map((s) => {
    const i = s.indexOf(':');
    return { key: s.slice(0, i), type: s.slice(i + 1) };
  });
}

/** `monitor_parse_arguments()` for the argument kinds tsqom's commands use. */
function parseArguments(
  cmd: HmpCommand,
  line: string,
  p: number,
  out: HmpOutput,
): HmpArgs | undefined {
  const args: HmpArgs = {};
  const specs = argSpecs(cmd.argsType);
  for (let k = 0; k < specs.length; k++) {
    const { key, type } = specs[k];
    const c = type[0];
    const optional = type[1] === '?';
    switch (c) {
      case 's':
      case 'F':
      case 'B': {
        while (isSpace(line[p])) p++;
        if (optional && p >= line.length) break;
        const r = getStr(line, p);
        p = r.p;
        if (r.value === undefined) {
          const what = c === 'F' ? 'filename' : c === 'B' ? 'block device name' : 'string';
          out.print(`${cmd.name}: ${what} expected\n`);
          return undefined;
        }
        args[key] = r.value;
        break;
      }
      case 'S': {
        while (isSpace(line[p])) p++;
        if (optional && p >= line.length) break;
        if (p >= line.length) {
          out.print(`${cmd.name}: string expected\n`);
          return undefined;
        }
        args[key] = line.slice(p);
        p = line.length;
        break;
      }
      case '-': {
        const opt = type[1];
        const tmp = p;
        while (isSpace(line[p])) p++;
        if (line[p] === '-') {
          p++;
          if (line[p] !== opt) {
            // Another option of this command may follow; QEMU looks for it
            // in the rest of the descriptor.
            const rest = specs
              .slice(k + 1)
              .map((s) => s.type)
              .join(',');
            if (!rest.includes('-' + (line[p] ?? ''))) {
              out.print(`${cmd.name}: unsupported option -${line[p] ?? ''}\n`);
              return undefined;
            }
            p = tmp;
          } else {
            p++;
            args[key] = true;
          }
        }
        break;
      }
      default:
        out.print(`${cmd.name}: unknown type '${c}'\n`);
        return undefined;
    }
  }
  while (isSpace(line[p])) p++;
  if (p < line.length) {
    out.print(`${cmd.name}: extraneous characters at the end of line\n`);
    return undefined;
  }
  return args;
}

/** `get_command_name()`: the next word, ending at a space or `/`. */
function commandName(line: string, p: number): { name?: string; p: number } {
  while (isSpace(line[p])) p++;
  if (p >= line.length) return { p };
  const start = p;
  while (p < line.length && line[p] !== '/' && !isSpace(line[p])) p++;
  return { name: line.slice(start, Math.min(p, start + 255)), p };
}

/**
 * `handle_hmp_command()`: parses and runs one command line against
 * `table`, writing to `out`.
 */
export async function handleHmpCommand(
  line: string,
  out: HmpOutput,
  table: HmpCommandTable = hmpCommands,
  ctx: HmpContext = {},
): Promise<void> {
  let p = 0;
  let cmd: HmpCommand | undefined;
  let t: HmpCommandTable | undefined = table;
  // monitor_parse_command(), descending into sub-tables.
  while (t) {
    const r = commandName(line, p);
    if (r.name === undefined) {
      if (!cmd) return;
      break;
    }
    const found = t.find(r.name);
    if (!found) {
      out.print(`unknown command: '${line.slice(0, r.p)}'\n`);
      return;
    }
    if (!cmdAvailable(found, t === table)) {
      out.print(
        `Command '${line.slice(0, r.p)}' not available until machine initialization has completed.\n`,
      );
      return;
    }
    cmd = found;
    p = r.p;
    while (isSpace(line[p])) p++;
    if (!found.subTable || p >= line.length) break;
    t = found.subTable;
  }
  if (!cmd) return;
  if (!cmd.handler) {
    out.print(`Command "${line.slice(0, p)}" is not available.\n`);
    return;
  }
  const start = p;
  const args = parseArguments(cmd, line, p, out);
  if (!args) {
    let e = start;
    while (e > 0 && isSpace(line[e - 1])) e--;
    out.print(`Try "help ${line.slice(0, e)}" for more information\n`);
    return;
  }
  try {
    const handler = cmd.handler;
    await errorReportInMonitor(
      () => handler(args, out, ctx),
      (text) => out.print(text),
    );
  } catch (e) {
    out.error(e);
  }
}

/** Runs an HMP command line and returns its output (`\r\n` line ends). */
export async function hmpCommandOutput(
  line: string,
  table: HmpCommandTable = hmpCommands,
  ctx: HmpContext = {},
): Promise<string> {
  const out = new HmpOutput();
  await handleHmpCommand(line, out, table, ctx);
  return out.collect();
}

/** `help_cmd_dump()`: help lines for a table, or for one named command. */
function helpDump(out: HmpOutput, table: HmpCommandTable, words: string[], i: number): void {
  if (i >= words.length) {
    // QEMU sorts its tables by name (strcmp) once at start-up.
    const sorted = [...table.list()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const c of sorted) {
      out.print(
        words
          .slice(0, i)
          .map((w) => w + ' ')
          .join('') + `${c.name} ${c.params} -- ${c.help}\n`,
      );
    }
    return;
  }
  const c = table.find(words[i]);
  if (c) {
    if (c.subTable) helpDump(out, c.subTable, words, i + 1);
    else
      out.print(
        words
          .slice(0, i)
          .map((w) => w + ' ')
          .join('') + `${c.name} ${c.params} -- ${c.help}\n`,
      );
    return;
  }
  out.print(`unknown command: '${words.slice(0, i + 1).join(' ')}'\n`);
}

registerHmpCommand({
  name: 'help|?',
  argsType: 'name:S?',
  params: '[cmd]',
  help: 'show the help',
  handler(args, out) {
    const name = args.name as string | undefined;
    const words = name === undefined ? [] : name.split(/[ \t\n\v\f\r]+/).filter((w) => w !== '');
    helpDump(out, hmpCommands, words, 0);
  },
});

registerHmpCommand({
  name: 'info',
  argsType: 'item:s?',
  params: '[subcommand]',
  help: 'show various information about the system state',
  subTable: hmpInfoCommands,
  handler(_args, out) {
    helpDump(out, hmpCommands, ['info'], 0);
  },
});
