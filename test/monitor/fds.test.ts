/**
 * getfd, closefd, add-fd, remove-fd and query-fdsets: the replies without
 * a passed fd are QEMU 7.2's (differential); with real descriptors handed
 * to the monitor, the sets and names behave as QEMU's and every fd is
 * closed in the end (checked in /proc/self/fd).
 */
import test from 'ava';
import { openSync, readdirSync } from 'node:fs';
import type { JsonObject } from '../../src/qobject/qobject.js';
import '../../src/monitor/qmp-cmds.js';
import { type QmpMonitorHandle, qmpCommands, qmpDispatch } from '../../src/monitor/qmp-dispatch.js';
import { monitorCloseNamedFds, monitorFdsetsCleanupAll } from '../../src/monitor/fds.js';
import { startQemu, startTsqom } from '../helpers/qemu/qemu.js';
import { exchange } from '../helpers/qemu/compare.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

test.serial('without a passed fd, the replies and errors are QEMU 7.2', async (t) => {
  const [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
  try {
    const [cq, ct] = await Promise.all([qemu.connect(), tsqom.connect()]);
    await Promise.all([cq.negotiate(), ct.negotiate()]);
    const input = [
      '{"execute":"getfd","arguments":{"fdname":"x"}}',
      '{"execute":"getfd","arguments":{"fdname":"1x"}}',
      '{"execute":"getfd"}',
      '{"execute":"closefd","arguments":{"fdname":"x"}}',
      '{"execute":"add-fd"}',
      '{"execute":"add-fd","arguments":{"fdset-id":1,"opaque":"o"}}',
      '{"execute":"add-fd","arguments":{"fdset-id":"a"}}',
      '{"execute":"remove-fd","arguments":{"fdset-id":0}}',
      '{"execute":"remove-fd","arguments":{"fdset-id":0,"fd":3}}',
      '{"execute":"remove-fd"}',
      '{"execute":"query-fdsets"}',
    ].join('');
    const [q, s] = await Promise.all([exchange(cq, input), exchange(ct, input)]);
    t.deepEqual(s, q);
    await Promise.all([cq.close(), ct.close()]);
  } finally {
    await Promise.all([qemu.stop(), tsqom.stop()]);
  }
});

test.serial('passed fds: named per monitor, fd sets as QEMU keeps them, none leaked', async (t) => {
  const before = openFds();
  const received: number[] = [];
  const monitor = {
    negotiated: true,
    namedFds: new Map<string, number>(),
    takeReceivedFd: () => received.shift(),
    host: { emitEvent: () => undefined, requestShutdown: () => undefined },
  } as unknown as QmpMonitorHandle;
  const run = (execute: string, args?: JsonObject): JsonObject =>
    qmpDispatch(qmpCommands, args ? { execute, arguments: args } : { execute }, false, {
      monitor,
    }) as JsonObject;
  const give = (): number => {
    const fd = openSync('/dev/null', 'r');
    received.push(fd);
    return fd;
  };

  give();
  t.deepEqual(run('getfd', { fdname: 'a' }), { return: {} });
  give();
  t.deepEqual(run('getfd', { fdname: '1a' }), {
    error: {
      class: 'GenericError',
      desc: "Parameter 'fdname' expects a name not starting with a digit",
    },
  });
  give();
  t.deepEqual(run('getfd', { fdname: 'a' }), { return: {} }); // replaces and closes the old one
  t.is(openFds(), before + 1);
  t.deepEqual(run('closefd', { fdname: 'a' }), { return: {} });
  t.is(openFds(), before);

  const f0 = give();
  t.deepEqual(run('add-fd', { opaque: 'x' }), { return: { 'fdset-id': 0, fd: f0 } });
  const f1 = give();
  t.deepEqual(run('add-fd'), { return: { 'fdset-id': 1, fd: f1 } });
  const f2 = give();
  t.deepEqual(run('add-fd', { 'fdset-id': 0 }), { return: { 'fdset-id': 0, fd: f2 } });
  give();
  t.is(
    (run('add-fd', { 'fdset-id': -1 }).error as JsonObject).desc,
    "Parameter 'fdset-id' expects a non-negative value",
  );
  t.deepEqual(run('query-fdsets'), {
    return: [
      { 'fdset-id': 1, fds: [{ fd: f1 }] },
      { 'fdset-id': 0, fds: [{ fd: f0, opaque: 'x' }, { fd: f2 }] },
    ],
  });
  // As in QEMU, a removed fd stays listed while the VM has not run.
  t.deepEqual(run('remove-fd', { 'fdset-id': 1 }), { return: {} });
  t.is((run('query-fdsets').return as JsonObject[]).length, 2);
  t.is(
    (run('remove-fd', { 'fdset-id': 0, fd: 999 }).error as JsonObject).desc,
    "File descriptor named 'fdset-id:0, fd:999' not found",
  );
  monitorCloseNamedFds(monitor as unknown as Parameters<typeof monitorCloseNamedFds>[0]);
  monitorFdsetsCleanupAll();
  t.deepEqual(run('query-fdsets'), { return: [] });
  t.is(openFds(), before);
});
