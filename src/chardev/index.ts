/**
 * Character devices: `-chardev socket,...` objects under `/chardevs`
 * (QEMU's chardev types `chardev` and `chardev-socket`, unix sockets).
 * @module
 */
export * from './char.js';
export * from './char-socket.js';
export * from './char-null.js';
export * from './char-fe-stream.js';
