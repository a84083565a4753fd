/**
 * VIRTIO: constants, guest memory access, split virtqueues and vhost-user.
 * @module
 */
export * from './standard-headers.js';
export * from './guest-memory.js';
export * from './virtqueue.js';
export * from './vhost-user/index.js';
export * from './virtio.js';
export * from './virtio-shmem.js';
export * from './virtio-shmem-index.js';
export * from './guest-memory-mmap.js';
export * from './vhost-user-base.js';
