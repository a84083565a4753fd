/**
 * Starting the two peers for the QMP benchmarks: QEMU 7.2 and tsqom's QMP
 * server, each in its own process, each listening on unix sockets in a
 * temp dir; the same client talks to both.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QmpClient } from '../../test/helpers/qemu/qmp-client.js';
import { type QmpPeer, startQemu } from '../../test/helpers/qemu/qemu.js';

const here = dirname(fileURLToPath(import.meta.url));

/** tsqom's server in a child process. */
export class TsqomProcess implements QmpPeer {
  readonly kind = 'tsqom' as const;

  private constructor(
    readonly dir: string,
    readonly sockets: readonly string[],
    readonly child: ChildProcess,
  ) {}

  /** Starts the server with `monitors` sockets and waits until it listens. */
  static async start(monitors = 1): Promise<TsqomProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-bench-'));
    const sockets = Array.from({ length: monitors }, (_, i) => join(dir, `qmp${i}.sock`));
    const child = spawn(process.execPath, [join(here, 'tsqom-server.js'), ...sockets], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`tsqom server exited (${String(code)})`)));
    });
    return new TsqomProcess(dir, sockets, child);
  }

  /** Connects a client to monitor `index`. */
  connect(index = 0): Promise<QmpClient> {
    return QmpClient.connect(this.sockets[index]);
  }

  /** Stops the server and removes the temp dir. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (this.child.exitCode === null && this.child.signalCode === null)
        this.child.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts QEMU and tsqom with the same number of monitors. */
export async function startPeers(monitors = 1): Promise<{ qemu: QmpPeer; tsqom: QmpPeer }> {
  const [qemu, tsqom] = await Promise.all([startQemu({ monitors }), TsqomProcess.start(monitors)]);
  return { qemu, tsqom };
}

/** Whether a peer knows a QOM type (via qom-list-types). */
export async function hasType(c: QmpClient, type: string): Promise<boolean> {
  const r = (await c.cmd('qom-list-types', { implements: type })) as Array<{ name: string }>;
  return r.some((x) => x.name === type);
}
