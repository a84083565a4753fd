/**
 * QEMU's abstract bus type (hw/core/bus.c), reduced to what a machine
 * without devices on buses shows: a name, `realized` and the
 * `hotplug-handler` link.
 * @module
 */
import { QomObject, QomType, TYPE_OBJECT, objectPropertyAllowSetLink } from '../../qom/index.js';
import { TYPE_HOTPLUG_HANDLER } from './hotplug.js';

/** QEMU's TYPE_BUS. */
export const TYPE_BUS = 'bus';

/** QEMU's BusState: a bus with a name, a realized flag and a hotplug handler. */
@QomType({ name: TYPE_BUS, parent: TYPE_OBJECT, abstract: true })
export class BusState extends QomObject {
  /** The bus name (`info qtree` prints it). */
  name = '';
  /** `realized`. tsqom buses carry no devices, so realizing only flips the flag. */
  realized = false;
  /** `hotplug-handler`; nothing implements the interface yet, so always null. */
  hotplugHandler: QomObject | null = null;

  /** QEMU's qbus_initfn: both properties are per instance, so abstract `bus` lists neither. */
  override instanceInit(): void {
    this.propertyAddLink(
      'hotplug-handler',
      TYPE_HOTPLUG_HANDLER,
      () => this.hotplugHandler,
      (t) => void (this.hotplugHandler = t),
      { check: objectPropertyAllowSetLink },
    );
    this.propertyAddBool(
      'realized',
      () => this.realized,
      (v) => void (this.realized = v),
    );
  }
}
