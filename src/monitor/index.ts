/**
 * tsqom's monitor: QMP as QEMU 7.2 speaks it (parser, writer, dispatch,
 * server), the human monitor, and the commands on top.
 * @module
 */
export * from '../util/unicode.js';
export * from '../qobject/qdict.js';
export * from '../qobject/json-parser.js';
export * from '../qobject/qjson.js';
export * from '../qapi/qapi.js';
export * from './qmp-dispatch.js';
export * from './hmp.js';
export * from './qmp-cmds-control.js';
export * from '../qapi/keyval.js';
export * from './qom-qmp-cmds.js';
export * from './qom-hmp-cmds.js';
export * from './qmp-server.js';
export * from './machine-qmp-cmds.js';
export * from './qtest.js';
export * from './qmp-cmds-misc.js';
export * from './char-cmds.js';
export * from './machine-info-cmds.js';
export * from './qmp-introspect.js';
export * from './fds.js';
