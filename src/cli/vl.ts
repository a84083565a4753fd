/**
 * The `tsqom` program's start-up and shutdown, in the role of QEMU's
 * system/vl.c: options are checked in command-line order first (errors
 * name the option, as `tsqom: -object ...: <text>`), then objects are
 * created (errors without the option, as QEMU 7.2 prints them), and a
 * failure anywhere frees everything made so far.
 *
 * Unlike QEMU, tsqom starts its QMP listeners before it creates memory
 * backends, and creation does not block the event loop, so a large
 * preallocation never stops QMP from being answered.
 * @module
 */
import 'reflect-metadata';
// Every QOM type tsqom has registers itself when its module loads.
import '../backends/index.js';
import '../chardev/index.js';
import '../hw/core/index.js';
import '../hw/virtio/index.js';
import '../hw/misc/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QomError, TsqomError } from '../util/error.js';
import type { JsonObject } from '../qobject/qobject.js';
import { objectGetObjectsRoot } from '../qom/object.js';
import {
  userCreatableCleanup,
  userCreatableTypesHelp,
  typeClassPropertiesHelp,
} from '../qom/object_interfaces.js';
import { QemuOptsError, QemuOptsList, qemuOptGet, isHelpOption } from '../util/qemu-option.js';
import { OBJECT_OPTIONS, objectAdd } from '../monitor/qom-qmp-cmds.js';
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
import { jsonParseMessages } from '../qobject/json-parser.js';
import { optsVisit } from '../qapi/opts-visitor.js';
import { qemuChrCleanup, qemuChrNewFromOpts, qemuChrParse } from '../chardev/char.js';
import { keyvalParse } from '../qapi/keyval.js';
import { machineCreate, machineReleaseMemoryBackend } from '../hw/core/machine.js';
import { machineClearMemoryBackend, machineSetMemoryBackend } from '../hw/core/machine-memory.js';
import {
  QtestServer,
  parseQtestChardev,
  type QtestChardevSpec,
  type QtestTarget,
} from '../monitor/qtest.js';
import { addressSpaceIo, addressSpaceMemory, memoryMapInit } from '../system/memory.js';
import { addressSpaceRead, addressSpaceWrite } from '../system/physmem.js';
import { machineIrqListen } from '../system/irq.js';
import { objectResolvePath } from '../qom/object.js';
import { qemuDeviceOpts, qdevDeviceAdd, qdevDeviceAddFromQdict } from '../hw/core/qdev-monitor.js';
import {
  qdevGetPeripheral,
  qdevGetPeripheralAnon,
  qdevMachineCreationDone,
} from '../hw/core/qdev.js';
import type { QemuOpts } from '../util/qemu-option.js';
import { CliError, parseArgv, usage, type CliOption } from './options.js';
import { TSQOM_VERSION } from '../util/version.js';
import { vdevShmemSettle } from '../hw/misc/vdev-shmem-host.js';

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
}

/** The process's stdout and stderr. */
export const processIo: VlIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** What parsing decided to create, in order. */
interface Plan {
  objects: Array<{ where: string; args: JsonObject }>;
  qmp: Array<{ where: string; address: QmpAddress }>;
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
  ) {
    this.#cleanupDirs = cleanupDirs;
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  /** @internal Asks the instance to exit (the QMP `quit` path). */
  requestExit(reason: string): void {
    this.#resolveExit(reason);
  }

  /** Closes the monitors and frees every object; idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#resolveExit('stop');
      // Monitors first: a listener's close waits for its connections to end,
      // and a connected client (a reader, a hostile one) must not hold
      // shutdown up.
      await bounded(this.qmp.close());
      for (const l of this.listeners) await bounded(l.close());
      for (const q of this.qtest) await bounded(q.close());
      try {
        cleanupDevicesAndObjects();
      } finally {
        // A detach that found a region locked by another process is retried
        // for a while; a holder that never lets go sweeps our slot later.
        await vdevShmemSettle(SHUTDOWN_SETTLE_MS);
        for (const d of this.#cleanupDirs) rmSync(d, { recursive: true, force: true });
      }
    })();
    return this.#stopped;
  }
}

/** The JSON form of an option (`-object '{...}'`, `-device '{...}'`). */
function parseJsonOption(arg: string, where: string): JsonObject {
  const parsed = jsonParseMessages(arg);
  const first = parsed[0];
  if (!first || first.error || parsed.length !== 1) {
    throw new VlError(first?.error?.message ?? 'JSON parse error, premature EOI', where);
  }
  if (first.value === null || typeof first.value !== 'object' || Array.isArray(first.value)) {
    throw new VlError("Invalid parameter type for 'null', expected: object", where);
  }
  return first.value as JsonObject;
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
  if (arg.startsWith('{')) return parseJsonOption(arg, where);
  const opts = list.parse(arg);
  for (const w of opts.warnings) io.err(`tsqom: ${where}: warning: ${w}\n`);
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
  };
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
        case 'qmp': {
          let address: QmpAddress;
          try {
            address = parseQmpAddress(o.arg!);
          } catch {
            throw new VlError(`'${o.arg}' is not a valid char driver`, where);
          }
          plan.qmp.push({ where, address });
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
          if (o.arg !== 'none') throw new VlError(`only -display none is supported`, where);
          break;
        case 'S':
        case 'nodefaults':
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
            for (const w of opts.warnings) io.err(`tsqom: ${where}: warning: ${w}\n`);
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
          for (const w of opts.warnings) io.err(`tsqom: ${where}: warning: ${w}\n`);
          plan.chardevs.push({ where, opts });
          break;
        }
      }
    } catch (e) {
      throw located(where, e);
    }
  }
  return plan;
}

/** What {@link qemuInit} made. */
export interface QemuInitResult {
  /** The running instance, or null when nothing was started. */
  instance: TsqomInstance | null;
  /** The exit status when nothing was started (0 after help or the version, 1 after an error). */
  exitCode: number;
}

/**
 * Starts tsqom with QEMU-style arguments. Resolves to a running instance,
 * or to `null` when the arguments asked only for help or the version (or
 * when they were wrong: then the error has been printed and `exitCode` is 1).
 */
export async function qemuInit(
  argv: readonly string[],
  io: VlIo = processIo,
  extraCleanupDirs: readonly string[] = [],
): Promise<QemuInitResult> {
  let plan: Plan | 'exit';
  try {
    plan = buildPlan(parseArgv(argv), io);
  } catch (e) {
    reportError(io, e);
    for (const d of extraCleanupDirs) rmSync(d, { recursive: true, force: true });
    return { instance: null, exitCode: 1 };
  }
  if (plan === 'exit') return { instance: null, exitCode: 0 };

  let instance: TsqomInstance | undefined;
  const qmp = new QmpServer({ onShutdown: (reason) => instance?.requestExit(reason) });
  const listeners: QmpListener[] = [];
  try {
    for (const q of plan.qmp) {
      try {
        listeners.push(await qmp.listen(q.address));
      } catch (e) {
        const path =
          q.address.type === 'unix' ? q.address.path : `${q.address.host}:${q.address.port}`;
        throw new VlError(`Failed to bind socket to ${path}: ${(e as Error).message}`, q.where);
      }
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
    instance = new TsqomInstance(qmp, listeners, extraCleanupDirs);
    for (const q of plan.qtest) {
      const server = qtestServer();
      instance.qtest.push(server);
      try {
        await server.listen(q.spec);
      } catch (e) {
        const path = q.spec.kind === 'unix' ? q.spec.path : `${q.spec.host}:${q.spec.port}`;
        throw new VlError(`Failed to bind socket to ${path}: ${(e as Error).message}`, q.where);
      }
    }
    objectGetObjectsRoot(); // /objects exists even when nothing is created
    // QEMU creates chardevs first (backends and devices refer to them).
    for (const c of plan.chardevs) {
      try {
        await qemuChrNewFromOpts(c.opts);
      } catch (e) {
        throw located(c.where, e);
      }
    }
    for (const o of plan.objects) {
      await objectAdd(o.args);
    }
    // qemu_resolve_machine_memdev: the guest RAM backend exists by now.
    if (memdev !== undefined) {
      machineSetMemoryBackend(String(memdev));
      machine.propertySet('memory-backend', String(memdev));
    }
    // QEMU creates -device after the backends, and reports its errors at the option.
    for (const d of plan.devices) {
      try {
        if ('json' in d) await qdevDeviceAddFromQdict(d.json, true);
        else await qdevDeviceAdd(d.opts);
      } catch (e) {
        throw located(d.where, e);
      }
    }
    qdevMachineCreationDone();
    return { instance, exitCode: 0 };
  } catch (e) {
    reportError(io, e);
    if (instance) await instance.stop();
    else {
      for (const l of listeners) await l.close().catch(() => {});
      await qmp.close().catch(() => {});
      cleanupDevicesAndObjects();
      for (const d of extraCleanupDirs) rmSync(d, { recursive: true, force: true });
    }
    return { instance: null, exitCode: 1 };
  }
}

/**
 * A qtest server acting on the system address space and I/O ports.
 * `irq_intercept_in PATH` accepts any QOM path (the `none` machine has no
 * interrupt controller) and then reports every machine interrupt line.
 */
function qtestServer(): QtestServer {
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
  };
  const server = new QtestServer(target);
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
  io.err(`tsqom: ${where ? `${where}: ` : ''}${message}\n${hint ?? ''}`);
}

/**
 * The whole program: parse, start, report the default configuration when
 * run without options, and exit cleanly on `quit`, SIGINT or SIGTERM.
 */
export async function tsqomMain(argv: readonly string[], io: VlIo = processIo): Promise<number> {
  const isDefault = argv.length === 0;
  const dirs: string[] = [];
  let args = argv;
  if (isDefault) {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-'));
    dirs.push(dir);
    args = defaultConfiguration(dir);
  }
  const { instance, exitCode } = await qemuInit(args, io, dirs);
  if (!instance) return exitCode;

  if (isDefault) {
    io.out(`tsqom ${TSQOM_VERSION}: default configuration\n  tsqom ${args.join(' ')}\n\n`);
    io.out((await hmpCommandOutput('info qom-tree /')).replace(/\r\n/g, '\n'));
    io.out('\n');
    io.out((await hmpCommandOutput('info mtree')).replace(/\r\n/g, '\n'));
    const sock = instance.listeners[0]?.address;
    if (sock?.type === 'unix')
      io.out(`\nQMP: ${sock.path}\nStop with Ctrl-C, SIGTERM or the QMP command quit.\n`);
  }

  const onSignal = (sig: NodeJS.Signals): void => instance.requestExit(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await instance.exited;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await instance.stop();
  }
  return 0;
}
