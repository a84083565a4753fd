/**
 * QMP's own commands (monitor/qmp-cmds-control.c, monitor/misc.c):
 * `qmp_capabilities`, `query-version`, `query-commands`, `quit` and
 * `human-monitor-command`.
 * @module
 */
import type { JsonObject } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import { vmState } from '../system/runstate.js';
import { hmpCommandOutput } from './hmp.js';
import { type QmpCommandRegistry, qmpCommands } from './qmp-dispatch.js';

/** QAPI `QMPCapability`. */
export const QMP_CAPABILITIES = ['oob'] as const;

/** Registers the control commands in a registry (the global one already has them). */
export function registerControlCommands(registry: QmpCommandRegistry): void {
  registry.register({
    name: 'qmp_capabilities',
    args: { '*enable': [{ enum: QMP_CAPABILITIES }] },
    allowPreconfig: true,
    handler(args, { monitor }) {
      if (monitor.negotiated) {
        throw new QomError(
          'Capabilities negotiation is already complete, command ignored',
          'CommandNotFound',
        );
      }
      const enable = (args.enable as string[] | undefined) ?? [];
      const unavailable = enable.filter((c) => !monitor.capabilitiesOffered.includes(c));
      if (unavailable.length)
        throw new QomError(`Capability ${unavailable.join(', ')} not available`);
      monitor.completeNegotiation(enable);
      return {};
    },
  });

  registry.register({
    name: 'query-version',
    allowPreconfig: true,
    handler(_args, { monitor }) {
      const v = monitor.host.version;
      return {
        qemu: { major: v.qemu.major, minor: v.qemu.minor, micro: v.qemu.micro },
        package: v.package,
      };
    },
  });

  registry.register({
    name: 'query-commands',
    allowPreconfig: true,
    handler(_args, { monitor }) {
      const out: JsonObject[] = [];
      for (const c of monitor.registry.list())
        if (c.enabled !== false) out.unshift({ name: c.name });
      return out;
    },
  });

  registry.register({
    name: 'quit',
    allowPreconfig: true,
    handler(_args, { monitor }) {
      // QEMU's qmp_quit: quit always exits, whatever the shutdown action.
      vmState.actions.shutdown = 'poweroff';
      monitor.host.requestShutdown('host-qmp-quit');
      return {};
    },
  });

  registry.register({
    name: 'human-monitor-command',
    args: { 'command-line': 'str', '*cpu-index': 'int' },
    async handler(args, { monitor }) {
      // tsqom has no CPUs, so no CPU index is valid.
      if (args['cpu-index'] !== undefined)
        throw new QomError("Parameter 'cpu-index' expects a CPU number");
      return hmpCommandOutput(args['command-line'] as string, undefined, { host: monitor.host });
    },
  });
}

registerControlCommands(qmpCommands);
