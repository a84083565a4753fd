/**
 * The monitor: QMP as QEMU 7.2 speaks it, byte for byte.
 *
 * - **Server**: {@link QmpServer} listens on unix and TCP sockets
 *   (`-qmp unix:PATH,server=on,wait=off`), several monitors at once.
 * - **Client**: {@link QmpClient} connects to any QMP server (tsqom's or
 *   QEMU's), negotiates capabilities, runs commands as promises with
 *   exact 64-bit integers, and delivers events.
 * - **Dispatch and commands**: the command registry
 *   ({@link registerCommand}), the QOM commands (`qom-list`, `qom-get`,
 *   `qom-set`, `object-add`, ...), `query-memdev`, the human monitor
 *   (`info qom-tree`, `info mtree`) and the qtest protocol.
 *
 * ```ts
 * import { QmpServer, QmpClient } from 'tsqom/qmp';
 *
 * const server = new QmpServer();
 * await server.listen('unix:/run/vm/qmp.sock');
 * const client = await QmpClient.connect('/run/vm/qmp.sock');
 * console.log(await client.execute('qom-list', { path: '/' }));
 * await client.close();
 * ```
 * @module tsqom/qmp
 */
import 'reflect-metadata';

export * from '../monitor/qmp-dispatch.js';
export * from '../monitor/hmp.js';
export * from '../monitor/qmp-cmds-control.js';
export * from '../monitor/qom-qmp-cmds.js';
export * from '../monitor/qom-hmp-cmds.js';
export * from '../monitor/qmp-server.js';
export * from '../monitor/qmp-client.js';
export * from '../monitor/machine-qmp-cmds.js';
export * from '../monitor/qtest.js';
export * from '../monitor/qmp-cmds-misc.js';
export * from '../monitor/char-cmds.js';
export * from '../monitor/machine-info-cmds.js';
export * from '../monitor/qmp-introspect.js';
export * from '../monitor/fds.js';
