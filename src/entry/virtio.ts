/**
 * VIRTIO: the abstract `virtio-device`, guest memory access
 * ({@link GuestMemory}), split virtqueues from the device side
 * ({@link VirtQueue}) and the driver side ({@link VirtQueueDriver}),
 * VIRTIO Shared Memory Regions with reference-counted mappings, and the
 * `vhost-user-device` front-end device type ({@link VHostUserBase}).
 *
 * The numbers of the VIRTIO specification (`VIRTIO_ID_*`, `VIRTIO_F_*`,
 * ...) are in `tsqom/native`.
 * @module tsqom/virtio
 */
import 'reflect-metadata';

export * from '../hw/virtio/guest-memory.js';
export * from '../hw/virtio/virtqueue.js';
export * from '../hw/virtio/virtio.js';
export * from '../hw/virtio/virtio-shmem.js';
export * from '../hw/virtio/virtio-shmem-index.js';
export * from '../hw/virtio/guest-memory-mmap.js';
export * from '../hw/virtio/vhost-user-base.js';
