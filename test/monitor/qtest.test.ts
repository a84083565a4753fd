import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  QtestServer,
  glibBase64Decode,
  parseQtestChardev,
  type QtestClock,
  type QtestTarget,
} from '../../src/monitor/qtest.js';

// RAM at [0, size); everything else reads as zero and drops writes, as
// unassigned memory does in QEMU.
class BufferTarget implements QtestTarget {
  readonly mem: Uint8Array;
  readonly pio: [string, number, number, number?][] = [];
  readonly intercepts: [object, string][] = [];
  readonly irqIn: [object, string | undefined, number, number][] = [];
  readonly devices = new Map<string, object>([
    ['ioapic', { name: 'ioapic' }],
    ['/machine/i440fx', { name: 'i440fx' }],
  ]);
  clock?: QtestClock;
  onWrite?: (addr: bigint, data: Uint8Array) => void;

  constructor(
    size = 1 << 20,
    readonly bigEndian = false,
  ) {
    this.mem = new Uint8Array(size);
  }
  read(addr: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = addr + BigInt(i);
      if (a < BigInt(this.mem.length)) out[i] = this.mem[Number(a)]!;
    }
    return out;
  }
  write(addr: bigint, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const a = addr + BigInt(i);
      if (a < BigInt(this.mem.length)) this.mem[Number(a)] = data[i]!;
    }
    this.onWrite?.(addr, data);
  }
  resolveDevice(path: string): object | undefined {
    return this.devices.get(path);
  }
  interceptIrq(dev: object, dir: 'in' | 'out'): void {
    this.intercepts.push([dev, dir]);
  }
  setIrqIn(dev: object, name: string | undefined, n: number, level: number): void {
    this.irqIn.push([dev, name, n, level]);
  }
}

class FakeClock implements QtestClock {
  ns = 0n;
  timers: bigint[] = [];
  now(): bigint {
    return this.ns;
  }
  deadline(): bigint {
    const next = this.timers.filter((x) => x > this.ns).sort((a, b) => (a < b ? -1 : 1))[0];
    return next === undefined ? -1n : next - this.ns;
  }
  warp(dest: bigint): void {
    if (dest > this.ns) this.ns = dest;
  }
}

// A line-oriented client.
class Client {
  private buf = '';
  private readonly lines: string[] = [];
  private readonly waiters: ((l: string | undefined) => void)[] = [];
  ended = false;
  readonly done: Promise<void>;
  constructor(readonly sock: net.Socket) {
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
    this.done = new Promise((resolve) =>
      sock.once('close', () => {
        this.ended = true;
        for (const w of this.waiters.splice(0)) w(undefined);
        resolve();
      }),
    );
  }
  static connect(path: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path }, () => resolve(new Client(s)));
      s.once('error', reject);
    });
  }
  get pending(): number {
    return this.lines.length;
  }
  next(): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  send(text: string): void {
    this.sock.write(Buffer.from(text, 'latin1'));
  }
  async cmd(line: string): Promise<string | undefined> {
    this.send(line + '\n');
    return this.next();
  }
  close(): Promise<void> {
    this.sock.end();
    return this.done;
  }
}

function tempDir(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-qtest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function serve(
  t: { teardown(f: () => void | Promise<void>): void },
  target: QtestTarget,
  opts: ConstructorParameters<typeof QtestServer>[1] = {},
): Promise<{ server: QtestServer; path: string }> {
  const path = join(tempDir(t), 'qtest.sock');
  const server = new QtestServer(target, opts);
  await server.listen(`unix:${path},server=on,wait=off`);
  t.teardown(() => server.close());
  return { server, path };
}

test('parseQtestChardev', (t) => {
  t.deepEqual(parseQtestChardev('unix:/tmp/q.sock,server=on,wait=off'), {
    kind: 'unix',
    path: '/tmp/q.sock',
    server: true,
    wait: false,
  });
  t.deepEqual(parseQtestChardev('unix:/tmp/q.sock'), {
    kind: 'unix',
    path: '/tmp/q.sock',
    server: false,
    wait: true,
  });
  t.deepEqual(parseQtestChardev('unix:/tmp/a,,b,server,nowait'), {
    kind: 'unix',
    path: '/tmp/a,b',
    server: true,
    wait: false,
  });
  t.deepEqual(parseQtestChardev('tcp:127.0.0.1:4444,server=on'), {
    kind: 'tcp',
    host: '127.0.0.1',
    port: 4444,
    server: true,
    wait: true,
  });
  t.is(
    t.throws(() => parseQtestChardev('stdio'))?.message,
    'Failed to initialize device for qtest: "stdio"',
  );
  t.is(
    t.throws(() => parseQtestChardev('unix:/x,server=maybe'))?.message,
    "Parameter 'server' expects 'on' or 'off'",
  );
  t.is(
    t.throws(() => parseQtestChardev('unix:/x,colour=red'))?.message,
    "Invalid parameter 'colour'",
  );
  t.is(
    t.throws(() => parseQtestChardev('tcp:host'))?.message,
    'Failed to initialize device for qtest: "tcp:host"',
  );
});

test('GLib base64 decoding: skips junk, honours =, drops an incomplete group', (t) => {
  const d = (s: string): number[] => [...glibBase64Decode(s)];
  t.deepEqual(d('AQIDBA=='), [1, 2, 3, 4]);
  t.deepEqual(d('AQIDBA='), [1, 2, 3]);
  t.deepEqual(d('A*Q-I.D'), [1, 2, 3]);
  t.deepEqual(d('AQ==AQ=='), [1, 1]);
  t.deepEqual(d('AQI'), []);
  t.deepEqual(d(Buffer.from('hello, world').toString('base64')), [...Buffer.from('hello, world')]);
});

// [command, reply] on a little-endian BufferTarget with devices.
const protocolTable: [string, string][] = [
  ['readb 0x10', 'OK 0x0000000000000000'],
  ['writeb 0x10 0x1ff', 'OK'],
  ['readb 0x10', 'OK 0x00000000000000ff'],
  ['writew 0x12 0xbeef', 'OK'],
  ['readw 0x12', 'OK 0x000000000000beef'],
  ['readb 0x12', 'OK 0x00000000000000ef'],
  ['writel 0x14 0xdeadbeef', 'OK'],
  ['readl 0x14', 'OK 0x00000000deadbeef'],
  ['writeq 0x18 0x0123456789abcdef', 'OK'],
  ['readq 0x18', 'OK 0x0123456789abcdef'],
  ['read 0x10 4', 'OK 0xff00efbe'],
  ['b64read 0x18 8', 'OK 782riWdFIwE='],
  ['b64read 0x18 0', 'OK '],
  ['write 0x20 4 0x01020304', 'OK'],
  ['read 0x20 4', 'OK 0x01020304'],
  ['write 0x20 4 0x0a', 'OK'],
  ['read 0x20 4', 'OK 0x0a000000'],
  ['write 0x20 2 0xaabbccdd', 'OK'],
  ['read 0x20 4', 'OK 0xaabb0000'],
  ['write 0x20 4 0xzz11', 'OK'],
  ['read 0x20 4', 'OK 0xff110000'],
  ['write 0x20 2 0x', 'ERR invalid argument size'],
  ['memset 0x30 4 0x15a', 'OK'],
  ['memset 0x30 0 7', 'OK'],
  ['read 0x30 5', 'OK 0x5a5a5a5a00'],
  ['b64write 0x40 4 AQIDBA==', 'OK'],
  ['b64write 0x40 2 BQYHCA==', 'OK'],
  ['b64write 0x44 3 A', 'ERR invalid argument size'],
  ['read 0x40 4', 'OK 0x05060304'],
  ['readb 010', 'OK 0x0000000000000000'],
  ['writeq 0x50 -1', 'OK'],
  ['readq 0x50', 'OK 0xffffffffffffffff'],
  ['readb 0x50 extra words', 'OK 0x00000000000000ff'],
  ['readq 0xfffffffffffffffc', 'OK 0x0000000000000000'],
  ['endianness', 'OK little'],
  ['inb 0x80', 'OK 0x00ff'],
  ['inl 0x80', 'OK 0xffffffff'],
  ['outb 0x80 1', 'OK'],
  ['READB 0', "FAIL Unknown command 'READB'"],
  [' readb 0', "FAIL Unknown command ''"],
  ['', "FAIL Unknown command ''"],
  ['readb\t0', "FAIL Unknown command 'readb\t0'"],
  ['clock_step', "FAIL Unknown command 'clock_step'"],
  ['clock_set 5', "FAIL Unknown command 'clock_set'"],
  ['module_load block curl', 'FAIL'],
  ['irq_intercept_in nosuch', 'FAIL Unknown device'],
  ['set_irq_in nosuch x 0 1', 'FAIL Unknown device'],
  ['set_irq_in ioapic unnamed-gpio-in 3 1', 'OK'],
  ['irq_intercept_in ioapic', 'OK'],
  ['irq_intercept_in ioapic', 'OK'],
  ['irq_intercept_out /machine/i440fx', 'FAIL IRQ intercept already enabled'],
  // Where QEMU aborts on an assertion, tsqom answers FAIL.
  ['readb', 'FAIL missing argument'],
  ['readb x', "FAIL invalid number 'x'"],
  ['readb 0\r', "FAIL invalid number '0\r'"],
  ['readb 0x', "FAIL invalid number '0x'"],
  ['readb 18446744073709551616', "FAIL invalid number '18446744073709551616'"],
  ['read 0 0', 'FAIL zero length'],
  ['read 0 0x100001', 'FAIL transfer too large'],
  ['write 0 4', 'FAIL missing argument'],
  ['outb 0x10000 1', 'FAIL port out of range'],
  ['set_irq_in ioapic x 0x80000000 1', "FAIL invalid number '0x80000000'"],
  ['module_load', 'FAIL missing argument'],
];

test('protocol table (processLine)', (t) => {
  const target = new BufferTarget();
  const server = new QtestServer(target, { maxTransferSize: 0x100000 });
  for (const [cmd, reply] of protocolTable)
    t.is(server.processLine(cmd), `${reply}\n`, JSON.stringify(cmd));
  t.deepEqual(target.irqIn, [[target.devices.get('ioapic'), undefined, 3, 1]]);
  t.deepEqual(target.intercepts, [[target.devices.get('ioapic'), 'in']]);
});

test('a target without optional parts', (t) => {
  const mem = new Uint8Array(16);
  const server = new QtestServer({
    read: (a, n) => mem.slice(Number(a), Number(a) + n),
    write: (a, d) => mem.set(d, Number(a)),
  });
  t.is(server.processLine('irq_intercept_in ioapic'), 'FAIL Unknown device\n');
  t.is(server.processLine('set_irq_in ioapic x 0 1'), "FAIL Unknown command 'set_irq_in'\n");
  t.is(server.processLine('inw 0'), 'OK 0xffff\n');
  // A target that returns fewer bytes than asked: the rest reads as zero.
  t.is(server.processLine('read 14 4'), 'OK 0x00000000\n');
  t.is(server.processLine('writel 0 0x11223344'), 'OK\n');
  t.deepEqual([...mem.subarray(0, 4)], [0x44, 0x33, 0x22, 0x11]);
});

test('a target that throws gets FAIL with its message', (t) => {
  const server = new QtestServer({
    read: () => {
      throw new Error('bus error');
    },
    write: () => {},
  });
  t.is(server.processLine('readl 0'), 'FAIL bus error\n');
  const multi = new QtestServer({
    read: () => {
      throw new Error('line one\nline two');
    },
    write: () => {},
  });
  t.is(multi.processLine('readb 0'), 'FAIL line one line two\n');
});

test('big-endian targets swap readw..readq and writew..writeq', (t) => {
  const target = new BufferTarget(64, true);
  const server = new QtestServer(target);
  t.is(server.processLine('writel 0 0x11223344'), 'OK\n');
  t.deepEqual([...target.mem.subarray(0, 4)], [0x11, 0x22, 0x33, 0x44]);
  t.is(server.processLine('readw 2'), 'OK 0x0000000000003344\n');
  t.is(server.processLine('read 0 4'), 'OK 0x11223344\n');
  t.is(server.processLine('endianness'), 'OK big\n');
});

test('port I/O goes to the target, truncated to the access size', (t) => {
  const log: [string, number, number, number?][] = [];
  const server = new QtestServer({
    read: (_a, n) => new Uint8Array(n),
    write: () => {},
    pioRead: (port, size) => {
      log.push(['in', port, size]);
      return 0x12345678;
    },
    pioWrite: (port, size, value) => {
      log.push(['out', port, size, value]);
    },
  });
  t.is(server.processLine('inb 0x60'), 'OK 0x0078\n');
  t.is(server.processLine('inw 0x60'), 'OK 0x5678\n');
  t.is(server.processLine('inl 0xffff'), 'OK 0x12345678\n');
  t.is(server.processLine('outw 0x70 0x123456'), 'OK\n');
  t.deepEqual(log, [
    ['in', 0x60, 1],
    ['in', 0x60, 2],
    ['in', 0xffff, 4],
    ['out', 0x70, 2, 0x3456],
  ]);
});

test('clock_step and clock_set with a clock', (t) => {
  const target = new BufferTarget(16);
  const clock = new FakeClock();
  target.clock = clock;
  const server = new QtestServer(target);
  t.is(server.processLine('clock_step'), 'OK 0\n', 'no timer: nothing happens');
  clock.timers.push(250n);
  t.is(server.processLine('clock_step'), 'OK 250\n');
  t.is(server.processLine('clock_step 100'), 'OK 350\n');
  t.is(server.processLine('clock_set 1000'), 'OK 1000\n');
  t.is(server.processLine('clock_set 10'), 'OK 1000\n', 'the clock never goes back');
  t.is(server.processLine('clock_step x'), "FAIL invalid number 'x'\n");
  t.is(server.processLine('clock_set'), 'FAIL missing argument\n');
});

test('socket: several commands per packet and commands split across packets', async (t) => {
  const target = new BufferTarget();
  const { path } = await serve(t, target);
  const c = await Client.connect(path);
  c.send('writeb 0x10 0x42\nreadb 0x10\nendianness\n');
  t.is(await c.next(), 'OK');
  t.is(await c.next(), 'OK 0x0000000000000042');
  t.is(await c.next(), 'OK little');
  for (const ch of 'readb 0x10\n') {
    c.send(ch);
    await new Promise((r) => setImmediate(r));
  }
  t.is(await c.next(), 'OK 0x0000000000000042');
  c.send('rea');
  c.send('db 0x1');
  c.send('0\nread');
  c.send('b 0x11\n');
  t.is(await c.next(), 'OK 0x0000000000000042');
  t.is(await c.next(), 'OK 0x0000000000000000');
  await c.close();
});

test('socket: IRQ lines, only while intercepting, only on change, before the reply', async (t) => {
  const target = new BufferTarget();
  const { server, path } = await serve(t, target);
  target.onWrite = (addr, data) => {
    if (addr === 0x100n) server.setIrq(5, data[0]!);
  };
  const c = await Client.connect(path);
  server.irqRaise(5); // not intercepting yet: nothing
  t.is(await c.cmd('endianness'), 'OK little');
  t.false(server.intercepting);
  t.is(await c.cmd('irq_intercept_in ioapic'), 'OK');
  t.true(server.intercepting);
  c.send('writeb 0x100 1\n');
  t.is(await c.next(), 'IRQ raise 5');
  t.is(await c.next(), 'OK');
  c.send('writeb 0x100 2\n'); // level 1 -> 2 is a change, still "raise"
  t.is(await c.next(), 'IRQ raise 5');
  t.is(await c.next(), 'OK');
  server.irqRaise(5); // 2 -> 1: change
  t.is(await c.next(), 'IRQ raise 5');
  server.irqRaise(5); // no change
  server.irqLower(5);
  t.is(await c.next(), 'IRQ lower 5');
  server.irqLower(5);
  server.irqRaise(7);
  t.is(await c.next(), 'IRQ raise 7');
  await c.close();
  // A new client starts with all levels at 0: raising 7 again is reported.
  const d = await Client.connect(path);
  t.is(await d.cmd('endianness'), 'OK little');
  server.irqRaise(7);
  t.is(await d.next(), 'IRQ raise 7');
  await d.close();
});

test('socket: a partial line from a client that leaves is dropped', async (t) => {
  const target = new BufferTarget();
  target.mem[0x10] = 0x99;
  const { server, path } = await serve(t, target);
  const a = await Client.connect(path);
  t.is(await a.cmd('endianness'), 'OK little');
  a.send('readb 0x1');
  await a.close();
  if (server.connected) await new Promise((r) => server.once('closed', r));
  const b = await Client.connect(path);
  t.is(await b.cmd('readb 0x10'), 'OK 0x0000000000000099');
  await b.close();
});

test('socket: one client at a time; the next one is served when the first leaves', async (t) => {
  const target = new BufferTarget();
  const { path } = await serve(t, target);
  const a = await Client.connect(path);
  t.is(await a.cmd('endianness'), 'OK little');
  const b = await Client.connect(path);
  b.send('writeb 0x10 7\nreadb 0x10\n');
  t.is(await a.cmd('readb 0x10'), 'OK 0x0000000000000000');
  t.is(await a.cmd('readb 0x10'), 'OK 0x0000000000000000');
  t.is(b.pending, 0);
  await a.close();
  t.is(await b.next(), 'OK');
  t.is(await b.next(), 'OK 0x0000000000000007');
  await b.close();
});

test('socket: a runaway line closes the connection', async (t) => {
  const { path } = await serve(t, new BufferTarget(), { maxTransferSize: 16 });
  const c = await Client.connect(path);
  c.send('x'.repeat(5000));
  await c.done;
  t.true(c.ended);
  const d = await Client.connect(path);
  t.is(await d.cmd('endianness'), 'OK little');
  await d.close();
});

test('wait=on: listen() resolves once a client is connected', async (t) => {
  const path = join(tempDir(t), 'q.sock');
  const server = new QtestServer(new BufferTarget());
  t.teardown(() => server.close());
  let listening = false;
  const p = server.listen(`unix:${path},server=on,wait=on`).then(() => {
    listening = true;
  });
  while (!existsSync(path)) await new Promise((r) => setTimeout(r, 5));
  t.false(listening);
  const c = await Client.connect(path);
  await p;
  t.true(server.connected);
  t.is(await c.cmd('endianness'), 'OK little');
  await c.close();
});

test('wait=on: close() before any client rejects listen()', async (t) => {
  const path = join(tempDir(t), 'q.sock');
  const server = new QtestServer(new BufferTarget());
  const p = server.listen(`unix:${path},server=on,wait=on`);
  while (!existsSync(path)) await new Promise((r) => setTimeout(r, 5));
  await server.close();
  await t.throwsAsync(p, { message: 'qtest server closed before a client connected' });
  t.false(existsSync(path));
});

test('tcp: listens on a loopback port', async (t) => {
  const server = new QtestServer(new BufferTarget());
  t.teardown(() => server.close());
  await server.listen('tcp:127.0.0.1:0,server=on,wait=off');
  const addr = server.address() as net.AddressInfo;
  const c = await new Promise<Client>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: addr.port }, () => resolve(new Client(s)));
    s.once('error', reject);
  });
  t.is(await c.cmd('endianness'), 'OK little');
  await c.close();
});

test('server=off: connects to a listening test, as libqtest runs QEMU', async (t) => {
  const path = join(tempDir(t), 'libqtest.sock');
  let accept!: (c: Client) => void;
  const accepted = new Promise<Client>((resolve) => (accept = resolve));
  const srv = net.createServer((s) => accept(new Client(s)));
  await new Promise<void>((r) => srv.listen(path, () => r()));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  const server = new QtestServer(new BufferTarget());
  t.teardown(() => server.close());
  await server.listen(`unix:${path}`);
  const c = await accepted;
  t.is(await c.cmd('writel 0 0x01020304'), 'OK');
  t.is(await c.cmd('read 0 4'), 'OK 0x04030201');
  await c.close();
});

test('close() removes the socket; a stale socket is replaced; other files are not', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'q.sock');
  // A stale socket left by a dead process (bound, never closed).
  const r = spawnSync('python3', [
    '-c',
    'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
    path,
  ]);
  t.is(r.status, 0, r.stderr?.toString());
  const server = new QtestServer(new BufferTarget());
  t.true(existsSync(path));
  await server.listen(`unix:${path},server=on,wait=off`);
  const c = await Client.connect(path);
  t.is(await c.cmd('endianness'), 'OK little');
  await c.close();
  await server.close();
  t.false(existsSync(path));

  const file = join(dir, 'not-a-socket');
  writeFileSync(file, 'keep me');
  const other = new QtestServer(new BufferTarget());
  await t.throwsAsync(other.listen(`unix:${file},server=on,wait=off`), { code: 'EADDRINUSE' });
  t.true(existsSync(file));
  await other.close();
});

test('the -qtest-log format', async (t) => {
  let log = '';
  const { server, path } = await serve(t, new BufferTarget(), { log: (s) => (log += s) });
  const c = await Client.connect(path);
  t.is(await c.cmd('readb 0x10'), 'OK 0x0000000000000000');
  t.is(await c.cmd('write 0 1 0'), 'ERR invalid argument size');
  t.is(await c.cmd('b64write 0 2 AQ=='), 'OK');
  await c.close();
  if (server.connected) await new Promise((r) => server.once('closed', r));
  const lines = log.split('\n');
  const ts = String.raw`\d+\.\d{6}`;
  const expected = [
    new RegExp(`^\\[I ${ts}\\] OPENED$`),
    new RegExp(`^\\[R \\+${ts}\\] readb 0x10$`),
    new RegExp(`^\\[S \\+${ts}\\] OK 0x0000000000000000$`),
    new RegExp(`^\\[R \\+${ts}\\] write 0 1 0$`),
    /^ERR invalid argument size$/,
    new RegExp(`^\\[R \\+${ts}\\] b64write 0 2 AQ==$`),
    new RegExp(`^\\[S \\+${ts}\\] b64write: data length mismatch \\(told 2, found 1\\)$`),
    new RegExp(`^\\[S \\+${ts}\\] OK$`),
    new RegExp(`^\\[I \\+${ts}\\] CLOSED$`),
    /^$/,
  ];
  t.is(lines.length, expected.length, log);
  lines.forEach((l, i) => t.regex(l, expected[i]!));
});
