/**
 * tsqom's device model: QEMU's qdev (the abstract `device` type, realize,
 * reset, device properties) and `-device` / `device_add` / `device_del`.
 * @module
 */
export * from './qdev.js';
export * from './qdev-properties.js';
export * from './qdev-monitor.js';
export * from './machine.js';
export * from './hotplug.js';
export * from './bus.js';
export * from './sysbus.js';
