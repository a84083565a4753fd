/**
 * Inter-guest named shared memory after the QNX hypervisor's
 * `vdev shmem`: the `vdev-shmem` device, its guest-visible layout, the
 * host's allow/deny/subst rules, the configuration readers, doorbells and
 * liveness. See docs/vdev-shmem.md for the device's guest interface.
 *
 * Importing this module registers the `vdev-shmem` type.
 * @module tsqom/vdev-shmem
 */
import 'reflect-metadata';

export * from '../hw/misc/index.js';
