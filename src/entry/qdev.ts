/**
 * QEMU's device model and machine: qdev (the abstract `device` type,
 * realize / unrealize / reset, device properties, `-device`,
 * `device_add`, `device_del`), the `none` machine with its RAM backend
 * (`-M none,memory-backend=ID`), and character devices
 * (`-chardev socket,...` under `/chardevs`).
 *
 * Importing this module registers the device, machine and chardev types.
 * @module tsqom/qdev
 */
import 'reflect-metadata';

export * from '../hw/core/index.js';
export * from '../hw/core/machine-memory.js';
export * from '../chardev/index.js';
