/**
 * Runs QEMU 7.2 (`qemu-system-x86_64 -M none`) with extra arguments and
 * collects the replies of HMP commands through QMP's
 * human-monitor-command. Everything it creates (socket directory, process)
 * is gone when the promise settles.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

async function connect(path: string): Promise<Socket> {
  for (let i = 0; ; i++) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(path);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
    } catch (e) {
      if (i > 200) throw e;
      await sleep(25);
    }
  }
}

/** Runs `qemu-system-x86_64 -M none ... extraArgs` and returns each HMP command's output. */
export async function qemuHmp(
  extraArgs: readonly string[],
  commands: readonly string[],
): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-mtree-'));
  const sock = join(dir, 'qmp.sock');
  const child = spawn(
    'qemu-system-x86_64',
    [
      '-M',
      'none',
      '-nodefaults',
      '-display',
      'none',
      '-S',
      '-qmp',
      `unix:${sock},server=on,wait=off`,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const s = await Promise.race([
      connect(sock),
      exited.then(() => {
        throw new Error(`qemu exited: ${stderr}`);
      }),
    ]);
    let buf = '';
    const waiters: ((line: Record<string, unknown>) => void)[] = [];
    const lines: Record<string, unknown>[] = [];
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i; (i = buf.indexOf('\n')) >= 0;) {
        const msg = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        const w = waiters.shift();
        if (w) w(msg);
        else lines.push(msg);
      }
    });
    const next = (): Promise<Record<string, unknown>> =>
      lines.length
        ? Promise.resolve(lines.shift()!)
        : new Promise((resolve) => waiters.push(resolve));
    const execute = async (cmd: object): Promise<unknown> => {
      s.write(JSON.stringify(cmd) + '\n');
      for (;;) {
        const m = await next();
        if ('return' in m) return m.return;
        if ('error' in m) throw new Error(JSON.stringify(m.error));
      }
    };
    await next(); // greeting
    await execute({ execute: 'qmp_capabilities' });
    const out: string[] = [];
    for (const c of commands) {
      out.push(
        (await execute({
          execute: 'human-monitor-command',
          arguments: { 'command-line': c },
        })) as string,
      );
    }
    await execute({ execute: 'quit' });
    s.destroy();
    await exited;
    return out;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `info mtree` text as comparable blocks: CRLF turned into LF, split at
 * the blank lines that end each block, `FlatView #N` numbers dropped, and
 * sorted, because QEMU orders the blocks by hashing pointers.
 */
export function mtreeBlocks(text: string): string[] {
  const t = text.replace(/\r\n/g, '\n');
  const blocks = t.split('\n\n').filter((b) => b !== '');
  return blocks.map((b) => b.replace(/^FlatView #\d+\n/, 'FlatView\n')).sort();
}

/** The FlatView numbers in order of appearance. */
export function flatviewNumbers(text: string): number[] {
  return [...text.matchAll(/^FlatView #(\d+)$/gm)].map((m) => Number(m[1]));
}
