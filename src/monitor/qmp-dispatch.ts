/**
 * QMP command registry and dispatch (qapi/qmp-dispatch.c,
 * qapi/qmp-registry.c): checks a request the way QEMU 7.2 does, runs the
 * command, and builds the reply. Commands may be asynchronous.
 * @module
 */
import type { JsonObject, JsonValue } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import { errorReportInMonitor } from '../util/error-report.js';
import { MachineInitPhase, phaseCheck } from '../hw/core/qdev.js';
import { isJsonObject } from '../qobject/qobject.js';
import { jsonObjectSet, qdictKeys } from '../qobject/qdict.js';
import { type QapiArgsSchema, qapiInputVisit } from '../qapi/qapi.js';

/** What a command handler learns about the request it serves. */
export interface QmpCommandContext {
  /** The monitor the request came from (`monitor_cur()`). */
  readonly monitor: QmpMonitorHandle;
}

/**
 * The part of a monitor commands may use: its capability state and the
 * server it belongs to. The QMP server implements it.
 */
export interface QmpMonitorHandle {
  /** Whether capability negotiation is over (commands mode). */
  readonly negotiated: boolean;
  /** Capabilities the monitor offers (QEMU: `["oob"]`). */
  readonly capabilitiesOffered: readonly string[];
  /** Capabilities the client enabled. */
  readonly capabilitiesEnabled: ReadonlySet<string>;
  /** Leaves capability-negotiation mode with the given capabilities on. */
  completeNegotiation(enabled: readonly string[]): void;
  /** The command registry this monitor serves. */
  readonly registry: QmpCommandRegistry;
  /** The server-wide services (version, events, shutdown). */
  readonly host: QmpHost;
}

/** Server-wide services available to commands. */
export interface QmpHost {
  /** What `query-version` and the greeting report. */
  readonly version: QmpVersionInfo;
  /** Sends an event to every monitor out of negotiation mode. */
  emitEvent(event: string, data?: JsonObject): void;
  /** Asks the host to shut down (QEMU's `qemu_system_shutdown_request`). */
  requestShutdown(reason: string, guest?: boolean): void;
}

/** QAPI `VersionTriple`. */
export interface QmpVersionTriple {
  /** Major version. */
  major: number;
  /** Minor version. */
  minor: number;
  /** Micro (patch) version. */
  micro: number;
}

/** QAPI `VersionInfo`. */
export interface QmpVersionInfo {
  /** Version triple. */
  qemu: QmpVersionTriple;
  /** Free-form package string. */
  package: string;
}

/** A QMP command definition. */
export interface QmpCommand {
  /** The command name, e.g. `qom-list`. */
  name: string;
  /** QAPI schema of the `arguments` object; omitted means none are accepted. */
  args?: QapiArgsSchema;
  /** Skip argument checking and pass `arguments` through as given. */
  rawArgs?: boolean;
  /**
   * Runs the command with checked arguments; returns the `return` value
   * (`undefined` means `{}`), or throws a QomError.
   */
  handler(
    args: JsonObject,
    ctx: QmpCommandContext,
  ): JsonValue | undefined | Promise<JsonValue | undefined>;
  /** Allowed while the machine is in preconfig state (recorded for compatibility). */
  allowPreconfig?: boolean;
  /** May be run out of band (`exec-oob`). */
  allowOob?: boolean;
  /** The command sends no reply on success (QEMU's QCO_NO_SUCCESS_RESP). */
  noSuccessResponse?: boolean;
  /** Disabled commands answer `Command %s has been disabled`. */
  enabled?: boolean;
  /** Why it is disabled. */
  disableReason?: string;
}

/** Anything commands can be looked up in. */
export interface QmpCommandLookup {
  /** The command of that name, if any. */
  find(name: string): QmpCommand | undefined;
}

/** An ordered set of QMP commands (QEMU's `QmpCommandList`). */
export class QmpCommandRegistry implements QmpCommandLookup {
  readonly #commands = new Map<string, QmpCommand>();

  /** Registers a command; replaces one of the same name. */
  register(cmd: QmpCommand): void {
    this.#commands.delete(cmd.name);
    this.#commands.set(cmd.name, { enabled: true, ...cmd });
  }

  /** Removes a command. */
  unregister(name: string): boolean {
    return this.#commands.delete(name);
  }

  /** Looks a command up. */
  find(name: string): QmpCommand | undefined {
    return this.#commands.get(name);
  }

  /** Disables a command (QEMU's `qmp_disable_command`). */
  disable(name: string, reason?: string): void {
    const c = this.#commands.get(name);
    if (c) {
      c.enabled = false;
      c.disableReason = reason;
    }
  }

  /** Enables a command again. */
  enable(name: string): void {
    const c = this.#commands.get(name);
    if (c) {
      c.enabled = true;
      c.disableReason = undefined;
    }
  }

  /** All commands, in registration order. */
  list(): QmpCommand[] {
    return [...this.#commands.values()];
  }
}

/** The registry every QMP server uses unless it is given another. */
export const qmpCommands = new QmpCommandRegistry();

/** Registers a command in the default registry ({@link qmpCommands}). */
export function registerCommand(cmd: QmpCommand): void {
  qmpCommands.register(cmd);
}

/** `qmp_error_response()`: `{"error": {"class": ..., "desc": ...}}`. */
export function qmpErrorResponse(err: unknown): JsonObject {
  const e =
    err instanceof QomError
      ? err
      : new QomError(err instanceof Error ? err.message : String(err), 'GenericError');
  return { error: { class: e.errorClass, desc: e.message } };
}

/** `qmp_is_oob()`: has `exec-oob` and no `execute`. */
export function qmpIsOob(req: JsonValue): boolean {
  return isJsonObject(req) && 'exec-oob' in req && !('execute' in req);
}

/** `qmp_dispatch_check_obj()`: members checked in QDict order. */
function checkObj(dict: JsonObject, allowOob: boolean): void {
  let execKey: string | undefined;
  for (const name of qdictKeys(dict)) {
    const v = dict[name];
    if (name === 'execute' || (name === 'exec-oob' && allowOob)) {
      if (typeof v !== 'string') throw new QomError(`QMP input member '${name}' must be a string`);
      if (execKey !== undefined)
        throw new QomError(`QMP input member '${name}' clashes with '${execKey}'`);
      execKey = name;
    } else if (name === 'arguments') {
      if (!isJsonObject(v)) throw new QomError("QMP input member 'arguments' must be an object");
    } else if (name !== 'id') {
      throw new QomError(`QMP input member '${name}' is unexpected`);
    }
  }
  if (execKey === undefined) throw new QomError("QMP input lacks member 'execute'");
}

function finish(rsp: JsonObject, id: JsonValue | undefined): JsonObject {
  if (id !== undefined) jsonObjectSet(rsp, 'id', id);
  return rsp;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function'
  );
}

/**
 * `qmp_dispatch()`: checks the request, runs the command from `registry`,
 * and returns the reply (`null` for a command without success reply).
 * Synchronous commands give a synchronous reply, so a busy monitor pays
 * no promise overhead.
 */
export function qmpDispatch(
  registry: QmpCommandLookup,
  request: JsonValue,
  allowOob: boolean,
  ctx: QmpCommandContext,
): JsonObject | null | Promise<JsonObject | null> {
  if (!isJsonObject(request))
    return qmpErrorResponse(new QomError('QMP input must be a JSON object'));
  const id = request.id;
  let cmd: QmpCommand;
  let ret: JsonValue | undefined | Promise<JsonValue | undefined>;
  try {
    checkObj(request, allowOob);
    let command = request.execute as string | undefined;
    let oob = false;
    if (command === undefined) {
      command = request['exec-oob'] as string;
      oob = true;
    }
    const found = registry.find(command);
    if (!found) throw new QomError(`The command ${command} has not been found`, 'CommandNotFound');
    cmd = found;
    if (cmd.enabled === false) {
      throw new QomError(
        `Command ${command} has been disabled${cmd.disableReason ? ': ' + cmd.disableReason : ''}`,
        'CommandNotFound',
      );
    }
    if (oob && !cmd.allowOob) throw new QomError(`The command ${command} does not support OOB`);
    // -preconfig: between machine creation and x-exit-preconfig. A server
    // with no machine (an embedder's) serves everything.
    if (
      !cmd.allowPreconfig &&
      phaseCheck(MachineInitPhase.MachineCreated) &&
      !phaseCheck(MachineInitPhase.MachineReady)
    ) {
      throw new QomError(
        `The command '${command}' is permitted only after machine initialization has completed`,
      );
    }
    const rawArgs = (request.arguments as JsonObject | undefined) ?? {};
    const args = cmd.rawArgs ? rawArgs : qapiInputVisit(cmd.args ?? {}, rawArgs);
    // Reports made while the command runs are the monitor's (QEMU's monitor_cur()).
    ret = errorReportInMonitor(() => cmd.handler(args, ctx));
  } catch (e) {
    return finish(qmpErrorResponse(e), id);
  }
  const done = (value: JsonValue | undefined): JsonObject | null => {
    if (cmd.noSuccessResponse) return null;
    return finish({ return: value === undefined ? {} : value }, id);
  };
  if (isThenable(ret)) {
    return Promise.resolve(ret).then(done, (e: unknown) => finish(qmpErrorResponse(e), id));
  }
  return done(ret);
}
