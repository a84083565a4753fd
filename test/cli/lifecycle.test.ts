/**
 * QEMU's clients start, drive and stop tsqom exactly as they do QEMU 7.2:
 * the argv shapes of QEMUMachine, libvirt's probe and libqtest; `quit` and
 * signals end the process with SHUTDOWN, EOF and status 0, and nothing is
 * left behind. Each case runs against QEMU 7.2 as well.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../../src/qobject/qobject.js';
import {
  launchLikeLibqtest,
  launchLikeLibvirtProbe,
  launchLikeQemuMachine,
  leftovers,
  shmNames,
  type Launched,
  type Launchee,
} from '../helpers/cli/launch.js';
import { startTsqom } from '../helpers/cli/run.js';
import { QmpClient, parseLine } from '../helpers/qemu/qmp-client.js';

/** The lines after a stop, with timestamps dropped. */
function shape(lines: string[]): JsonObject[] {
  return lines.map((l) => {
    const m = parseLine(l);
    delete m.timestamp;
    return m;
  });
}

const SHUTDOWN_QUIT = { event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } };
const SHUTDOWN_SIGNAL = { event: 'SHUTDOWN', data: { guest: false, reason: 'host-signal' } };

/** Negotiates and queries as a client does first. */
async function negotiateAndQuery(l: Launched): Promise<{ major: number; types: string[] }> {
  await l.qmp.negotiate();
  const v = (await l.qmp.cmd('query-version')) as { qemu: { major: number; minor: number } };
  const types = (await l.qmp.cmd('qom-list-types', { abstract: false })) as Array<{
    name: string;
  }>;
  return { major: v.qemu.major * 100 + v.qemu.minor, types: types.map((x) => x.name) };
}

/** Stops with `quit` or SIGTERM; returns what the client read until EOF and the status. */
async function stop(
  l: Launched,
  how: 'quit' | 'SIGTERM',
): Promise<{ lines: JsonObject[]; status: number | null }> {
  if (how === 'quit') l.qmp.sendRaw('{"execute":"quit"}\r\n');
  else process.kill(l.pid, 'SIGTERM');
  const lines = shape(await l.qmp.readToEof(15000));
  const status = await l.exited(15000);
  return { lines, status };
}

const launchers: Array<[string, (who: Launchee) => Promise<Launched>]> = [
  ['QEMUMachine', (who) => launchLikeQemuMachine(who)],
  ['libvirt probe', (who) => launchLikeLibvirtProbe(who)],
  ['libqtest', (who) => launchLikeLibqtest(who)],
];

for (const [name, launch] of launchers) {
  for (const how of ['quit', 'SIGTERM'] as const) {
    test.serial(
      `${name}: negotiate, query, ${how}: EOF, exit 0, nothing left (as QEMU 7.2)`,
      async (t) => {
        const results: Array<{ lines: JsonObject[]; status: number | null; major: number }> = [];
        for (const who of ['qemu', 'tsqom'] as const) {
          const before = shmNames();
          const l = await launch(who);
          t.teardown(() => l.cleanup());
          const q = await negotiateAndQuery(l);
          t.true(q.types.includes('memory-backend-ram'), who);
          const r = await stop(l, how);
          results.push({ ...r, major: q.major });
          // Nothing behind: sockets and pid file in the scratch dir, /dev/shm, temp files.
          t.deepEqual(leftovers(before, l.dir, l.pid), [], `${who} left something behind`);
          // A daemon's stderr is gone with its launcher; under qtest QEMU stays quiet.
          if (who === 'tsqom' && how === 'SIGTERM' && name === 'QEMUMachine') {
            t.regex(l.stderr(), /tsqom: terminated by signal 15\n/);
          }
        }
        const [qemu, tsqom] = results;
        t.is(tsqom.major, 702);
        t.deepEqual(tsqom.lines, qemu.lines);
        t.deepEqual(
          tsqom.lines,
          how === 'quit' ? [SHUTDOWN_QUIT, { return: {} }] : [SHUTDOWN_SIGNAL],
        );
        t.is(tsqom.status, qemu.status);
        if (name !== 'libvirt probe') t.is(tsqom.status, 0);
      },
    );
  }
}

test.serial('libqtest: the qtest socket answers while QMP is served', async (t) => {
  const l = await launchLikeLibqtest('tsqom');
  t.teardown(() => l.cleanup());
  l.qtest.write('readb 0x0\n');
  const reply = await new Promise<string>((resolve) =>
    l.qtest.once('data', (d: Buffer) => resolve(d.toString())),
  );
  t.is(reply, 'OK 0x0000000000000000\n');
  await l.qmp.negotiate();
  const r = await stop(l, 'quit');
  t.is(r.status, 0);
});

test.serial(
  'no monitor needed: -object alone keeps running until SIGINT, SIGHUP or SIGTERM',
  async (t) => {
    for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) {
      const before = shmNames();
      const dir = mkdtempSync(join(tmpdir(), 'tsqom-cli-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const pidfile = join(dir, 'pid');
      const p = startTsqom(['-object', 'memory-backend-ram,id=m,size=1M', '-pidfile', pidfile]);
      t.teardown(() => p.child.kill('SIGKILL'));
      // The pid file is written once the signal handlers are in place.
      while (!existsSync(pidfile)) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 1000));
      t.is(p.child.exitCode, null, `${sig}: still running`);
      p.child.kill(sig);
      const { code } = await p.exited;
      t.is(code, 0, sig);
      const num = { SIGINT: 2, SIGHUP: 1, SIGTERM: 15 }[sig];
      t.is(p.stderr(), `tsqom: terminated by signal ${num}\n`);
      t.deepEqual(leftovers(before, dir, p.child.pid!), []);
    }
  },
);

test.serial(
  'the greeting waits for the command line: a preallocated backend is complete when the client is greeted',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-cli-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const sock = join(dir, 'qmp.sock');
    const p = startTsqom([
      '-qmp',
      `unix:${sock},server=on,wait=off`,
      '-object',
      'memory-backend-memfd,id=m,size=256M,prealloc=on',
    ]);
    t.teardown(() => p.child.kill('SIGKILL'));
    while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 5));
    const qmp = await QmpClient.connect(sock, 30000);
    await qmp.negotiate();
    const memdev = (await qmp.cmd('query-memdev')) as Array<{ id: string; prealloc: boolean }>;
    t.deepEqual(
      memdev.map((m) => [m.id, m.prealloc]),
      [['m', true]],
    );
    qmp.sendRaw('{"execute":"quit"}\r\n');
    await qmp.readToEof();
    t.is((await p.exited).code, 0);
    t.false(existsSync(sock));
  },
);

test.serial(
  'SIGTERM during a command-line preallocation: exit 0, socket and memory released',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-cli-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const sock = join(dir, 'qmp.sock');
    const before = shmNames();
    const p = startTsqom([
      '-qmp',
      `unix:${sock},server=on,wait=off`,
      '-object',
      'memory-backend-shm,id=m,size=512M,prealloc=on',
    ]);
    t.teardown(() => p.child.kill('SIGKILL'));
    while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 5));
    const client = QmpClient.connect(sock, 30000).catch(() => null);
    p.child.kill('SIGTERM');
    t.is((await p.exited).code, 0);
    await client;
    t.false(existsSync(sock));
    t.deepEqual(readdirSync(dir), []);
    t.deepEqual(leftovers(before, dir, p.child.pid!), []);
  },
);
