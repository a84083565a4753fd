/**
 * The run-state and identity commands (QEMU's monitor/qmp-cmds.c,
 * system/runstate.c, monitor/hmp-cmds.c): `query-status`, `stop`, `cont`,
 * `system_reset`, `system_powerdown`, `set-action`, `query-name`,
 * `query-uuid`, `query-kvm`, `query-iothreads`, and the HMP `info status`,
 * `info name`, `info uuid`, `info version` and `quit`.
 *
 * tsqom's machine has no CPUs, so stopping and continuing change only the
 * run state and send QEMU's events; a reset cold-resets the devices.
 * @module
 */
import type { JsonObject } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import {
  PANIC_ACTIONS,
  REBOOT_ACTIONS,
  SHUTDOWN_ACTIONS,
  WATCHDOG_ACTIONS,
  type RunActions,
  type RunState,
  vmState,
} from '../system/runstate.js';
import { MachineInitPhase, phaseCheck, qemuDevicesReset } from '../hw/core/qdev.js';
import { type HmpCommandTable, hmpCommands, hmpInfoCommands } from './hmp.js';
import { type QmpHost, type QmpCommandRegistry, qmpCommands } from './qmp-dispatch.js';

/** QAPI `StatusInfo`. */
export interface StatusInfo {
  /** Whether the VM runs. */
  running: boolean;
  /** Always false (no CPUs to single-step). */
  singlestep: boolean;
  /** The run state. */
  status: RunState;
}

/** `qmp_query_status`. */
export function qmpQueryStatus(): StatusInfo {
  return { running: vmState.running, singlestep: false, status: vmState.runState };
}

/**
 * QEMU's vm_stop(): from a running VM, pauses with `state` and sends
 * `STOP`; otherwise nothing happens.
 */
export function vmStop(host: Pick<QmpHost, 'emitEvent'>, state: RunState = 'paused'): void {
  if (!vmState.running) return;
  vmState.setRunState(state);
  host.emitEvent('STOP');
}

/**
 * QEMU's vm_start(): from a stopped VM, sends `RESUME` and runs. The
 * command line calls it at the end of start-up unless `-S` was given.
 */
export function vmStart(host: Pick<QmpHost, 'emitEvent'>): void {
  if (vmState.running) return;
  host.emitEvent('RESUME');
  vmState.setRunState('running');
}

/**
 * QEMU's system reset: cold-resets the devices, sends `RESET`, and
 * leaves a VM that is not running in `prelaunch`. With the reboot action
 * `shutdown`, a reset requested by the host becomes a shutdown instead.
 */
export function qemuSystemReset(host: QmpHost, reason: string, guest = false): void {
  if (vmState.actions.reboot === 'shutdown') {
    host.requestShutdown(reason, guest);
    return;
  }
  qemuDevicesReset();
  host.emitEvent('RESET', { guest, reason });
  if (!vmState.running) vmState.setRunState('prelaunch');
}

/** What `x-exit-preconfig` runs: the rest of start-up, given the calling monitor's host. */
export type ExitPreconfigHandler = (host: QmpHost) => Promise<void>;

let exitPreconfigHandler: ExitPreconfigHandler | null = null;

/**
 * Sets what `x-exit-preconfig` runs (the command line does, with
 * `-preconfig`): board initialization, the devices, and the end of machine
 * creation. The handler runs once.
 */
export function qmpSetExitPreconfigHandler(handler: ExitPreconfigHandler | null): void {
  exitPreconfigHandler = handler;
}

/** `hmp_info_status`. */
export function hmpInfoStatusText(): string {
  const s = qmpQueryStatus();
  return `VM status: ${s.running ? 'running' : 'paused'}${
    !s.running && s.status !== 'paused' ? ` (${s.status})` : ''
  }\n`;
}

/** Registers the commands in `registry` and the HMP tables. */
export function registerMiscCommands(
  registry: QmpCommandRegistry = qmpCommands,
  hmp: HmpCommandTable = hmpCommands,
  info: HmpCommandTable = hmpInfoCommands,
): void {
  registry.register({
    name: 'query-status',
    allowPreconfig: true,
    handler: () => ({ ...qmpQueryStatus() }),
  });
  registry.register({
    name: 'stop',
    handler(_a, { monitor }) {
      vmStop(monitor.host);
      return {};
    },
  });
  registry.register({
    name: 'cont',
    handler(_a, { monitor }) {
      if (vmState.runState === 'internal-error' || vmState.runState === 'shutdown')
        throw new QomError('Resetting the Virtual Machine is required');
      if (vmState.runState === 'suspended') return {};
      vmStart(monitor.host);
      return {};
    },
  });
  registry.register({
    name: 'x-exit-preconfig',
    allowPreconfig: true,
    async handler(_a, { monitor }) {
      const run = exitPreconfigHandler;
      if (run === null || phaseCheck(MachineInitPhase.MachineInitialized)) {
        throw new QomError('The command is permitted only before machine initialization');
      }
      exitPreconfigHandler = null;
      await run(monitor.host);
      return {};
    },
  });
  registry.register({
    name: 'system_reset',
    handler(_a, { monitor }) {
      qemuSystemReset(monitor.host, 'host-qmp-system-reset');
      return {};
    },
  });
  registry.register({
    name: 'system_powerdown',
    handler(_a, { monitor }) {
      // No ACPI on the none machine: only the event.
      monitor.host.emitEvent('POWERDOWN');
      return {};
    },
  });
  registry.register({
    name: 'set-action',
    allowPreconfig: true,
    args: {
      '*reboot': { enum: REBOOT_ACTIONS },
      '*shutdown': { enum: SHUTDOWN_ACTIONS },
      '*panic': { enum: PANIC_ACTIONS },
      '*watchdog': { enum: WATCHDOG_ACTIONS },
    },
    handler(args) {
      const a = vmState.actions as unknown as Record<keyof RunActions, string>;
      for (const k of ['reboot', 'shutdown', 'panic', 'watchdog'] as const)
        if (typeof args[k] === 'string') a[k] = args[k];
      return {};
    },
  });
  registry.register({
    name: 'query-name',
    allowPreconfig: true,
    handler: (): JsonObject => (vmState.name === undefined ? {} : { name: vmState.name }),
  });
  registry.register({
    name: 'query-uuid',
    allowPreconfig: true,
    handler: () => ({ UUID: vmState.uuid }),
  });
  registry.register({
    name: 'query-kvm',
    handler: () => ({ enabled: vmState.kvmEnabled, present: vmState.kvmPresent }),
  });
  registry.register({
    name: 'query-iothreads',
    allowPreconfig: true,
    // tsqom has no iothread objects.
    handler: () => [],
  });

  info.register({
    name: 'version',
    argsType: '',
    params: '',
    help: 'show the version of QEMU',
    handler(_a, out, ctx) {
      const v = ctx?.host?.version;
      if (v) out.print(`${v.qemu.major}.${v.qemu.minor}.${v.qemu.micro}${v.package}\n`);
    },
  });
  info.register({
    name: 'status',
    argsType: '',
    params: '',
    help: 'show the current VM status (running|paused)',
    handler: (_a, out) => out.print(hmpInfoStatusText()),
  });
  info.register({
    name: 'name',
    argsType: '',
    params: '',
    help: 'show the current VM name',
    handler(_a, out) {
      if (vmState.name !== undefined) out.print(`${vmState.name}\n`);
    },
  });
  info.register({
    name: 'uuid',
    argsType: '',
    params: '',
    help: 'show the current VM UUID',
    handler: (_a, out) => out.print(`${vmState.uuid}\n`),
  });
  hmp.register({
    name: 'quit|q',
    argsType: '',
    params: '',
    help: 'quit the emulator',
    handler(_a, _out, ctx) {
      vmState.actions.shutdown = 'poweroff';
      ctx?.host?.requestShutdown('host-qmp-quit');
    },
  });
}
