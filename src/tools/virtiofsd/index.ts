/**
 * tsqom-virtiofsd as a library: the virtio-fs device back-end
 * ({@link VhostUserFsDevice}), its FUSE server ({@link FuseSession}), the
 * passthrough file system over per-inode O_PATH descriptors
 * ({@link PassthroughFs}), the FUSE wire layouts, and the command's
 * option parser and entry point ({@link main}).
 * @module
 */
export * from '../../native/fs-at.js';
export * from './fuse-kernel.js';
export * from './fuse-lowlevel.js';
export * from './passthrough-ll.js';
export * from './vhost-user-fs.js';
export {
  LOG_LEVELS,
  type LogLevel,
  PROG,
  USAGE,
  UsageError,
  type VirtiofsdOptions,
  main,
  parseVirtiofsdArgs,
} from './main.js';
