/**
 * A QMP client for any QMP server (tsqom's or QEMU's): connects over a
 * unix socket or TCP, reads the greeting, leaves capability negotiation
 * with `qmp_capabilities`, runs commands as promises and delivers events.
 * Messages go through QEMU's own JSON grammar ({@link JsonMessageParser}
 * and {@link qobjectToJson}), so 64-bit integers arrive as exact
 * `bigint`s and go out unchanged.
 * @module
 */
import { EventEmitter, on } from 'node:events';
import net from 'node:net';
import type { JsonObject, JsonValue } from '../qobject/qobject.js';
import { isJsonObject } from '../qobject/qobject.js';
import { JsonMessageParser, type JsonMessageCallback } from '../qobject/json-parser.js';
import { qobjectToJson } from '../qobject/qjson.js';
import { QomError, TsqomError, type QmpErrorClass } from '../util/error.js';

/**
 * Where a QMP server listens: a unix socket path, `unix:PATH`,
 * `tcp:HOST:PORT`, a TCP host and port, or an already connected socket.
 */
export type QmpClientEndpoint = string | QmpTcpEndpoint | net.Socket;

/** A TCP endpoint of a QMP server. */
export interface QmpTcpEndpoint {
  /** Host name or address. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** When a QMP event was emitted (QEMU's `timestamp` member). */
export interface QmpTimestamp {
  /** Seconds since the epoch. */
  readonly seconds: number;
  /** Microseconds within the second. */
  readonly microseconds: number;
}

/** Options of {@link QmpClient.connect}. */
export interface QmpClientOptions {
  /** How long to wait for the connection and the greeting, in ms (default 5000). */
  readonly timeoutMs?: number;
  /**
   * Whether to leave capability negotiation at once with `qmp_capabilities`
   * (default true). With false, call {@link QmpClient.negotiate} yourself.
   */
  readonly negotiate?: boolean;
  /** Capabilities to enable when negotiating (e.g. `['oob']`). */
  readonly capabilities?: readonly string[];
}

/** An asynchronous event as the server sent it. */
export interface QmpEvent {
  /** The event name (`SHUTDOWN`, `DEVICE_DELETED`, ...). */
  readonly event: string;
  /** The event's data (empty when the server sent none). */
  readonly data: JsonObject;
  /** When the server emitted it. */
  readonly timestamp: QmpTimestamp;
}

/** Options of {@link QmpClient.request}. */
export interface QmpRequestOptions {
  /** Send as an out-of-band command (`exec-oob`; needs the `oob` capability). */
  readonly oob?: boolean;
}

/** The events a {@link QmpClient} emits. */
export interface QmpClientEvents {
  /** An asynchronous event arrived. */
  event: [event: QmpEvent];
  /** A reply that matches no pending command (e.g. to {@link QmpClient.sendRaw}). */
  unmatched: [reply: JsonObject];
  /** Raw bytes as they arrived (for protocol tests and transcripts). */
  data: [chunk: Buffer];
  /** The server sent something that is not a QMP message; the connection stays open. */
  protocolError: [error: QomError];
  /** The connection closed. */
  close: [];
}

const QMP_ERROR_CLASSES: ReadonlySet<string> = new Set<QmpErrorClass>([
  'GenericError',
  'CommandNotFound',
  'DeviceNotActive',
  'DeviceNotFound',
  'KVMMissingCap',
]);

/**
 * A command's error reply. `message` is the server's `desc`; `qmpClass`
 * the class exactly as sent (`errorClass` maps unknown classes to
 * `GenericError`). Its `code` is `ERR_QMP_COMMAND`.
 */
export class QmpCommandError extends TsqomError {
  /** The command that failed. */
  readonly command: string;
  /** The `class` member as the server sent it. */
  readonly qmpClass: string;

  /**
   * @param command - the command that failed.
   * @param qmpClass - the reply's `error.class`.
   * @param desc - the reply's `error.desc`.
   */
  constructor(command: string, qmpClass: string, desc: string) {
    super(desc, 'ERR_QMP_COMMAND', {
      errorClass: QMP_ERROR_CLASSES.has(qmpClass) ? (qmpClass as QmpErrorClass) : 'GenericError',
    });
    this.command = command;
    this.qmpClass = qmpClass;
  }
}

/** Why a {@link QmpClient} could not talk to its server. */
export type QmpClientErrorCode =
  /** The connection closed (before a reply, or before the call). */
  | 'ERR_QMP_CLOSED'
  /** No greeting arrived in time, or it was not a QMP greeting. */
  | 'ERR_QMP_GREETING'
  /** The endpoint string could not be parsed. */
  | 'ERR_QMP_ADDRESS';

/** A failure of the QMP connection itself (not of a command). */
export class QmpClientError extends TsqomError {
  /** What went wrong. */
  declare readonly code: QmpClientErrorCode;

  /**
   * @param message - what happened.
   * @param code - the stable code.
   */
  constructor(message: string, code: QmpClientErrorCode) {
    super(message, code);
  }
}

/** Opens a stream socket to a QMP endpoint (see {@link QmpClientEndpoint}). */
export function qmpClientSocket(endpoint: QmpClientEndpoint): net.Socket {
  // An already connected socket, e.g. one end of a socketpair whose other
  // end was passed to the server as `-chardev socket,fd=N`.
  if (endpoint instanceof net.Socket) return endpoint;
  if (typeof endpoint !== 'string') return net.createConnection(endpoint.port, endpoint.host);
  if (endpoint.startsWith('unix:')) return net.createConnection(endpoint.slice(5).split(',')[0]!);
  if (endpoint.startsWith('tcp:')) {
    const hostPort = endpoint.slice(4).split(',')[0]!;
    const colon = hostPort.lastIndexOf(':');
    const port = Number(hostPort.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port))
      throw new QmpClientError(`bad QMP address '${endpoint}'`, 'ERR_QMP_ADDRESS');
    return net.createConnection(port, hostPort.slice(0, colon).replace(/^\[|\]$/g, ''));
  }
  return net.createConnection(endpoint);
}

/** The parser and where its messages go (the greeting first, then the client). */
interface ParserInput {
  readonly parser: JsonMessageParser;
  handler: JsonMessageCallback;
}

interface Pending {
  readonly command: string;
  readonly resolve: (reply: JsonObject) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A QMP connection. Commands run concurrently; each gets its own `id`
 * and its own promise. Events are emitted as `'event'` and can also be
 * read with `for await (const e of client.events())`.
 *
 * ```ts
 * const qmp = await QmpClient.connect('/run/vm/qmp.sock');
 * const size = await qmp.execute('qom-get', { path: '/objects/ram0', property: 'size' });
 * qmp.on('event', (e) => console.log(e.event));
 * await qmp.close();
 * ```
 */
export class QmpClient extends EventEmitter<QmpClientEvents> {
  /** The greeting (`{"QMP": {"version": ..., "capabilities": [...]}}`). */
  readonly greeting: JsonObject;
  /** The bytes received while waiting for the greeting (the greeting's line, as sent). */
  readonly greetingBytes: Buffer;
  readonly #socket: net.Socket;
  readonly #pending = new Map<string, Pending>();
  #nextId = 0;
  #closed = false;

  private constructor(
    socket: net.Socket,
    greeting: JsonObject,
    greetingBytes: Buffer,
    input: ParserInput,
  ) {
    super();
    this.#socket = socket;
    this.greeting = greeting;
    this.greetingBytes = greetingBytes;
    const parser = input.parser;
    input.handler = (value, error) => this.#onMessage(value, error);
    socket.on('data', (chunk: Buffer) => {
      this.emit('data', chunk);
      parser.feed(chunk);
    });
    socket.on('close', () => this.#onClose());
    socket.on('error', () => socket.destroy());
  }

  /**
   * Connects, reads the greeting and (unless `negotiate: false`) leaves
   * capability negotiation. Rejects if the server does not greet in time.
   */
  static async connect(
    endpoint: QmpClientEndpoint,
    options: QmpClientOptions = {},
  ): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const socket = qmpClientSocket(endpoint);
    socket.setNoDelay?.(true);
    const input: ParserInput = {
      parser: new JsonMessageParser((value, error, isFloat) =>
        input.handler(value, error, isFloat),
      ),
      handler: () => {},
    };
    let greeting: JsonObject;
    const early: Buffer[] = [];
    try {
      greeting = await new Promise<JsonObject>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new QmpClientError(`no QMP greeting within ${timeoutMs} ms`, 'ERR_QMP_GREETING'),
            ),
          timeoutMs,
        );
        const fail = (e: Error): void => {
          clearTimeout(timer);
          reject(e);
        };
        socket.once('error', fail);
        socket.once('close', () =>
          fail(new QmpClientError('QMP connection closed before the greeting', 'ERR_QMP_CLOSED')),
        );
        input.handler = (value, error) => {
          clearTimeout(timer);
          // Anything after the greeting waits for the client's handler.
          input.handler = () => {};
          if (error || !isJsonObject(value) || !isJsonObject(value['QMP']))
            reject(
              error ??
                new QmpClientError('the server did not send a QMP greeting', 'ERR_QMP_GREETING'),
            );
          else resolve(value);
        };
        socket.on('data', (chunk: Buffer) => {
          early.push(chunk);
          input.parser.feed(chunk);
        });
      });
    } catch (e) {
      socket.destroy();
      throw e;
    }
    socket.removeAllListeners('data');
    socket.removeAllListeners('error');
    socket.removeAllListeners('close');
    const client = new QmpClient(socket, greeting, Buffer.concat(early), input);
    if (options.negotiate ?? true) {
      try {
        await client.negotiate(options.capabilities);
      } catch (e) {
        await client.close();
        throw e;
      }
    }
    return client;
  }

  /** True once the connection closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Leaves capability negotiation (`qmp_capabilities`), enabling `capabilities`. */
  async negotiate(capabilities?: readonly string[]): Promise<void> {
    await this.execute(
      'qmp_capabilities',
      capabilities && capabilities.length > 0 ? { enable: [...capabilities] } : undefined,
    );
  }

  /**
   * Runs a command and resolves to its `return` value; rejects with a
   * {@link QmpCommandError} on an error reply, or a {@link QmpClientError}
   * if the connection closes first.
   */
  async execute(
    command: string,
    args?: JsonObject,
    options?: QmpRequestOptions,
  ): Promise<JsonValue> {
    const reply = await this.request(command, args, options);
    if (isJsonObject(reply['error'])) {
      const e = reply['error'];
      throw new QmpCommandError(command, String(e['class']), String(e['desc']));
    }
    return reply['return'] ?? {};
  }

  /** Runs a command and resolves to the whole reply (`return` or `error`), without the id. */
  request(command: string, args?: JsonObject, options?: QmpRequestOptions): Promise<JsonObject> {
    if (this.#closed)
      return Promise.reject(new QmpClientError('QMP connection closed', 'ERR_QMP_CLOSED'));
    const id = `tsqom-${this.#nextId++}`;
    const msg: JsonObject = { [options?.oob ? 'exec-oob' : 'execute']: command };
    if (args !== undefined) msg['arguments'] = args;
    msg['id'] = id;
    return new Promise<JsonObject>((resolve, reject) => {
      this.#pending.set(id, { command, resolve, reject });
      this.#socket.write(qobjectToJson(msg));
    });
  }

  /**
   * Sends bytes exactly as given (for protocol tests); resolves once they
   * are handed to the kernel. Replies to them are emitted as `'unmatched'`.
   */
  sendRaw(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      this.#socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, () =>
        resolve(),
      );
    });
  }

  /**
   * The events from now on, as an async iterator that ends when the
   * connection closes (or when the loop is left).
   */
  async *events(): AsyncGenerator<QmpEvent, void, undefined> {
    if (this.#closed) return;
    const ac = new AbortController();
    const onClose = (): void => ac.abort();
    this.once('close', onClose);
    try {
      for await (const [event] of on(this, 'event', { signal: ac.signal }) as AsyncIterable<
        [QmpEvent]
      >)
        yield event;
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      this.off('close', onClose);
    }
  }

  /**
   * Half-closes the connection: nothing more is sent, but replies to
   * what was sent still arrive (QMP servers answer everything they read).
   */
  endInput(): void {
    this.#socket.end();
  }

  /** Closes the connection; pending commands reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), 1000).unref();
    });
  }

  #onMessage(value: JsonValue | undefined, error: QomError | undefined): void {
    if (error || !isJsonObject(value)) {
      this.emit('protocolError', error ?? new QomError('QMP message is not an object'));
      return;
    }
    if (typeof value['event'] === 'string' && !('return' in value) && !('error' in value)) {
      const ts = isJsonObject(value['timestamp']) ? value['timestamp'] : {};
      this.emit('event', {
        event: value['event'],
        data: isJsonObject(value['data']) ? value['data'] : {},
        timestamp: {
          seconds: Number(ts['seconds'] ?? 0),
          microseconds: Number(ts['microseconds'] ?? 0),
        },
      });
      return;
    }
    const id = value['id'];
    let key = typeof id === 'string' && this.#pending.has(id) ? id : undefined;
    // An error without an id answers the oldest command (QEMU drops the
    // id when the request itself could not be parsed).
    if (key === undefined && id === undefined && 'error' in value && this.#pending.size > 0)
      key = this.#pending.keys().next().value;
    const p = key === undefined ? undefined : this.#pending.get(key);
    if (key === undefined || p === undefined) {
      this.emit('unmatched', value);
      return;
    }
    this.#pending.delete(key);
    const reply: JsonObject = { ...value };
    delete reply['id'];
    p.resolve(reply);
  }

  #onClose(): void {
    this.#closed = true;
    const err = new QmpClientError('QMP connection closed', 'ERR_QMP_CLOSED');
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.emit('close');
  }
}
