/**
 * Monitors on character devices (QEMU's monitor/monitor.c `monitor_init`):
 * `-mon chardev=ID,mode=control|readline[,pretty=on]` and what `-qmp`,
 * `-qmp-pretty` and `-monitor` turn into. A QMP monitor greets each
 * connection its chardev opens; a readline monitor is the human monitor.
 * @module
 */
import type { Duplex } from 'node:stream';
import { chardevConnectionDuplex, qemuChrFeInit, type Chardev } from '../chardev/index.js';
import { HmpOutput, handleHmpCommand } from './hmp.js';
import type { QmpServer } from './qmp-server.js';

/** QEMU's MonitorMode. */
export type MonitorMode = 'control' | 'readline';

/** The version line the human monitor greets with (QEMU's, for 7.2). */
export const HMP_BANNER = "QEMU 7.2.0 monitor - type 'help' for more information\r\n";

/** Every live monitor stream, so shutdown can close them all. */
const hmpStreams = new Set<Duplex>();

/**
 * Serves the human monitor on a byte stream: the banner, then a `(qemu) `
 * prompt before each command line. Unlike QEMU's readline, input is not
 * echoed and there is no line editing or history.
 */
export function hmpMonitorAttach(stream: Duplex): void {
  hmpStreams.add(stream);
  stream.on('close', () => hmpStreams.delete(stream));
  stream.on('error', () => undefined);
  stream.write(`${HMP_BANNER}(qemu) `);
  let buf = '';
  let busy = Promise.resolve();
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.search(/[\r\n]/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1).replace(/^\n/, '');
      busy = busy.then(async () => {
        const out = new HmpOutput();
        await handleHmpCommand(line, out);
        if (!stream.writableEnded) stream.write(`${out.collect()}(qemu) `);
      });
    }
  });
  stream.on('end', () => void busy.then(() => stream.end()));
}

/** Closes every human monitor connection after its pending output. */
export function hmpMonitorsClose(): void {
  for (const s of hmpStreams) s.end();
}

/**
 * QEMU's monitor_init on a chardev: claims it and serves every connection
 * it opens (now, if it is connected already, and each later one).
 */
export function monitorInitChardev(
  chr: Chardev,
  mode: MonitorMode,
  pretty: boolean,
  qmp: QmpServer,
): void {
  const owner = { monitor: mode };
  qemuChrFeInit(chr, owner);
  const serve = (): void => {
    const conn = chr.takeStream();
    if (!conn) return;
    const stream = chardevConnectionDuplex(conn);
    if (mode === 'control') qmp.attach(stream, pretty);
    else hmpMonitorAttach(stream);
  };
  chr.events.on('opened', serve);
  if (chr.connected) serve();
}
