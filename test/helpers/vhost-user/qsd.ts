/**
 * Debian's qemu-storage-daemon (QEMU 7.2) as a vhost-user-blk back-end:
 * exports an image file on a unix socket, and stops cleanly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The binary (override with TSQOM_QSD). */
export const QSD_BINARY = process.env.TSQOM_QSD ?? 'qemu-storage-daemon';

/** A running daemon. */
export interface Qsd {
  /** The process. */
  proc: ChildProcess;
  /** What it printed on stderr so far. */
  stderr(): string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for the exit. */
  stop(): Promise<void>;
}

/** Exports `image` (raw) as vhost-user-blk on `socket`, writable unless `readOnly`. */
export async function startQsd(image: string, socket: string, readOnly = false): Promise<Qsd> {
  const proc = spawn(
    QSD_BINARY,
    [
      '--blockdev',
      `driver=file,node-name=disk,filename=${image.replaceAll(',', ',,')}`,
      '--export',
      `type=vhost-user-blk,id=exp0,node-name=disk,addr.type=unix,addr.path=${socket.replaceAll(',', ',,')},writable=${readOnly ? 'off' : 'on'}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const killer = (): void => {
    proc.kill('SIGKILL');
  };
  process.once('exit', killer);
  const deadline = Date.now() + 10000;
  while (!existsSync(socket)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`qemu-storage-daemon did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    proc,
    stderr: () => err,
    stop: async () => {
      process.off('exit', killer);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
