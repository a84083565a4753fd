/**
 * tsqom's QMP server beyond what QEMU does: async commands that never
 * block other monitors, ordering within a monitor, one client at a time
 * per socket (the others wait), TCP, streams, half-close, shutdown and
 * clean-up.
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { PassThrough, Duplex } from 'node:stream';
import { QmpServer, parseQmpAddress, QMP_REQ_QUEUE_LEN_MAX } from '../../src/monitor/qmp-server.js';
import { QmpCommandRegistry } from '../../src/monitor/qmp-dispatch.js';
import { registerControlCommands } from '../../src/monitor/qmp-cmds-control.js';
import { QomError } from '../../src/util/error.js';
import { QmpClient, parseLine } from '../helpers/qemu/qmp-client.js';
import type { JsonObject } from '../../src/qobject/qobject.js';

interface Gate {
  promise: Promise<void>;
  open(): void;
}
function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

function makeRegistry(): { reg: QmpCommandRegistry; gates: Gate[]; started: string[] } {
  const reg = new QmpCommandRegistry();
  registerControlCommands(reg);
  const gates: Gate[] = [];
  const started: string[] = [];
  reg.register({
    name: 'x-wait',
    args: { tag: 'str' },
    async handler(args) {
      started.push(args.tag as string);
      const g = gate();
      gates.push(g);
      await g.promise;
      return { tag: args.tag };
    },
  });
  reg.register({
    name: 'x-fail-async',
    async handler() {
      await Promise.resolve();
      throw new QomError('no luck', 'DeviceNotFound');
    },
  });
  reg.register({
    name: 'x-throw-plain',
    handler() {
      throw new Error('internal');
    },
  });
  reg.register({
    name: 'x-echo',
    args: { '*v': 'any', '*n': 'int', '*u': 'uint64' },
    handler: (args) => args,
  });
  reg.register({ name: 'x-silent', noSuccessResponse: true, handler: () => undefined });
  return { reg, gates, started };
}

async function withServer(
  t: { teardown(fn: () => void | Promise<void>): void },
  opts: ConstructorParameters<typeof QmpServer>[0] = {},
): Promise<{ server: QmpServer; path: string; gates: Gate[]; started: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-qmp-test-'));
  const path = join(dir, 'qmp.sock');
  const { reg, gates, started } = makeRegistry();
  const server = new QmpServer({ registry: reg, onShutdown: () => undefined, ...opts });
  await server.listen(`unix:${path},server=on,wait=off`);
  t.teardown(async () => {
    for (const g of gates) g.open();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, path, gates, started };
}

/** One more listening socket next to `path` (each socket serves one client at a time). */
async function listenNext(server: QmpServer, path: string, n: number): Promise<string> {
  const p = `${path}.${n}`;
  await server.listen(`unix:${p},server=on,wait=off`);
  return p;
}

async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 1));
}

test('a pending command on one monitor does not hold up another', async (t) => {
  const { server, path, gates, started } = await withServer(t);
  const a = await QmpClient.connect(path);
  const b = await QmpClient.connect(await listenNext(server, path, 1));
  await a.negotiate();
  await b.negotiate();
  a.sendRaw('{"execute":"x-wait","arguments":{"tag":"A"},"id":1}');
  await waitUntil(() => started.length === 1);
  // b is served while a's command is still running.
  t.deepEqual(await b.execute('query-commands'), {
    return: [
      { name: 'x-silent' },
      { name: 'x-echo' },
      { name: 'x-throw-plain' },
      { name: 'x-fail-async' },
      { name: 'x-wait' },
      { name: 'human-monitor-command' },
      { name: 'quit' },
      { name: 'query-commands' },
      { name: 'query-version' },
      { name: 'qmp_capabilities' },
    ],
  });
  t.deepEqual(await a.readFor(20), []);
  gates[0].open();
  t.deepEqual(await a.readReply(), { return: { tag: 'A' }, id: 1 });
  await Promise.all([a.close(), b.close()]);
});

test('replies keep request order within a monitor', async (t) => {
  const { path, gates, started } = await withServer(t);
  const a = await QmpClient.connect(path);
  await a.negotiate();
  a.sendRaw(
    '{"execute":"x-wait","arguments":{"tag":"1"},"id":1}' +
      '{"execute":"query-version","id":2}' +
      'garbage' +
      '{"execute":"x-fail-async","id":3}' +
      '{"execute":"x-wait","arguments":{"tag":"2"},"id":4}' +
      '{"execute":"x-silent","id":5}{"execute":"x-echo","arguments":{"v":[1]},"id":6}',
  );
  await waitUntil(() => started.length === 1);
  t.deepEqual(await a.readFor(20), []);
  gates[0].open();
  t.is((await a.readReply()).id, 1);
  t.is((await a.readReply()).id, 2);
  t.deepEqual(await a.readReply(), {
    error: { class: 'GenericError', desc: "JSON parse error, invalid keyword 'garbage'" },
  });
  t.deepEqual(await a.readReply(), { id: 3, error: { class: 'DeviceNotFound', desc: 'no luck' } });
  await waitUntil(() => started.length === 2);
  gates[1].open();
  t.deepEqual(await a.readReply(), { return: { tag: '2' }, id: 4 });
  // x-silent sends nothing on success.
  t.deepEqual(await a.readReply(), { return: { v: [1] }, id: 6 });
  await a.close();
});

test('out-of-band requests overtake queued ones once oob is enabled', async (t) => {
  const { path, gates, started } = await withServer(t);
  const a = await QmpClient.connect(path);
  await a.negotiate(['oob']);
  a.sendRaw(
    '{"execute":"x-wait","arguments":{"tag":"1"},"id":1}{"exec-oob":"query-version","id":"oob"}',
  );
  await waitUntil(() => started.length === 1);
  t.deepEqual(await a.readReply(), {
    id: 'oob',
    error: { class: 'GenericError', desc: 'The command query-version does not support OOB' },
  });
  gates[0].open();
  t.is((await a.readReply()).id, 1);
  await a.close();
});

test('a busy monitor stops reading after a full queue and resumes', async (t) => {
  const { path, gates, started } = await withServer(t);
  const a = await QmpClient.connect(path);
  await a.negotiate();
  let input = '{"execute":"x-wait","arguments":{"tag":"first"},"id":0}';
  for (let i = 1; i <= 3 * QMP_REQ_QUEUE_LEN_MAX; i++)
    input += `{"execute":"query-version","id":${i}}`;
  a.sendRaw(input);
  await waitUntil(() => started.length === 1);
  gates[0].open();
  for (let i = 0; i <= 3 * QMP_REQ_QUEUE_LEN_MAX; i++) t.is((await a.readReply()).id, i);
  await a.close();
});

test('internal errors become GenericError replies, the server lives on', async (t) => {
  const { path } = await withServer(t);
  const a = await QmpClient.connect(path);
  await a.negotiate();
  t.deepEqual(await a.execute('x-throw-plain'), {
    error: { class: 'GenericError', desc: 'internal' },
  });
  t.deepEqual(await a.execute('x-echo', { n: 5, u: -1 }), {
    return: { n: 5, u: 18446744073709551615n },
  });
  t.truthy((await a.execute('query-version')).return);
  await a.close();
});

test('one client at a time per socket, the others wait their turn; TCP and plain streams', async (t) => {
  const { server } = await withServer(t);
  const l = await server.listen('tcp:127.0.0.1:0,server=on,wait=off');
  t.is(l.address.type, 'tcp');
  const port = (l.address as { port: number }).port;
  t.true(port > 0);
  const first = await QmpClient.connect({ host: '127.0.0.1', port });
  await first.negotiate();
  // The next two connect, send their requests, and hear nothing yet.
  const waiting = await Promise.all(
    [1, 2].map(async () => {
      const sock = net.createConnection(port, '127.0.0.1');
      const got: Buffer[] = [];
      sock.on('data', (d: Buffer) => got.push(d));
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      sock.write('{"execute":"qmp_capabilities"}{"execute":"query-version","id":"w"}');
      return { sock, got };
    }),
  );
  await new Promise((r) => setTimeout(r, 100));
  t.is(server.monitors.length, 1);
  for (const w of waiting) t.is(Buffer.concat(w.got).length, 0);
  t.truthy((await first.execute('query-version')).return);
  await first.close();
  // Each gets its greeting and its replies once the one before has left.
  for (const w of waiting) {
    await waitUntil(() => Buffer.concat(w.got).toString().split('\r\n').length >= 4);
    const lines = Buffer.concat(w.got).toString().split('\r\n');
    t.regex(lines[0], /^\{"QMP": /);
    t.is(lines[1], '{"return": {}}');
    t.regex(lines[2], /"id": "w"\}$/);
    t.is(server.monitors.length, 1);
    w.sock.destroy();
  }
  await waitUntil(() => server.monitors.length === 0);

  // Any duplex stream can carry a monitor.
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const duplex = Duplex.from({ readable: toServer, writable: fromServer });
  const out: string[] = [];
  fromServer.on('data', (d: Buffer) => out.push(d.toString()));
  server.attach(duplex);
  toServer.write('{"execute":"qmp_capabilities"}');
  await waitUntil(() => out.join('').split('\r\n').length >= 3);
  t.regex(out.join(''), /^\{"QMP": .*\r\n\{"return": \{\}\}\r\n$/);
  await l.close();
});

test('a client that half-closes still gets its replies', async (t) => {
  const { path } = await withServer(t);
  const a = await QmpClient.connect(path);
  a.sendRaw('{"execute":"qmp_capabilities"}{"execute":"query-version","id":"last"}');
  (a as unknown as { sock: { end(): void } }).sock.end();
  t.deepEqual(await a.readReply(), { return: {} });
  t.is((await a.readReply()).id, 'last');
  await a.close();
});

test('quit: event to negotiated monitors, reply, then the host callback', async (t) => {
  let reason: string | undefined;
  const { server, path } = await withServer(t, { onShutdown: (r) => (reason = r) });
  const a = await QmpClient.connect(path);
  const b = await QmpClient.connect(await listenNext(server, path, 1));
  const c = await QmpClient.connect(await listenNext(server, path, 2));
  await a.negotiate();
  await b.negotiate();
  t.deepEqual(await a.execute('quit'), { return: {} });
  t.is(a.events.length, 1);
  t.like(a.events[0], { event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } });
  const ts = a.events[0].timestamp as JsonObject;
  t.true(Math.abs(Number(ts.seconds) - Date.now() / 1000) < 60);
  t.true(Number(ts.microseconds) >= 0 && Number(ts.microseconds) < 1e6);
  t.like(parseLine(await b.readLine()), { event: 'SHUTDOWN' });
  await waitUntil(() => reason !== undefined);
  t.is(reason, 'host-qmp-quit');
  t.deepEqual(await c.readFor(10), []);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('without a shutdown callback, quit closes the server and removes its socket', async (t) => {
  const { path } = await withServer(t, { onShutdown: undefined });
  const a = await QmpClient.connect(path);
  await a.negotiate();
  t.deepEqual(await a.execute('quit'), { return: {} });
  await waitUntil(() => a.closed);
  await waitUntil(() => !existsSync(path));
  t.false(existsSync(path));
  await a.close();
});

test('addresses', (t) => {
  t.deepEqual(parseQmpAddress('unix:/tmp/x.sock,server=on,wait=off'), {
    type: 'unix',
    path: '/tmp/x.sock',
  });
  t.deepEqual(parseQmpAddress('tcp:127.0.0.1:4444,server=on'), {
    type: 'tcp',
    host: '127.0.0.1',
    port: 4444,
  });
  t.deepEqual(parseQmpAddress('tcp:[::1]:5'), { type: 'tcp', host: '::1', port: 5 });
  t.deepEqual(parseQmpAddress('tcp::5'), { type: 'tcp', host: '127.0.0.1', port: 5 });
  t.throws(() => parseQmpAddress('stdio'));
  t.throws(() => parseQmpAddress('tcp:localhost:99999'));
});
