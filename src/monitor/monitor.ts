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
import { connectionReleased } from '../util/memory-release.js';

/** QEMU's MonitorMode. */
export type MonitorMode = 'control' | 'readline';

/** The version line the human monitor greets with (QEMU's, for 7.2). */
export const HMP_BANNER = "QEMU 7.2.0 monitor - type 'help' for more information\r\n";

/** Every live monitor stream, so shutdown can close them all. */
const hmpStreams = new Set<Duplex>();

/** Unsent output beyond which a human monitor stops reading its client's lines. */
export const HMP_OUTPUT_LIMIT = 1024 * 1024;

/** Milliseconds of one client's commands before the rest of the process gets a turn. */
export const HMP_SLICE_MS = 5;

/**
 * Serves the human monitor on a byte stream: the banner, then a `(qemu) `
 * prompt before each command line. Unlike QEMU's readline, input is not
 * echoed and there is no line editing or history.
 *
 * Backpressure as on a QMP monitor: commands run one at a time, only while
 * less than {@link HMP_OUTPUT_LIMIT} bytes of output wait for the client,
 * in slices of {@link HMP_SLICE_MS}, and the stream is not read while
 * received lines wait to run.
 */
export function hmpMonitorAttach(stream: Duplex): void {
  hmpStreams.add(stream);
  stream.on('error', () => undefined);
  stream.write(`${HMP_BANNER}(qemu) `);
  let buf = '';
  const lines: string[] = [];
  let running = false;
  let paused = false;
  let ended = false;
  let peak = 0;
  const unsent = (): number =>
    stream.writableLength + ((stream as Duplex & { pendingBytes?: number }).pendingBytes ?? 0);
  const throttle = (): void => {
    peak = Math.max(peak, unsent() + buf.length);
    const blocked = lines.length > 0 || unsent() >= HMP_OUTPUT_LIMIT;
    if (blocked && !paused && !ended) {
      paused = true;
      stream.pause();
    } else if (!blocked && paused) {
      paused = false;
      stream.resume();
    }
  };
  const pump = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      let deadline = performance.now() + HMP_SLICE_MS;
      while (lines.length > 0 && unsent() < HMP_OUTPUT_LIMIT && !stream.destroyed) {
        if (performance.now() > deadline) {
          // Time is up: the rest after the rest of the process had its turn.
          await new Promise((r) => setImmediate(r));
          deadline = performance.now() + HMP_SLICE_MS;
          continue;
        }
        const out = new HmpOutput();
        await handleHmpCommand(lines.shift()!, out);
        if (!stream.writableEnded) stream.write(`${out.collect()}(qemu) `);
      }
    } finally {
      running = false;
    }
    throttle();
    if (ended && lines.length === 0 && !stream.writableEnded) stream.end();
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.search(/[\r\n]/)) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1).replace(/^\n/, '');
    }
    throttle();
    void pump();
  });
  stream.on('drain', () => void pump());
  stream.on('end', () => {
    ended = true;
    void pump();
  });
  stream.on('close', () => {
    hmpStreams.delete(stream);
    lines.length = 0;
    buf = '';
    // What a client that did not read made the process queue goes back to the OS.
    connectionReleased(peak);
  });
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
