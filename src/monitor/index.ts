/**
 * tsqom's monitor: QMP as QEMU 7.2 speaks it (parser, writer, dispatch,
 * server), the human monitor, and the commands on top.
 * @module
 */
export * from './unicode.js';
export * from './qdict.js';
export * from './json-parser.js';
export * from './json-writer.js';
export * from './qapi.js';
export * from './qmp-dispatch.js';
export * from './hmp.js';
export * from './qmp-cmds-control.js';
export * from './keyval.js';
export * from './qom-qmp-cmds.js';
export * from './qom-hmp-cmds.js';
export * from './qmp-server.js';
export * from './machine-qmp-cmds.js';
export * from './qtest.js';
