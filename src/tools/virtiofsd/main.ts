#!/usr/bin/env node
/**
 * `tsqom-virtiofsd`: a virtio-fs device back-end (vhost-user) that shares
 * a host directory with a guest, with the options of the current
 * virtiofsd:
 *
 *     tsqom-virtiofsd --socket-path PATH --shared-dir DIR [--cache auto|always|never]
 *                     [--readonly] [--tag TAG] [--dax-window SIZE] [--log-level LEVEL]
 *
 * QEMU's `-o source=DIR` and `-o cache=MODE` forms are accepted too. It
 * listens on PATH, serves one front-end (QEMU's `vhost-user-fs-pci` or
 * tsqom's `vhost-user-device`) and exits when that front-end disconnects:
 * status 0 after an orderly end, 1 after a protocol error. SIGINT and
 * SIGTERM stop it cleanly (socket file removed, descriptors closed).
 * @module
 */
import { pathToFileURL } from 'node:url';
import { realpathSync } from 'node:fs';
import { VhostUserBackendServer, type VhostUserBackend } from '../../hw/virtio/vhost-user/index.js';
import { qemuStrtosz } from '../../util/cutils.js';
import { TSQOM_VERSION } from '../../util/version.js';
import { PassthroughFs, type CacheMode } from './passthrough-ll.js';
import { VhostUserFsDevice, checkTag } from './vhost-user-fs.js';

/** The program name used in messages. */
export const PROG = 'tsqom-virtiofsd';

/** Log levels, least verbose first. */
export const LOG_LEVELS = ['off', 'error', 'warn', 'info', 'debug', 'trace'] as const;
/** A log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Parsed command line. */
export interface VirtiofsdOptions {
  /** vhost-user socket path. */
  socketPath: string;
  /** Shared directory. */
  sharedDir: string;
  /** Cache mode. */
  cache: CacheMode;
  /** Refuse writes. */
  readonly: boolean;
  /** Config-space tag (for front-ends that ask the back-end). */
  tag?: string;
  /** Log level. */
  logLevel: LogLevel;
  /** DAX window size; 0: none. */
  daxWindow: bigint;
  /** Request queues. */
  requestQueues: number;
}

/** A command-line error: the text to print after the program name. */
export class UsageError extends Error {
  /** Makes the error. */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The `--help` text. */
export const USAGE = `Usage: ${PROG} [OPTIONS] --socket-path <PATH> --shared-dir <DIR>

A virtio-fs vhost-user device back-end.

Options:
  --socket-path <PATH>   vhost-user socket path
  --shared-dir <DIR>     shared directory path (also: -o source=DIR)
  --cache <MODE>         auto, always or never (also: -o cache=MODE) [default: auto]
  --readonly             refuse every change to the shared directory (EROFS)
  --tag <TAG>            mount tag served in the config space, for front-ends
                         that ask the back-end for it (QEMU's device has its own)
  --dax-window <SIZE>    DAX cache window (VIRTIO Shared Memory Region 0) of SIZE
                         bytes, K/M/G suffixes allowed; 0: no DAX [default: 0]
  --request-queues <N>   request queues besides the hiprio queue [default: 1]
  --log-level <LEVEL>    off, error, warn, info, debug or trace [default: info]
  -h, --help             print this help
  -V, --version          print the version
`;

function parseCache(v: string): CacheMode {
  if (v === 'auto' || v === 'always' || v === 'never') return v;
  if (v === 'none') return 'never';
  throw new UsageError(`invalid cache mode '${v}' (expected auto, always or never)`);
}

/** Parses the command line (without node and script). */
export function parseVirtiofsdArgs(argv: readonly string[]): VirtiofsdOptions | 'help' | 'version' {
  let socketPath: string | undefined;
  let sharedDir: string | undefined;
  let cache: CacheMode = 'auto';
  let readonly = false;
  let tag: string | undefined;
  let logLevel: LogLevel = 'info';
  let daxWindow = 0n;
  let requestQueues = 1;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option '${name}' requires a value`);
      return v;
    };
    const flag = (): void => {
      if (inline !== undefined) throw new UsageError(`option '${name}' takes no value`);
    };
    switch (name) {
      case '--socket-path':
        socketPath = value();
        break;
      case '--shared-dir':
        sharedDir = value();
        break;
      case '--cache':
        cache = parseCache(value());
        break;
      case '--readonly':
        flag();
        readonly = true;
        break;
      case '--tag': {
        const t = value();
        const e = checkTag(t);
        if (e !== null) throw new UsageError(e);
        tag = t;
        break;
      }
      case '--log-level': {
        const l = value();
        const found = LOG_LEVELS.find((x) => x === l);
        if (found === undefined) throw new UsageError(`invalid log level '${l}'`);
        logLevel = found;
        break;
      }
      case '--dax-window': {
        const v = value();
        const r = qemuStrtosz(v);
        if (r.err !== 0) throw new UsageError(`invalid DAX window size '${v}'`);
        if (r.value % 4096n !== 0n)
          throw new UsageError(`DAX window size '${v}' is not a multiple of 4096`);
        daxWindow = r.value;
        break;
      }
      case '--request-queues': {
        const v = value();
        const n = Number(v);
        if (!/^[0-9]+$/.test(v) || n < 1 || n > 255)
          throw new UsageError(`invalid number of request queues '${v}'`);
        requestQueues = n;
        break;
      }
      case '-o': {
        for (const item of value().split(',')) {
          const k = item.indexOf('=');
          const key = k < 0 ? item : item.slice(0, k);
          const val = k < 0 ? '' : item.slice(k + 1);
          if (key === 'source') sharedDir = val;
          else if (key === 'cache') cache = parseCache(val);
          else if (key === 'readonly') readonly = true;
          else throw new UsageError(`unknown option '-o ${item}'`);
        }
        break;
      }
      case '-h':
      case '--help':
        return 'help';
      case '-V':
      case '--version':
        return 'version';
      default:
        throw new UsageError(`unknown option '${arg}'`);
    }
  }
  if (socketPath === undefined) throw new UsageError('--socket-path is required');
  if (sharedDir === undefined) throw new UsageError('--shared-dir (or -o source=DIR) is required');
  return { socketPath, sharedDir, cache, readonly, tag, logLevel, daxWindow, requestQueues };
}

/** Writes a diagnostic line (the command's only output channel besides --help/--version). */
function report(message: string): void {
  process.stderr.write(`${PROG}: ${message}\n`);
}

/** Runs the command; resolves to the exit status. */
export function main(argv: readonly string[]): Promise<number> {
  let opts: VirtiofsdOptions | 'help' | 'version';
  try {
    opts = parseVirtiofsdArgs(argv);
  } catch (e) {
    report((e as Error).message);
    process.stderr.write(`Try '${PROG} --help' for more information.\n`);
    return Promise.resolve(2);
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return Promise.resolve(0);
  }
  if (opts === 'version') {
    process.stdout.write(`${PROG} ${TSQOM_VERSION}\n`);
    return Promise.resolve(0);
  }
  const o = opts;
  const debug = o.logLevel === 'debug' || o.logLevel === 'trace';
  const quiet = o.logLevel === 'off';
  let fs: PassthroughFs;
  try {
    fs = new PassthroughFs({
      source: realpathSync(o.sharedDir),
      cache: o.cache,
      readonly: o.readonly,
    });
  } catch (e) {
    report(`cannot open shared directory ${o.sharedDir}: ${(e as Error).message}`);
    return Promise.resolve(1);
  }
  // Modes arrive already masked by the guest; the host's umask must not mask them again.
  process.umask(0);
  return new Promise((resolve) => {
    let server: VhostUserBackendServer | null = null;
    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      server?.close(true);
      fs.close();
      resolve(code);
    };
    // Handlers first: the socket file appearing tells callers we are ready.
    process.once('SIGINT', () => finish(0));
    process.once('SIGTERM', () => finish(0));
    try {
      server = VhostUserBackendServer.listen(
        o.socketPath,
        new VhostUserFsDevice({
          fs,
          tag: o.tag,
          requestQueues: o.requestQueues,
          daxWindow: o.daxWindow,
          log: debug ? report : undefined,
        }),
        { maxConnections: 1, name: PROG, onError: quiet ? () => undefined : report },
      );
    } catch (e) {
      report(`cannot listen on ${o.socketPath}: ${(e as Error).message}`);
      finish(1);
      return;
    }
    server.once('connection', (backend: VhostUserBackend) => {
      // One front-end: stop listening, and leave with it.
      server?.close(false);
      void backend.whenClosed.then(() => finish(backend.broken ? 1 : 0));
    });
  });
}

if (
  process.argv[1] !== undefined &&
  import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href
) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
