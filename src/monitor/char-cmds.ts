/**
 * Character device and yank commands (QEMU's chardev/char.c,
 * util/yank.c): `query-chardev`, `query-chardev-backends`, `chardev-add`,
 * `chardev-remove`, `query-yank`, `yank`, and HMP `info chardev`,
 * `chardev-add`.
 *
 * `chardev-add` turns QAPI's `ChardevBackend` into the options the
 * backend type parses for `-chardev`, so both paths share one parser and
 * the types tsqom has are exactly those `-chardev` accepts.
 * @module
 */
import type { JsonObject } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import { objectClassByName, objectDynamicCast } from '../qom/object.js';
import { SocketChardev } from '../chardev/char-socket.js';
import type { QemuOpt, QemuOpts } from '../util/qemu-option.js';
import {
  type Chardev,
  ChardevClass,
  TYPE_CHARDEV,
  getChardevsRoot,
  qemuChardevNew,
  qemuChrDelete,
  qemuChrFind,
  qemuChrInfoList,
  qemuChrNewFromOpts,
  qemuChrParse,
  qemuChardevOpts,
} from '../chardev/char.js';
import { type QapiMembers, qapiInputVisit } from '../qapi/qapi.js';
import { type HmpCommandTable, hmpCommands, hmpInfoCommands } from './hmp.js';
import { type QmpCommandRegistry, qmpCommands } from './qmp-dispatch.js';

/** QAPI `ChardevBackendKind` (QEMU 7.2, x86_64 build), in schema order. */
export const CHARDEV_BACKEND_KINDS = [
  'file',
  'serial',
  'parallel',
  'pipe',
  'socket',
  'udp',
  'pty',
  'null',
  'mux',
  'msmouse',
  'wctablet',
  'braille',
  'testdev',
  'stdio',
  'console',
  'spicevmc',
  'spiceport',
  'qemu-vdagent',
  'vc',
  'ringbuf',
  'memory',
] as const;

const COMMON: QapiMembers = { '*logfile': 'str', '*logappend': 'bool' };

/** The `data` of each SocketAddressLegacy kind (qapi/sockets.json, QEMU 7.2). */
const SOCKET_ADDRESS_DATA: Record<string, QapiMembers> = {
  inet: {
    host: 'str',
    port: 'str',
    '*numeric': 'bool',
    '*to': 'uint16',
    '*ipv4': 'bool',
    '*ipv6': 'bool',
    '*keep-alive': 'bool',
    '*mptcp': 'bool',
  },
  unix: { path: 'str', '*abstract': 'bool', '*tight': 'bool' },
  vsock: { cid: 'str', port: 'str' },
  fd: { str: 'str' },
};

function socketAddress(kind: unknown): QapiMembers {
  const data = typeof kind === 'string' ? SOCKET_ADDRESS_DATA[kind] : undefined;
  return {
    type: { enum: ['inet', 'unix', 'vsock', 'fd'] },
    data: data ? { struct: data } : 'any',
  };
}

function field(v: unknown, key: string): unknown {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)[key]
    : undefined;
}

/** The `data` members of the backend kinds tsqom can open (others pass unchecked and fail at open). */
function backendData(kind: string, backend: unknown): QapiMembers | undefined {
  if (kind === 'null') return { ...COMMON };
  if (kind !== 'socket') return undefined;
  const addrKind = field(field(field(backend, 'data'), 'addr'), 'type');
  return {
    ...COMMON,
    addr: { struct: socketAddress(addrKind) },
    '*tls-creds': 'str',
    '*tls-authz': 'str',
    '*server': 'bool',
    '*wait': 'bool',
    '*nodelay': 'bool',
    '*telnet': 'bool',
    '*tn3270': 'bool',
    '*websocket': 'bool',
    '*reconnect': 'int',
  };
}

/**
 * The arguments of `chardev-add` for a backend: `id`, then the
 * `ChardevBackend` simple union with that kind's `data` members.
 */
function chardevAddArgs(backend: unknown): QapiMembers {
  const kind = field(backend, 'type');
  const data = typeof kind === 'string' ? backendData(kind, backend) : undefined;
  return {
    id: 'str',
    backend: {
      struct: {
        type: { enum: CHARDEV_BACKEND_KINDS },
        data: data ? { struct: data } : 'any',
      },
    },
  };
}

function bool(v: unknown): string {
  return v ? 'on' : 'off';
}

/** The `-chardev` options equivalent to a checked `ChardevBackend`. */
function backendToOpts(id: string, kind: string, data: JsonObject): QemuOpts {
  const opts: QemuOpt[] = [{ name: 'backend', str: kind }];
  const add = (name: string, v: unknown): void => {
    if (v === undefined) return;
    opts.push({ name, str: typeof v === 'boolean' ? bool(v) : String(v) });
  };
  if (kind === 'socket') {
    const addr = data.addr as JsonObject;
    const a = (addr.data ?? {}) as JsonObject;
    if (addr.type === 'unix') add('path', a.path);
    else if (addr.type === 'inet') {
      add('host', a.host);
      add('port', a.port);
      add('to', a.to);
      add('ipv4', a.ipv4);
      add('ipv6', a.ipv6);
    } else if (addr.type === 'fd') add('fd', a.str);
    else throw new QomError(`socket family '${String(addr.type)}' is not supported by tsqom`);
    // QMP's defaults differ from -chardev's: a server that does not wait.
    const server = data.server ?? true;
    add('server', server);
    add('wait', server ? (data.wait ?? false) : data.wait);
    for (const k of ['nodelay', 'telnet', 'tn3270', 'websocket', 'reconnect', 'tls-creds'])
      add(k, data[k]);
  }
  add('logfile', data.logfile);
  add('logappend', data.logappend);
  return { id, opts, helpWanted: false, warnings: [] };
}

/** `qmp_chardev_add`: checks the arguments as QAPI does, then creates and opens the chardev. */
export async function qmpChardevAdd(raw: JsonObject): Promise<JsonObject> {
  const b = raw.backend;
  const args = qapiInputVisit(chardevAddArgs(b), raw);
  const id = args.id as string;
  const backend = args.backend as JsonObject;
  const kind = backend.type as string;
  const data = (backend.data ?? {}) as JsonObject;
  const cls = objectClassByName(`chardev-${kind}`);
  if (!(cls instanceof ChardevClass) || !cls.dynamicCast(TYPE_CHARDEV))
    throw new QomError(`'${kind}' is not a valid char driver name`);
  if (qemuChrFind(id)) throw new QomError(`Chardev with id '${id}' already exists`);
  try {
    const opts = backendToOpts(id, kind, data);
    const desc = cls.parse ? cls.parse(opts) : {};
    await qemuChardevNew(id, `chardev-${kind}`, desc);
  } catch (e) {
    // QEMU names the chardev in front of what its backend reported.
    if (e instanceof QomError && !e.message.startsWith(`Chardev with id '${id}'`)) {
      throw new QomError(`Failed to add chardev '${id}': ${e.message}`, e.errorClass, e.hint);
    }
    throw e;
  }
  return {};
}

/** `-chardev help`: the chardev types tsqom has (QEMU lists its own in class-table order). */
export function chardevBackendsHelpText(): string {
  let text = 'Available chardev backend types: \n';
  for (const kind of CHARDEV_BACKEND_KINDS) {
    const cls = objectClassByName(`chardev-${kind}`);
    if (cls && !cls.isAbstract) text += `  ${kind}\n`;
  }
  return text;
}

/** Socket chardevs, in creation order: QEMU registers a yank instance for each. */
function yankChardevs(): Chardev[] {
  const out: Chardev[] = [];
  getChardevsRoot().childForeach((c) => {
    const chr = objectDynamicCast(c, SocketChardev);
    if (chr?.label) out.push(chr);
  });
  return out;
}

/** `qmp_query_yank`. */
export function qmpQueryYank(): JsonObject[] {
  return yankChardevs().map((c) => ({ type: 'chardev', id: c.label! }));
}

/** `qmp_yank`: every instance must exist; then each chardev drops its connection. */
export function qmpYank(instances: JsonObject[]): void {
  const found: Chardev[] = [];
  for (const inst of instances) {
    const chr =
      inst.type === 'chardev' ? yankChardevs().find((c) => c.label === inst.id) : undefined;
    if (!chr) throw new QomError('Instance not found', 'DeviceNotFound');
    found.push(chr);
  }
  for (const c of found) c.disconnect();
}

/** Registers the commands in `registry` and the HMP tables. */
export function registerCharCommands(
  registry: QmpCommandRegistry = qmpCommands,
  hmp: HmpCommandTable = hmpCommands,
  info: HmpCommandTable = hmpInfoCommands,
): void {
  registry.register({
    name: 'query-chardev',
    allowPreconfig: true,
    handler: () => qemuChrInfoList().map((c) => ({ ...c })),
  });
  registry.register({
    name: 'query-chardev-backends',
    handler() {
      const out: JsonObject[] = [];
      for (const kind of CHARDEV_BACKEND_KINDS) {
        const cls = objectClassByName(`chardev-${kind}`);
        if (cls && !cls.isAbstract) out.push({ name: kind });
      }
      return out;
    },
  });
  registry.register({
    name: 'chardev-add',
    rawArgs: true,
    handler: (args) => qmpChardevAdd(args),
  });
  registry.register({
    name: 'chardev-remove',
    args: { id: 'str' },
    handler(args) {
      qemuChrDelete(args.id as string);
      return {};
    },
  });
  registry.register({
    name: 'query-yank',
    allowOob: true,
    handler: () => qmpQueryYank(),
  });
  registry.register({
    name: 'yank',
    allowOob: true,
    args: {
      instances: [
        {
          struct: {
            type: { enum: ['block-node', 'chardev', 'migration'] },
            '*node-name': 'str',
            '*id': 'str',
          },
        },
      ],
    },
    handler(args) {
      qmpYank(args.instances as JsonObject[]);
      return {};
    },
  });

  info.register({
    name: 'chardev',
    argsType: '',
    params: '',
    help: 'show the character devices',
    handler(_a, out) {
      for (const c of qemuChrInfoList()) out.print(`${c.label}: filename=${c.filename}\n`);
    },
  });
  hmp.register({
    name: 'chardev-add',
    argsType: 'args:s',
    params: 'args',
    help: 'add chardev',
    async handler(args, out) {
      let opts: QemuOpts;
      try {
        opts = qemuChrParse(args.args as string);
      } catch (e) {
        // QEMU reports the parse error (and its hint), then its own summary.
        const err = e as Error & { hint?: string };
        out.print(`${err.message}\n${err.hint ?? ''}`);
        throw new QomError('Parsing chardev args failed');
      }
      try {
        if (opts.id !== undefined && qemuChrFind(opts.id))
          throw new QomError(
            `attempt to add duplicate property '${opts.id}' to object (type 'container')`,
          );
        await qemuChrNewFromOpts(opts);
      } finally {
        // QEMU drops the options once the chardev exists (hmp_chardev_add).
        if (opts.id !== undefined) qemuChardevOpts.del(opts.id);
      }
    },
  });
}
