/**
 * Inter-guest named shared memory after the QNX hypervisor's `vdev shmem`:
 * the guest-visible layout, the host's allow/deny/subst rules and the
 * configuration readers.
 * @module
 */
export * from './guest-shm.js';
export * from './vdev-shmem-rules.js';
export * from './vdev-shmem-config.js';
export * from './vdev-shmem.js';
export * from './vdev-shmem-host.js';
export * from './vdev-shmem-doorbell.js';
export * from './vdev-shmem-liveness.js';
