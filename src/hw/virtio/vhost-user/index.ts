/**
 * The vhost-user wire protocol: request ids and feature bits, payload
 * layouts, message encoding and validated decoding, and a stream framer
 * that attaches SCM_RIGHTS fds to messages. Pure code over byte arrays.
 * @module
 */
export * from './protocol.js';
export * from './codec-error.js';
export * from './payloads.js';
export * from './codec.js';
export * from './framer.js';
export * from './unix-stream.js';
export * from './backend.js';
export * from './backend-server.js';
export * from './frontend.js';
export * from './frontend-channel.js';
export * from './frontend-error.js';
export * from './frontend-framer.js';
export * from './frontend-memory.js';
export * from './frontend-machine.js';
export * from './frontend-driver.js';
