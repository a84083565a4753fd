/**
 * The `tsqom` command line at the argv level, as QEMU's `lookup_opt` reads
 * it: options start with `-` or `--`, some take the next argument, and the
 * errors are QEMU's (`-bogus: invalid option`, `-object: requires an
 * argument`).
 * @module
 */
import { TsqomError } from '../util/error.js';

/** What an option is for; the CLI acts on each in command-line order. */
export type CliOptionName =
  | 'object'
  | 'device'
  | 'chardev'
  | 'qmp'
  | 'qtest'
  | 'machine'
  | 'S'
  | 'nodefaults'
  | 'display'
  | 'version'
  | 'help'
  | 'm'
  | 'name'
  | 'uuid'
  | 'mon'
  | 'monitor'
  | 'qmp-pretty'
  | 'accel'
  | 'smp'
  | 'no-shutdown'
  | 'no-reboot'
  | 'global'
  | 'msg'
  | 'overcommit'
  | 'sandbox'
  | 'preconfig'
  | 'action'
  | 'serial'
  | 'nographic'
  | 'vga'
  | 'pidfile'
  | 'daemonize'
  | 'qtest-log'
  | 'audio'
  | 'run-with'
  | 'no-user-config';

interface OptionDef {
  readonly name: CliOptionName;
  readonly hasArg: boolean;
  readonly help: string;
  readonly argName?: string;
}

/** QEMU's spellings, mapped to what they do in tsqom. */
const OPTIONS: ReadonlyMap<string, OptionDef> = new Map<string, OptionDef>([
  [
    'object',
    {
      name: 'object',
      hasArg: true,
      argName: 'TYPE,id=ID[,PROP=VALUE...]',
      help: 'create a user-creatable object (e.g. a memory backend); also JSON',
    },
  ],
  [
    'device',
    { name: 'device', hasArg: true, argName: 'DRIVER[,PROP=VALUE...]', help: 'add a device' },
  ],
  [
    'chardev',
    {
      name: 'chardev',
      hasArg: true,
      argName: 'socket,id=ID,path=PATH[,server=on|off,wait=on|off]',
      help: 'create a character device (unix sockets)',
    },
  ],
  [
    'qmp',
    {
      name: 'qmp',
      hasArg: true,
      argName: 'unix:PATH,server=on,wait=off | tcp:HOST:PORT,server=on,wait=off',
      help: 'serve QMP on a socket',
    },
  ],
  [
    'qtest',
    {
      name: 'qtest',
      hasArg: true,
      argName: 'unix:PATH,server=on,wait=off',
      help: "serve QEMU's qtest protocol on a socket",
    },
  ],
  [
    'machine',
    {
      name: 'machine',
      hasArg: true,
      argName: 'none[,memory-backend=ID]',
      help: 'select the machine (only "none")',
    },
  ],
  [
    'M',
    {
      name: 'machine',
      hasArg: true,
      argName: 'none[,memory-backend=ID]',
      help: 'same as -machine',
    },
  ],
  [
    'S',
    {
      name: 'S',
      hasArg: false,
      help: 'accepted for QEMU compatibility (there is no CPU to start)',
    },
  ],
  [
    'nodefaults',
    {
      name: 'nodefaults',
      hasArg: false,
      help: 'accepted for QEMU compatibility (there are no default devices)',
    },
  ],
  [
    'display',
    {
      name: 'display',
      hasArg: true,
      argName: 'none',
      help: 'accepted for QEMU compatibility (only "none")',
    },
  ],
  ...(
    [
      [
        'm',
        true,
        '[size=]MEGS[,slots=n,maxmem=size]',
        'guest RAM size (a memory-backend-ram "ram")',
      ],
      ['name', true, 'string1[,process=string2][,debug-threads=on|off]', 'the guest name'],
      ['uuid', true, '%08x-%04x-%04x-%04x-%012x', 'the machine UUID'],
      [
        'mon',
        true,
        '[chardev=]name[,mode=readline|control][,pretty=on|off]',
        'a monitor on a chardev',
      ],
      ['monitor', true, 'dev', 'an HMP monitor on a character device'],
      ['qmp-pretty', true, 'dev', 'like -qmp, pretty-printed replies'],
      ['accel', true, 'tcg|qtest|kvm', 'the accelerator (there is no CPU; kvm is refused)'],
      [
        'smp',
        true,
        '[cpus=]n[,maxcpus=..,sockets=..,...]',
        'CPU topology (the none machine takes 1 CPU)',
      ],
      ['no-shutdown', false, undefined, 'stop instead of exiting on guest shutdown'],
      ['no-reboot', false, undefined, 'exit instead of rebooting'],
      ['global', true, 'driver.prop=value', 'a default property value for a device type'],
      ['msg', true, '[timestamp[=on|off]][,guest-name=[on|off]]', 'error message format'],
      [
        'overcommit',
        true,
        '[mem-lock=on|off][,cpu-pm=on|off]',
        'mem-lock=on: lock all memory (mlockall); cpu-pm has nothing to act on',
      ],
      ['sandbox', true, 'off', 'only "off": tsqom has no seccomp filter'],
      [
        'preconfig',
        false,
        undefined,
        'stop before machine initialization until the QMP command x-exit-preconfig',
      ],
      ['action', true, 'event=action', 'what reboot, shutdown, panic and watchdog do'],
      [
        'serial',
        true,
        'null|none|chardev:ID',
        'the serial port backend (the none machine has no port)',
      ],
      ['nographic', false, undefined, 'no graphics'],
      ['vga', true, 'none', 'accepted (the none machine has no VGA)'],
      ['pidfile', true, 'file', 'write the process id to file'],
      ['daemonize', false, undefined, 'detach once started'],
      ['qtest-log', true, 'file', 'log the qtest protocol to file'],
      ['audio', true, 'none', 'accepted (no audio)'],
      ['run-with', true, 'exit-with-parent=on|off', 'exit when the parent process exits'],
      ['no-user-config', false, undefined, 'accepted (tsqom reads no configuration files)'],
    ] as const
  ).map(([name, hasArg, argName, help]): [string, OptionDef] => [
    name,
    { name, hasArg, help, ...(argName === undefined ? {} : { argName }) },
  ]),
  ['version', { name: 'version', hasArg: false, help: 'display version information and exit' }],
  ['h', { name: 'help', hasArg: false, help: 'display this help and exit' }],
  ['help', { name: 'help', hasArg: false, help: 'display this help and exit' }],
]);

/** One option from the command line, in order. */
export interface CliOption {
  /** What the option is. */
  readonly name: CliOptionName;
  /** The option as written without dashes (`M` or `machine`), for messages. */
  readonly spelling: string;
  /** Its argument, for options that take one. */
  readonly arg?: string;
}

/** A command-line error; the message is QEMU's, without the program prefix. */
export class CliError extends TsqomError {
  /** Extra lines QEMU prints after the message (hints), if any. */
  readonly hint: string | undefined;
  /** @param message The text after `tsqom: `. @param hint Text printed on following lines. */
  constructor(message: string, hint?: string) {
    super(message, 'ERR_CLI');
    this.hint = hint;
  }
}

/** Splits argv (without node and script) into options, as QEMU does. */
export function parseArgv(argv: readonly string[]): CliOption[] {
  const out: CliOption[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-') || a === '-') {
      throw new CliError(`${a}: disk images are not supported (tsqom has no block layer)`);
    }
    const spelling = a.startsWith('--') ? a.slice(2) : a.slice(1);
    const def = OPTIONS.get(spelling);
    if (!def) throw new CliError(`${a}: invalid option`);
    if (def.hasArg) {
      if (i + 1 >= argv.length) throw new CliError(`${a}: requires an argument`);
      out.push({ name: def.name, spelling, arg: argv[++i] });
    } else {
      out.push({ name: def.name, spelling });
    }
  }
  return out;
}

/** The `--help` text. */
export function usage(program: string): string {
  const lines = [`usage: ${program} [options]`, '', 'Options (QEMU syntax):'];
  const seen = new Set<CliOptionName>();
  for (const [spelling, def] of OPTIONS) {
    if (spelling === 'h' || seen.has(def.name)) continue;
    seen.add(def.name);
    const head = `-${spelling}${def.argName ? ` ${def.argName}` : ''}`;
    lines.push(head, `                ${def.help}`);
  }
  lines.push(
    '',
    'With no options at all, tsqom starts its default configuration: a shared',
    'memory backend and example devices, prints the object tree and memory map,',
    'and serves QMP on a unix socket until SIGINT, SIGTERM or the quit command.',
  );
  return lines.join('\n') + '\n';
}
