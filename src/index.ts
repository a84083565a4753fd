/**
 * tsqom: QEMU's object model (QOM), host memory backends and VIRTIO
 * shared-memory plumbing for Node.js.
 * @module tsqom
 */
import 'reflect-metadata';

export { native, NATIVE_ABI_VERSION } from './native/index.js';
export type { NativeAddon } from './native/index.js';
