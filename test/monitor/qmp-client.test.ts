/**
 * The QMP client shipped under tsqom/qmp, against tsqom's own server over
 * a unix socket and TCP: greeting and negotiation, concurrent commands,
 * exact 64-bit integers both ways, error replies, events (listener and
 * async iterator), and what happens to pending commands on close.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, QmpClientError, QmpCommandError, QmpServer, type QmpEvent } from 'tsqom/qmp';
import { QmpCommandRegistry, registerControlCommands } from 'tsqom/qmp';
import { isJsonObject, type JsonObject } from 'tsqom/qom';

function makeServer(): { server: QmpServer; release: () => void } {
  const registry = new QmpCommandRegistry();
  registerControlCommands(registry);
  let release: () => void = () => {};
  registry.register({
    name: 'x-echo',
    args: { value: 'any' },
    handler: (args) => args['value'] ?? null,
  });
  registry.register({
    name: 'x-hold',
    args: {},
    handler: () => new Promise((resolve) => (release = () => resolve({}))),
  });
  const server = new QmpServer({ registry });
  return { server, release: () => release() };
}

test('unix socket: greeting, negotiation, concurrent commands, uint64 values exactly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-qmpc-'));
  const { server } = makeServer();
  const path = join(dir, 'qmp.sock');
  await server.listen(`unix:${path}`);
  try {
    const qmp = await QmpClient.connect(path);
    const greeting = qmp.greeting['QMP'];
    t.true(isJsonObject(greeting) && isJsonObject(greeting['version']));
    const big = 2n ** 64n - 1n;
    const [a, b, c] = await Promise.all([
      qmp.execute('x-echo', { value: big }),
      qmp.execute('x-echo', { value: -(2n ** 63n) }),
      qmp.execute('query-version'),
    ]);
    t.is(a, big);
    t.is(b, -(2n ** 63n));
    t.true(isJsonObject(c) && isJsonObject(c['qemu']));
    await qmp.close();
    t.true(qmp.closed);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TCP: error replies reject with the class and text; requests resolve whole replies', async (t) => {
  const { server } = makeServer();
  const listener = await server.listen('tcp:127.0.0.1:0');
  const addr = listener.address;
  if (addr.type !== 'tcp') throw new Error('expected a TCP listener');
  try {
    const qmp = await QmpClient.connect(`tcp:127.0.0.1:${addr.port}`);
    const err = await t.throwsAsync(qmp.execute('no-such-command'), {
      instanceOf: QmpCommandError,
    });
    t.is(err.qmpClass, 'CommandNotFound');
    t.is(err.errorClass, 'CommandNotFound');
    t.is(err.message, 'The command no-such-command has not been found');
    t.is(err.command, 'no-such-command');
    t.is(err.code, 'ERR_QMP_COMMAND');
    const reply = await qmp.request('x-echo', { value: 'x' });
    t.deepEqual(reply, { return: 'x' });
    await qmp.close();
  } finally {
    await server.close();
  }
});

test('negotiate: false leaves capability negotiation to the caller', async (t) => {
  const { server } = makeServer();
  const listener = await server.listen('tcp:127.0.0.1:0');
  const addr = listener.address;
  if (addr.type !== 'tcp') throw new Error('expected a TCP listener');
  try {
    const qmp = await QmpClient.connect(
      { host: '127.0.0.1', port: addr.port },
      { negotiate: false },
    );
    const err = await t.throwsAsync(qmp.execute('query-version'), { instanceOf: QmpCommandError });
    t.regex(err.message, /Expecting capabilities negotiation/);
    await qmp.negotiate();
    t.true(isJsonObject(await qmp.execute('query-version')));
    await qmp.close();
  } finally {
    await server.close();
  }
});

test('events arrive as emitted events and through the async iterator, which ends on close', async (t) => {
  const { server } = makeServer();
  const listener = await server.listen('tcp:127.0.0.1:0');
  const addr = listener.address;
  if (addr.type !== 'tcp') throw new Error('expected a TCP listener');
  try {
    const qmp = await QmpClient.connect({ host: '127.0.0.1', port: addr.port });
    const heard: QmpEvent[] = [];
    qmp.on('event', (e) => heard.push(e));
    const iterated: string[] = [];
    const loop = (async () => {
      for await (const e of qmp.events()) iterated.push(e.event);
    })();
    // A command round trip makes sure the monitor is negotiated on the server side.
    await qmp.execute('query-version');
    const data: JsonObject = { n: 2n ** 60n };
    server.emitEvent('X_ONE', data);
    server.emitEvent('X_TWO');
    await qmp.execute('query-version');
    t.deepEqual(
      heard.map((e) => [e.event, e.data]),
      [
        ['X_ONE', { n: 2n ** 60n }],
        ['X_TWO', {}],
      ],
    );
    t.true(heard[0]!.timestamp.seconds > 1_600_000_000);
    await qmp.close();
    await loop;
    t.deepEqual(iterated, ['X_ONE', 'X_TWO']);
  } finally {
    await server.close();
  }
});

test('a pending command rejects when the connection closes; later commands reject at once', async (t) => {
  const { server } = makeServer();
  const listener = await server.listen('tcp:127.0.0.1:0');
  const addr = listener.address;
  if (addr.type !== 'tcp') throw new Error('expected a TCP listener');
  try {
    const qmp = await QmpClient.connect({ host: '127.0.0.1', port: addr.port });
    const held = qmp.execute('x-hold');
    await new Promise((r) => setTimeout(r, 20));
    const closing = qmp.close();
    const e = await t.throwsAsync(held, {
      instanceOf: QmpClientError,
      message: 'QMP connection closed',
    });
    t.is(e.code, 'ERR_QMP_CLOSED');
    await closing;
    await t.throwsAsync(qmp.execute('query-version'), { code: 'ERR_QMP_CLOSED' });
  } finally {
    await server.close();
  }
});

test('connecting to nothing rejects and leaves no socket open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-qmpc-'));
  try {
    await t.throwsAsync(QmpClient.connect(join(dir, 'absent.sock')), { code: 'ENOENT' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
