/**
 * QEMU's system bus (hw/core/sysbus.c): the type `System` and the main
 * system bus, `/machine/unattached/sysbus`, named `main-system-bus`.
 * tsqom has no sysbus devices, so the bus stays empty.
 * @module
 */
import { QomType, objectNew } from '../../qom/index.js';
import { machineGetContainer } from '../../system/memory.js';
import { BusState, TYPE_BUS } from './bus.js';

/** QEMU's TYPE_SYSTEM_BUS. */
export const TYPE_SYSTEM_BUS = 'System';

/** QEMU's system bus type. */
@QomType({ name: TYPE_SYSTEM_BUS, parent: TYPE_BUS })
export class SystemBus extends BusState {}

/**
 * QEMU's sysbus_get_default: the main system bus, created on first use as
 * the child `sysbus` of `/machine/unattached`.
 */
export function sysbusGetDefault(): SystemBus {
  const unattached = machineGetContainer('unattached');
  const existing = unattached.resolvePathComponent('sysbus');
  if (existing instanceof SystemBus) return existing;
  const bus = objectNew(SystemBus);
  bus.name = 'main-system-bus';
  unattached.propertyAddChild('sysbus', bus);
  bus.unref();
  return bus;
}
