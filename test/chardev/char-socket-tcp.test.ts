/**
 * TCP socket chardevs against QEMU 7.2: a server chardev with `-mon`
 * (QMP and HMP), client mode (the test listens, the program connects),
 * `-qmp tcp:` and `-monitor tcp:`, `query-chardev` / `info chardev`
 * texts, every error text, `chardev-add` / `chardev-remove` of a TCP
 * socket (nothing left open, checked in /proc/PID/fd), and the one-client
 * rule before the greeting: a second client that connects while the
 * command line is still processed gets its greeting only after the first
 * leaves.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../../src/qobject/qobject.js';
import { commandFor, type Launchee } from '../helpers/cli/launch.js';
import { QmpClient } from '../helpers/qemu/qmp-client.js';

const BASE = ['-machine', 'none', '-display', 'none', '-nodefaults'];
const WHO: readonly Launchee[] = ['qemu', 'tsqom'];

/** A port that was free a moment ago (the kernel's pick). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Proc {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

function start(who: Launchee, args: readonly string[]): Proc {
  const [cmd, argv] = commandFor(who, [...BASE, ...args]);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    stderr: () => err.replaceAll('qemu-system-x86_64:', 'tsqom:'),
    exited,
  };
}

/** Runs to the end (or kills after `ms`): exit status and stderr. */
async function runToEnd(
  who: Launchee,
  args: readonly string[],
  ms = 5000,
): Promise<{ code: number | null; stderr: string }> {
  const p = start(who, args);
  const t = setTimeout(() => p.child.kill('SIGKILL'), ms);
  const code = await p.exited;
  clearTimeout(t);
  return { code, stderr: p.stderr() };
}

/** Connects to a TCP port, retrying while the program is not listening yet. */
async function connectRetry(port: number, timeoutMs = 8000): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port });
        s.once('connect', () => {
          s.off('error', reject);
          // A program that exits resets what it did not close.
          s.on('error', () => undefined);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** The descriptors of a process that are sockets, by inode. */
function socketFds(pid: number): string[] {
  const out: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (l.startsWith('socket:')) out.push(l);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

async function stop(p: Proc, qmp?: QmpClient): Promise<void> {
  if (qmp) {
    await qmp.execute('quit').catch(() => undefined);
  } else {
    p.child.kill('SIGTERM');
  }
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

/** Port numbers vary between the two programs. */
function maskPorts(s: string): string {
  return s.replace(/:\d{2,5}\b/g, ':<port>').replace(/"port":"\d+"/g, '"port":"<port>"');
}

function sortedChardevs(r: JsonObject): JsonObject[] {
  return [...(r.return as JsonObject[])].sort((a, b) =>
    String(a.label).localeCompare(String(b.label)),
  );
}

test.serial('a TCP server chardev with -mon: greeting, commands, query-chardev', async (t) => {
  const seen: Record<string, unknown> = {};
  for (const who of WHO) {
    const port = await freePort();
    const p = start(who, [
      '-chardev',
      `socket,id=mon0,host=127.0.0.1,port=${port},server=on,wait=off,nodelay=on`,
      '-mon',
      'chardev=mon0,mode=control',
      '-chardev',
      'socket,id=spare,host=127.0.0.1,port=0,server=on,wait=off',
    ]);
    try {
      const sock = await connectRetry(port);
      const qmp = await QmpClient.fromSocket(sock, 8000);
      t.deepEqual(Object.keys(qmp.greeting.QMP as JsonObject), ['version', 'capabilities']);
      await qmp.negotiate();
      const chardevs = sortedChardevs(await qmp.execute('query-chardev'));
      const info = (await qmp.execute('human-monitor-command', {
        'command-line': 'info chardev',
      })) as JsonObject;
      const addr = await qmp.execute('qom-get', { path: '/chardevs/spare', property: 'addr' });
      const connected = await qmp.execute('qom-get', {
        path: '/chardevs/mon0',
        property: 'connected',
      });
      const local = `${sock.localAddress}:${sock.localPort}`;
      const mon = chardevs.find((c) => c.label === 'mon0')!;
      t.is(
        mon.filename,
        `tcp:127.0.0.1:${port},server=on <-> ${local}`,
        `${who}: the connected filename names both ends`,
      );
      seen[who] = {
        chardevs: maskPorts(JSON.stringify(chardevs)),
        info: maskPorts(String(info.return).split('\r\n').sort().join('\n')),
        addr: maskPorts(JSON.stringify(addr)),
        connected: JSON.stringify(connected),
      };
      await stop(p, qmp);
      t.is(await p.exited, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
  }
  t.deepEqual(seen.tsqom, seen.qemu);
});

test.serial('client mode: the test listens, the program connects; QMP and HMP', async (t) => {
  const seen: Record<string, unknown> = {};
  for (const who of WHO) {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const hmpServer = net.createServer();
    await new Promise<void>((r) => hmpServer.listen(0, '127.0.0.1', r));
    const hmpPort = (hmpServer.address() as net.AddressInfo).port;
    const hmpAccepted = new Promise<net.Socket>((r) => hmpServer.once('connection', r));
    const p = start(who, [
      '-chardev',
      `socket,id=c0,host=127.0.0.1,port=${port}`,
      '-mon',
      'chardev=c0,mode=control',
      '-monitor',
      `tcp:127.0.0.1:${hmpPort}`,
    ]);
    try {
      const sock = await accepted;
      sock.on('error', () => undefined);
      const qmp = await QmpClient.fromSocket(sock, 8000);
      await qmp.negotiate();
      const chardevs = sortedChardevs(await qmp.execute('query-chardev'));
      const c0 = chardevs.find((c) => c.label === 'c0')!;
      t.is(c0.filename, `tcp:${sock.remoteAddress}:${sock.remotePort} <-> 127.0.0.1:${port}`);
      const addr = await qmp.execute('qom-get', { path: '/chardevs/c0', property: 'addr' });
      const hmp = await hmpAccepted;
      hmp.on('error', () => undefined);
      let banner = '';
      hmp.setEncoding('latin1').on('data', (d: string) => (banner += d));
      while (!banner.includes('(qemu) ')) await new Promise((r) => setTimeout(r, 10));
      seen[who] = {
        chardevs: maskPorts(JSON.stringify(chardevs)),
        addr: maskPorts(JSON.stringify(addr)),
        // tsqom's human monitor names the QEMU version it follows, 7.2.0.
        banner: banner.replace(/7\.2\.\d+/, '7.2.x'),
      };
      hmp.destroy();
      await stop(p, qmp);
      t.is(await p.exited, 0);
    } finally {
      p.child.kill('SIGKILL');
      server.close();
      hmpServer.close();
    }
  }
  t.deepEqual(seen.tsqom, seen.qemu);
});

test.serial('-qmp tcp: and -monitor tcp: listen through the same chardev', async (t) => {
  const seen: Record<string, unknown> = {};
  for (const who of WHO) {
    const [qp, hp] = [await freePort(), await freePort()];
    const p = start(who, [
      '-qmp',
      `tcp:127.0.0.1:${qp},server=on,wait=off`,
      '-monitor',
      `tcp:127.0.0.1:${hp},server=on,wait=off`,
    ]);
    try {
      const hmp = await connectRetry(hp);
      let text = '';
      hmp.setEncoding('latin1').on('data', (d: string) => (text += d));
      while (!text.includes('(qemu) ')) await new Promise((r) => setTimeout(r, 10));
      hmp.write('info chardev\r\n');
      while (text.split('(qemu) ').length < 3) await new Promise((r) => setTimeout(r, 10));
      const qmp = await QmpClient.fromSocket(await connectRetry(qp), 8000);
      await qmp.negotiate();
      const chardevs = sortedChardevs(await qmp.execute('query-chardev'));
      t.is(
        String(chardevs.find((c) => c.label === 'compat_monitor0')!.filename).split(' <-> ')[0],
        `tcp:127.0.0.1:${qp},server=on`,
      );
      // QEMU echoes the command line; tsqom does not (no readline), so compare the rest.
      const lines = text
        .replace('info chardev\r\n', '')
        .split(/\r?\n/)
        .filter((l) => !l.includes('\x1b') && l.includes('filename='))
        .map((l) => l.replace(/^\(qemu\) /, ''))
        .sort();
      seen[who] = {
        chardevs: maskPorts(JSON.stringify(chardevs)),
        hmp: maskPorts(lines.join('\n')),
      };
      hmp.destroy();
      await stop(p, qmp);
      t.is(await p.exited, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
  }
  t.deepEqual(seen.tsqom, seen.qemu);
});

test.serial('TCP chardev errors: QEMU 7.2 texts and exit status', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const used = (busy.address() as net.AddressInfo).port;
  const refused = await freePort();
  const cases: string[][] = [
    ['-chardev', 'socket,id=c,host=127.0.0.1'],
    ['-chardev', `socket,id=c,host=127.0.0.1,port=${used},server=on,wait=off`],
    ['-chardev', `socket,id=c,host=127.0.0.1,port=${used},to=${used},server=on,wait=off`],
    ['-chardev', `socket,id=c,host=127.0.0.1,port=${refused}`],
    ['-chardev', 'socket,id=c,host=nosuch.invalid,port=4444,server=on,wait=off'],
    ['-chardev', 'socket,id=c,host=nosuch.invalid,port=4444'],
    ['-chardev', 'socket,id=c,host=127.0.0.1,port=abc,server=on,wait=off'],
    ['-chardev', 'socket,id=c,host=127.0.0.1,port=4444,to=4440,server=on,wait=off'],
    ['-chardev', 'socket,id=c,host=127.0.0.1,port=4444,to=abc,server=on,wait=off'],
    ['-chardev', 'socket,id=c,host=127.0.0.1,port=0,ipv4=off,ipv6=off,server=on,wait=off'],
    ['-chardev', 'socket,id=c,host=127.0.0.1,port=0,ipv6=on,server=on,wait=off'],
    ['-chardev', 'socket,id=c,host=192.0.2.1,port=4444,server=on,wait=off'],
    ['-chardev', 'socket,id=c,host=127.0.0.1,port=0,server=on,wait=off,nodelay=foo'],
    ['-chardev', 'socket,id=c,host=127.0.0.1,port=0,server=on,wait=off,reconnect=1'],
    ['-chardev', `socket,id=c,host=127.0.0.1,port=${refused},wait=off`],
    ['-chardev', 'socket,id=c,host=127.0.0.1,port=0,path=/tmp/x'],
    ['-qmp', `tcp:127.0.0.1:${used},server=on,wait=off`],
    ['-monitor', `tcp:127.0.0.1:${used},server=on,wait=off`],
    ['-qmp', `tcp:127.0.0.1:${refused}`],
    ['-qmp', 'tcp:127.0.0.1'],
    ['-qmp', 'tcp::abc,server=on,wait=off'],
    ['-qmp', 'tcp:127.0.0.1:0,server=on,wait=off,bogus=1'],
    ['-qmp', 'tcp:127.0.0.1:0,server=on,wait=off,to=foo'],
  ];
  try {
    for (const args of cases) {
      const [q, s] = await Promise.all([runToEnd('qemu', args), runToEnd('tsqom', args)]);
      t.is(q.code, 1, args.join(' '));
      t.is(s.code, q.code, args.join(' '));
      t.is(s.stderr, q.stderr, args.join(' '));
    }
  } finally {
    busy.close();
  }
});

test.serial('reconnect=N: the first failure is reported, the program runs on', async (t) => {
  const port = await freePort();
  const out: Record<string, string> = {};
  for (const who of WHO) {
    const p = start(who, ['-chardev', `socket,id=c,host=127.0.0.1,port=${port},reconnect=1`]);
    await new Promise((r) => setTimeout(r, 1500));
    t.is(p.child.exitCode, null, `${who} keeps running`);
    out[who] = p.stderr();
    p.child.kill('SIGKILL');
    await p.exited;
  }
  t.is(out.tsqom, out.qemu);
  t.regex(out.qemu, /Unable to connect character device c: Failed to connect to/);
});

test.serial('chardev-add and chardev-remove of TCP sockets; nothing stays open', async (t) => {
  const refused = await freePort();
  const add = (id: string, data: JsonObject): JsonObject => ({
    id,
    backend: { type: 'socket', data },
  });
  const inet = (d: JsonObject): JsonObject => ({ type: 'inet', data: d });
  const seen: Record<string, unknown> = {};
  for (const who of WHO) {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-tcp-'));
    const path = join(dir, 'qmp.sock');
    const p = start(who, ['-qmp', `unix:${path},server=on,wait=off`]);
    try {
      let qmp: QmpClient | undefined;
      const deadline = Date.now() + 8000;
      while (!qmp) {
        try {
          qmp = await QmpClient.connect(path, 8000);
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await qmp.negotiate();
      const before = socketFds(p.child.pid!);
      const replies: string[] = [];
      const x = async (cmd: string, args?: JsonObject): Promise<JsonObject> => {
        const r = await qmp.execute(cmd, args);
        replies.push(maskPorts(JSON.stringify(r)));
        return r;
      };
      // A server by default (QMP's defaults: server on, wait off).
      await x('chardev-add', add('s0', { addr: inet({ host: '127.0.0.1', port: '0' }) }));
      await x(
        'chardev-add',
        add('s1', {
          addr: inet({ host: '127.0.0.1', port: '0', to: 5, ipv4: true }),
          server: true,
          wait: false,
        }),
      );
      const q = await qmp.execute('query-chardev');
      // The unix -qmp's own chardev is another matter (see the README).
      replies.push(
        maskPorts(JSON.stringify(sortedChardevs(q).filter((ch) => ch.label !== 'compat_monitor0'))),
      );
      await x('qom-get', { path: '/chardevs/s1', property: 'addr' });
      // The port it listens on accepts a connection.
      const s0 = sortedChardevs(q).find((c) => c.label === 's0')!;
      const s0port = Number(/:(\d+),server=on$/.exec(String(s0.filename))![1]);
      const c = await connectRetry(s0port);
      await new Promise((r) => setTimeout(r, 100));
      const conn = sortedChardevs(await qmp.execute('query-chardev')).find(
        (ch) => ch.label === 's0',
      )!;
      t.is(conn.filename, `tcp:127.0.0.1:${s0port},server=on <-> 127.0.0.1:${c.localPort}`);
      c.destroy();
      // Errors, each leaving nothing behind.
      await x('chardev-add', add('s0', { addr: inet({ host: '127.0.0.1', port: '0' }) }));
      await x(
        'chardev-add',
        add('e1', { addr: inet({ host: '127.0.0.1', port: String(refused) }), server: false }),
      );
      await x('chardev-add', add('e2', { addr: inet({ host: '127.0.0.1' }), server: false }));
      await x(
        'chardev-add',
        add('e3', {
          addr: inet({ host: '127.0.0.1', port: String(refused) }),
          server: false,
          wait: true,
        }),
      );
      await x('chardev-add', add('e4', { addr: inet({ host: 'nosuch.invalid', port: '0' }) }));
      await x(
        'chardev-add',
        add('e5', { addr: inet({ host: '127.0.0.1', port: '0', ipv4: false, ipv6: false }) }),
      );
      await x(
        'chardev-add',
        add('e6', { addr: inet({ host: '127.0.0.1', port: String(s0port) }), server: true }),
      );
      await x(
        'chardev-add',
        add('e7', { addr: inet({ host: '127.0.0.1', port: '0' }), reconnect: 1 }),
      );
      await x('chardev-remove', { id: 's0' });
      await x('chardev-remove', { id: 's1' });
      await x('chardev-remove', { id: 's1' });
      await new Promise((r) => setTimeout(r, 100));
      t.deepEqual(socketFds(p.child.pid!).sort(), before.sort(), `${who}: no socket left open`);
      seen[who] = replies;
      await stop(p, qmp);
    } finally {
      p.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  t.deepEqual(seen.tsqom, seen.qemu);
});

/**
 * Two clients connect while the command line is still processed (a
 * preallocated backend keeps both programs busy before they greet): the
 * first is greeted, the second gets nothing until the first leaves.
 */
async function twoEarlyClients(
  t: import('ava').ExecutionContext,
  who: Launchee,
  monitor: (dir: string, port: number) => string[],
  connect: (dir: string, port: number) => Promise<net.Socket>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-tcp-'));
  const port = await freePort();
  const p = start(who, [
    ...monitor(dir, port),
    '-object',
    'memory-backend-ram,id=m0,size=1G,prealloc=on,prealloc-threads=1',
  ]);
  try {
    const a = await connect(dir, port);
    const b = await connect(dir, port);
    const bConnectedAt = Date.now();
    const got = { a: '', b: '' };
    let aGreetedAt = 0;
    a.setEncoding('latin1').on('data', (d: string) => {
      if (got.a === '') aGreetedAt = Date.now();
      got.a += d;
    });
    b.setEncoding('latin1').on('data', (d: string) => (got.b += d));
    const until = async (cond: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 8000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`${who}: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(() => got.a.includes('\r\n'), 'the first greeting');
    t.true(bConnectedAt <= aGreetedAt, `${who}: both clients connected before the greeting`);
    a.write('{"execute":"qmp_capabilities"}\r\n');
    await until(() => got.a.includes('"return"'), 'the first reply');
    await new Promise((r) => setTimeout(r, 200));
    t.is(got.b, '', `${who}: the second client waits while the first is served`);
    a.destroy();
    await until(() => got.b.includes('\r\n'), 'the second greeting');
    t.true(got.b.startsWith('{"QMP": {"version": {"qemu": {"micro"'), got.b);
    b.write('{"execute":"qmp_capabilities"}\r\n{"execute":"quit"}\r\n');
    t.is(await p.exited, 0);
  } finally {
    p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

test.serial(
  'two clients before the greeting on a TCP -mon: the second waits for the first',
  async (t) => {
    for (const who of WHO) {
      await twoEarlyClients(
        t,
        who,
        (_dir, port) => [
          '-chardev',
          `socket,id=m,host=127.0.0.1,port=${port},server=on,wait=off`,
          '-mon',
          'chardev=m,mode=control',
        ],
        (_dir, port) => connectRetry(port),
      );
    }
  },
);

test.serial(
  'two clients before the greeting on a unix -qmp: the second waits for the first',
  async (t) => {
    for (const who of WHO) {
      await twoEarlyClients(
        t,
        who,
        (dir) => ['-qmp', `unix:${join(dir, 'q.sock')},server=on,wait=off`],
        async (dir) => {
          const deadline = Date.now() + 8000;
          for (;;) {
            try {
              return await new Promise<net.Socket>((resolve, reject) => {
                const s = net.connect(join(dir, 'q.sock'));
                s.once('connect', () => {
                  s.on('error', () => undefined);
                  resolve(s);
                });
                s.once('error', reject);
              });
            } catch (e) {
              if (Date.now() > deadline) throw e;
              await new Promise((r) => setTimeout(r, 5));
            }
          }
        },
      );
    }
  },
);

test.serial(
  "a unix -qmp's compat_monitorN: connected and filename follow its client, as QEMU 7.2's",
  async (t) => {
    const seen: Record<string, string[]> = {};
    for (const who of WHO) {
      const dir = mkdtempSync(join(tmpdir(), 'tsqom-compat-'));
      const a = join(dir, 'a.sock');
      const b = join(dir, 'b.sock');
      const p = start(who, [
        '-qmp',
        `unix:${a},server=on,wait=off`,
        '-qmp',
        `unix:${b},server=on,wait=off`,
      ]);
      let qb: QmpClient | undefined;
      try {
        for (let i = 0; i < 500 && !existsSync(b); i++) await new Promise((r) => setTimeout(r, 20));
        qb = await QmpClient.connect(b, 10000);
        await qb.negotiate();
        const client = qb;
        const state = async (): Promise<string> => {
          const chardevs = sortedChardevs(await client.execute('query-chardev'));
          const connected = await client.cmd('qom-get', {
            path: '/chardevs/compat_monitor0',
            property: 'connected',
          });
          return `${JSON.stringify(chardevs).replaceAll(dir, '<dir>')} connected=${String(connected)}`;
        };
        /** Asks until the state is not `prev` (QEMU notices a hang-up from its main loop). */
        const next = async (prev: string): Promise<string> => {
          const deadline = Date.now() + 5000;
          for (;;) {
            const s = await state();
            if (s !== prev || Date.now() > deadline) return s;
            await new Promise((r) => setTimeout(r, 20));
          }
        };
        const out: string[] = [await state()];
        const qa = await QmpClient.connect(a, 10000);
        await qa.negotiate();
        out.push(await next(out[0]));
        await qa.close();
        out.push(await next(out[1]));
        seen[who] = out;
      } finally {
        await stop(p, qb);
        rmSync(dir, { recursive: true, force: true });
      }
    }
    t.log(seen.tsqom.join('\n'));
    t.deepEqual(seen.tsqom, seen.qemu);
    t.true(seen.tsqom[0].includes('disconnected:unix:<dir>/a.sock,server=on'), seen.tsqom[0]);
    t.true(seen.tsqom[1].includes('"unix:<dir>/a.sock,server=on"'), seen.tsqom[1]);
    t.true(seen.tsqom[1].endsWith('connected=true'), seen.tsqom[1]);
    t.true(seen.tsqom[2].endsWith('connected=false'), seen.tsqom[2]);
  },
);
