/**
 * Starts the reference peer, Debian's QEMU 7.2
 * (`qemu-system-x86_64 -M none -nodefaults -display none -S -qmp
 * unix:PATH,server=on,wait=off`), in a private temp directory, and stops
 * it cleanly (`quit`, then SIGKILL on timeout). Also starts tsqom's QMP
 * server in-process the same way, so tests can treat both alike.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpServer, type QmpServerOptions } from '../../../src/monitor/qmp-server.js';
import { QmpClient } from './qmp-client.js';

/** The QEMU binary used as reference. */
export const QEMU_BINARY = process.env.TSQOM_QEMU ?? 'qemu-system-x86_64';

// QEMU children still running, killed if this process exits without
// stopping them (a crash, an unhandled error), so none is left behind.
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

/** A running QMP peer (QEMU or tsqom). */
export interface QmpPeer {
  /** `qemu` or `tsqom`. */
  readonly kind: 'qemu' | 'tsqom';
  /** Unix socket paths of its QMP monitors. */
  readonly sockets: readonly string[];
  /** Connects a new client to monitor `index` (QEMU serves one client per monitor). */
  connect(index?: number): Promise<QmpClient>;
  /** Stops it and removes its temp directory. */
  stop(): Promise<void>;
}

/** Options for {@link startQemu}. */
export interface QemuOptions {
  /** Number of `-qmp` monitors (default 1). */
  monitors?: number;
  /** Extra command-line arguments (e.g. `-object ...`). */
  args?: string[];
  /** `pretty=on` for the monitors. */
  pretty?: boolean;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** A running QEMU. */
export class QemuInstance implements QmpPeer {
  readonly kind = 'qemu' as const;
  private exited = false;
  private stderr = '';
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly dir: string,
    readonly sockets: readonly string[],
    readonly process: ChildProcess,
  ) {
    process.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exitPromise = new Promise((resolve) => {
      process.once('exit', () => {
        this.exited = true;
        resolve();
      });
    });
  }

  /** Starts QEMU and waits until its monitors listen. */
  static async start(opts: QemuOptions = {}): Promise<QemuInstance> {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-qemu-'));
    const n = opts.monitors ?? 1;
    const sockets = Array.from({ length: n }, (_, i) => join(dir, `qmp${i}.sock`));
    const args = ['-M', 'none', '-nodefaults', '-display', 'none', '-S'];
    sockets.forEach((s, i) => {
      if (opts.pretty) {
        args.push('-chardev', `socket,id=qmp${i},path=${s},server=on,wait=off`);
        args.push('-mon', `chardev=qmp${i},mode=control,pretty=on`);
      } else {
        args.push('-qmp', `unix:${s},server=on,wait=off`);
      }
    });
    args.push(...(opts.args ?? []));
    const child = spawn(QEMU_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
    track(child);
    const q = new QemuInstance(dir, sockets, child);
    child.once('error', (e) => {
      q.stderr += String(e);
      q.exited = true;
    });
    try {
      await waitFor(() => q.exited || sockets.every((s) => existsSync(s)), 10000, 'QEMU to listen');
      if (q.exited) throw new Error(`QEMU exited: ${q.stderr.trim()}`);
    } catch (e) {
      await q.stop();
      throw e;
    }
    return q;
  }

  /** What QEMU wrote to stderr. */
  get errors(): string {
    return this.stderr;
  }

  /** Connects a client to monitor `index`. */
  connect(index = 0): Promise<QmpClient> {
    return QmpClient.connect(this.sockets[index]);
  }

  /** Asks QEMU to quit over a fresh connection; kills it if that does not work in time. */
  async stop(timeoutMs = 3000): Promise<void> {
    if (!this.exited) {
      try {
        const c = await Promise.race([
          this.connect(this.sockets.length - 1),
          new Promise<never>((_, rej) => setTimeout(() => rej(new Error('connect timeout')), 500)),
        ]);
        c.sendRaw('{"execute":"qmp_capabilities"}{"execute":"quit"}');
        await Promise.race([this.exitPromise, new Promise((r) => setTimeout(r, timeoutMs))]);
        await c.close();
      } catch {
        // Fall through to kill.
      }
    }
    if (!this.exited) {
      this.process.kill('SIGTERM');
      await Promise.race([this.exitPromise, new Promise((r) => setTimeout(r, 1000))]);
    }
    if (!this.exited) {
      this.process.kill('SIGKILL');
      await this.exitPromise;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts QEMU 7.2 (see {@link QemuInstance.start}). */
export function startQemu(opts: QemuOptions = {}): Promise<QemuInstance> {
  return QemuInstance.start(opts);
}

/** tsqom's QMP server, in-process, listening on unix sockets in a temp dir. */
export class TsqomInstance implements QmpPeer {
  readonly kind = 'tsqom' as const;

  private constructor(
    readonly dir: string,
    readonly sockets: readonly string[],
    readonly server: QmpServer,
  ) {}

  /** Starts a server with `monitors` listening sockets. */
  static async start(opts: QemuOptions & QmpServerOptions = {}): Promise<TsqomInstance> {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-qmp-'));
    const n = opts.monitors ?? 1;
    const sockets = Array.from({ length: n }, (_, i) => join(dir, `qmp${i}.sock`));
    const server = new QmpServer({ onShutdown: () => undefined, ...opts });
    for (const s of sockets) await server.listen(`unix:${s},server=on,wait=off`);
    return new TsqomInstance(dir, sockets, server);
  }

  /** Connects a client to monitor `index`. */
  connect(index = 0): Promise<QmpClient> {
    return QmpClient.connect(this.sockets[index]);
  }

  /** Closes the server and removes the temp dir. */
  async stop(): Promise<void> {
    await this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts tsqom's QMP server (see {@link TsqomInstance.start}). */
export function startTsqom(opts: QemuOptions & QmpServerOptions = {}): Promise<TsqomInstance> {
  return TsqomInstance.start(opts);
}

/** Starts both peers. */
export async function startBoth(
  opts: QemuOptions = {},
): Promise<{ qemu: QemuInstance; tsqom: TsqomInstance }> {
  const [qemu, tsqom] = await Promise.all([startQemu(opts), startTsqom(opts)]);
  return { qemu, tsqom };
}
