/**
 * tsqom: QEMU's object model (QOM), host memory backends and VIRTIO
 * shared-memory plumbing for Node.js.
 * @module tsqom
 */
import 'reflect-metadata';

export * from './qom/index.js';
export * from './native/index.js';
export * from './system/index.js';
export * from './backends/index.js';
export * from './chardev/index.js';
export * from './hw/core/index.js';
export * from './hw/virtio/index.js';
export * from './hw/misc/index.js';
export * from './monitor/index.js';
export {
  QemuOptsList,
  QemuOptsError,
  qemuOptGet,
  type QemuOpts,
  type QemuOpt,
} from './util/qemu-option.js';
export { TSQOM_VERSION } from './util/version.js';
