/**
 * Character devices (QEMU's chardev/char.c, just what vhost-user needs):
 * the abstract `chardev` type, the registry of chardevs under `/chardevs`,
 * `-chardev` option parsing with QEMU's texts, and the one-user rule of
 * QEMU's CharFrontend (a device claims a chardev; a second claim fails
 * with `chardev '%s' is already in use`).
 *
 * A chardev here hands its user a connected {@link UnixStream} (vhost-user
 * needs descriptors, which QEMU passes through qemu_chr_fe_set_msgfds)
 * and tells it when the connection opens and closes (QEMU's
 * CHR_EVENT_OPENED / CHR_EVENT_CLOSED).
 * @module
 */
import { EventEmitter } from 'node:events';
import {
  ObjectClass,
  QomError,
  QomObject,
  TYPE_OBJECT,
  objectClassByName,
  objectGetContainer,
  objectNew,
  QomType,
  objectCheck,
  objectGetClass,
} from '../qom/index.js';
import { QemuOptsList, qemuOptGet, type QemuOpts } from '../util/qemu-option.js';
import type { UnixStream } from '../io/unix-stream.js';

/** QEMU's TYPE_CHARDEV. */
export const TYPE_CHARDEV = 'chardev';

/** QEMU's QEMUChrEvent, as far as tsqom's chardevs emit them. */
export type ChrEvent = 'opened' | 'closed';

/** Events of a chardev (the CharFrontend handlers' view). */
export interface ChardevEvents {
  /** A connection opened: the stream is available from {@link Chardev.stream}. */
  opened: [];
  /** The connection closed. */
  closed: [];
}

/** A connection handed to a chardev's user (see {@link Chardev.takeStream}). */
export interface ChardevConnection {
  /** The connected stream, already reading. */
  stream: UnixStream;
  /** Bytes and fds that arrived before the user took the stream, oldest first (the fds become the user's). */
  pending: [Buffer, number[]][];
}

/** The class of chardev types: how to parse `-chardev` options and open the device. */
export class ChardevClass extends ObjectClass {
  /**
   * QEMU's `cc->parse`: validates the options (without id and backend)
   * and returns the backend description the chardev opens with.
   */
  parse: ((opts: QemuOpts) => Record<string, unknown>) | null = null;
  /** QEMU's `cc->open`: opens the device; may wait (server with wait=on). */
  open: ((chr: Chardev, backend: Record<string, unknown>) => void | Promise<void>) | null = null;
  /** A chardev class's own `open(backend)` method fills `open`. */
  static override readonly instanceMethods: readonly string[] = ['open'];
}

/**
 * QEMU's Chardev: a labelled character device under `/chardevs`. Devices
 * use it through {@link qemuChrFeInit} and its events.
 */
@QomType({ name: TYPE_CHARDEV, parent: TYPE_OBJECT, abstract: true })
export class Chardev extends QomObject {
  /** Chardevs' class struct. */
  static override readonly classType = ChardevClass;

  /** The id (QEMU's label), set when created through the registry. */
  label: string | null = null;
  /** What `query-chardev` prints (e.g. `disconnected:unix:/p,server=on`). */
  filename = '';
  /** Whether the backend side is open (QEMU's `be_open`). */
  beOpen = false;
  /** The claiming user, if any (QEMU's `chr->be`). */
  frontend: object | null = null;
  /** Opened/closed notifications. */
  readonly events = new EventEmitter<ChardevEvents>();

  /** The connected stream, or null; subclasses provide it. */
  get stream(): UnixStream | null {
    return null;
  }

  /**
   * Hands the connected stream to the chardev's user with whatever was
   * received before; null when not connected. Subclasses provide it.
   */
  takeStream(): ChardevConnection | null {
    return null;
  }

  /** Whether a connection is established. */
  get connected(): boolean {
    return this.stream !== null;
  }

  /**
   * Resolves once connected (QEMU's qemu_chr_fe_wait_connected, without
   * blocking the event loop); rejects if the chardev is deleted first.
   */
  waitConnected(): Promise<void> {
    return Promise.resolve();
  }

  /** Drops the current connection (QEMU's qemu_chr_fe_disconnect). */
  disconnect(): void {}

  /** Releases what the chardev holds; called when it is finalized. */
  close(): void {}

  override instanceFinalize(): void {
    this.close();
    this.events.removeAllListeners();
  }
}

/** QEMU's `-chardev` option list (implied key `backend`), shared by the command line and the API. */
export const qemuChardevOpts = new QemuOptsList('chardev', 'backend');

/** Every key QEMU's `-chardev` accepts (qemu_chardev_opts), for `Invalid parameter` checks. */
export const QEMU_CHARDEV_KEYS: readonly string[] = Object.freeze([
  'backend',
  'path',
  'input-path',
  'host',
  'port',
  'fd',
  'localaddr',
  'localport',
  'to',
  'ipv4',
  'ipv6',
  'wait',
  'server',
  'delay',
  'nodelay',
  'reconnect',
  'reconnect-ms',
  'telnet',
  'tn3270',
  'tls-creds',
  'tls-authz',
  'websocket',
  'width',
  'height',
  'cols',
  'rows',
  'mux',
  'signal',
  'name',
  'debug',
  'size',
  'chardev',
  'append',
  'logfile',
  'logappend',
  'mouse',
  'clipboard',
  'tight',
  'abstract',
]);

/** QEMU's get_chardevs_root: `/chardevs`. */
export function getChardevsRoot(): QomObject {
  return objectGetContainer('chardevs');
}

/** QEMU's qemu_chr_find: the chardev with this id, or null. */
export function qemuChrFind(id: string): Chardev | null {
  const obj = getChardevsRoot().resolvePathComponent(id);
  return obj?.dynamicCast(Chardev) ?? null;
}

/** The QemuOpts boolean rule: `on`/`off` (also `yes`/`no`, `true`/`false`). */
export function qemuOptGetBool(opts: QemuOpts, name: string, def: boolean): boolean {
  const v = qemuOptGet(opts, name);
  if (v === undefined) return def;
  if (v === 'on' || v === 'yes' || v === 'true' || v === 'y') return true;
  if (v === 'off' || v === 'no' || v === 'false' || v === 'n') return false;
  throw new QomError(`Parameter '${name}' expects 'on' or 'off'`);
}

/** The keys of QEMU's -chardev options that are booleans or numbers (checked as QemuOpts checks them). */
const BOOL_KEYS = new Set([
  'wait',
  'server',
  'delay',
  'nodelay',
  'telnet',
  'tn3270',
  'websocket',
  'ipv4',
  'ipv6',
  'mux',
  'signal',
  'append',
  'logappend',
  'mouse',
  'clipboard',
  'tight',
  'abstract',
]);
const NUMBER_KEYS = new Set(['to', 'reconnect', 'width', 'height', 'cols', 'rows', 'debug']);

/** QemuOpts' number parsing (qemu_strtou64, base 0): `Parameter '%s' expects a number`. */
export function qemuChardevOptNumber(name: string, v: string): number {
  const t = v.trim();
  const ok = /^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.test(t);
  const n = ok ? Number(t.startsWith('0') && !/^0x/i.test(t) ? parseInt(t, 8) : t) : NaN;
  if (!Number.isSafeInteger(n)) throw new QomError(`Parameter '${name}' expects a number`);
  return n;
}

/**
 * The typed checks QemuOpts makes while parsing `-chardev` options, in
 * option order (`Parameter 'to' expects a number`, `... expects 'on' or 'off'`).
 */
export function qemuChardevOptsCheckTypes(opts: QemuOpts): void {
  for (const o of opts.opts) {
    if (BOOL_KEYS.has(o.name)) qemuOptGetBool({ ...opts, opts: [o] }, o.name, false);
    else if (NUMBER_KEYS.has(o.name)) qemuChardevOptNumber(o.name, o.str);
  }
}

/** The class of `chardev-<driver>`, or null when tsqom has no such chardev type. */
function charDriverClass(driver: string): ChardevClass | null {
  const cls = objectClassByName(`chardev-${driver}`);
  return cls instanceof ChardevClass ? cls : null;
}

function checkKeys(opts: QemuOpts): void {
  for (const o of opts.opts) {
    if (!QEMU_CHARDEV_KEYS.includes(o.name)) {
      throw new QomError(`Invalid parameter '${o.name}'`);
    }
  }
}

const creating = new Map<string, Chardev | null>();

/**
 * Closes the chardevs being created (a server waiting for its first
 * client, a client connecting): their creation fails with `Chardev '%s'
 * was removed`. For a program that is asked to stop during start-up.
 */
export function qemuChrAbortCreation(): void {
  for (const chr of creating.values()) chr?.close();
}

/**
 * QEMU's qemu_chardev_new for tsqom's types: creates a chardev of
 * `typename` labelled `id` from a backend description, opens it, and adds
 * it as `/chardevs/<id>`. Rejects with QEMU's texts (`Chardev with id
 * '%s' already exists`, or the open error); nothing is left behind on
 * failure.
 */
export async function qemuChardevNew(
  id: string,
  typename: string,
  backend: Record<string, unknown>,
): Promise<Chardev> {
  if (qemuChrFind(id) || creating.has(id)) {
    throw new QomError(`Chardev with id '${id}' already exists`);
  }
  const obj = objectNew(typename);
  let chr: Chardev;
  try {
    chr = objectCheck(obj, Chardev);
  } catch (e) {
    obj.unref();
    throw e;
  }
  const cc = objectGetClass(chr, ChardevClass);
  chr.label = id;
  creating.set(id, chr);
  try {
    await cc.open?.(chr, backend);
    if (qemuChrFind(id)) throw new QomError(`Chardev with id '${id}' already exists`);
    getChardevsRoot().propertyAddChild(id, chr);
  } catch (e) {
    creating.delete(id);
    chr.unref();
    throw e;
  }
  creating.delete(id);
  chr.unref();
  return chr;
}

/**
 * QEMU's qemu_chr_new_from_opts: `-chardev BACKEND,id=ID,...` already
 * parsed (see {@link qemuChrParse}). Checks the id and backend with
 * QEMU's texts, lets the backend type parse its options, then creates and
 * opens it. The options are dropped from {@link qemuChardevOpts} on
 * failure, so the id can be used again.
 */
export async function qemuChrNewFromOpts(opts: QemuOpts): Promise<Chardev> {
  try {
    checkKeys(opts);
    const id = opts.id;
    const backend = qemuOptGet(opts, 'backend');
    if (backend === undefined) {
      throw new QomError(`chardev: "${id ?? ''}" missing backend`);
    }
    if (id === undefined) throw new QomError('chardev: no id specified');
    const cc = charDriverClass(backend);
    if (cc === null || cc.isAbstract) {
      throw new QomError(`'${backend}' is not a valid char driver name`);
    }
    const desc = cc.parse ? cc.parse(opts) : {};
    return await qemuChardevNew(id, `chardev-${backend}`, desc);
  } catch (e) {
    if (opts.id !== undefined) qemuChardevOpts.del(opts.id);
    throw e;
  }
}

/**
 * Parses a `-chardev` argument (QEMU's qemu_opts_parse_noisily on the
 * chardev list): `socket,id=c0,path=/run/x.sock` and so on. Throws QEMU's
 * texts (`Duplicate ID 'c0' for chardev`, `Parameter 'id' expects an
 * identifier`).
 */
export function qemuChrParse(arg: string): QemuOpts {
  return qemuChardevOpts.parse(arg, true);
}

/** `-chardev ARG` in one step: parse, then create and open. */
export async function qemuChrNewFromString(arg: string): Promise<Chardev> {
  return qemuChrNewFromOpts(qemuChrParse(arg));
}

/**
 * QEMU's qmp_chardev_remove: deletes the chardev `id`. Throws `Chardev
 * '%s' not found` or, while a device uses it, `Chardev '%s' is busy`.
 */
export function qemuChrDelete(id: string): void {
  const chr = qemuChrFind(id);
  if (!chr) throw new QomError(`Chardev '${id}' not found`);
  if (chr.frontend !== null) throw new QomError(`Chardev '${id}' is busy`);
  qemuChardevOpts.del(id);
  chr.unparent();
}

/** Deletes every chardev that no device uses (for tests and shutdown). */
export function qemuChrCleanup(): void {
  const ids: string[] = [];
  getChardevsRoot().childForeach((c) => {
    const chr = c.dynamicCast(Chardev);
    if (chr?.label && chr.frontend === null) ids.push(chr.label);
  });
  for (const id of ids) qemuChrDelete(id);
}

/** One `query-chardev` entry. */
export interface ChardevInfo {
  /** The id. */
  label: string;
  /** The chardev's filename. */
  filename: string;
  /** Whether a device uses it. */
  'frontend-open': boolean;
}

/** QEMU's qmp_query_chardev: every chardev under `/chardevs`. */
export function qemuChrInfoList(): ChardevInfo[] {
  const out: ChardevInfo[] = [];
  getChardevsRoot().childForeach((c) => {
    const chr = c.dynamicCast(Chardev);
    if (chr && chr.label !== null) {
      out.push({
        label: chr.label,
        filename: chr.filename,
        'frontend-open': chr.frontend !== null,
      });
    }
  });
  return out;
}

/**
 * QEMU's qemu_chr_fe_init: `user` claims `chr`. A chardev has one user;
 * a second claim throws `chardev '%s' is already in use`.
 */
export function qemuChrFeInit(chr: Chardev, user: object): void {
  if (chr.frontend !== null && chr.frontend !== user) {
    throw new QomError(`chardev '${chr.label ?? ''}' is already in use`);
  }
  chr.frontend = user;
}

/** QEMU's qemu_chr_fe_deinit: `user` lets `chr` go. */
export function qemuChrFeDeinit(chr: Chardev, user: object): void {
  if (chr.frontend === user) chr.frontend = null;
}
