/**
 * `set_irq_in` and the default qtest log, differential: the `tsqom`
 * command and QEMU 7.2, both `-machine none -qtest unix:P,server=on,wait=off`
 * without `-qtest-log`, get the same lines; replies and the protocol log
 * (on stderr, as QEMU 7.2 writes it by default) are compared. Then what
 * only tsqom has: the machine's interrupt lines as the unnamed GPIO inputs
 * of `/machine`.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandFor, type Launchee } from '../helpers/cli/launch.js';

interface Peer {
  /** Sends a line; resolves with the next reply line (undefined at EOF). */
  cmd(line: string): Promise<string | undefined>;
  /** Lines received and not yet taken. */
  pending(): string[];
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function start(t: ExecutionContext, who: Launchee): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-qtest-cli-'));
  const path = join(dir, 'qtest.sock');
  const [cmd, argv] = commandFor(who, [
    '-machine',
    'none',
    '-nodefaults',
    '-display',
    'none',
    '-qtest',
    `unix:${path},server=on,wait=off`,
  ]);
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  let exited = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    }),
  );
  t.teardown(async () => {
    if (!exited) proc.kill('SIGKILL');
    await exit;
    rmSync(dir, { recursive: true, force: true });
  });
  while (!existsSync(path)) {
    if (exited) throw new Error(`${who} did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ path }, () => resolve(s));
    s.once('error', reject);
  });
  t.teardown(() => void sock.destroy());
  let buf = '';
  const lines: string[] = [];
  let waiter: ((l: string | undefined) => void) | undefined;
  let ended = false;
  sock.setEncoding('latin1').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    if (waiter && lines.length > 0) {
      const w = waiter;
      waiter = undefined;
      w(lines.shift());
    }
  });
  sock.on('error', () => {});
  sock.once('close', () => {
    ended = true;
    waiter?.(undefined);
  });
  return {
    cmd(line) {
      if (!ended) sock.write(`${line}\n`);
      if (lines.length > 0) return Promise.resolve(lines.shift());
      if (ended) return Promise.resolve(undefined);
      return new Promise((resolve) => (waiter = resolve));
    },
    pending: () => lines.splice(0),
    stderr: () => err,
    exit,
  };
}

/** The log with its timestamps masked. */
const maskTimes = (log: string): string => log.replace(/\[([RSI]) \+?[0-9.]+\]/g, '[$1 T]');

const script = [
  'set_irq_in nosuch x 0 1',
  'set_irq_in /nosuch unnamed-gpio-in 0 1',
  'set_irq_in nosuch unnamed-gpio-in 0x10 -1',
  // The device is looked up before the numbers are read.
  'set_irq_in nosuch x y z',
  'irq_intercept_in nosuch',
  'irq_intercept_out nosuch',
  'endianness',
];

test('set_irq_in and the qtest log on stderr as in QEMU 7.2', async (t) => {
  const [q, s] = await Promise.all([start(t, 'qemu'), start(t, 'tsqom')]);
  for (const line of script) {
    const [a, b] = await Promise.all([q.cmd(line), s.cmd(line)]);
    t.not(a, undefined, `QEMU hung up at ${line}: ${q.stderr()}`);
    t.is(b, a, line);
  }
  t.true(q.stderr().includes('[R +'), 'QEMU 7.2 logs to stderr');
  t.is(maskTimes(s.stderr()), maskTimes(q.stderr()));
});

test('set_irq_in without all its arguments: QEMU 7.2 aborts, tsqom answers FAIL', async (t) => {
  const [q, s] = await Promise.all([start(t, 'qemu'), start(t, 'tsqom')]);
  t.is(await q.cmd('set_irq_in nosuch x'), undefined);
  t.is((await q.exit).signal, 'SIGABRT');
  t.is(await s.cmd('set_irq_in nosuch x'), 'FAIL missing argument');
  t.is(await s.cmd('endianness'), 'OK little');
});

test("tsqom: set_irq_in drives the machine's lines, seen by irq_intercept_in", async (t) => {
  const s = await start(t, 'tsqom');
  t.is(await s.cmd('irq_intercept_in /machine'), 'OK');
  // As in QEMU, the interception's IRQ line comes before the OK.
  t.is(await s.cmd('set_irq_in /machine unnamed-gpio-in 3 1'), 'IRQ raise 3');
  t.deepEqual(await waitPending(s), ['OK']);
  t.is(await s.cmd('set_irq_in /machine unnamed-gpio-in 3 1'), 'OK', 'no change, no IRQ line');
  t.is(await s.cmd('set_irq_in /machine unnamed-gpio-in 0x3 0'), 'IRQ lower 3');
  t.deepEqual(await waitPending(s), ['OK']);
  // Where QEMU 7.2 aborts or reads stray memory: FAIL.
  t.is(await s.cmd('set_irq_in /machine irq 0 1'), 'FAIL no GPIO input irq[0] on /machine');
  t.is(
    await s.cmd('set_irq_in /machine/unattached/sysbus unnamed-gpio-in 0 1'),
    'FAIL no GPIO input unnamed-gpio-in[0] on /machine/unattached/sysbus',
  );
  t.is(
    await s.cmd('set_irq_in /machine unnamed-gpio-in -1 1'),
    'FAIL no GPIO input unnamed-gpio-in[-1] on /machine',
  );
  t.is(await s.cmd('endianness'), 'OK little');
});

async function waitPending(p: Peer): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const l = p.pending();
    if (l.length > 0) return l;
    await new Promise((r) => setTimeout(r, 10));
  }
  return [];
}
