/**
 * QEMU's qtest protocol server (`-qtest`, system/qtest.c), so a test or a
 * person can act as the guest: read and write the system address space,
 * poke I/O ports and watch interrupts, line by line over a socket.
 *
 * The server speaks the protocol as QEMU 7.2 does, byte for byte: the same
 * commands, the same `OK ...` formats (`readq` answers `OK 0x%016x`,
 * `read` a hex dump, `b64read` base64), `ERR invalid argument size` for a
 * short `write`/`b64write` payload, `FAIL Unknown command '...'`,
 * `FAIL Unknown device`, `FAIL IRQ intercept already enabled`, and
 * asynchronous `IRQ raise N`/`IRQ lower N` lines. Where QEMU differs, on
 * purpose:
 * - A malformed command (missing argument, bad number, `read` of zero
 *   bytes, a port above 0xffff) makes QEMU abort the whole emulator on an
 *   assertion. tsqom answers `FAIL <reason>` (see {@link QtestServer}) and
 *   keeps serving; a libqtest client fails either way.
 * - `b64write` with fewer decoded bytes than SIZE writes only the decoded
 *   bytes (QEMU writes SIZE bytes, reading past its buffer).
 * - A partial line left by a client that disconnects is dropped (QEMU keeps
 *   it and prepends it to the next client's input).
 * - `clock_step`/`clock_set` exist only when the target has a clock
 *   ({@link QtestClock}); otherwise they are unknown commands, as in QEMU
 *   builds without the qtest accelerator.
 * - Transfers are bounded by {@link QtestServerOptions.maxTransferSize},
 *   a `write`/`b64write` line by what the largest transfer needs, and any
 *   other line by {@link QTEST_MAX_COMMAND_LINE}; a longer one (complete
 *   or not) disconnects the client. QEMU buffers any line whole.
 * - Backpressure: the server stops reading a client while
 *   {@link QTEST_OUTPUT_LIMIT} bytes of replies wait to be read, and
 *   replies to `read`/`b64read` larger than that are produced piece by
 *   piece as the client reads them (the bytes are read from the target
 *   piece by piece too). QEMU reads on and buffers every reply whole.
 * - Lines are found in linear time, however they are split across reads
 *   (QEMU, and tsqom before, rescanned the buffered input at every read).
 *
 * The server drives an abstract {@link QtestTarget}, so any address space
 * can be plugged in; the target reports interrupts with
 * {@link QtestServer.setIrq}.
 * @module
 */
import { trace } from '../util/trace.js';
import { connectionReleased } from '../util/memory-release.js';
import { TsqomError } from '../util/error.js';
import { EventEmitter } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import { qemuStrtoi64, qemuStrtou64 } from '../util/cutils.js';

const traceQtest = trace('qtest');

/** A virtual clock for `clock_step` and `clock_set` (QEMU_CLOCK_VIRTUAL). */
export interface QtestClock {
  /** Current virtual time in nanoseconds. */
  now(): bigint;
  /** Nanoseconds until the next timer deadline, or -1 when no timer is pending. */
  deadline(): bigint;
  /** Advances the clock to `dest` (running timers on the way); does nothing when `dest` is not in the future. */
  warp(dest: bigint): void;
}

/** The system a qtest client drives. Only `read` and `write` are required. */
export interface QtestTarget {
  /** Reads `len` bytes of the system address space at `addr` (unassigned addresses read as the target likes, QEMU gives zeros). */
  read(addr: bigint, len: number): Uint8Array;
  /** Writes `data` at `addr` (writes to unassigned addresses are dropped). */
  write(addr: bigint, data: Uint8Array): void;
  /** True for a big-endian target: `readw`..`readq` and `writew`..`writeq` swap bytes. Default little-endian. */
  readonly bigEndian?: boolean;
  /** Reads an I/O port (`inb`/`inw`/`inl`); without it every port reads as all ones. */
  pioRead?(port: number, size: 1 | 2 | 4): number;
  /** Writes an I/O port (`outb`/`outw`/`outl`); without it port writes are dropped. */
  pioWrite?(port: number, size: 1 | 2 | 4, value: number): void;
  /**
   * Resolves a QOM path for `irq_intercept_in`/`irq_intercept_out`/`set_irq_in`:
   * an opaque device handle, or undefined for `FAIL Unknown device`.
   */
  resolveDevice?(path: string): object | undefined;
  /** Told when interception starts on a device, so it can route its lines to {@link QtestServer.setIrq}. */
  interceptIrq?(device: object, direction: 'in' | 'out'): void;
  /** `set_irq_in`: sets input line `n` of GPIO list `name` (undefined: unnamed) to `level`. */
  setIrqIn?(device: object, name: string | undefined, n: number, level: number): void;
  /** The virtual clock; without it `clock_step` and `clock_set` are unknown commands. */
  readonly clock?: QtestClock;
}

/** Options of a {@link QtestServer}. */
export interface QtestServerOptions {
  /**
   * Receives the protocol log in QEMU's `-qtest-log` format (`[R +T] cmd`,
   * `[S +T] reply`, `[I T] OPENED`, `[I +T] CLOSED`), text chunk by chunk.
   */
  log?: (text: string) => void;
  /** Largest `read`/`b64read`/`write`/`b64write`/`memset` size; bigger ones FAIL. Default 64 MiB. */
  maxTransferSize?: number;
}

/** A `-qtest unix:PATH,...` specification. */
export interface QtestUnixChardevSpec {
  /** The socket family. */
  kind: 'unix';
  /** The socket path. */
  path: string;
  /** Listen (`server=on`) rather than connect. */
  server: boolean;
  /** As a server, wait for the first client before going on (`wait=on`). */
  wait: boolean;
}

/** A `-qtest tcp:HOST:PORT,...` specification. */
export interface QtestTcpChardevSpec {
  /** The socket family. */
  kind: 'tcp';
  /** The host name or address. */
  host: string;
  /** The TCP port. */
  port: number;
  /** Listen (`server=on`) rather than connect. */
  server: boolean;
  /** As a server, wait for the first client before going on (`wait=on`). */
  wait: boolean;
}

/** A parsed `-qtest` character device specification. */
export type QtestChardevSpec = QtestUnixChardevSpec | QtestTcpChardevSpec;

/**
 * Parses a `-qtest` argument: `unix:PATH[,server=on|off][,wait=on|off]` or
 * `tcp:HOST:PORT[,...]`, with QEMU's legacy `server` and `nowait` flags.
 * As in QEMU, `server` defaults to off (connect to a listening client) and
 * `wait` to on.
 * @throws Error for anything else.
 */
export function parseQtestChardev(spec: string): QtestChardevSpec {
  // Options are separated by ',' and ',,' escapes a comma in the path.
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] === ',') {
      if (spec[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      parts.push(cur);
      cur = '';
    } else {
      cur += spec[i];
    }
  }
  parts.push(cur);
  const head = parts.shift()!;
  let server = false;
  let wait = true;
  for (const p of parts) {
    const eq = p.indexOf('=');
    const key = eq < 0 ? p : p.slice(0, eq);
    const val = eq < 0 ? undefined : p.slice(eq + 1);
    if (key === 'nowait' && val === undefined) wait = false;
    else if (key === 'server') server = val === undefined ? true : onOff(key, val);
    else if (key === 'wait') wait = val === undefined ? true : onOff(key, val);
    else throw new Error(`Invalid parameter '${key}'`);
  }
  if (head.startsWith('unix:')) {
    const path = head.slice(5);
    if (!path) throw new Error(`Failed to initialize device for qtest: "${spec}"`);
    return { kind: 'unix', path, server, wait };
  }
  if (head.startsWith('tcp:')) {
    const rest = head.slice(4);
    const colon = rest.lastIndexOf(':');
    const port = Number(rest.slice(colon + 1));
    if (
      colon < 0 ||
      !Number.isInteger(port) ||
      port < 0 ||
      port > 65535 ||
      rest.slice(colon + 1) === ''
    ) {
      throw new Error(`Failed to initialize device for qtest: "${spec}"`);
    }
    return { kind: 'tcp', host: rest.slice(0, colon), port, server, wait };
  }
  throw new Error(`Failed to initialize device for qtest: "${spec}"`);
}

function onOff(key: string, val: string): boolean {
  if (val === 'on' || val === 'yes' || val === 'true') return true;
  if (val === 'off' || val === 'no' || val === 'false') return false;
  throw new Error(`Parameter '${key}' expects 'on' or 'off'`);
}

/** A command QEMU would abort on; answered with `FAIL <message>`. */
class QtestProtocolError extends TsqomError {
  constructor(message: string) {
    super(message, 'ERR_QTEST_PROTOCOL');
  }
}

const DEFAULT_MAX_TRANSFER = 64 * 1024 * 1024;

/** Unread reply bytes beyond which the qtest server stops reading its client. */
export const QTEST_OUTPUT_LIMIT = 1024 * 1024;

/** Longest line other than a `write`/`b64write` (whose data may be up to twice the largest transfer). */
export const QTEST_MAX_COMMAND_LINE = 64 * 1024;

/** Milliseconds spent on one client's input before the event loop serves others. */
const QTEST_SLICE_MS = 5;

/** Whether a line (its first bytes) is a `write` or `b64write`. */
function isWriteLine(head: Buffer): boolean {
  const s = head.toString('latin1', 0, 9);
  return s.startsWith('write ') || s.startsWith('b64write ');
}

/** The first bytes of a line held in pieces (enough for {@link isWriteLine}). */
function lineHead(parts: readonly Buffer[]): Buffer {
  const head: Buffer[] = [];
  let n = 0;
  for (const p of parts) {
    head.push(p);
    n += p.length;
    if (n >= 9) break;
  }
  return Buffer.concat(head);
}

/** Bytes of the target read per piece of a large `read`/`b64read` reply (a multiple of 3, for base64). */
const READ_PIECE = 384 * 1024;

function hex2nib(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

const B64_RANK = (() => {
  const t = new Int16Array(256).fill(-1);
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < a.length; i++) t[a.charCodeAt(i)] = i;
  t[0x3d] = 0; // '=' counts as a zero sextet
  return t;
})();

/**
 * Base64 decoding as GLib's `g_base64_decode_inplace()` does it: characters
 * outside the alphabet are skipped, `=` is a zero sextet that suppresses
 * output bytes, and an incomplete final group is dropped.
 */
export function glibBase64Decode(text: string): Uint8Array {
  const out: number[] = [];
  let v = 0;
  let n = 0;
  let last0 = 0;
  let last1 = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) & 0xff;
    const rank = B64_RANK[c]!;
    if (rank < 0) continue;
    last1 = last0;
    last0 = c;
    v = ((v << 6) | rank) & 0xffffff;
    if (++n === 4) {
      out.push((v >> 16) & 0xff);
      if (last1 !== 0x3d) out.push((v >> 8) & 0xff);
      if (last0 !== 0x3d) out.push(v & 0xff);
      n = 0;
    }
  }
  return Uint8Array.from(out);
}

interface Conn {
  socket: net.Socket;
  /** Pieces of the current, unfinished line (already searched for a newline). */
  parts: Buffer[];
  partsLen: number;
  /** Received bytes not looked at yet (held while the client does not read). */
  held: Buffer[];
  /** A reply being produced piece by piece. */
  streaming: Iterator<string> | undefined;
  /** Asynchronous lines (IRQ) that came while a reply was being streamed. */
  deferred: string[];
  paused: boolean;
  /** The most this connection had queued (input held, output unsent) at once. */
  peakQueued: number;
}

/** A reply: text, text sent without the log prefix, or text produced piece by piece. */
type CommandReply = string | { text: string } | { pieces: () => Iterator<string> };

/**
 * The qtest server. Create it on a target, then either `listen()` on a
 * socket (one client at a time, like QEMU's chardev: further clients wait
 * until the current one leaves) or feed it lines with
 * {@link QtestServer.processLine}.
 *
 * Answers where QEMU would abort on an assertion (tsqom's own texts):
 * `FAIL missing argument`, `FAIL invalid number 'W'`, `FAIL zero length`,
 * `FAIL port out of range`, `FAIL transfer too large`, and
 * `FAIL <message>` when the target throws.
 *
 * Events: `opened` and `closed` when a client connects and leaves.
 */
export class QtestServer extends EventEmitter {
  readonly #target: QtestTarget;
  readonly #logFn: ((text: string) => void) | undefined;
  readonly #maxTransfer: number;
  #server: net.Server | undefined;
  #active: Conn | undefined;
  readonly #waiting: net.Socket[] = [];
  readonly #sockets = new Set<net.Socket>();
  #interceptDev: object | undefined;
  readonly #irqLevels = new Map<number, number>();
  #openedAt: bigint | undefined;
  #closing = false;
  #abortListen: ((e: Error) => void) | undefined;

  /**
   * @param target - the system the client drives.
   * @param options - logging and limits.
   */
  constructor(target: QtestTarget, options: QtestServerOptions = {}) {
    super();
    this.#target = target;
    this.#logFn = options.log;
    this.#maxTransfer = options.maxTransferSize ?? DEFAULT_MAX_TRANSFER;
  }

  /** True while a client is connected. */
  get connected(): boolean {
    return this.#active !== undefined;
  }

  /** True once `irq_intercept_in`/`irq_intercept_out` succeeded. */
  get intercepting(): boolean {
    return this.#interceptDev !== undefined;
  }

  /**
   * Starts serving `spec` (a `-qtest` argument or a parsed spec). With
   * `server=on` it listens, replacing a stale socket file (QEMU unlinks the
   * path first; tsqom only removes sockets, never other files), and
   * resolves once listening, or with `wait=on` once the first client is
   * connected. With `server=off` it connects to a listening client.
   */
  async listen(spec: string | QtestChardevSpec): Promise<void> {
    if (this.#server || this.#active) throw new Error('qtest server already started');
    const s = typeof spec === 'string' ? parseQtestChardev(spec) : spec;
    this.#closing = false;
    if (!s.server) {
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const sock =
          s.kind === 'unix'
            ? net.connect({ path: s.path })
            : net.connect({ host: s.host || 'localhost', port: s.port });
        sock.once('connect', () => {
          sock.off('error', reject);
          resolve(sock);
        });
        sock.once('error', reject);
      });
      this.#adopt(socket);
      return;
    }
    const server = net.createServer((sock) => this.#adopt(sock));
    this.#server = server;
    if (s.kind === 'unix') removeStaleSocket(s.path);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // close() during listen() aborts it (the 'listening' callback then never comes).
        this.#abortListen = reject;
        const done = (): void => {
          server.off('error', reject);
          this.#abortListen = undefined;
          resolve();
        };
        if (s.kind === 'unix') server.listen(s.path, done);
        else server.listen(s.port, s.host || undefined, done);
      });
    } catch (e) {
      this.#abortListen = undefined;
      if (this.#server === server) this.#server = undefined;
      throw e;
    }
    if (this.#closing) {
      if (s.wait) throw new Error('qtest server closed before a client connected');
      return;
    }
    // Registered after listening: a client can only connect in a later event-loop turn.
    const firstClient = s.wait
      ? new Promise<void>((resolve, reject) => {
          const opened = (): void => {
            this.off('shutdown', shut);
            resolve();
          };
          const shut = (): void => {
            this.off('opened', opened);
            reject(new Error('qtest server closed before a client connected'));
          };
          this.once('opened', opened);
          this.once('shutdown', shut);
        })
      : undefined;
    server.on('error', (e) => {
      if (this.listenerCount('error')) this.emit('error', e);
    });
    if (firstClient) await firstClient;
  }

  /** The listening address (for `tcp:...:0`), if listening. */
  address(): net.AddressInfo | string | null {
    return this.#server?.address() ?? null;
  }

  /** Disconnects every client and stops listening (removing the unix socket). */
  async close(): Promise<void> {
    this.#closing = true;
    this.emit('shutdown');
    this.#abortListen?.(new Error('qtest server closed before a client connected'));
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.#waiting.length = 0;
  }

  /** Same as {@link QtestServer.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Reports interrupt line `n` at `level` (non-zero is raised). While
   * interception is on and the level changed, the connected client gets
   * `IRQ raise N` or `IRQ lower N`; levels start at 0 for each client.
   */
  setIrq(n: number, level: number): void {
    if (this.#interceptDev === undefined) return;
    if ((this.#irqLevels.get(n) ?? 0) === level) return;
    this.#irqLevels.set(n, level);
    this.#send(`IRQ ${level ? 'raise' : 'lower'} ${n}\n`, true);
  }

  /** `setIrq(n, 1)`. */
  irqRaise(n: number): void {
    this.setIrq(n, 1);
  }

  /** `setIrq(n, 0)`. */
  irqLower(n: number): void {
    this.setIrq(n, 0);
  }

  /**
   * Processes one command line (without its newline) and returns the reply
   * (with its newline). Asynchronous `IRQ` lines the command causes go to
   * the connected client, if any, before this reply is sent.
   */
  processLine(line: string): string {
    const r = this.#run(line);
    if (typeof r === 'string') return r;
    let out = '';
    for (let it = r.next(); !it.done; it = r.next()) out += it.value;
    return out;
  }

  /** Runs one line: the whole reply, or (for a large read) its pieces, logged as they are produced. */
  #run(line: string): string | Iterator<string> {
    if (traceQtest.enabled)
      traceQtest('qtest %s', line.length > 200 ? `${line.slice(0, 200)}...` : line);
    const words = line.split(' ');
    this.#logRaw(`[R +${this.#elapsed()}]${words.map((w) => ` ${w}`).join('')}\n`);
    let reply: string;
    let prefixed = true;
    try {
      const r = this.#command(words);
      if (typeof r === 'string') reply = r;
      else if ('text' in r) {
        reply = r.text;
        prefixed = false;
      } else {
        return this.#loggedPieces(r.pieces());
      }
    } catch (e) {
      reply = failText(e);
    }
    this.#logReply(reply, prefixed);
    return reply;
  }

  *#loggedPieces(pieces: Iterator<string>): Generator<string> {
    let first = true;
    for (;;) {
      let r: IteratorResult<string>;
      try {
        r = pieces.next();
      } catch (e) {
        // The target failed: a FAIL reply, or after a first piece, the end
        // of the line the client has started.
        const tail = first ? failText(e) : ` ${failText(e)}`;
        if (first) this.#logReply(tail, true);
        else this.#logRawReply(tail);
        yield tail;
        return;
      }
      if (r.done) return;
      if (first) this.#logReply(r.value, true);
      else this.#logRawReply(r.value);
      first = false;
      yield r.value;
    }
  }

  // ---- socket plumbing

  #adopt(sock: net.Socket): void {
    this.#sockets.add(sock);
    sock.setNoDelay?.(true);
    sock.on('error', () => {
      /* a vanished client is an ordinary close */
    });
    sock.once('close', () => {
      this.#sockets.delete(sock);
      const i = this.#waiting.indexOf(sock);
      if (i >= 0) this.#waiting.splice(i, 1);
      if (this.#active?.socket === sock) this.#deactivate();
    });
    if (this.#active) {
      sock.pause();
      this.#waiting.push(sock);
      return;
    }
    this.#activate(sock);
  }

  #activate(sock: net.Socket): void {
    const conn: Conn = {
      socket: sock,
      parts: [],
      partsLen: 0,
      held: [],
      streaming: undefined,
      deferred: [],
      paused: false,
      peakQueued: 0,
    };
    this.#active = conn;
    this.#irqLevels.clear();
    this.#openedAt = process.hrtime.bigint();
    this.#logRaw(`[I ${this.#elapsed()}] OPENED\n`);
    sock.on('data', (chunk: Buffer) => {
      conn.held.push(chunk);
      this.#pump(conn);
    });
    // What a client that did not read made the process queue goes back to the OS.
    sock.once('close', () => connectionReleased(conn.peakQueued));
    sock.on('drain', () => this.#pump(conn));
    sock.resume();
    this.emit('opened');
  }

  #deactivate(): void {
    this.#logRaw(`[I +${this.#elapsed()}] CLOSED\n`);
    this.#active = undefined;
    this.#openedAt = undefined;
    this.emit('closed');
    if (this.#closing) return;
    const next = this.#waiting.shift();
    if (next) this.#activate(next);
  }

  /** The client has not read what it was sent. */
  #blocked(conn: Conn): boolean {
    return conn.socket.writableLength >= QTEST_OUTPUT_LIMIT;
  }

  /** Sends what is due and runs the lines received, as far as the client keeps up. */
  #pump(conn: Conn): void {
    const sock = conn.socket;
    const deadline = performance.now() + QTEST_SLICE_MS;
    while (this.#active === conn && !sock.destroyed && !this.#blocked(conn)) {
      if (performance.now() > deadline) {
        // Time is up: carry on after the rest of the process had its turn.
        setImmediate(() => this.#pump(conn));
        break;
      }
      if (conn.streaming !== undefined) {
        const r = conn.streaming.next();
        if (!r.done) {
          sock.write(Buffer.from(r.value, 'latin1'));
          continue;
        }
        conn.streaming = undefined;
        for (const text of conn.deferred.splice(0)) sock.write(Buffer.from(text, 'latin1'));
        continue;
      }
      const chunk = conn.held.shift();
      if (chunk === undefined) break;
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        conn.parts.push(chunk);
        conn.partsLen += chunk.length;
        // A line can hold a write of maxTransfer bytes in hex; anything
        // longer is a runaway client, and so is any other command longer
        // than QTEST_MAX_COMMAND_LINE.
        if (
          conn.partsLen > this.#maxLine ||
          (conn.partsLen > QTEST_MAX_COMMAND_LINE && !isWriteLine(lineHead(conn.parts)))
        ) {
          sock.destroy();
          return;
        }
        continue;
      }
      if (nl + 1 < chunk.length) conn.held.unshift(chunk.subarray(nl + 1));
      const head = chunk.subarray(0, nl);
      const bytes =
        conn.parts.length === 0 ? head : Buffer.concat([...conn.parts, head], conn.partsLen + nl);
      conn.parts = [];
      conn.partsLen = 0;
      if (
        bytes.length > this.#maxLine ||
        (bytes.length > QTEST_MAX_COMMAND_LINE && !isWriteLine(bytes))
      ) {
        sock.destroy();
        return;
      }
      const reply = this.#run(bytes.toString('latin1'));
      if (typeof reply === 'string') sock.write(Buffer.from(reply, 'latin1'));
      else conn.streaming = reply;
    }
    if (this.#active !== conn || sock.destroyed) return;
    let queued = sock.writableLength + conn.partsLen;
    for (const b of conn.held) queued += b.length;
    if (queued > conn.peakQueued) conn.peakQueued = queued;
    const waiting = conn.held.length > 0 || conn.streaming !== undefined;
    if (waiting && !conn.paused) {
      conn.paused = true;
      sock.pause();
    } else if (!waiting && conn.paused) {
      conn.paused = false;
      sock.resume();
    }
  }

  /** The longest line accepted: a `write` of the largest transfer, in hex, and its arguments. */
  get #maxLine(): number {
    return 2 * this.#maxTransfer + 4096;
  }

  #send(text: string, log: boolean): void {
    if (log) this.#logReply(text, true);
    const conn = this.#active;
    if (conn === undefined || conn.socket.destroyed) return;
    // Never in the middle of a reply that is still being produced.
    if (conn.streaming !== undefined) conn.deferred.push(text);
    else conn.socket.write(Buffer.from(text, 'latin1'));
  }

  // ---- logging

  #elapsed(): string {
    if (this.#openedAt === undefined) return '0.000000';
    const ns = process.hrtime.bigint() - this.#openedAt;
    const us = (ns + 500n) / 1000n;
    return `${us / 1000000n}.${(us % 1000000n).toString().padStart(6, '0')}`;
  }

  #logRaw(text: string): void {
    if (this.#logFn && this.#openedAt !== undefined) this.#logFn(text);
  }

  #logRawReply(text: string): void {
    if (this.#logFn && this.#openedAt !== undefined) this.#logFn(text);
  }

  #logReply(text: string, prefixed: boolean): void {
    if (!this.#logFn || this.#openedAt === undefined) return;
    this.#logFn(prefixed ? `[S +${this.#elapsed()}] ${text}` : text);
  }

  // ---- commands

  #command(words: string[]): CommandReply {
    const cmd = words[0]!;
    const need = (n: number): void => {
      for (let i = 1; i <= n; i++)
        if (words[i] === undefined) throw new QtestProtocolError('missing argument');
    };
    const u64 = (w: string): bigint => {
      const r = qemuStrtou64(w);
      if (r.err) throw new QtestProtocolError(`invalid number '${w}'`);
      return r.value;
    };
    const i64 = (w: string): bigint => {
      const r = qemuStrtoi64(w);
      if (r.err) throw new QtestProtocolError(`invalid number '${w}'`);
      return r.value;
    };
    const int = (w: string): number => {
      const v = i64(w);
      if (v < -0x80000000n || v > 0x7fffffffn)
        throw new QtestProtocolError(`invalid number '${w}'`);
      return Number(v);
    };
    const length = (w: string): number => {
      const v = u64(w);
      if (v > BigInt(this.#maxTransfer)) throw new QtestProtocolError('transfer too large');
      return Number(v);
    };
    const t = this.#target;
    switch (cmd) {
      case 'irq_intercept_out':
      case 'irq_intercept_in': {
        need(1);
        const dev = t.resolveDevice?.(words[1]!);
        if (!dev) return 'FAIL Unknown device\n';
        if (this.#interceptDev !== undefined) {
          return this.#interceptDev === dev ? 'OK\n' : 'FAIL IRQ intercept already enabled\n';
        }
        t.interceptIrq?.(dev, cmd === 'irq_intercept_in' ? 'in' : 'out');
        this.#interceptDev = dev;
        return 'OK\n';
      }
      case 'set_irq_in': {
        if (!t.setIrqIn) break;
        need(4);
        const dev = t.resolveDevice?.(words[1]!);
        if (!dev) return 'FAIL Unknown device\n';
        const name = words[2] === 'unnamed-gpio-in' ? undefined : words[2]!;
        const num = int(words[3]!);
        const level = int(words[4]!);
        t.setIrqIn(dev, name, num, level);
        return 'OK\n';
      }
      case 'outb':
      case 'outw':
      case 'outl': {
        need(2);
        const addr = u64(words[1]!);
        const value = u64(words[2]!);
        if (addr > 0xffffn) throw new QtestProtocolError('port out of range');
        const size = pioSize(cmd[3]!);
        t.pioWrite?.(Number(addr), size, Number(BigInt.asUintN(size * 8, value)));
        return 'OK\n';
      }
      case 'inb':
      case 'inw':
      case 'inl': {
        need(1);
        const addr = u64(words[1]!);
        if (addr > 0xffffn) throw new QtestProtocolError('port out of range');
        const size = pioSize(cmd[2]!);
        const raw = t.pioRead ? t.pioRead(Number(addr), size) : 0xffffffff;
        const value = Number(BigInt.asUintN(size * 8, BigInt(raw >>> 0)));
        return `OK 0x${value.toString(16).padStart(4, '0')}\n`;
      }
      case 'writeb':
      case 'writew':
      case 'writel':
      case 'writeq': {
        need(2);
        const addr = u64(words[1]!);
        const value = u64(words[2]!);
        const size = accessSize(cmd[5]!);
        t.write(addr, this.#encode(value, size));
        return 'OK\n';
      }
      case 'readb':
      case 'readw':
      case 'readl':
      case 'readq': {
        need(1);
        const addr = u64(words[1]!);
        const size = accessSize(cmd[4]!);
        const value = this.#decode(this.#readExact(addr, size), size);
        return `OK 0x${value.toString(16).padStart(16, '0')}\n`;
      }
      case 'read': {
        need(2);
        const addr = u64(words[1]!);
        const len = length(words[2]!);
        if (len === 0) throw new QtestProtocolError('zero length');
        if (len > READ_PIECE) return { pieces: () => this.#readPieces(addr, len, 'OK 0x', 'hex') };
        return `OK 0x${this.#readExact(addr, len).toString('hex')}\n`;
      }
      case 'b64read': {
        need(2);
        const addr = u64(words[1]!);
        const len = length(words[2]!);
        if (len > READ_PIECE) return { pieces: () => this.#readPieces(addr, len, 'OK ', 'base64') };
        return `OK ${this.#readExact(addr, len).toString('base64')}\n`;
      }
      case 'write': {
        need(3);
        const addr = u64(words[1]!);
        const len = length(words[2]!);
        const hex = words[3]!;
        if (hex.length < 3) return { text: 'ERR invalid argument size\n' };
        const data = new Uint8Array(len);
        for (let i = 0; i < len; i++) {
          if (i * 2 + 4 <= hex.length) {
            data[i] =
              ((hex2nib(hex.charCodeAt(i * 2 + 2)) << 4) | hex2nib(hex.charCodeAt(i * 2 + 3))) &
              0xff;
          }
        }
        t.write(addr, data);
        return 'OK\n';
      }
      case 'memset': {
        need(3);
        const addr = u64(words[1]!);
        const len = length(words[2]!);
        const pattern = Number(u64(words[3]!) & 0xffn);
        if (len) t.write(addr, new Uint8Array(len).fill(pattern));
        return 'OK\n';
      }
      case 'b64write': {
        need(3);
        const addr = u64(words[1]!);
        const len = length(words[2]!);
        const b64 = words[3]!;
        if (b64.length < 3) return { text: 'ERR invalid argument size\n' };
        const data = glibBase64Decode(b64);
        if (data.length !== len) {
          this.#logReply(
            `b64write: data length mismatch (told ${len}, found ${data.length})\n`,
            true,
          );
        }
        const n = Math.min(data.length, len);
        if (n) t.write(addr, data.subarray(0, n));
        return 'OK\n';
      }
      case 'endianness':
        return t.bigEndian ? 'OK big\n' : 'OK little\n';
      case 'clock_step': {
        const clock = t.clock;
        if (!clock) break;
        const ns = words[1] !== undefined ? i64(words[1]) : clock.deadline();
        clock.warp(clock.now() + ns);
        return `OK ${clock.now()}\n`;
      }
      case 'clock_set': {
        const clock = t.clock;
        if (!clock) break;
        need(1);
        clock.warp(i64(words[1]!));
        return `OK ${clock.now()}\n`;
      }
      case 'module_load':
        need(2);
        return 'FAIL\n'; // tsqom has no loadable modules
    }
    return `FAIL Unknown command '${cmd}'\n`;
  }

  /** A large read's reply, produced as the client takes it: `prefix`, the bytes encoded piece by piece, newline. */
  *#readPieces(
    addr: bigint,
    len: number,
    prefix: string,
    encoding: 'hex' | 'base64',
  ): Generator<string> {
    let first = true;
    for (let off = 0; off < len; off += READ_PIECE) {
      const n = Math.min(READ_PIECE, len - off);
      const text = this.#readExact(addr + BigInt(off), n).toString(encoding);
      yield first ? prefix + text : text;
      first = false;
    }
    yield '\n';
  }

  // The target's bytes, zero-padded or cut to exactly `len`.
  #readExact(addr: bigint, len: number): Buffer {
    const out = Buffer.alloc(len);
    if (len) out.set(this.#target.read(addr, len).subarray(0, len));
    return out;
  }

  #encode(value: bigint, size: number): Uint8Array {
    const out = new Uint8Array(size);
    let v = BigInt.asUintN(size * 8, value);
    for (let i = 0; i < size; i++, v >>= 8n) {
      out[this.#target.bigEndian ? size - 1 - i : i] = Number(v & 0xffn);
    }
    return out;
  }

  #decode(data: Uint8Array, size: number): bigint {
    let v = 0n;
    for (let i = 0; i < size; i++) {
      const b = BigInt(data[this.#target.bigEndian ? i : size - 1 - i]!);
      v = (v << 8n) | b;
    }
    return v;
  }
}

function failText(e: unknown): string {
  const msg =
    e instanceof QtestProtocolError ? e.message : e instanceof Error ? e.message : String(e);
  return `FAIL ${msg.replace(/\n+/g, ' ')}\n`;
}

function pioSize(c: string): 1 | 2 | 4 {
  return c === 'b' ? 1 : c === 'w' ? 2 : 4;
}

function accessSize(c: string): number {
  return c === 'b' ? 1 : c === 'w' ? 2 : c === 'l' ? 4 : 8;
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    /* nothing there */
  }
}
