/**
 * A vhost-user-rng device back-end written with tsqom's back-end library:
 * the TypeScript counterpart of rust-vmm's vhost-device-rng, with the
 * entropy source of QEMU's rng-random.
 *
 *     node dist/examples/vhost-user-rng.js --socket PATH [--source FILE]
 *
 * It listens on PATH, serves one front-end (QEMU's vhost-user-rng or
 * vhost-user-rng-pci device, `-chardev socket,id=c0,path=PATH`), and exits
 * when that front-end disconnects: with status 0 after an orderly end,
 * 1 after a protocol error. The bytes handed to the guest are read from
 * FILE in order (default /dev/urandom); at the end of a regular file the
 * guest gets what is left, then empty buffers. Nothing is printed on
 * stdout; errors go to stderr. SIGINT and SIGTERM stop it cleanly.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import {
  VhostUserBackendServer,
  type VhostUserBackend,
  type VhostUserBackendDevice,
  type VhostUserBackendQueue,
} from 'tsqom/vhost-user';
import { iovSize } from 'tsqom/virtio';

function usage(message?: string): never {
  if (message !== undefined) process.stderr.write(`vhost-user-rng: ${message}\n`);
  process.stderr.write('usage: vhost-user-rng --socket PATH [--source FILE]\n');
  process.exit(2);
}

function parseArgs(argv: string[]): { socket: string; source: string } {
  let socket: string | undefined;
  let source = '/dev/urandom';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const [name, inline] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) usage(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--socket':
      case '--socket-path':
        socket = value();
        break;
      case '--source':
      case '--filename':
        source = value();
        break;
      case '--help':
      case '-h':
        usage();
        break;
      default:
        usage(`unknown option ${a}`);
    }
  }
  if (socket === undefined) usage('--socket is required');
  return { socket, source };
}

/** The rng device: one request queue; every buffer is filled from the source. */
class RngDevice implements VhostUserBackendDevice {
  readonly numQueues = 1;
  readonly #fd: number;
  #eof = false;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** Reads up to `n` bytes, looping over short reads until the end of the source. */
  #take(n: number): Uint8Array {
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n && !this.#eof) {
      const r = readSync(this.#fd, buf, got, n - got, null);
      if (r === 0) this.#eof = true;
      got += r;
    }
    return buf.subarray(0, got);
  }

  onKick(queue: VhostUserBackendQueue): void {
    let pushed = false;
    for (let elem = queue.pop(); elem !== null; elem = queue.pop()) {
      const data = this.#take(iovSize(elem.inSg));
      const len = queue.write(elem, data);
      queue.push(elem, len);
      pushed = true;
    }
    if (pushed) queue.notify();
  }
}

function main(): void {
  const { socket, source } = parseArgs(process.argv.slice(2));
  let fd: number;
  try {
    fd = openSync(source, 'r');
  } catch (e) {
    process.stderr.write(`vhost-user-rng: cannot open ${source}: ${(e as Error).message}\n`);
    process.exit(1);
  }
  // Handlers first: the socket file appearing is the signal that we are
  // ready, and a SIGTERM after that must find them in place.
  let stop: () => void = () => process.exit(0);
  process.once('SIGINT', () => stop());
  process.once('SIGTERM', () => stop());
  const onError = (m: string): void => {
    process.stderr.write(`vhost-user-rng: ${m}\n`);
  };
  let server: VhostUserBackendServer;
  try {
    server = VhostUserBackendServer.listen(socket, new RngDevice(fd), {
      maxConnections: 1,
      name: 'vhost-user-rng',
      onError,
    });
  } catch (e) {
    process.stderr.write(`vhost-user-rng: cannot listen on ${socket}: ${(e as Error).message}\n`);
    process.exit(1);
  }
  let finished = false;
  const finish = (code: number): void => {
    if (finished) return;
    finished = true;
    server.close(true);
    closeSync(fd);
    process.exitCode = code;
  };
  server.once('connection', (backend: VhostUserBackend) => {
    // One front-end: stop listening, and leave with it.
    server.close(false);
    void backend.whenClosed.then(() => finish(backend.broken ? 1 : 0));
  });
  stop = () => finish(0);
}

main();
