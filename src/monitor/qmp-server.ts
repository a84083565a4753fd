/**
 * The QMP server (monitor/qmp.c, monitor/monitor.c): any number of
 * monitors over unix and TCP sockets (or any duplex stream), each with its
 * own parser, capability negotiation and request queue.
 *
 * Unlike QEMU, commands run asynchronously: a slow command on one monitor
 * never holds up the others. As in QEMU, a listening socket serves one
 * client at a time: a second client connects but gets its greeting only
 * once the first one has left (at most {@link QMP_MAX_WAITING_CLIENTS}
 * wait; more are hung up on). Within a monitor, replies keep request
 * order. Everything on the wire is as QEMU 7.2 sends it.
 *
 * Backpressure: a monitor stops reading while
 * {@link QMP_OUTPUT_LIMIT} bytes of replies wait for its client to read
 * them (or {@link QMP_REQ_QUEUE_LEN_MAX} requests wait to run), and reads
 * again when they have gone out. QEMU 7.2 keeps reading and buffers every
 * reply for as long as the client does not read. Events are sent to every
 * monitor regardless; a client that lets more than
 * {@link QMP_OUTPUT_HARD_LIMIT} pile up is disconnected.
 * @module
 */
import { CLOCK, type Clock } from '../util/clock.js';
import { MachineContext } from '../util/machine-context.js';
import { trace } from '../util/trace.js';
import { connectionReleased } from '../util/memory-release.js';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { JsonObject, JsonValue } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import { TSQOM_VERSION } from '../util/version.js';
import { JsonMessageParser } from '../qobject/json-parser.js';
import { isErrno } from '../native/errors.js';
import { UnixListener } from '../io/unix-stream.js';
import { UnixStreamDuplex } from '../io/unix-stream-duplex.js';
import { type QmpFdSource, monitorCloseNamedFds } from './fds.js';
import { qobjectToJson } from '../qobject/qjson.js';
import {
  type QmpCommandLookup,
  type QmpHost,
  type QmpMonitorHandle,
  type QmpVersionInfo,
  QmpCommandRegistry,
  qmpCommands,
  qmpDispatch,
  qmpErrorResponse,
  qmpIsOob,
} from './qmp-dispatch.js';
import './qmp-cmds-control.js';
import './qom-qmp-cmds.js';
import './qom-hmp-cmds.js';
import './qmp-cmds.js';

const traceQmp = trace('qmp');

/** QEMU's `QMP_REQ_QUEUE_LEN_MAX`: a monitor stops reading beyond this many queued requests. */
export const QMP_REQ_QUEUE_LEN_MAX = 8;

/** Unsent reply bytes beyond which a monitor stops reading its client's requests. */
export const QMP_OUTPUT_LIMIT = 1024 * 1024;

/** Unsent bytes beyond which a client is considered gone and disconnected (events keep coming). */
export const QMP_OUTPUT_HARD_LIMIT = 16 * 1024 * 1024;

/**
 * Milliseconds a monitor may spend on one client's input before it lets
 * the event loop serve others (a flood of cheap requests is parsed in
 * slices, not in one go).
 */
export const QMP_INPUT_SLICE_MS = 5;

/** Clients that may wait for their turn on one listening socket. */
export const QMP_MAX_WAITING_CLIENTS = 16;

/** The version tsqom reports: the QMP dialect it speaks (QEMU 7.2) and its own package name. */
export const TSQOM_QMP_VERSION: QmpVersionInfo = {
  qemu: { major: 7, minor: 2, micro: 0 },
  package: `tsqom ${TSQOM_VERSION}`,
};

/** Options for a {@link QmpServer}. */
export interface QmpServerOptions {
  /** What the greeting and `query-version` report (default {@link TSQOM_QMP_VERSION}). */
  version?: QmpVersionInfo;
  /** QEMU's `pretty=on`: replies in the pretty layout. */
  pretty?: boolean;
  /** The commands served (default: the global registry, {@link qmpCommands}). */
  registry?: QmpCommandRegistry;
  /**
   * Called when a command asks for shutdown (`quit`), after its reply is
   * sent. Without it the server closes itself.
   */
  onShutdown?: (reason: string) => void;
}

/** A unix socket address. */
export interface QmpUnixAddress {
  /** Discriminator. */
  type: 'unix';
  /** Socket path. */
  path: string;
}

/** A TCP address. */
export interface QmpTcpAddress {
  /** Discriminator. */
  type: 'tcp';
  /** Host to listen on (loopback by default). */
  host: string;
  /** Port (0: any free port). */
  port: number;
}

/** A parsed `-qmp` address. */
export type QmpAddress = QmpUnixAddress | QmpTcpAddress;

/**
 * Parses a QEMU chardev-style QMP address: `unix:PATH[,opts]` or
 * `tcp:HOST:PORT[,opts]` (options such as `server=on,wait=off` are
 * accepted and ignored: tsqom always listens and never waits).
 */
export function parseQmpAddress(spec: string): QmpAddress {
  const comma = spec.indexOf(',');
  const head = comma < 0 ? spec : spec.slice(0, comma);
  if (head.startsWith('unix:')) {
    const path = head.slice(5);
    if (!path) throw new QomError(`invalid QMP address '${spec}'`);
    return { type: 'unix', path };
  }
  if (head.startsWith('tcp:')) {
    const rest = head.slice(4);
    const i = rest.lastIndexOf(':');
    const host = i <= 0 ? '127.0.0.1' : rest.slice(0, i).replace(/^\[(.*)\]$/, '$1');
    const port = Number(rest.slice(i + 1));
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new QomError(`invalid QMP address '${spec}'`);
    return { type: 'tcp', host, port };
  }
  throw new QomError(`invalid QMP address '${spec}'`);
}

/** A listening socket as the server keeps it. */
interface ListenerEntry {
  address: QmpAddress;
  /** The `pretty` option of this listener's monitors (default: the server's). */
  pretty: boolean | undefined;
  /**
   * The connection served now (greeted, or held until the greetings are
   * released); QEMU serves one client per socket.
   */
  active: Duplex | null;
  /** Clients waiting for their turn, not read meanwhile. */
  waiting: Duplex[];
  /** Told when the socket gets a client and when it has none again. */
  onClient?: (connected: boolean) => void;
  close(): Promise<void>;
}

/** A listening socket of a {@link QmpServer}. */
export interface QmpListener {
  /** Where it listens (for TCP, the actual port). */
  readonly address: QmpAddress;
  /** Stops listening (connected monitors stay). */
  close(): Promise<void>;
  /**
   * Called with true when the socket's turn goes to a client and with
   * false when it has none left (the `connected` of QEMU's chardev).
   */
  onClient?: (connected: boolean) => void;
}

interface QueuedRequest {
  req?: JsonValue;
  err?: QomError;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function'
  );
}

/** One QMP monitor: a client connection and its protocol state. */
export class QmpMonitor implements QmpMonitorHandle, QmpFdSource {
  /** The descriptors named with `getfd` on this monitor; closed with it. */
  readonly namedFds = new Map<string, number>();
  readonly #parser: JsonMessageParser;
  readonly #queue: QueuedRequest[] = [];
  #running = false;
  #closed = false;
  #paused = false;
  /** Received bytes not parsed yet (held while the client does not read its replies). */
  #held: Buffer | null = null;
  #outText: string[] = [];
  #outLength = 0;
  /** The most this monitor had queued (input held, output unsent) at once. */
  #peakQueued = 0;
  #flushScheduled = false;
  #feeding = false;
  #sliceScheduled = false;
  #inputEnded = false;
  #negotiationOver = false;
  readonly #enabledCaps = new Set<string>();
  /** Capabilities offered in the greeting. */
  readonly capabilitiesOffered: readonly string[] = ['oob'];
  readonly #stream: Duplex;
  readonly #server: QmpServer;
  /** QEMU's `pretty=on` for this monitor. */
  readonly pretty: boolean;

  /**
   * @param server - the server it belongs to.
   * @param stream - the client connection.
   */
  constructor(server: QmpServer, stream: Duplex, pretty: boolean = server.pretty) {
    this.#stream = stream;
    this.#server = server;
    this.pretty = pretty;
    this.#parser = new JsonMessageParser((value, err) => this.#handleMessage(value, err));
    stream.on('data', (chunk: Buffer) => {
      if (this.#closed) return;
      this.#held = this.#held === null ? chunk : Buffer.concat([this.#held, chunk]);
      this.#peakQueued = Math.max(this.#peakQueued, this.#held.length + this.#unsentBytes);
      this.#feedHeld();
    });
    stream.on('drain', () => {
      if (this.#closed) return;
      if (!this.#running && this.#queue.length > 0) this.#pump();
      this.#feedHeld();
    });
    stream.on('error', () => this.#teardown());
    stream.on('close', () => this.#teardown());
    stream.on('end', () => {
      // The client is done sending: answer what it sent, then hang up.
      this.#inputEnded = true;
      if (!this.#running && this.#held === null) this.close();
    });
    this.send({
      QMP: { version: versionJson(server.version), capabilities: [...this.capabilitiesOffered] },
    });
  }

  /** Whether `qmp_capabilities` has succeeded. */
  get negotiated(): boolean {
    return this.#negotiationOver;
  }

  /** Capabilities the client enabled. */
  get capabilitiesEnabled(): ReadonlySet<string> {
    return this.#enabledCaps;
  }

  /** The commands this monitor serves. */
  get registry(): QmpCommandRegistry {
    return this.#server.registry;
  }

  /** Server-wide services. */
  get host(): QmpHost {
    return this.#server;
  }

  /** Whether the connection is gone. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Switches to commands mode with the given capabilities. */
  completeNegotiation(enabled: readonly string[]): void {
    this.#enabledCaps.clear();
    for (const c of enabled) this.#enabledCaps.add(c);
    this.#negotiationOver = true;
  }

  /** Sends one JSON message, framed as QEMU frames it. */
  send(msg: JsonValue): void {
    if (this.#closed) return;
    let text = qobjectToJson(msg, this.pretty) + '\n';
    if (traceQmp.enabled) traceQmp('monitor_qmp_respond %s', text.trimEnd());
    if (this.pretty) text = text.replace(/\n/g, '\r\n');
    else text = text.slice(0, -1) + '\r\n';
    // Replies produced in one go leave in one write (fewer, larger buffers).
    this.#outText.push(text);
    this.#outLength += text.length;
    this.#peakQueued = Math.max(this.#peakQueued, this.#unsentBytes + (this.#held?.length ?? 0));
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(() => this.#flushOutput());
    }
    if (this.#unsentBytes > QMP_OUTPUT_HARD_LIMIT) {
      this.#teardown();
      this.#stream.destroy();
    }
  }

  #flushOutput(): void {
    this.#flushScheduled = false;
    if (this.#outText.length === 0 || this.#closed) return;
    const text = this.#outText.length === 1 ? this.#outText[0] : this.#outText.join('');
    this.#outText = [];
    this.#outLength = 0;
    this.#stream.write(text);
  }

  /** Bytes sent but not yet taken by the client (or the kernel). */
  get #unsentBytes(): number {
    // A unix socket's own send queue lies beyond the stream's writableLength.
    const s = this.#stream as Duplex & { pendingBytes?: number };
    return this.#stream.writableLength + (s.pendingBytes ?? 0) + this.#outLength;
  }

  /** Too much is waiting (requests to run or replies to be read) to take more input. */
  get #blocked(): boolean {
    return (
      this.#closed ||
      this.#queue.length >= QMP_REQ_QUEUE_LEN_MAX ||
      this.#unsentBytes >= QMP_OUTPUT_LIMIT
    );
  }

  /** Parses held input until it is used up or the monitor is blocked. */
  #feedHeld(): void {
    if (this.#feeding) return;
    this.#feeding = true;
    const deadline = performance.now() + QMP_INPUT_SLICE_MS;
    const stop = (): boolean => this.#blocked || performance.now() > deadline;
    try {
      while (this.#held !== null && !stop()) {
        const buf = this.#held;
        const used = this.#parser.feed(buf, stop);
        this.#held = used < buf.length ? buf.subarray(used) : null;
      }
    } finally {
      this.#feeding = false;
    }
    if (this.#closed) return;
    if (this.#held !== null && !this.#blocked && !this.#sliceScheduled) {
      // Time is up: the rest after other clients had their turn.
      this.#sliceScheduled = true;
      setImmediate(() => {
        this.#sliceScheduled = false;
        this.#feedHeld();
      });
    }
    if (this.#held !== null && !this.#paused) {
      this.#paused = true;
      this.#stream.pause();
    } else if (this.#held === null && this.#paused) {
      this.#paused = false;
      this.#stream.resume();
    }
    if (this.#held === null && this.#inputEnded && !this.#running) this.close();
  }

  /** Closes the connection after pending output. */
  close(): void {
    if (this.#closed) return;
    this.#flushOutput();
    this.#teardown();
    this.#stream.end();
  }

  /**
   * Closes the connection and resolves once its pending output has been
   * handed to the OS and the stream is gone (or after `timeoutMs`, when
   * the peer does not read: then the stream is destroyed).
   */
  closeAndFlush(timeoutMs = 2000): Promise<void> {
    const stream = this.#stream;
    this.close();
    if (stream.destroyed || stream.writableFinished) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        stream.destroy();
        resolve();
      }, timeoutMs);
      stream.once('finish', done);
      stream.once('close', done);
    });
  }

  /** Takes the oldest descriptor the client passed and no command used (none on a non-unix stream). */
  takeReceivedFd(): number | undefined {
    const s = this.#stream as Duplex & { takeReceivedFd?: () => number | undefined };
    return typeof s.takeReceivedFd === 'function' ? s.takeReceivedFd() : undefined;
  }

  #teardown(): void {
    if (this.#closed) return;
    this.#closed = true;
    monitorCloseNamedFds(this);
    this.#queue.length = 0;
    this.#held = null;
    this.#outText = [];
    this.#outLength = 0;
    this.#parser.reset();
    // What a client that did not read made the process queue goes back to the OS.
    connectionReleased(this.#peakQueued);
    this.#server.monitorClosed(this);
  }

  get #commands(): QmpCommandLookup {
    if (this.#negotiationOver) return this.#server.registry;
    const reg = this.#server.registry;
    return { find: (name) => (name === 'qmp_capabilities' ? reg.find(name) : undefined) };
  }

  #handleMessage(value: JsonValue | undefined, err: QomError | undefined): void {
    if (this.#closed) return;
    if (value !== undefined && qmpIsOob(value) && this.#enabledCaps.has('oob')) {
      // Out-of-band: run now, ahead of queued requests.
      const rsp = this.#dispatch(value);
      if (isThenable(rsp)) rsp.then((r) => this.#respond(r));
      else this.#respond(rsp);
      return;
    }
    this.#queue.push(err ? { err } : { req: value });
    if (!this.#running) this.#pump();
  }

  #dispatch(req: JsonValue): JsonObject | null | Promise<JsonObject | null> {
    if (traceQmp.enabled) traceQmp('monitor_qmp_cmd_in_band %s', qobjectToJson(req));
    const negotiating = !this.#negotiationOver;
    const rsp = qmpDispatch(this.#commands, req, this.#enabledCaps.has('oob'), { monitor: this });
    if (!negotiating) return rsp;
    const fix = (r: JsonObject | null): JsonObject | null => {
      const e = r?.error as JsonObject | undefined;
      if (e && e.class === 'CommandNotFound') {
        delete e.desc;
        e.desc = "Expecting capabilities negotiation with 'qmp_capabilities'";
      }
      return r;
    };
    return isThenable(rsp) ? rsp.then(fix) : fix(rsp);
  }

  #respond(rsp: JsonObject | null): void {
    if (rsp) this.send(rsp);
  }

  #pump(): void {
    this.#running = true;
    while (this.#queue.length > 0 && !this.#closed) {
      if (this.#unsentBytes >= QMP_OUTPUT_LIMIT) {
        // The client is not reading: carry on at 'drain'.
        this.#running = false;
        return;
      }
      const item = this.#queue.shift()!;
      const rsp = item.err ? qmpErrorResponse(item.err) : this.#dispatch(item.req!);
      if (isThenable(rsp)) {
        rsp.then(
          (r) => {
            this.#respond(r);
            this.#pump();
            this.#feedHeld();
          },
          (e: unknown) => {
            this.#respond(qmpErrorResponse(e));
            this.#pump();
            this.#feedHeld();
          },
        );
        return;
      }
      this.#respond(rsp);
    }
    this.#running = false;
    if (this.#inputEnded && this.#held === null) this.close();
  }
}

/** A listening socket: the client being served and those waiting for their turn. */

function versionJson(v: QmpVersionInfo): JsonObject {
  return {
    qemu: { major: v.qemu.major, minor: v.qemu.minor, micro: v.qemu.micro },
    package: v.package,
  };
}

/** A QMP server: listeners, monitors, events and shutdown. */
export class QmpServer implements QmpHost {
  /** What the greeting and `query-version` report. */
  readonly version: QmpVersionInfo;
  /** Whether replies use the pretty layout. */
  readonly pretty: boolean;
  /** The commands served. */
  readonly registry: QmpCommandRegistry;
  readonly #monitorSet = new Set<QmpMonitor>();
  // Event timestamps come from the clock of the context the server was made in.
  readonly #clock: Clock = MachineContext.current().resolve(CLOCK);
  readonly #listeners = new Set<ListenerEntry>();
  readonly #onShutdown?: (reason: string) => void;
  #shutdownReason: string | undefined;
  #shutdownScheduled = false;
  #closing: Promise<void> | undefined;
  /** Connections waiting for {@link releaseGreetings}, with their options. */
  #held: Array<{ stream: Duplex; pretty: boolean | undefined }> | null = null;

  /** @param options - see {@link QmpServerOptions}. */
  constructor(options: QmpServerOptions = {}) {
    this.version = options.version ?? TSQOM_QMP_VERSION;
    this.pretty = !!options.pretty;
    this.registry = options.registry ?? qmpCommands;
    this.#onShutdown = options.onShutdown;
  }

  /** The connected monitors. */
  get monitors(): readonly QmpMonitor[] {
    return [...this.#monitorSet];
  }

  /**
   * Listens on a unix socket or a TCP port (`unix:PATH`, `tcp:HOST:PORT`
   * or a parsed address). A stale unix socket file is replaced, as QEMU
   * does; the file is removed again when the listener closes. `pretty`
   * overrides the server's layout for the monitors it accepts.
   */
  async listen(address: string | QmpAddress, pretty?: boolean): Promise<QmpListener> {
    const addr = typeof address === 'string' ? parseQmpAddress(address) : address;
    if (addr.type === 'unix') return this.#listenUnix(addr, pretty);
    const server = net.createServer((sock) => this.#accept(entry, sock));
    const entry: ListenerEntry = {
      address: addr,
      pretty,
      active: null,
      waiting: [],
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, resolve);
    });
    const a = server.address() as net.AddressInfo;
    entry.address = { type: 'tcp', host: addr.host, port: a.port };
    this.#listeners.add(entry);
    return this.#handle(entry);
  }

  /**
   * A unix socket listener whose clients can pass descriptors with
   * SCM_RIGHTS (`getfd`, `add-fd`); Node's own sockets cannot receive them.
   * Throws an Error whose message is the system's text, as QEMU appends it.
   */
  #listenUnix(addr: QmpUnixAddress, pretty: boolean | undefined): QmpListener {
    if (existsSync(addr.path) && lstatSync(addr.path).isSocket()) unlinkSync(addr.path);
    let l: UnixListener;
    try {
      // Room for a burst of connecting clients; they are served one at a time.
      l = UnixListener.listen(addr.path, { allowHalfOpen: true, backlog: 128 });
    } catch (e) {
      throw isErrno(e) ? new Error(e.strerror) : e;
    }
    l.on('error', () => {
      // accept() failures leave the listener as it is; QEMU logs nothing either.
    });
    const entry: ListenerEntry = {
      address: addr,
      pretty,
      active: null,
      waiting: [],
      close: () => {
        l.close();
        return Promise.resolve();
      },
    };
    l.on('connection', (stream) => this.#accept(entry, new UnixStreamDuplex(stream)));
    this.#listeners.add(entry);
    return this.#handle(entry);
  }

  #handle(entry: ListenerEntry): QmpListener {
    return {
      address: entry.address,
      close: () => this.#closeListener(entry),
      get onClient() {
        return entry.onClient;
      },
      set onClient(cb) {
        entry.onClient = cb;
        // A client that came before the callback did.
        if (entry.active !== null) cb?.(true);
      },
    };
  }

  /** One client at a time per listening socket, as QEMU's chardev: the others wait. */
  #accept(entry: ListenerEntry, sock: Duplex): void {
    if (!this.#listeners.has(entry)) {
      sock.destroy();
      return;
    }
    if (entry.active === null) {
      this.#serve(entry, sock);
      return;
    }
    if (entry.waiting.length >= QMP_MAX_WAITING_CLIENTS) {
      sock.destroy();
      return;
    }
    // Not read until its turn: what it sends stays in the socket, as with QEMU.
    sock.pause();
    sock.on('error', () => undefined);
    sock.once('close', () => {
      const i = entry.waiting.indexOf(sock);
      if (i >= 0) entry.waiting.splice(i, 1);
    });
    entry.waiting.push(sock);
  }

  #serve(entry: ListenerEntry, sock: Duplex): void {
    // The socket's turn starts now, even if its greeting is held until the
    // command line is processed: later clients queue behind it.
    entry.active = sock;
    entry.onClient?.(true);
    const done = (): void => {
      if (entry.active !== sock) return;
      entry.active = null;
      this.#serveNext(entry);
      if (entry.active === null) entry.onClient?.(false);
    };
    sock.once('close', done);
    // Null while greetings are held: releaseGreetings resumes it.
    if (this.attach(sock, entry.pretty) !== null) sock.resume();
    if (sock.destroyed && sock.closed) done();
  }

  /** Gives the socket's turn to the longest-waiting client still there. */
  #serveNext(entry: ListenerEntry): void {
    let next: Duplex | undefined;
    while ((next = entry.waiting.shift()) !== undefined) {
      if (next.destroyed) continue;
      if (!this.#listeners.has(entry)) {
        next.destroy();
        continue;
      }
      this.#serve(entry, next);
      return;
    }
  }

  async #closeListener(entry: ListenerEntry): Promise<void> {
    if (!this.#listeners.delete(entry)) return;
    for (const w of entry.waiting.splice(0)) w.destroy();
    await entry.close();
  }

  /**
   * Serves QMP on an already connected stream (a socket, stdio, a test
   * pipe). `pretty` overrides the server's layout for this monitor. While
   * greetings are held (see {@link holdGreetings}) the connection waits,
   * unread, and null is returned.
   */
  attach(stream: Duplex, pretty?: boolean): QmpMonitor | null {
    if (this.#closing !== undefined) {
      // Shutting down: QEMU would have exited before greeting anyone new.
      stream.destroy();
      return null;
    }
    if (this.#held !== null) {
      stream.pause();
      const entry = { stream, pretty };
      this.#held.push(entry);
      stream.once('close', () => {
        const i = this.#held?.indexOf(entry) ?? -1;
        if (i >= 0) this.#held!.splice(i, 1);
      });
      return null;
    }
    if (stream instanceof net.Socket && stream.remoteAddress !== undefined) stream.setNoDelay(true);
    const mon = new QmpMonitor(this, stream, pretty ?? this.pretty);
    if (!mon.isClosed) this.#monitorSet.add(mon);
    return mon;
  }

  /**
   * Holds the greeting of every connection from now on until
   * {@link releaseGreetings}: QEMU greets only once its command line has
   * been processed, so a client never sees a half-built machine.
   */
  holdGreetings(): void {
    this.#held ??= [];
  }

  /** Greets the connections that waited, and every later one at once. */
  releaseGreetings(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const { stream, pretty } of held) {
      if (stream.destroyed) continue;
      this.attach(stream, pretty);
      stream.resume();
    }
  }

  /** @internal Called by a monitor whose connection went away. */
  monitorClosed(mon: QmpMonitor): void {
    this.#monitorSet.delete(mon);
  }

  /**
   * Sends an event to every monitor out of negotiation mode, with QEMU's
   * `{"timestamp": {"seconds", "microseconds"}, "event", "data"}` layout.
   */
  emitEvent(event: string, data?: JsonObject): void {
    const us = this.#clock.realtimeUs();
    const msg: JsonObject = {
      event,
      timestamp: { seconds: Number(us / 1000000n), microseconds: Number(us % 1000000n) },
    };
    if (data !== undefined) msg.data = data;
    for (const m of this.#monitorSet) if (m.negotiated) m.send(msg);
  }

  /**
   * `qemu_system_shutdown_request()`: emits `SHUTDOWN` now and, once the
   * current reply has gone out, calls the host's shutdown callback (or
   * closes the server).
   */
  requestShutdown(reason: string, guest = false): void {
    this.emitEvent('SHUTDOWN', { guest, reason });
    this.#shutdownReason ??= reason;
    if (!this.#shutdownScheduled) {
      this.#shutdownScheduled = true;
      setImmediate(() => this.#runShutdown());
    }
  }

  #runShutdown(): void {
    const reason = this.#shutdownReason ?? 'host-qmp-quit';
    if (this.#onShutdown) this.#onShutdown(reason);
    else void this.close();
  }

  /**
   * Stops listening and closes every monitor; resolves once their pending
   * output has been flushed, so every client reads its replies, then EOF.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const ls = [...this.#listeners];
      const held = this.#held ?? [];
      this.#held = null;
      for (const h of held) h.stream.destroy();
      const flushed = [...this.#monitorSet].map((m) => m.closeAndFlush());
      await Promise.all(ls.map((l) => this.#closeListener(l)));
      await Promise.all(flushed);
    })();
    return this.#closing;
  }
}
