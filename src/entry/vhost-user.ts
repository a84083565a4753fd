/**
 * vhost-user, by role:
 *
 * - **protocol**: request ids and feature bits, payload layouts, message
 *   encoding and validated decoding, stream framing with SCM_RIGHTS fds
 *   over unix sockets;
 * - **back-end library**: {@link VhostUserBackendServer} listens on a
 *   socket and runs a {@link VhostUserBackendDevice} for each front-end
 *   (rust-vmm's vhost-user-backend in TypeScript), with SHMEM_MAP /
 *   SHMEM_UNMAP;
 * - **front-end**: {@link VhostUserFrontend}, the front-end side of the
 *   protocol, and the machine-RAM table it sends;
 * - **driver**: {@link VhostUserDeviceDriver} plays the guest's VIRTIO
 *   driver, for tests and embedders without a CPU.
 *
 * A back-end whose device answers every buffer of its one queue:
 *
 * ```ts
 * import { VhostUserBackendServer, type VhostUserBackendDevice,
 *          type VhostUserBackendQueue } from 'tsqom/vhost-user';
 *
 * const device: VhostUserBackendDevice = {
 *   numQueues: 1,
 *   onKick(queue: VhostUserBackendQueue): void {
 *     for (let e = queue.pop(); e !== null; e = queue.pop()) queue.push(e, queue.write(e, Buffer.from('ok')));
 *     queue.notify();
 *   },
 * };
 * const server = VhostUserBackendServer.listen('/run/demo.sock', device);
 * ```
 * @module tsqom/vhost-user
 */
import 'reflect-metadata';

export * from '../hw/virtio/vhost-user/index.js';
