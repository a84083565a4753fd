/**
 * tsqom's memory API: QEMU's MemoryRegion tree, transactions, address
 * spaces, listeners, flat views, guest memory accesses and `info mtree`.
 * @module
 */
export * from './flatview.js';
export * from './mtree.js';
export * from './memory.js';
export * from './physmem.js';
export * from './ioport.js';
export * from './irq.js';
export * from './subregion-list.js';
export * from './runstate.js';
