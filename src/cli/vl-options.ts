/**
 * The options of QEMU's command line that set a value rather than create
 * something (system/vl.c's `-m`, `-name`, `-uuid`, `-smp`, `-accel`,
 * `-action`, `-msg`, ...), read with QEMU 7.2's option lists and texts.
 * Each function validates one argument and returns what it means; the
 * caller stores it.
 * @module
 */
import { QomError } from '../util/error.js';
import { qemuStrtoszMiB } from '../util/cutils.js';
import { QemuOptsError, QemuOptsList, qemuOptGet, type QemuOpts } from '../util/qemu-option.js';
import { RUNSTATE_ACTION_VALUES, qemuUuidParse, type RunActions } from '../system/runstate.js';

/** Refuses keys outside `allowed` with QEMU's `Invalid parameter` text. */
function checkKeys(opts: QemuOpts, allowed: readonly string[]): void {
  for (const o of opts.opts) {
    if (!allowed.includes(o.name)) throw new QemuOptsError(`Invalid parameter '${o.name}'`);
  }
}

/** QemuOpts' boolean rule: `on`/`off` (and `yes`/`no`, `true`/`false`). */
export function optBool(opts: QemuOpts, name: string, def: boolean): boolean {
  const v = qemuOptGet(opts, name);
  if (v === undefined) return def;
  if (v === 'on' || v === 'yes' || v === 'true' || v === 'y') return true;
  if (v === 'off' || v === 'no' || v === 'false' || v === 'n') return false;
  throw new QemuOptsError(`Parameter '${name}' expects 'on' or 'off'`);
}

/** An enum value, or QEMU's `does not accept value` text. */
function optEnum<T extends string>(
  opts: QemuOpts,
  name: string,
  values: readonly T[],
): T | undefined {
  const v = qemuOptGet(opts, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) {
    throw new QemuOptsError(`Parameter '${name}' does not accept value '${v}'`);
  }
  return v as T;
}

const warnings: string[] = [];

/** The parse warnings (short-form booleans) since the last call, for the caller to print. */
export function takeOptionWarnings(): string[] {
  return warnings.splice(0);
}

function parse(name: string, implied: string | undefined, arg: string): QemuOpts {
  const opts = new QemuOptsList(name, implied).parse(arg);
  warnings.push(...opts.warnings);
  return opts;
}

const SIZE_HINT =
  'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n' +
  'and exabytes, respectively.\n';

/** `-m [size=]MEGS[,slots=n,maxmem=size]`: the RAM size in bytes. */
export function parseMemoryOption(arg: string): { size: bigint; slots?: number; maxmem?: bigint } {
  const opts = parse('memory', 'size', arg);
  checkKeys(opts, ['size', 'slots', 'maxmem']);
  const size = qemuOptGet(opts, 'size');
  const r = size === undefined ? { err: 0, value: 0n } : qemuStrtoszMiB(size);
  if (r.err !== 0) {
    throw new QemuOptsError("Parameter 'size' expects a non-negative number below 2^64", SIZE_HINT);
  }
  const out: { size: bigint; slots?: number; maxmem?: bigint } = { size: r.value };
  const maxmem = qemuOptGet(opts, 'maxmem');
  if (maxmem !== undefined) {
    const m = qemuStrtoszMiB(maxmem);
    if (m.err !== 0) {
      throw new QemuOptsError(
        "Parameter 'maxmem' expects a non-negative number below 2^64",
        SIZE_HINT,
      );
    }
    out.maxmem = m.value;
  }
  const slots = qemuOptGet(opts, 'slots');
  if (slots !== undefined) {
    if (!/^\d+$/.test(slots)) throw new QemuOptsError("Parameter 'slots' expects a number");
    out.slots = Number(slots);
  }
  return out;
}

/** `-name [guest=]NAME[,process=P][,debug-threads=on|off]`. */
export function parseNameOption(arg: string): { name?: string; process?: string } {
  const opts = parse('name', 'guest', arg);
  checkKeys(opts, ['guest', 'process', 'debug-threads']);
  optBool(opts, 'debug-threads', false);
  const out: { name?: string; process?: string } = {};
  const guest = qemuOptGet(opts, 'guest');
  if (guest !== undefined) out.name = guest;
  const process = qemuOptGet(opts, 'process');
  if (process !== undefined) out.process = process;
  return out;
}

/** `-uuid UUID`. */
export function parseUuidOption(arg: string): string {
  const u = qemuUuidParse(arg);
  if (u === undefined) throw new QemuOptsError('failed to parse UUID string: wrong format');
  return u;
}

const SMP_KEYS = ['cpus', 'sockets', 'dies', 'clusters', 'cores', 'threads', 'maxcpus'] as const;

/**
 * `-smp [cpus=]n[,maxcpus=..][,sockets=..][,dies=..][,clusters=..][,cores=..][,threads=..]`
 * for the `none` machine, which takes one CPU at most (QEMU's texts).
 */
export function parseSmpOption(arg: string): string | undefined {
  const opts = parse('smp-opts', 'cpus', arg);
  checkKeys(opts, SMP_KEYS);
  const v: Record<string, number> = {};
  for (const k of SMP_KEYS) {
    const s = qemuOptGet(opts, k);
    if (s === undefined) continue;
    if (!/^\d+$/.test(s)) throw new QomError(`Parameter 'smp.${k}' expects integer`);
    v[k] = Number(s);
  }
  let warning: string | undefined;
  if (Object.values(v).some((n) => n === 0)) {
    // QEMU 7.2 warns and then treats the zeros as absent.
    warning =
      'Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero';
    for (const k of SMP_KEYS) if (v[k] === 0) delete v[k];
  }
  const product =
    (v.sockets ?? 1) * (v.dies ?? 1) * (v.clusters ?? 1) * (v.cores ?? 1) * (v.threads ?? 1);
  const cpus = v.cpus ?? product;
  const maxcpus = v.maxcpus ?? Math.max(cpus, product);
  if (maxcpus > 1 || cpus > 1) {
    throw new QomError(
      `Invalid SMP CPUs ${maxcpus}. The max CPUs supported by machine 'none' is 1`,
    );
  }
  return warning;
}

/** `-action reboot=..,shutdown=..,panic=..,watchdog=..`. */
export function parseActionOption(arg: string): Partial<RunActions> {
  const opts = parse('action', undefined, arg);
  checkKeys(opts, Object.keys(RUNSTATE_ACTION_VALUES));
  const out: Partial<RunActions> = {};
  const reboot = optEnum(opts, 'reboot', RUNSTATE_ACTION_VALUES.reboot);
  if (reboot) out.reboot = reboot;
  const shutdown = optEnum(opts, 'shutdown', RUNSTATE_ACTION_VALUES.shutdown);
  if (shutdown) out.shutdown = shutdown;
  const panic = optEnum(opts, 'panic', RUNSTATE_ACTION_VALUES.panic);
  if (panic) out.panic = panic;
  const watchdog = optEnum(opts, 'watchdog', RUNSTATE_ACTION_VALUES.watchdog);
  if (watchdog) out.watchdog = watchdog;
  return out;
}

/** `-msg [timestamp=on|off][,guest-name=on|off]`. */
export function parseMsgOption(arg: string): { timestamp: boolean; guestName: boolean } {
  const opts = parse('msg', 'timestamp', arg);
  checkKeys(opts, ['timestamp', 'guest-name']);
  return {
    timestamp: optBool(opts, 'timestamp', false),
    guestName: optBool(opts, 'guest-name', false),
  };
}

/** `-overcommit [mem-lock=on|off][,cpu-pm=on|off]`. */
export function parseOvercommitOption(arg: string): { memLock: boolean; cpuPm: boolean } {
  const opts = parse('overcommit', undefined, arg);
  checkKeys(opts, ['mem-lock', 'cpu-pm']);
  return { memLock: optBool(opts, 'mem-lock', false), cpuPm: optBool(opts, 'cpu-pm', false) };
}

/**
 * `-sandbox on|off[,...]`. tsqom cannot install a seccomp filter (Node.js
 * spawns threads QEMU's filter would kill), so `on` is refused as a QEMU
 * built without seccomp refuses it.
 */
export function parseSandboxOption(arg: string): void {
  const opts = parse('sandbox', 'enable', arg);
  checkKeys(opts, ['enable', 'obsolete', 'elevateprivileges', 'spawn', 'resourcecontrol']);
  if (optBool(opts, 'enable', false)) {
    throw new QemuOptsError('-sandbox support is not enabled in this QEMU binary');
  }
}

/**
 * `-run-with [exit-with-parent=on|off]` (QEMU 9): whether to exit when
 * the parent process goes away.
 */
export function parseRunWithOption(arg: string): { exitWithParent: boolean } {
  const opts = parse('run-with', undefined, arg);
  checkKeys(opts, ['exit-with-parent']);
  return { exitWithParent: optBool(opts, 'exit-with-parent', false) };
}

/**
 * `-audio [driver=]none[,model=..]` (QEMU 8.2's form; 7.2 required a
 * model). Only the `none` driver exists in tsqom.
 */
export function parseAudioOption(arg: string): void {
  const opts = parse('audio', 'driver', arg);
  checkKeys(opts, ['driver', 'model', 'id']);
  const driver = qemuOptGet(opts, 'driver');
  if (driver === undefined) throw new QemuOptsError("Parameter 'driver' is missing");
  if (driver !== 'none')
    throw new QemuOptsError(`Parameter 'driver' does not accept value '${driver}'`);
  const model = qemuOptGet(opts, 'model');
  if (model !== undefined)
    throw new QemuOptsError(`Parameter 'model' does not accept value '${model}'`);
}

/** Displays QEMU knows but tsqom cannot show. */
const KNOWN_DISPLAYS = [
  'gtk',
  'sdl',
  'vnc',
  'curses',
  'egl-headless',
  'spice-app',
  'dbus',
  'cocoa',
];

/** `-display none` is the only display; QEMU's texts for the others. */
export function parseDisplayOption(arg: string): void {
  const type = arg.split(',')[0].split('=').pop() ?? '';
  if (type === 'none') return;
  if (KNOWN_DISPLAYS.includes(type)) throw new QemuOptsError(`Display '${type}' is not available.`);
  throw new QemuOptsError(`Parameter 'type' does not accept value '${type}'`);
}

/** The accelerators QEMU knows; only `tcg` and `qtest` can run here. */
const KNOWN_ACCELS = ['tcg', 'qtest', 'kvm', 'xen', 'hvf', 'whpx', 'nvmm', 'hax'];

/** `-accel NAME[,prop=value]`: the name, checked as QEMU checks it. */
export function parseAccelOption(arg: string): string {
  const opts = parse('accel', 'accel', arg);
  const name = qemuOptGet(opts, 'accel');
  if (name === undefined) throw new QemuOptsError("Parameter 'accel' is missing");
  if (!KNOWN_ACCELS.includes(name)) throw new QemuOptsError(`invalid accelerator ${name}`);
  const props: Record<string, readonly string[]> = {
    tcg: ['thread', 'tb-size', 'split-wx', 'one-insn-per-tb'],
    kvm: ['kernel-irqchip', 'kvm-shadow-mem', 'dirty-ring-size', 'notify-vmexit', 'notify-window'],
  };
  for (const o of opts.opts) {
    if (o.name === 'accel') continue;
    if (!(props[name] ?? []).includes(o.name)) {
      throw new QemuOptsError(`Property '${name}-accel.${o.name}' not found`);
    }
  }
  return name;
}

/**
 * `-global DRIVER.PROP=VALUE` or `-global driver=D,property=P,value=V`
 * (QEMU's qemu_global_option: the short form is `%63[^.=].%63[^=]=` and
 * its value runs to the end, commas included).
 */
export function parseGlobalOption(arg: string): {
  driver: string;
  property: string;
  value: string;
} {
  const short = /^([^.=]{1,63})\.([^=]{1,63})=/.exec(arg);
  if (short) {
    return { driver: short[1], property: short[2], value: arg.slice(short[0].length) };
  }
  const opts = parse('global', undefined, arg);
  checkKeys(opts, ['driver', 'property', 'value']);
  const driver = qemuOptGet(opts, 'driver');
  const property = qemuOptGet(opts, 'property');
  const value = qemuOptGet(opts, 'value');
  if (driver === undefined || property === undefined || value === undefined) {
    throw new QemuOptsError("options 'driver', 'property', and 'value' are required");
  }
  return { driver, property, value };
}

/** `-mon [chardev=]ID[,mode=readline|control][,pretty=on|off]`. */
export function parseMonOption(arg: string): {
  chardev: string;
  mode: 'control' | 'readline';
  pretty: boolean;
} {
  const opts = parse('mon', 'chardev', arg);
  checkKeys(opts, ['mode', 'chardev', 'pretty']);
  const mode = optEnum(opts, 'mode', ['readline', 'control'] as const) ?? 'readline';
  const pretty = optBool(opts, 'pretty', false);
  const chardev = qemuOptGet(opts, 'chardev');
  if (chardev === undefined) throw new QemuOptsError("Parameter 'chardev' is missing");
  return { chardev, mode, pretty };
}
