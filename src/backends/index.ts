/**
 * tsqom's host memory backends: the abstract `memory-backend` and its
 * `-ram`, `-file`, `-memfd` and `-shm` subtypes (QEMU's backends/), a
 * minimal `thread-context`, and their QAPI schemas.
 * @module
 */
export * from './thread-context.js';
export * from './hostmem.js';
export * from './memfd.js';
export * from './hostmem-ram.js';
export * from './hostmem-file.js';
export * from './hostmem-memfd.js';
export * from './hostmem-shm.js';
export * from './qapi.js';
