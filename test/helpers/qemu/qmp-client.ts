/**
 * QMP for tests and benchmarks, usable against QEMU and tsqom alike: the
 * library's {@link LibQmpClient} carries the connection, and this wrapper
 * adds line-level access (raw bytes out, raw reply lines back), so
 * differential tests can compare bytes as well as structures.
 */
import type { Socket } from 'node:net';
import { QmpClient as LibQmpClient } from 'tsqom/qmp';
import type { JsonObject, JsonValue } from '../../../src/qobject/qobject.js';
import { jsonParseMessages } from '../../../src/qobject/json-parser.js';
import { qobjectToJson } from '../../../src/qobject/qjson.js';

/** Where a QMP server listens. */
export type QmpEndpoint = string | { host: string; port: number };

/** Parses one reply line (QEMU's output is plain JSON). */
export function parseLine(line: string): JsonObject {
  const r = jsonParseMessages(Buffer.from(line, 'latin1'));
  if (r.length !== 1 || r[0].error || r[0].value === null || typeof r[0].value !== 'object') {
    throw new Error(`not a QMP message: ${JSON.stringify(line)}`);
  }
  return r[0].value as JsonObject;
}

/** Sentinel id used by {@link QmpClient.sync}. */
const SYNC_ID = '__qmp-client-sync__';

/** A QMP connection with line-level access. */
export class QmpClient {
  /** The greeting line as received. */
  greetingLine = '';
  /** Events received while waiting for replies (parsed). */
  readonly events: JsonObject[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private lines: string[] = [];
  private waiters: Array<() => void> = [];
  private ended = false;
  private syncCount = 0;

  private constructor(
    /** The library client underneath (its own commands and events work too). */
    readonly client: LibQmpClient,
  ) {
    const onData = (d: Buffer): void => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : Buffer.from(d);
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        this.lines.push(this.buf.toString('latin1', 0, i));
        this.buf = this.buf.subarray(i + 2);
      }
      this.wake();
    };
    onData(client.greetingBytes);
    client.on('data', onData);
    client.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Connects and reads the greeting. */
  static async connect(endpoint: QmpEndpoint, timeoutMs = 5000): Promise<QmpClient> {
    // A server creates its socket file at bind() and listens a moment later:
    // a connection refused in between is tried again until the timeout.
    const deadline = Date.now() + timeoutMs;
    let lib: LibQmpClient;
    for (;;) {
      try {
        lib = await LibQmpClient.connect(endpoint, { timeoutMs, negotiate: false });
        break;
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'ECONNREFUSED' || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const c = new QmpClient(lib);
    c.greetingLine = await c.readLine(timeoutMs);
    return c;
  }

  /** The parsed greeting. */
  get greeting(): JsonObject {
    return parseLine(this.greetingLine);
  }

  /** Whether the server closed the connection (and every line was read). */
  get closed(): boolean {
    return this.ended && this.lines.length === 0;
  }

  /** Sends bytes as they are. */
  sendRaw(data: string | Uint8Array): void {
    void this.client.sendRaw(data);
  }

  /** Sends bytes, each chunk in its own write, waiting a tick between them. */
  async sendChunks(chunks: Array<string | Uint8Array>): Promise<void> {
    for (const c of chunks) {
      await this.client.sendRaw(c);
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Wraps an already connected socket (a socketpair end, an accepted connection) and reads the greeting. */
  static async fromSocket(sock: Socket, timeoutMs = 5000): Promise<QmpClient> {
    const c = new QmpClient(await LibQmpClient.connect(sock, { timeoutMs, negotiate: false }));
    c.greetingLine = await c.readLine(timeoutMs);
    return c;
  }

  /** Every line still to come, once the peer has closed (throws if it does not within `timeoutMs`). */
  async readToEof(timeoutMs = 10000): Promise<string[]> {
    const out: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        out.push(await this.readLine(Math.max(1, deadline - Date.now())));
      } catch (e) {
        if (this.ended && this.lines.length === 0) return out;
        throw e;
      }
    }
  }

  /** The next line (without `\r\n`); throws on timeout or close. */
  async readLine(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a QMP line');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.shift()!;
  }

  /** Lines that arrive within `ms` (for checking that nothing comes). */
  async readFor(ms: number): Promise<string[]> {
    await new Promise((r) => setTimeout(r, ms));
    const out = this.lines;
    this.lines = [];
    return out;
  }

  /** The next message that is not an event (events go to {@link events}). */
  async readReply(timeoutMs = 5000): Promise<JsonObject> {
    for (;;) {
      const m = parseLine(await this.readLine(timeoutMs));
      if ('event' in m && !('return' in m) && !('error' in m)) this.events.push(m);
      else return m;
    }
  }

  /** Sends a command and returns its reply line (raw). */
  async executeRaw(
    execute: string,
    args?: JsonObject,
    id?: JsonValue,
    timeoutMs = 5000,
  ): Promise<string> {
    const req: JsonObject = { execute };
    if (args !== undefined) req.arguments = args;
    if (id !== undefined) req.id = id;
    this.sendRaw(qobjectToJson(req));
    for (;;) {
      const line = await this.readLine(timeoutMs);
      const m = parseLine(line);
      if ('event' in m && !('return' in m) && !('error' in m)) this.events.push(m);
      else return line;
    }
  }

  /** Sends a command and returns its parsed reply. */
  async execute(
    execute: string,
    args?: JsonObject,
    id?: JsonValue,
    timeoutMs = 5000,
  ): Promise<JsonObject> {
    return parseLine(await this.executeRaw(execute, args, id, timeoutMs));
  }

  /** Sends a command and returns its `return` value; throws on an error reply. */
  async cmd(execute: string, args?: JsonObject): Promise<JsonValue> {
    const r = await this.execute(execute, args);
    if ('error' in r) {
      const e = r.error as JsonObject;
      throw new Error(`${execute}: ${String(e.class)}: ${String(e.desc)}`);
    }
    return r.return;
  }

  /** Leaves capability negotiation. */
  async negotiate(enable?: string[]): Promise<void> {
    await this.cmd('qmp_capabilities', enable ? { enable } : undefined);
  }

  /**
   * Forces the server's parser back to a known state and collects every
   * line that arrives before that is confirmed: sends 0xFF (which ends any
   * token with an error, as QEMU documents) and then a sentinel command.
   * Returns the lines before the sentinel's reply, events included.
   */
  async sync(timeoutMs = 10000): Promise<string[]> {
    const id = `${SYNC_ID}${this.syncCount++}`;
    this.sendRaw(
      Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"execute":"query-version","id":"${id}"}`)]),
    );
    const out: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line.includes(id)) break;
      out.push(line);
    }
    // The 0xFF itself always produces one stray-byte error last.
    const last = out.pop();
    if (last === undefined || !last.includes('stray'))
      throw new Error(`sync out of step: ${String(last)}`);
    return out;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.client.close();
  }
}
