/**
 * QEMU's hotplug handler interface (hw/core/hotplug.c), as a type name:
 * buses link to their handler through a `link<hotplug-handler>` property.
 * No tsqom type implements it yet (QEMU 7.2's `none` machine does not
 * either), so such links only ever hold `''`.
 * @module
 */
import { TYPE_INTERFACE, typeRegister } from '../../qom/index.js';

/** QEMU's TYPE_HOTPLUG_HANDLER. */
export const TYPE_HOTPLUG_HANDLER = 'hotplug-handler';

typeRegister({ name: TYPE_HOTPLUG_HANDLER, parent: TYPE_INTERFACE });
