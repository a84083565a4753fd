/**
 * The `tsqom` program's start-up and shutdown, in the role of QEMU's
 * system/vl.c: options are checked in command-line order first (errors
 * name the option, as `tsqom: -object ...: <text>`), then objects are
 * created (errors without the option, as QEMU 7.2 prints them), and a
 * failure anywhere frees everything made so far.
 *
 * As in QEMU, monitors greet their clients only once the command line
 * has been processed (devices realized, preallocation done); sockets
 * exist from the start, so a client may connect early and wait. A
 * runtime `object-add` preallocates without blocking the other monitors.
 *
 * The process lives until `quit`, SIGTERM, SIGINT or SIGHUP (or its
 * parent's exit with `-run-with exit-with-parent=on`): every monitor gets
 * `SHUTDOWN`, its pending replies and then EOF; sockets, memory, shared
 * memory names, the pid file and temporary directories are released, and
 * the exit status is 0, as QEMU's.
 * @module
 */
import { vmStart } from '../monitor/qmp-cmds-misc.js';
import 'reflect-metadata';
// Every QOM type tsqom has registers itself when its module loads.
import '../backends/index.js';
import '../chardev/index.js';
import '../hw/core/index.js';
import '../hw/virtio/index.js';
import '../hw/misc/index.js';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { dirname } from 'node:path';
import { hostOs } from '../util/machine-context.js';
import { MCL_CURRENT, MCL_FUTURE, O_CLOEXEC, O_CREAT, O_WRONLY } from '../native/constants.js';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { QomError, TsqomError } from '../util/error.js';
import {
  type ErrorReportFormat,
  type ErrorReportSink,
  errorReport,
  formattingErrorReportSink,
  setErrorReportSink,
  warnReport,
} from '../util/error-report.js';
import type { JsonObject, JsonValue } from '../qobject/qobject.js';
import {
  userCreatableCleanup,
  userCreatableTypesHelp,
  typeClassPropertiesHelp,
} from '../qom/object_interfaces.js';
import { QemuOptsError, QemuOptsList, qemuOptGet, isHelpOption } from '../util/qemu-option.js';
import { OBJECT_OPTIONS, objectAdd, parseObjectOptions } from '../monitor/qom-qmp-cmds.js';
import {
  parseQmpAddress,
  QmpServer,
  type QmpAddress,
  type QmpListener,
} from '../monitor/qmp-server.js';
import { hmpCommandOutput } from '../monitor/hmp.js';
import {
  machineHelpText,
  qdevDeviceHelpText,
  qdevDeviceListText,
} from '../monitor/machine-info-cmds.js';
import { chardevBackendsHelpText } from '../monitor/char-cmds.js';
import { monitorFdsetsCleanupAll } from '../monitor/fds.js';
import { qobjectFromJson } from '../qobject/json-parser.js';
import { optsVisit } from '../qapi/opts-visitor.js';
import {
  QEMU_CHARDEV_KEYS,
  qemuChardevOptsCheckTypes,
  Chardev,
  getChardevsRoot,
  qemuChardevNew,
  qemuChrCleanup,
  qemuChrFind,
  qemuChrAbortCreation,
  qemuChrNewFromOpts,
  qemuChrParse,
} from '../chardev/char.js';
import { objectNew } from '../qom/object.js';
import { SocketChardev } from '../chardev/char-socket.js';
import { hmpMonitorAttach, hmpMonitorsClose, monitorInitChardev } from '../monitor/monitor.js';
import { vmSettings, vmState } from '../system/runstate.js';
import {
  parseAccelOption,
  parseActionOption,
  parseAudioOption,
  parseDisplayOption,
  parseGlobalOption,
  parseMemoryOption,
  parseMonOption,
  parseMsgOption,
  parseNameOption,
  parseOvercommitOption,
  parseRunWithOption,
  parseSandboxOption,
  parseSmpOption,
  parseUuidOption,
  optBool,
  takeOptionWarnings,
} from './vl-options.js';
import { keyvalParse } from '../qapi/keyval.js';
import {
  machineCreate,
  machineReleaseMemoryBackend,
  qdevGetMachineState,
} from '../hw/core/machine.js';
import { machineClearMemoryBackend, machineSetMemoryBackend } from '../hw/core/machine-memory.js';
import {
  QtestServer,
  parseQtestChardev,
  type QtestChardevSpec,
  type QtestTarget,
} from '../monitor/qtest.js';
import { addressSpaceIo, addressSpaceMemory, memoryMapInit } from '../system/memory.js';
import { addressSpaceRead, addressSpaceWrite } from '../system/physmem.js';
import { machineIrqListen, machineIrqSet } from '../system/irq.js';
import { QomObject, objectResolvePath } from '../qom/object.js';
import { qemuDeviceOpts, qdevDeviceAdd, qdevDeviceAddFromQdict } from '../hw/core/qdev-monitor.js';
import {
  MachineInitPhase,
  phaseAdvance,
  phaseCheck,
  qdevGetPeripheral,
  qdevGetPeripheralAnon,
  qdevMachineCreationDone,
} from '../hw/core/qdev.js';
import type { QemuOpt, QemuOpts } from '../util/qemu-option.js';
import { CliError, parseArgv, usage, type CliOption } from './options.js';
import { TSQOM_VERSION } from '../util/version.js';
import { vdevShmemSettle } from '../hw/misc/vdev-shmem-host.js';
import { PreallocProgressBar } from './progress.js';
import { qmpSetExitPreconfigHandler } from '../monitor/qmp-cmds-misc.js';
import {
  qdevPropCheckGlobals,
  qdevPropClearGlobals,
  qdevPropRegisterGlobal,
} from '../hw/core/qdev-properties.js';
import { isErrno } from '../native/errors.js';

/** How long shutdown waits for shared memory regions locked by another process. */
const SHUTDOWN_SETTLE_MS = 1000;
/** How long shutdown waits for one server to close its connections. */
const SHUTDOWN_CLOSE_MS = 1000;

/** Waits for `p` (ignoring its failure), at most SHUTDOWN_CLOSE_MS. */
async function bounded(p: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    p.catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_CLOSE_MS))),
  ]);
  clearTimeout(timer);
}

/** Where the program writes; tests capture it. */
export interface VlIo {
  /** Normal output (help, version, the default configuration's report). */
  out(text: string): void;
  /** Errors and warnings. */
  err(text: string): void;
  /** Whether {@link VlIo.err} is a terminal (progress bars are drawn only there). */
  readonly errIsTty?: boolean;
}

/** The process's stdout and stderr. */
export const processIo: VlIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  get errIsTty() {
    return process.stderr.isTTY === true;
  },
};

/**
 * How the program's reports start (QEMU's vreport): the program name, and
 * what `-msg` and `-name` set while the command line is processed.
 */
const reportFormat: ErrorReportFormat = { program: 'tsqom', timestamp: false, guestName: false };

/**
 * Sends every report (the command line's and the library's) to `io.err`
 * in QEMU's layout, ending a progress bar's line first.
 */
function installReportSink(io: VlIo): () => void {
  reportFormat.timestamp = false;
  reportFormat.guestName = false;
  delete reportFormat.name;
  const prev = setErrorReportSink(
    formattingErrorReportSink((line) => {
      progressBarInterrupt();
      io.err(line);
    }, reportFormat),
  );
  return () => void setErrorReportSink(prev);
}

/** A monitor on a chardev: `-mon`, or what `-qmp`/`-monitor` turned into. */
interface MonitorPlan {
  where: string;
  chardev: string;
  mode: 'control' | 'readline';
  pretty: boolean;
}

/** A chardev `-qmp`/`-monitor` creates (QEMU's `compat_monitorN`). */
type CompatChardev =
  | { where: string; label: string; kind: 'unix-client'; path: string }
  | { where: string; label: string; kind: 'null' }
  | { where: string; label: string; kind: 'opts'; opts: QemuOpts };

/** What parsing decided to create, in order. */
interface Plan {
  objects: Array<{ where: string; args: JsonObject }>;
  qmp: Array<{ where: string; address: QmpAddress; pretty: boolean; label?: string }>;
  /** Listening human monitors (`-monitor unix:P,server=on`). */
  hmpListen: Array<{ where: string; address: QmpAddress }>;
  compatChardevs: CompatChardev[];
  monitors: MonitorPlan[];
  stdioMonitor: 'control' | 'readline' | undefined;
  accels: Array<{ where: string | undefined; name: string }>;
  machineAccel: boolean;
  memory: { where: string; size: bigint } | undefined;
  pidfile: string | undefined;
  daemonize: boolean;
  qtestLog: string | undefined;
  exitWithParent: boolean;
  nographic: boolean;
  nodefaults: boolean;
  /** False with `-S`. */
  autostart: boolean;
  serials: Array<{ where: string; arg: string }>;
  defaultMonitor: boolean;
  globals: Array<{ driver: string; property: string; value: string }>;
  /** `-overcommit mem-lock=on`. */
  memLock: boolean;
  /** `-preconfig`: stop before the board is initialized until `x-exit-preconfig`. */
  preconfig: boolean;
  /** `-vga` other than `none`: warned about once the machine is created. */
  vgaWarning: boolean;
  qtest: Array<{ where: string; spec: QtestChardevSpec }>;
  devices: Array<{ where: string; opts: QemuOpts } | { where: string; json: JsonObject }>;
  machine: JsonObject;
  chardevs: Array<{ where: string; opts: QemuOpts }>;
}

/** An error to print, optionally located at the option that caused it. */
class VlError extends TsqomError {
  constructor(
    message: string,
    readonly where: string | undefined,
    readonly hint?: string,
  ) {
    super(message, 'ERR_CLI');
  }
}

/** A `tsqom: ...: warning: ...` line, QEMU's warn_report. */
function warn(where: string | undefined, text: string): void {
  warnReport(text, where);
}

function located(where: string, e: unknown): VlError {
  if (e instanceof VlError) return e;
  if (e instanceof QemuOptsError) return new VlError(e.message, where, e.hint);
  if (e instanceof QomError) return new VlError(e.message, where, e.hint);
  return new VlError((e as Error).message, where);
}

/**
 * The default configuration `tsqom` runs with no options: a documented
 * command line. Its QMP socket goes in a fresh temporary directory.
 */
export function defaultConfiguration(socketDir: string): string[] {
  return [
    '-M',
    'none,memory-backend=ram0',
    '-object',
    'memory-backend-shm,id=ram0,size=64M',
    '-device',
    'vdev-shmem,id=shm0,loc=0x10000000,intr=5,create.0.name=tsqom-demo,create.0.size=64K',
    '-qmp',
    `unix:${join(socketDir, 'qmp.sock')},server=on,wait=off`,
  ];
}

/** A started tsqom: its QMP server and what it created. */
export class TsqomInstance {
  #stopped: Promise<void> | undefined;
  #resolveExit!: (reason: string) => void;
  /** Settles when the instance should exit (quit, a signal, or {@link stop}). */
  readonly exited: Promise<string>;
  readonly #extraClose: Array<() => void>;
  readonly #cleanupDirs: readonly string[];

  /** @internal */
  constructor(
    /** The QMP server (it may have no listeners). */
    readonly qmp: QmpServer,
    /** The listeners `-qmp` asked for. */
    readonly listeners: readonly QmpListener[],
    cleanupDirs: readonly string[],
    /** The `-qtest` servers. */
    readonly qtest: QtestServer[] = [],
    /** What else to release at exit (pid file, log files, extra sockets), in order. */
    extraClose: Array<() => void> = [],
  ) {
    this.#cleanupDirs = cleanupDirs;
    this.#extraClose = extraClose;
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  /** @internal Asks the instance to exit (the QMP `quit` path). */
  requestExit(reason: string): void {
    this.#resolveExit(reason);
  }

  /** Whether {@link start} starts the VM (false with `-S`). */
  autostart = true;

  /** @internal Runs last when the instance has stopped (the report sink goes back). */
  afterStop: (() => void) | undefined;

  /** `-preconfig`: `x-exit-preconfig` finishes start-up (and starts the VM). */
  preconfig = false;

  /** The process's exit status once {@link exited} settles (1 when `x-exit-preconfig` failed). */
  exitCode = 0;

  /**
   * The command line has been processed: starts the VM unless `-S` was
   * given (QEMU's vm_start: the run state becomes `running`), then greets
   * the monitors' clients.
   */
  start(): void {
    if (this.autostart && !this.preconfig) vmStart(this.qmp);
    this.qmp.releaseGreetings();
  }

  /** Closes the monitors and frees every object; idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#resolveExit('stop');
      qmpSetExitPreconfigHandler(null);
      // Monitors first: a listener's close waits for its connections to end,
      // and a connected client (a reader, a hostile one) must not hold
      // shutdown up.
      await bounded(this.qmp.close());
      for (const l of this.listeners) await bounded(l.close());
      for (const q of this.qtest) await bounded(q.close());
      hmpMonitorsClose();
      try {
        cleanupDevicesAndObjects();
      } finally {
        for (const c of this.#extraClose) {
          try {
            c();
          } catch {
            // Already released.
          }
        }
        // A detach that found a region locked by another process is retried
        // for a while; a holder that never lets go sweeps our slot later.
        await vdevShmemSettle(SHUTDOWN_SETTLE_MS);
        for (const d of this.#cleanupDirs) rmSync(d, { recursive: true, force: true });
        this.afterStop?.();
      }
    })();
    return this.#stopped;
  }
}

/**
 * The JSON form of an option (`-object '{...}'`, `-device '{...}'`), read as
 * QEMU's qobject_from_json reads it: exactly one value, so trailing text
 * other than white space is `Expecting at most one JSON value`.
 */
function parseJsonOption(arg: string, where: string): JsonObject {
  let value: JsonValue;
  try {
    value = qobjectFromJson(arg);
  } catch (e) {
    throw located(where, e);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new VlError("Invalid parameter type for 'null', expected: object", where);
  }
  return value;
}

/**
 * `-device help` and `-device TYPE,help` (QEMU's qdev_device_help): prints
 * the text and returns true; an unknown type is reported and still exits 0,
 * as QEMU does.
 */
function deviceHelp(opts: QemuOpts, io: VlIo, where: string): boolean {
  const driver = qemuOptGet(opts, 'driver');
  if (driver !== undefined && isHelpOption(driver)) {
    qemuDeviceOpts.del(opts.id ?? '');
    io.out(qdevDeviceListText());
    return true;
  }
  if (!opts.helpWanted || driver === undefined) return false;
  try {
    io.out(qdevDeviceHelpText(driver));
  } catch (e) {
    reportError(io, located(where, e));
  }
  return true;
}

/** Reads `-object` as QEMU 7.2's `object_option_parse` does. */
function parseObjectOption(
  list: QemuOptsList,
  arg: string,
  io: VlIo,
  where: string,
): JsonObject | 'help-done' {
  if (arg.startsWith('{')) {
    const json = parseJsonOption(arg, where);
    // QEMU visits ObjectOptions while it reads the option, so a bad member
    // is reported with the option's location; creation comes later.
    parseObjectOptions(json);
    return json;
  }
  const opts = list.parse(arg);
  for (const w of opts.warnings) warn(where, w);
  const type = qemuOptGet(opts, 'qom-type');
  if (type === undefined) throw new VlError("Parameter 'qom-type' is missing", where);
  if (isHelpOption(type)) {
    io.out(userCreatableTypesHelp());
    return 'help-done';
  }
  if (opts.helpWanted) {
    const text = typeClassPropertiesHelp(type);
    if (text === null) throw new VlError(`invalid object type: ${type}`, where);
    io.out(text);
    return 'help-done';
  }
  return optsVisit(OBJECT_OPTIONS, opts);
}

function buildPlan(options: CliOption[], io: VlIo): Plan | 'exit' {
  const plan: Plan = {
    objects: [],
    qmp: [],
    qtest: [],
    devices: [],
    machine: {},
    chardevs: [],
    hmpListen: [],
    compatChardevs: [],
    monitors: [],
    stdioMonitor: undefined,
    accels: [],
    machineAccel: false,
    memory: undefined,
    pidfile: undefined,
    daemonize: false,
    qtestLog: undefined,
    exitWithParent: false,
    nographic: false,
    nodefaults: false,
    autostart: true,
    serials: [],
    defaultMonitor: true,
    globals: [],
    memLock: false,
    preconfig: false,
    vgaWarning: false,
  };
  let compatIndex = 0;
  const objectList = new QemuOptsList('object', 'qom-type');
  for (const o of options) {
    const where = `-${o.spelling}${o.arg === undefined ? '' : ` ${o.arg}`}`;
    try {
      switch (o.name) {
        case 'version':
          io.out(`tsqom version ${TSQOM_VERSION} (QEMU 7.2 compatible)\n`);
          return 'exit';
        case 'help':
          io.out(usage('tsqom'));
          return 'exit';
        case 'object': {
          const r = parseObjectOption(objectList, o.arg!, io, where);
          if (r === 'help-done') return 'exit';
          plan.objects.push({ where, args: r });
          break;
        }
        case 'qmp':
        case 'qmp-pretty':
        case 'monitor': {
          plan.defaultMonitor = false;
          if (o.name === 'monitor' && o.arg!.startsWith('none')) break;
          const mode = o.name === 'monitor' ? 'readline' : 'control';
          monitorParse(plan, o.arg!, mode, o.name === 'qmp-pretty', where, compatIndex++);
          break;
        }
        case 'mon': {
          plan.defaultMonitor = false;
          plan.monitors.push({ where, ...parseMonOption(o.arg!) });
          break;
        }
        case 'machine': {
          // QEMU 7.2 reads -machine with keyval and merges repeated options.
          const r = keyvalParse(o.arg!, 'type');
          if (r.help && r.dict.type !== undefined && !isHelpOption(String(r.dict.type))) {
            if (r.dict.type !== 'none') throw new VlError('unsupported machine type', undefined);
            io.out(machineHelpText());
            return 'exit';
          }
          if (r.help) {
            io.out('Supported machines are:\nnone                 empty machine\n');
            return 'exit';
          }
          Object.assign(plan.machine, r.dict);
          break;
        }
        case 'display':
          parseDisplayOption(o.arg!);
          break;
        case 'nodefaults':
          plan.nodefaults = true;
          break;
        case 'S':
          plan.autostart = false;
          break;
        case 'no-user-config':
          break;
        case 'preconfig':
          plan.preconfig = true;
          break;
        case 'm': {
          plan.memory = { where, size: parseMemoryOption(o.arg!).size };
          break;
        }
        case 'name': {
          const r = parseNameOption(o.arg!);
          if (r.name !== undefined) vmState.name = reportFormat.name = r.name;
          if (r.process !== undefined) process.title = r.process;
          break;
        }
        case 'uuid':
          vmState.setUuid(parseUuidOption(o.arg!));
          break;
        case 'accel':
          plan.accels.push({ where, name: parseAccelOption(o.arg!) });
          break;
        case 'smp': {
          let w: string | undefined;
          try {
            w = parseSmpOption(o.arg!);
          } catch (e) {
            // QEMU reports -smp errors when it applies them, without the option.
            throw new VlError((e as Error).message, undefined);
          }
          if (w) warn(undefined, w);
          break;
        }
        case 'no-shutdown':
          vmState.actions.shutdown = 'pause';
          break;
        case 'no-reboot':
          vmState.actions.reboot = 'shutdown';
          break;
        case 'action':
          Object.assign(vmState.actions, parseActionOption(o.arg!));
          break;
        case 'global':
          plan.globals.push(parseGlobalOption(o.arg!));
          break;
        case 'msg': {
          const m = parseMsgOption(o.arg!);
          vmSettings.msgTimestamp = reportFormat.timestamp = m.timestamp;
          vmSettings.msgGuestName = reportFormat.guestName = m.guestName;
          break;
        }
        case 'overcommit':
          // cpu-pm only hints KVM guests; with no CPU it changes nothing.
          plan.memLock = parseOvercommitOption(o.arg!).memLock;
          break;
        case 'sandbox':
          parseSandboxOption(o.arg!);
          break;
        case 'serial':
          plan.serials.push({ where, arg: o.arg! });
          break;
        case 'nographic':
          plan.nographic = true;
          break;
        case 'vga':
          plan.vgaWarning = o.arg !== 'none';
          break;
        case 'pidfile':
          plan.pidfile = o.arg!;
          break;
        case 'daemonize':
          plan.daemonize = true;
          break;
        case 'qtest-log':
          plan.qtestLog = o.arg!;
          break;
        case 'audio':
          parseAudioOption(o.arg!);
          break;
        case 'run-with':
          plan.exitWithParent = parseRunWithOption(o.arg!).exitWithParent;
          break;
        case 'qtest': {
          let spec: QtestChardevSpec;
          try {
            spec = parseQtestChardev(o.arg!);
          } catch {
            throw new VlError(`'${o.arg}' is not a valid char driver`, where);
          }
          plan.qtest.push({ where, spec });
          break;
        }
        case 'device': {
          if (o.arg!.startsWith('{')) {
            plan.devices.push({ where, json: parseJsonOption(o.arg!, where) });
          } else {
            const opts = qemuDeviceOpts.parse(o.arg!);
            for (const w of opts.warnings) warn(where, w);
            const help = deviceHelp(opts, io, where);
            if (help) return 'exit';
            plan.devices.push({ where, opts });
          }
          break;
        }
        case 'chardev': {
          if (isHelpOption(o.arg!)) {
            io.out(chardevBackendsHelpText());
            return 'exit';
          }
          const opts = qemuChrParse(o.arg!);
          for (const w of opts.warnings) warn(where, w);
          plan.chardevs.push({ where, opts });
          break;
        }
      }
    } catch (e) {
      for (const w of takeOptionWarnings()) warn(where, w);
      throw located(where, e);
    }
    for (const w of takeOptionWarnings()) warn(where, w);
  }
  const accel = plan.machine.accel;
  if (accel !== undefined) {
    delete plan.machine.accel;
    if (plan.accels.length > 0) {
      throw new VlError('The -accel and "-machine accel=" options are incompatible', undefined);
    }
    plan.machineAccel = true;
    for (const name of String(accel).split(':')) plan.accels.push({ where: undefined, name });
  }
  // QEMU 7.2's defaults: with neither -nodefaults nor an explicit monitor,
  // -nographic puts a human monitor (muxed with the serial port) on stdio.
  if (plan.nographic && !plan.nodefaults && plan.defaultMonitor && plan.serials.length === 0) {
    if (plan.daemonize) throw new VlError('-nographic cannot be used with -daemonize', undefined);
    plan.stdioMonitor = 'readline';
  }
  for (const s of plan.serials) {
    if (s.arg === 'mon:stdio') {
      if (plan.daemonize) throw new VlError('cannot use stdio with -daemonize', undefined);
      plan.stdioMonitor = 'readline';
    } else if (
      s.arg !== 'none' &&
      s.arg !== 'null' &&
      s.arg !== 'stdio' &&
      !s.arg.startsWith('chardev:')
    ) {
      throw new VlError(
        `'${s.arg}' is not a valid char driver`,
        s.where,
        `tsqom: ${s.where}: could not connect serial device to character backend '${s.arg}'\n`,
      );
    }
  }
  return plan;
}

/** Splits `unix:PATH,opts` at the first comma that is not doubled. */
function splitCompat(spec: string): [string, string] {
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] !== ',') continue;
    if (spec[i + 1] === ',') {
      i++;
      continue;
    }
    return [spec.slice(0, i).replace(/,,/g, ','), spec.slice(i + 1)];
  }
  return [spec.replace(/,,/g, ','), ''];
}

/**
 * QEMU's monitor_parse with qemu_chr_parse_compat: `chardev:ID`, `null`,
 * `stdio`, `unix:PATH[,opts]` or `tcp:HOST:PORT[,opts]`; with
 * `server=on` the monitor listens, without it it connects out.
 */
function monitorParse(
  plan: Plan,
  arg: string,
  mode: 'control' | 'readline',
  pretty: boolean,
  where: string,
  index: number,
): void {
  const label = `compat_monitor${index}`;
  if (arg.startsWith('chardev:')) {
    plan.monitors.push({ where, chardev: arg.slice(8), mode, pretty });
    return;
  }
  if (arg === 'stdio') {
    plan.stdioMonitor = mode;
    return;
  }
  if (arg === 'null') {
    plan.compatChardevs.push({ where, label, kind: 'null' });
    plan.monitors.push({ where, chardev: label, mode, pretty });
    return;
  }
  if (arg.startsWith('tcp:')) {
    plan.compatChardevs.push({
      where,
      label,
      kind: 'opts',
      opts: parseCompatTcp(arg, label, where),
    });
    plan.monitors.push({ where, chardev: label, mode, pretty });
    return;
  }
  const [head, rest] = splitCompat(arg);
  if (!head.startsWith('unix:')) {
    throw new VlError(`'${arg}' is not a valid char driver`, where);
  }
  const opts = new QemuOptsList('chardev').parse(rest, false);
  const parseError = `tsqom: ${where}: parse error: ${arg}\n`;
  for (const k of opts.opts) {
    if (!QEMU_CHARDEV_KEYS.includes(k.name)) {
      throw new VlError(`Invalid parameter '${k.name}'`, where, parseError);
    }
  }
  let server: boolean;
  let wait: boolean;
  try {
    server = optBool(opts, 'server', false);
    wait = optBool(opts, 'wait', true);
  } catch (e) {
    throw new VlError((e as Error).message, where, parseError);
  }
  let address: QmpAddress;
  try {
    address = parseQmpAddress(head);
  } catch {
    throw new VlError(`'${arg}' is not a valid char driver`, where);
  }
  if (server) {
    if (wait) {
      // QEMU would block start-up until a client connects; tsqom's monitors
      // never hold up the machine, so the socket simply listens.
    }
    if (mode === 'control') plan.qmp.push({ where, address, pretty, label });
    else plan.hmpListen.push({ where, address });
    return;
  }
  if (address.type === 'tcp') throw new VlError(`'${arg}' is not a valid char driver`, where);
  plan.compatChardevs.push({ where, label, kind: 'unix-client', path: address.path });
  plan.monitors.push({ where, chardev: label, mode, pretty });
}

/**
 * QEMU's qemu_chr_parse_compat for `tcp:HOST:PORT[,opts]`: the chardev
 * options of a TCP socket chardev labelled `label` (host up to 64 bytes
 * before the first colon, port up to 32 before the first comma, as its
 * sscanf reads them). The chardev is then created as `-chardev` would.
 */
function parseCompatTcp(arg: string, label: string, where: string): QemuOpts {
  const p = arg.slice(4);
  const m = /^([^:]{1,64}):([^,]{1,32})/.exec(p) ?? /^:([^,]{1,32})/.exec(p);
  if (m === null) throw new VlError(`parse error: ${arg}`, where);
  const [host, port] = m.length === 3 ? [m[1], m[2]] : ['', m[1]];
  const opts: QemuOpt[] = [
    { name: 'backend', str: 'socket' },
    { name: 'host', str: host },
    { name: 'port', str: port },
  ];
  const rest = p.slice(m[0].length);
  if (rest.startsWith(',')) {
    const parseError = `tsqom: ${where}: parse error: ${arg}\n`;
    try {
      const more = new QemuOptsList('chardev').parse(rest.slice(1), false);
      for (const k of more.opts) {
        if (!QEMU_CHARDEV_KEYS.includes(k.name))
          throw new QomError(`Invalid parameter '${k.name}'`);
      }
      qemuChardevOptsCheckTypes(more);
      opts.push(...more.opts);
    } catch (e) {
      throw new VlError((e as Error).message, where, parseError);
    }
  }
  return { id: label, opts, helpWanted: false, warnings: [] };
}

/**
 * Runs `fn` with reports located at a command-line option, as QEMU's
 * loc_push while it processes an option (`-chardev ...: info: QEMU
 * waiting for connection on: ...`). Reports made later (a reconnecting
 * chardev's) are not located.
 */
async function atOption<T>(where: string, fn: () => Promise<T>): Promise<T> {
  let inside = true;
  const prev: ErrorReportSink = setErrorReportSink((m, l, loc) =>
    prev(m, l, loc ?? (inside ? where : undefined)),
  );
  try {
    return await fn();
  } finally {
    inside = false;
    setErrorReportSink(prev);
  }
}

/** QEMU's strerror text for a failed bind or connect from Node.js. */
function socketErrorText(e: unknown, path: string | undefined): string {
  if (path !== undefined && !existsSync(dirname(path))) return 'No such file or directory';
  const errno = (e as NodeJS.ErrnoException).errno;
  if (typeof errno === 'number' && errno !== 0) {
    return hostOs().strerror(Math.abs(errno));
  }
  return (e as Error).message;
}

/** A human monitor on the process's stdin and stdout. */
function stdioDuplex(): Duplex {
  const d = new Duplex({
    read() {
      process.stdin.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      process.stdout.write(chunk, () => cb());
    },
    final(cb) {
      cb();
    },
  });
  process.stdin.on('data', (c: Buffer) => d.push(c));
  process.stdin.on('end', () => d.push(null));
  return d;
}

/**
 * QEMU's qemu_write_pidfile: creates (or reuses) the file, locks it so a
 * second instance cannot claim it, and writes the pid. Returns the open
 * descriptor, which keeps the lock until exit.
 */
function writePidfile(path: string): number {
  const os = hostOs();
  let fd: number;
  try {
    fd = os.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600);
  } catch (e) {
    throw new VlError(
      `cannot create PID file: Cannot open pid file: ${socketErrorText(e, undefined)}`,
      undefined,
    );
  }
  const LOCK_EX = 2;
  const LOCK_NB = 4;
  if (!os.flock(fd, LOCK_EX | LOCK_NB)) {
    os.close(fd);
    throw new VlError(
      'cannot create PID file: Cannot lock pid file: Resource temporarily unavailable',
      undefined,
    );
  }
  os.ftruncate(fd, 0);
  os.write(fd, Buffer.from(`${process.pid}\n`));
  return fd;
}

/** What the accelerator step decided: the accelerator, or a failure already reported. */
function configureAccelerators(plan: Plan, io: VlIo): string {
  const qtest = plan.qtest.length > 0;
  const list =
    plan.accels.length > 0 ? plan.accels : [{ where: undefined, name: qtest ? 'qtest' : 'tcg' }];
  let initFailed = false;
  for (const a of list) {
    if (a.name === 'tcg' || a.name === 'qtest') {
      if (initFailed && !qtest) errorReport(`falling back to ${a.name}`);
      return a.name;
    }
    initFailed = true;
    if (a.name !== 'kvm') {
      errorReport(`invalid accelerator ${a.name}`, a.where);
      continue;
    }
    // tsqom has no KVM: what QEMU prints on a host without /dev/kvm.
    io.err('Could not access KVM kernel module: No such file or directory\n');
    if (!qtest) {
      errorReport('failed to initialize kvm: No such file or directory', a.where);
    }
  }
  if (!initFailed) errorReport('no accelerator found');
  throw new VlError('', undefined);
}

/** Advances the machine creation phase to `phase` unless it is there already. */
function phaseReach(phase: MachineInitPhase): void {
  if (!phaseCheck(phase)) phaseAdvance(phase);
}

/**
 * QEMU's realtime_init for `-overcommit mem-lock=on`: locks the process's
 * memory, present and future (os_mlock), or fails start-up as QEMU does.
 */
function realtimeInit(): void {
  try {
    hostOs().mlockall(MCL_CURRENT | MCL_FUTURE);
  } catch (e) {
    errorReport(`mlockall: ${isErrno(e) ? e.strerror : (e as Error).message}`);
    throw new VlError('locking memory failed', undefined);
  }
}

/** The bar drawn while command-line backends preallocate, if any. */
let progressBar: PreallocProgressBar | null = null;

/** Ends a progress bar's line, so that a report starts on a fresh one. */
function progressBarInterrupt(): void {
  progressBar?.interrupt();
}

/**
 * Runs `fn` (which creates backends) with a progress bar on stderr when
 * stderr is a terminal. `TSQOM_PROGRESS_DELAY_MS` changes how long a
 * preallocation runs before the bar appears.
 */
async function withProgressBar(io: VlIo, fn: () => Promise<void>): Promise<void> {
  if (!io.errIsTty) return fn();
  const env = process.env.TSQOM_PROGRESS_DELAY_MS;
  const delay = env !== undefined && /^\d+$/.test(env) ? Number(env) : undefined;
  const bar = new PreallocProgressBar({
    write: (t) => io.err(t),
    ...(delay === undefined ? {} : { delayMs: delay }),
  }).attach();
  progressBar = bar;
  try {
    await fn();
  } finally {
    bar.detach();
    if (progressBar === bar) progressBar = null;
  }
}

/** Run-time choices {@link qemuInit} hands to the program. */
export interface QemuInitOptions {
  /** Directories to remove when the instance stops. */
  cleanupDirs?: readonly string[];
  /**
   * Called after the command line has been checked and before anything is
   * created; returning false stops start-up quietly (a signal arrived).
   */
  proceed?: () => boolean;
}

/** What {@link qemuInit} made. */
export interface QemuInitResult {
  /** The running instance, or null when nothing was started. */
  instance: TsqomInstance | null;
  /** The exit status when nothing was started (0 after help or the version, 1 after an error). */
  exitCode: number;
  /** `-run-with exit-with-parent=on`: stop when the parent process goes away. */
  exitWithParent?: boolean;
}

/**
 * Starts tsqom with QEMU-style arguments. Resolves to a running instance,
 * or to `null` when the arguments asked only for help or the version (or
 * when they were wrong: then the error has been printed and `exitCode` is 1).
 */
export async function qemuInit(
  argv: readonly string[],
  io: VlIo = processIo,
  extraCleanupDirs: readonly string[] | QemuInitOptions = [],
): Promise<QemuInitResult> {
  const options: QemuInitOptions = Array.isArray(extraCleanupDirs)
    ? { cleanupDirs: extraCleanupDirs as readonly string[] }
    : (extraCleanupDirs as QemuInitOptions);
  const cleanupDirs = options.cleanupDirs ?? [];
  // Until the instance has stopped; then the embedder's sink is back.
  const restoreReports = installReportSink(io);
  let plan: Plan | 'exit';
  try {
    plan = buildPlan(parseArgv(argv), io);
    if (plan !== 'exit') vmSettings.accel = configureAccelerators(plan, io);
  } catch (e) {
    reportError(io, e);
    for (const d of cleanupDirs) rmSync(d, { recursive: true, force: true });
    restoreReports();
    return { instance: null, exitCode: 1 };
  }
  if (plan === 'exit') {
    restoreReports();
    return { instance: null, exitCode: 0 };
  }

  let instance: TsqomInstance | undefined;
  const qmp = new QmpServer({ onShutdown: (reason) => instance?.requestExit(reason) });
  // QEMU greets once the command line has been processed.
  qmp.holdGreetings();
  const listeners: QmpListener[] = [];
  const extraClose: Array<() => void> = [];
  let pidfd: number | undefined;
  try {
    if (plan.pidfile !== undefined) {
      pidfd = writePidfile(plan.pidfile);
      const path = plan.pidfile;
      const fd = pidfd;
      extraClose.push(() => {
        rmSync(path, { force: true });
        closeSync(fd);
      });
    }
    if (options.proceed && !options.proceed()) throw new VlError('', undefined);
    const qmpListeners = new Map<(typeof plan.qmp)[number], QmpListener>();
    for (const q of plan.qmp) {
      try {
        const l = await qmp.listen(q.address, q.pretty);
        listeners.push(l);
        qmpListeners.set(q, l);
      } catch (e) {
        const path =
          q.address.type === 'unix' ? q.address.path : `${q.address.host}:${q.address.port}`;
        throw new VlError(
          `Failed to bind socket to ${path}: ${socketErrorText(e, q.address.type === 'unix' ? q.address.path : undefined)}`,
          q.where,
        );
      }
    }
    // QEMU's chardev for a listening -qmp: /chardevs/compat_monitorN, a
    // chardev-socket with its address (the QMP server does the accepting).
    for (const q of plan.qmp) {
      if (q.label === undefined || q.address.type !== 'unix') continue;
      const chr = objectNew(SocketChardev);
      chr.label = q.label;
      chr.addr = { type: 'unix', path: q.address.path };
      chr.isListen = true;
      chr.filename = `disconnected:unix:${q.address.path},server=on`;
      chr.frontend = qmp;
      const l = qmpListeners.get(q);
      if (l) l.onClient = (c) => chr.setServedConnection(c);
      getChardevsRoot().propertyAddChild(q.label, chr);
      chr.unref();
    }
    for (const h of plan.hmpListen) {
      const server = net.createServer((sock) => hmpMonitorAttach(sock));
      const a = h.address;
      if (a.type === 'unix') rmSync(a.path, { force: true });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          if (a.type === 'unix') server.listen(a.path, resolve);
          else server.listen(a.port, a.host, resolve);
        });
      } catch (e) {
        const path = a.type === 'unix' ? a.path : `${a.host}:${a.port}`;
        throw new VlError(
          `Failed to bind socket to ${path}: ${socketErrorText(e, a.type === 'unix' ? a.path : undefined)}`,
          h.where,
        );
      }
      extraClose.push(() => {
        server.close();
        if (a.type === 'unix') rmSync(a.path, { force: true });
      });
    }
    // QEMU's qemu_create_machine + qemu_apply_machine_options: before any
    // listener or object, so `/machine` is the machine, not a bare container.
    const { type = 'none', 'memory-backend': memdev, ...machineProps } = plan.machine;
    if (type !== 'none') {
      throw new VlError(
        'unsupported machine type',
        undefined,
        'Use -machine help to list supported machines\n',
      );
    }
    const machine = machineCreate();
    memoryMapInit(); // system memory and I/O exist from machine creation, as in QEMU
    for (const [k, v] of Object.entries(machineProps)) machine.propertyParse(k, String(v));
    phaseReach(MachineInitPhase.MachineCreated);
    instance = new TsqomInstance(qmp, listeners, cleanupDirs, [], extraClose);
    instance.afterStop = restoreReports;
    instance.autostart = plan.autostart;
    // -global: devices created from now on get the values.
    qdevPropClearGlobals();
    for (const g of plan.globals) qdevPropRegisterGlobal(g);
    phaseReach(MachineInitPhase.AccelCreated);
    // QEMU 7.2 logs the qtest protocol to stderr unless -qtest-log names a
    // file, or `none`.
    let qtestLog: ((text: string) => void) | undefined = (text) => io.err(text);
    if (plan.qtestLog === 'none') {
      qtestLog = undefined;
    } else if (plan.qtestLog !== undefined && plan.qtest.length > 0) {
      qtestLog = undefined;
      try {
        const fd = openSync(plan.qtestLog, 'w+');
        extraClose.push(() => closeSync(fd));
        qtestLog = (text) => void writeSync(fd, text);
      } catch {
        // QEMU carries on without the log when the file cannot be opened.
      }
    }
    for (const q of plan.qtest) {
      const server = qtestServer(qtestLog);
      instance.qtest.push(server);
      try {
        await server.listen(q.spec);
      } catch (e) {
        const path = q.spec.kind === 'unix' ? q.spec.path : `${q.spec.host}:${q.spec.port}`;
        if (!q.spec.server) {
          throw new VlError(
            `Failed to connect to '${path}': ${socketErrorText(e, undefined)}`,
            q.where,
          );
        }
        throw new VlError(
          `Failed to bind socket to ${path}: ${socketErrorText(e, q.spec.kind === 'unix' ? q.spec.path : undefined)}`,
          q.where,
        );
      }
    }
    // QEMU creates chardevs first (backends and devices refer to them); the
    // ones -qmp and -monitor imply are among them.
    for (const c of plan.compatChardevs) {
      try {
        await atOption(c.where, async () => {
          if (c.kind === 'null') await qemuChardevNew(c.label, 'chardev-null', {});
          else if (c.kind === 'opts') await qemuChrNewFromOpts(c.opts);
          else await qemuChardevNew(c.label, 'chardev-socket', { path: c.path, server: false });
        });
      } catch (e) {
        throw located(c.where, e);
      }
    }
    for (const c of plan.chardevs) {
      try {
        await atOption(c.where, () => qemuChrNewFromOpts(c.opts));
      } catch (e) {
        throw located(c.where, e);
      }
    }
    for (const [i, s] of plan.serials.entries()) {
      if (s.arg === 'null') await qemuChardevNew(`serial${i}`, 'chardev-null', {});
    }
    await withProgressBar(io, async () => {
      for (const o of plan.objects) await objectAdd(o.args);
    });
    // Monitors (QEMU's mon_init_func, among the late backends).
    for (const m of plan.monitors) {
      const chr = qemuChrFind(m.chardev);
      if (!chr) throw new VlError(`chardev "${m.chardev}" not found`, m.where);
      try {
        monitorInitChardev(chr, m.mode, m.pretty, qmp);
      } catch (e) {
        throw located(m.where, e);
      }
    }
    if (plan.stdioMonitor !== undefined) {
      const d = stdioDuplex();
      if (plan.stdioMonitor === 'control') qmp.attach(d);
      else hmpMonitorAttach(d);
    }
    // QEMU's qmp_x_exit_preconfig: the board, the devices, the end of
    // machine creation. With -preconfig, QMP runs it on request.
    const inst = instance;
    const finishMachine = async (): Promise<void> => {
      await withProgressBar(io, async () => {
        // -m: QEMU 7.2 gives the none machine its RAM as the backend "ram".
        if (plan.memory !== undefined && plan.memory.size > 0n && memdev === undefined) {
          await objectAdd({
            'qom-type': 'memory-backend-ram',
            id: 'ram',
            size: Number(plan.memory.size),
          });
          machineSetMemoryBackend('ram');
          machine.propertySet('memory-backend', 'ram');
        }
        // qemu_resolve_machine_memdev: the guest RAM backend exists by now.
        if (memdev !== undefined) {
          machineSetMemoryBackend(String(memdev));
          machine.propertySet('memory-backend', String(memdev));
        }
        const ms = qdevGetMachineState();
        if (ms) ms.ramSize = ms.memoryBackend ? ms.memoryBackend.size : (plan.memory?.size ?? 0n);
      });
      phaseReach(MachineInitPhase.MachineInitialized);
      if (plan.memLock) realtimeInit();
      // QEMU creates -device after the backends, and reports its errors at the option.
      for (const d of plan.devices) {
        try {
          if ('json' in d) await qdevDeviceAddFromQdict(d.json, true);
          else await qdevDeviceAdd(d.opts);
        } catch (e) {
          throw located(d.where, e);
        }
      }
      // qemu_machine_creation_done.
      qdevPropCheckGlobals();
      qdevMachineCreationDone();
      if (plan.vgaWarning) {
        warn(
          undefined,
          'A -vga option was passed but this machine type does not use that option; No VGA device has been created',
        );
      }
    };
    if (plan.preconfig) {
      inst.preconfig = true;
      qmpSetExitPreconfigHandler(async (host) => {
        try {
          await finishMachine();
        } catch (e) {
          // QEMU exits at once, without a reply or an event.
          reportError(io, e);
          inst.exitCode = 1;
          inst.requestExit('failed');
          return new Promise<never>(() => undefined);
        }
        if (inst.autostart) vmStart(host);
      });
    } else {
      await finishMachine();
    }
    if (options.proceed && !options.proceed()) throw new VlError('', undefined);
    return { instance, exitCode: 0, exitWithParent: plan.exitWithParent };
  } catch (e) {
    // A signal that stopped start-up (a server waiting for its client) is no error.
    if (!options.proceed || options.proceed()) reportError(io, e);
    if (instance) await instance.stop();
    else {
      for (const l of listeners) await l.close().catch(() => {});
      await qmp.close().catch(() => {});
      cleanupDevicesAndObjects();
      for (const c of extraClose) c();
      for (const d of cleanupDirs) rmSync(d, { recursive: true, force: true });
    }
    restoreReports();
    return { instance: null, exitCode: 1 };
  }
}

/**
 * A qtest server acting on the system address space and I/O ports.
 * `irq_intercept_in PATH` accepts any QOM path (the `none` machine has no
 * interrupt controller) and then reports every machine interrupt line.
 */
function qtestServer(log?: (text: string) => void): QtestServer {
  let unlisten: (() => void) | undefined;
  const target: QtestTarget = {
    read: (addr, len) => addressSpaceRead(addressSpaceMemory(), addr, len).data,
    write: (addr, data) => {
      addressSpaceWrite(addressSpaceMemory(), addr, data);
    },
    pioRead: (port, size) => {
      const d = addressSpaceRead(addressSpaceIo(), port, size).data;
      return d.reduce((acc, b, i) => acc | (b << (8 * i)), 0) >>> 0;
    },
    pioWrite: (port, size, value) => {
      const d = new Uint8Array(size);
      for (let i = 0; i < size; i++) d[i] = (value >>> (8 * i)) & 0xff;
      addressSpaceWrite(addressSpaceIo(), port, d);
    },
    resolveDevice: (path) => objectResolvePath(path).obj ?? undefined,
    interceptIrq: () => {
      unlisten ??= machineIrqListen((line, level) => server.setIrq(line, level));
    },
    // The machine's interrupt lines are the only GPIO inputs tsqom has: they
    // are the unnamed inputs of `/machine`, the object `irq_intercept_in`
    // watches. QEMU 7.2 aborts (or reads stray memory) for an object that is
    // not a device or an input it lacks; tsqom answers FAIL.
    setIrqIn: (dev, name, n, level) => {
      if (dev !== qdevGetMachineState() || name !== undefined || n < 0) {
        const o = dev instanceof QomObject ? dev : null;
        throw new Error(
          `no GPIO input ${name ?? 'unnamed-gpio-in'}[${n}] on ${o?.canonicalPath() ?? 'this object'}`,
        );
      }
      machineIrqSet(n, level);
    },
  };
  const server = new QtestServer(target, log === undefined ? {} : { log });
  server.on('closed', () => {
    unlisten?.();
    unlisten = undefined;
  });
  return server;
}

/** Unplugs every device (they use the backends), then deletes every object. */
function cleanupDevicesAndObjects(): void {
  for (const container of [qdevGetPeripheral(), qdevGetPeripheralAnon()]) {
    for (const dev of [...container.children()]) dev.unparent();
  }
  machineClearMemoryBackend();
  machineReleaseMemoryBackend();
  userCreatableCleanup();
  // The devices are gone; what still claims a chardev is a monitor, and
  // the monitors are closed by now.
  getChardevsRoot().childForeach((c) => {
    const chr = c.dynamicCast(Chardev);
    if (chr) chr.frontend = null;
  });
  qemuChrCleanup();
  monitorFdsetsCleanupAll();
}

function reportError(io: VlIo, e: unknown): void {
  let message: string;
  let where: string | undefined;
  let hint: string | undefined;
  if (e instanceof VlError) ({ message, where, hint } = e);
  else if (e instanceof CliError) ({ message, hint } = e);
  else if (e instanceof QomError) ({ message, hint } = e);
  else message = (e as Error).message;
  if (message === '' && !hint) return; // reported already
  errorReport(message, where);
  // QEMU's error_printf: hints are plain lines, without the report's prefixes.
  if (hint) io.err(hint);
}

/** The environment variable that marks the detached child of `-daemonize`. */
const DAEMON_CHILD_ENV = 'TSQOM_DAEMONIZED_CHILD';

/**
 * QEMU's os_daemonize, without fork (Node.js cannot fork): the program
 * starts itself again, detached in a new session, relays the child's
 * messages until the child reports that start-up is complete on a pipe,
 * then exits 0 (or with the child's status if start-up failed).
 */
async function daemonizeParent(argv: readonly string[], io: VlIo): Promise<number> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
  });
  return new Promise((resolve) => {
    let ready = false;
    child.stderr!.setEncoding('utf8').on('data', (d: string) => io.err(d));
    const status = child.stdio[3] as NodeJS.ReadableStream;
    status.on('data', () => {
      ready = true;
      child.stderr!.destroy();
      (status as unknown as Duplex).destroy();
      child.unref();
      resolve(0);
    });
    child.on('exit', (code) => {
      if (!ready) resolve(code ?? 1);
    });
  });
}

/** Signals that end tsqom as they end QEMU. */
const EXIT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * The whole program: parse, start, report the default configuration when
 * run without options, and exit cleanly on `quit`, SIGINT, SIGTERM or
 * SIGHUP, as QEMU does (SHUTDOWN with reason `host-signal`, exit 0).
 */
export async function tsqomMain(argv: readonly string[], io: VlIo = processIo): Promise<number> {
  const isDefault = argv.length === 0;
  const daemonChild = process.env[DAEMON_CHILD_ENV] === '1';
  if (!daemonChild && argv.includes('-daemonize')) return daemonizeParent(argv, io);
  if (daemonChild) {
    delete process.env[DAEMON_CHILD_ENV];
    // Once the parent has gone, nobody reads our stderr.
    process.stderr.on('error', () => undefined);
  }
  const dirs: string[] = [];
  let args = argv;
  if (isDefault) {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-'));
    dirs.push(dir);
    args = defaultConfiguration(dir);
  }

  // Signals count from the start: one that arrives while the command line
  // is processed (a long preallocation) stops tsqom once that step is done.
  let instance: TsqomInstance | null = null;
  let pendingSignal: NodeJS.Signals | undefined;
  let qtestDriver = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (pendingSignal !== undefined) return;
    pendingSignal = sig;
    if (!qtestDriver) errorReport(`terminated by signal ${osConstants.signals[sig]}`);
    if (instance) instance.qmp.requestShutdown('host-signal');
    else qemuChrAbortCreation();
  };
  for (const sig of EXIT_SIGNALS) process.on(sig, onSignal);
  // Nothing else need keep the process alive: it runs until asked to stop.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let parentWatch: NodeJS.Timeout | undefined;
  try {
    qtestDriver = args.includes('-qtest');
    const r = await qemuInit(args, io, {
      cleanupDirs: dirs,
      proceed: () => pendingSignal === undefined,
    });
    if (!r.instance) return pendingSignal !== undefined ? 0 : r.exitCode;
    instance = r.instance;
    if (r.exitWithParent) {
      const parent = process.ppid;
      parentWatch = setInterval(() => {
        if (process.ppid !== parent) onSignal('SIGTERM');
      }, 200);
    }

    if (isDefault) {
      io.out(`tsqom ${TSQOM_VERSION}: default configuration\n  tsqom ${args.join(' ')}\n\n`);
      io.out((await hmpCommandOutput('info qom-tree /')).replace(/\r\n/g, '\n'));
      io.out('\n');
      io.out((await hmpCommandOutput('info mtree')).replace(/\r\n/g, '\n'));
      const sock = instance.listeners[0]?.address;
      if (sock?.type === 'unix')
        io.out(`\nQMP: ${sock.path}\nStop with Ctrl-C, SIGTERM or the QMP command quit.\n`);
    }
    instance.start();
    if (daemonChild) {
      // os_setup_post: tell the waiting parent that start-up is complete.
      try {
        writeSync(3, 'R');
        closeSync(3);
      } catch {
        // The parent is gone already.
      }
    }
    if (pendingSignal !== undefined) instance.qmp.requestShutdown('host-signal');
    await instance.exited;
    await instance.stop();
    return instance.exitCode;
  } finally {
    for (const sig of EXIT_SIGNALS) process.off(sig, onSignal);
    clearInterval(keepAlive);
    if (parentWatch) clearInterval(parentWatch);
    await instance?.stop();
  }
}
