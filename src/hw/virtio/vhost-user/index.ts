/**
 * The vhost-user wire protocol: request ids and feature bits, payload
 * layouts, message encoding and validated decoding, and a stream framer
 * that attaches SCM_RIGHTS fds to messages. Pure code over byte arrays.
 * @module
 */
export * from './protocol/protocol.js';
export * from './protocol/codec-error.js';
export * from './protocol/payloads.js';
export * from './protocol/codec.js';
export * from './protocol/framer.js';
export * from '../../../io/unix-stream.js';
export * from './backend/backend.js';
export * from './backend/backend-server.js';
export * from './frontend/frontend.js';
export * from './frontend/frontend-channel.js';
export * from './protocol/stream-framer.js';
export * from './frontend/frontend-memory.js';
export * from '../../core/machine-memory.js';
export * from '../driver/vhost-user-driver.js';
