// Differential tests: the same qtest command lines sent to QEMU 7.2
// (qemu-system-x86_64 -M pc -m 16M -S, RAM at address 0) and to tsqom's
// server on a 16 MiB buffer, replies compared byte for byte.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QtestServer, type QtestTarget } from '../../src/monitor/qtest.js';

const QEMU = 'qemu-system-x86_64';
const RAM = 16 << 20;

class RamTarget implements QtestTarget {
  readonly mem = new Uint8Array(RAM);
  readonly devices = new Map<string, object>([
    ['ioapic', {}],
    ['/machine/i440fx', {}],
  ]);
  read(addr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = addr + BigInt(i);
      if (a < BigInt(RAM)) out[i] = this.mem[Number(a)]!;
    }
    return out;
  }
  write(addr: bigint, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const a = addr + BigInt(i);
      if (a < BigInt(RAM)) this.mem[Number(a)] = data[i]!;
    }
  }
  resolveDevice(path: string): object | undefined {
    return this.devices.get(path);
  }
  setIrqIn(): void {}
}

class LineConn {
  private buf = '';
  private readonly lines: string[] = [];
  private readonly waiters: ((l: string | undefined) => void)[] = [];
  private ended = false;
  constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const l = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiters.shift();
        if (w) w(l);
        else this.lines.push(l);
      }
    });
    sock.on('error', () => {});
    sock.once('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    });
  }
  static connect(path: string): Promise<LineConn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path }, () => resolve(new LineConn(s)));
      s.once('error', reject);
    });
  }
  /** Sends one command; resolves with its reply line, or undefined when the peer hung up. */
  cmd(line: string): Promise<string | undefined> {
    if (!this.ended) this.sock.write(Buffer.from(line + '\n', 'latin1'));
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  close(): void {
    this.sock.destroy();
  }
}

interface Qemu {
  proc: ChildProcess;
  conn: LineConn;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

async function startQemu(t: { teardown(f: () => void | Promise<void>): void }): Promise<Qemu> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-qtest-qemu-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'qtest.sock');
  const proc = spawn(
    QEMU,
    ['-M', 'pc', '-m', '16M', '-nodefaults', '-S', '-display', 'none'].concat([
      '-qtest',
      `unix:${path},server=on,wait=off`,
      '-qtest-log',
      '/dev/null',
    ]),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
    proc.once('error', (e) => {
      stderr += String(e);
      resolve({ code: -1, signal: null });
    });
  });
  let exited = false;
  void exit.then(() => (exited = true));
  t.teardown(async () => {
    if (!exited) proc.kill('SIGKILL');
    await exit;
  });
  while (!existsSync(path)) {
    if (exited) throw new Error(`${QEMU} did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const conn = await LineConn.connect(path);
  t.teardown(() => conn.close());
  return { proc, conn, exit, stderr: () => stderr };
}

async function startTsqom(t: { teardown(f: () => void | Promise<void>): void }): Promise<LineConn> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-qtest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'qtest.sock');
  const server = new QtestServer(new RamTarget());
  await server.listen(`unix:${path},server=on,wait=off`);
  t.teardown(() => server.close());
  const conn = await LineConn.connect(path);
  t.teardown(() => conn.close());
  return conn;
}

// Every line here is answered by both; the replies must be identical.
const script = [
  'readb 0x1000',
  'writeb 0x1000 0x1ff',
  'readb 0x1000',
  'writew 0x1002 0xbeef',
  'readw 0x1002',
  'readw 0x1001',
  'writel 0x1004 0xdeadbeef',
  'readl 0x1004',
  'writeq 0x1008 0x0123456789abcdef',
  'readq 0x1008',
  'readq 0x1004',
  'read 0x1000 16',
  'read 0x1001 3',
  'b64read 0x1000 16',
  'b64read 0x1000 0',
  'b64read 0x1000 1',
  'b64read 0x1000 2',
  'write 0x2000 4 0x01020304',
  'read 0x2000 4',
  'write 0x2000 4 0x0a',
  'read 0x2000 4',
  'write 0x2000 2 0xaabbccdd',
  'read 0x2000 4',
  'write 0x2000 2 0x',
  'write 0x2000 4 0xzz11',
  'read 0x2000 4',
  'write 0x2000 4 0x1z2',
  'read 0x2000 4',
  'write 0x2000 4 0XAB',
  'read 0x2000 4',
  'write 0x2000 0 0x00',
  'memset 0x3000 8 0x5a',
  'read 0x3000 9',
  'memset 0x3000 4 0x1ff',
  'memset 0x3000 0 7',
  'read 0x3000 8',
  'b64write 0x4000 4 AQIDBA==',
  'read 0x4000 4',
  'b64write 0x4000 2 BQYHCA==',
  'read 0x4000 4',
  'b64write 0x4000 3 A*Q-I.D',
  'read 0x4000 4',
  'b64write 0x4000 1 A=',
  'b64write 0x4000 1 AQ==AQ==',
  'read 0x4000 4',
  'endianness',
  'readb 010',
  'readb +0x1000',
  'readb 0X1000',
  'readb -1',
  'writeq 0x5000 -1',
  'readq 0x5000',
  'writeq 0x5000 -18446744073709551615',
  'readq 0x5000',
  'writel 0x5000 0x123456789',
  'readq 0x5000',
  'readb 0x1000 extra words',
  'read 0x20000000 4',
  'writeq 0xfffff8 -1',
  'read 0xfffffe 4',
  'write 0x1000000 2 0x1122',
  'read 0x1000000 2',
  'READB 0',
  ' readb 0',
  'readb\t0',
  'foo bar',
  'clock_step',
  'clock_step 100',
  'clock_set 5',
  'module_load block curl',
  'inb 0x1234',
  'inw 0x1234',
  'inl 0x1234',
  'outb 0x1234 1',
  'set_irq_in nosuch x 0 1',
  'irq_intercept_in nosuch',
  'irq_intercept_in ioapic',
  'irq_intercept_in ioapic',
  'irq_intercept_out /machine/i440fx',
];

test('tsqom answers the qtest protocol as QEMU 7.2 does', async (t) => {
  const [qemu, ours] = await Promise.all([startQemu(t), startTsqom(t)]);
  const diffs: string[] = [];
  let compared = 0;
  for (const line of script) {
    const [a, b] = await Promise.all([qemu.conn.cmd(line), ours.cmd(line)]);
    t.not(a, undefined, `QEMU hung up at ${JSON.stringify(line)}: ${qemu.stderr()}`);
    if (a !== b)
      diffs.push(`${JSON.stringify(line)}: qemu ${JSON.stringify(a)} tsqom ${JSON.stringify(b)}`);
    compared++;
  }
  t.deepEqual(diffs, []);
  t.is(compared, script.length);
});

// Malformed commands make QEMU abort on an assertion; tsqom answers FAIL and
// carries on.
for (const [line, ourReply] of [
  ['readb', 'FAIL missing argument'],
  ['read 0x1000 0', 'FAIL zero length'],
] as const) {
  test(`malformed ${JSON.stringify(line)}: QEMU aborts, tsqom answers FAIL`, async (t) => {
    const [qemu, ours] = await Promise.all([startQemu(t), startTsqom(t)]);
    t.is(await qemu.conn.cmd(line), undefined);
    const { signal } = await qemu.exit;
    t.is(signal, 'SIGABRT');
    t.regex(qemu.stderr(), /assertion failed/);
    t.is(await ours.cmd(line), ourReply);
    t.is(await ours.cmd('endianness'), 'OK little');
  });
}
