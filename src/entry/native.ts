/**
 * The host and the specifications, raw: the native addon ({@link native},
 * one function per system call), {@link HostOs} (the injectable OS layer
 * the rest of tsqom calls), {@link MappedMemory}, {@link OsError}, Linux's
 * constants (`MFD_*`, `O_*`, `MAP_*`, `SOCK_*`, ...) and the VIRTIO
 * specification's numbers (`VIRTIO_ID_*`, `VIRTIO_F_*`, ...).
 *
 * Most programs never need this module: the other entry points wrap it.
 * @module tsqom/native
 */
export * from '../native/index.js';
export * from '../hw/virtio/standard-headers.js';
