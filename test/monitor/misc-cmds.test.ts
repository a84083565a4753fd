/**
 * Run-state, identity, machine, chardev and yank commands, differential
 * against QEMU 7.2 (`-M none -S`): the same exchanges on both peers, the
 * reply and event lines compared byte for byte.
 */
import test from 'ava';
import { vmState } from '../../src/system/runstate.js';
import '../../src/monitor/qmp-cmds.js';
import '../../src/backends/index.js';
import '../../src/chardev/index.js';
import '../../src/hw/core/index.js';
import '../../src/hw/virtio/index.js';
import '../../src/hw/misc/index.js';
import { machineCreate } from '../../src/hw/core/machine.js';
import { qemuChrCleanup } from '../../src/chardev/char.js';
import {
  type QemuInstance,
  type TsqomInstance,
  startQemu,
  startTsqom,
} from '../helpers/qemu/qemu.js';
import { exchange, normalizeLine } from '../helpers/qemu/compare.js';
import type { QmpClient } from '../helpers/qemu/qmp-client.js';

let qemu: QemuInstance;
let tsqom: TsqomInstance;
let cq: QmpClient;
let ct: QmpClient;

test.before(async () => {
  machineCreate();
  [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
  [cq, ct] = await Promise.all([qemu.connect(), tsqom.connect()]);
  await Promise.all([cq.negotiate(), ct.negotiate()]);
});

test.after.always(async () => {
  await Promise.all([cq?.close(), ct?.close()]);
  await Promise.all([qemu?.stop(), tsqom?.stop()]);
  qemuChrCleanup();
  vmState.reset();
});

/** Sends `lines` to both peers; returns QEMU's and tsqom's normalised output. */
async function both(lines: string[], mask?: (s: string) => string): Promise<[string, string]> {
  const input = lines.join('\n');
  const [q, s] = await Promise.all([exchange(cq, input), exchange(ct, input)]);
  const m = mask ?? ((x: string) => x);
  return [q.map(m).join('\n'), s.map(m).join('\n')];
}

async function same(
  t: import('ava').ExecutionContext,
  lines: string[],
  mask?: (s: string) => string,
): Promise<string> {
  const [q, s] = await both(lines, mask);
  t.is(s, q, lines.join(' '));
  return s;
}

const x = (execute: string, args?: object): string =>
  JSON.stringify(args === undefined ? { execute } : { execute, arguments: args });
const hmp = (line: string): string => x('human-monitor-command', { 'command-line': line });

test.serial('run state: stop, cont, reset and powerdown with their events', async (t) => {
  const out = await same(t, [
    x('query-status'),
    hmp('info status'),
    x('stop'),
    x('query-status'),
    x('cont'),
    x('query-status'),
    hmp('info status'),
    x('cont'),
    x('stop'),
    x('stop'),
    x('query-status'),
    hmp('info status'),
    x('system_reset'),
    x('query-status'),
    x('system_powerdown'),
    x('cont'),
    x('system_reset'),
    x('query-status'),
    x('stop'),
    x('stop', { x: 1 }),
  ]);
  t.regex(out, /"event": "RESUME"/);
  t.regex(out, /"event": "STOP"/);
  t.regex(out, /"event": "RESET", "data": \{"guest": false, "reason": "host-qmp-system-reset"\}/);
  t.regex(out, /"event": "POWERDOWN"/);
});

test.serial('set-action: accepted values and errors', async (t) => {
  await same(t, [
    x('set-action', {}),
    x('set-action', { reboot: 'reset', shutdown: 'poweroff', panic: 'none', watchdog: 'debug' }),
    x('set-action', { reboot: 'bogus' }),
    x('set-action', { panic: 'exit-failure' }),
    x('set-action', { watchdog: 'inject-nmi', bogus: 1 }),
    x('set-action', { shutdown: 1 }),
    x('set-action', { panic: 'shutdown', watchdog: 'reset' }),
  ]);
});

test.serial('identity: name, uuid, target, kvm, version', async (t) => {
  await same(t, [
    x('query-name'),
    hmp('info name'),
    x('query-uuid'),
    hmp('info uuid'),
    x('query-target'),
    x('query-kvm'),
    x('query-current-machine'),
    x('query-name', { a: 1 }),
  ]);
  const [q, s] = await both([hmp('info version')]);
  t.regex(q, /^\{"return": "7\.2\.\d+/);
  t.regex(s, /^\{"return": "7\.2\.\d+/);
});

test.serial('a CPU-less machine: cpus, memory, iothreads', async (t) => {
  await same(t, [
    x('query-cpus-fast'),
    x('query-hotpluggable-cpus'),
    x('query-memory-size-summary'),
    hmp('info memory_size_summary'),
    x('query-memory-devices'),
    x('query-iothreads'),
    hmp('info qtree'),
    hmp('info ramblock'),
  ]);
});

test.serial('query-machines: the none machine as QEMU describes it', async (t) => {
  const [q, s] = await Promise.all([cq.cmd('query-machines'), ct.cmd('query-machines')]);
  const none = (q as Array<{ name: string }>).find((m) => m.name === 'none');
  t.deepEqual(s, [none]);
});

test.serial(
  'device-list-properties and query-command-line-options errors and groups',
  async (t) => {
    await same(t, [
      x('device-list-properties', { typename: 'bogus' }),
      x('device-list-properties', { typename: 'device' }),
      x('device-list-properties', { typename: 'memory-backend-ram' }),
      x('device-list-properties', {}),
      x('query-command-line-options', { option: 'bogus' }),
      x('query-command-line-options', { option: 'chardev' }),
      x('query-command-line-options', { option: 'machine' }),
      x('query-command-line-options', { option: 'mon' }),
      x('query-command-line-options', { option: 'object' }),
    ]);
  },
);

test.serial('chardevs: add, query, remove, yank', async (t) => {
  const mask = (s: string): string => s.replace(/\/tmp\/[^",]*\//g, '<dir>/');
  const sock = (dir: string): object => ({
    id: 'c1',
    backend: {
      type: 'socket',
      data: { addr: { type: 'unix', data: { path: `${dir}/c1.sock` } }, server: true, wait: false },
    },
  });
  const [q, s] = await Promise.all([
    exchange(cq, x('chardev-add', sock(qemu.dir))),
    exchange(ct, x('chardev-add', sock(tsqom.dir))),
  ]);
  t.deepEqual(s, q);
  const dropMon = (s: string): string =>
    mask(s)
      .replace(/\{"type": "chardev", "id": "compat_monitor0"\}(, )?/g, '')
      .replace(
        /(, )?\{"frontend-open": true, "filename": "unix:<dir>\/qmp0.sock,server=on", "label": "compat_monitor0"\}/g,
        '',
      )
      .replace(/compat_monitor0: filename=unix:<dir>\/qmp0.sock,server=on\\r\\n/g, '');
  await same(
    t,
    [
      x('chardev-add', sock('/nonexistent')),
      x('chardev-add', { id: 'c2', backend: { type: 'bogus', data: {} } }),
      x('chardev-add', { id: 'c3', backend: { type: 'socket', data: {} } }),
      x('chardev-add', { id: 'c3', backend: { type: 'socket' } }),
      x('query-chardev'),
      hmp('info chardev'),
      x('query-yank'),
      x('yank', { instances: [] }),
      x('yank', { instances: [{ type: 'chardev', id: 'nope' }] }),
      x('yank', { instances: [{ type: 'migration' }] }),
      x('yank', { instances: [{ type: 'chardev', id: 'c1' }] }),
      x('chardev-remove', { id: 'c1' }),
      x('chardev-remove', { id: 'c1' }),
      x('query-chardev'),
      hmp('chardev-add'),
      hmp('chardev-add socket,id=1x'),
      hmp('chardev-add socket,id=h0,path=/nonexistent/x,server=on,wait=off'),
      hmp('chardev-add bogus,id=h0'),
    ],
    dropMon,
  );
});

test.serial('HMP device_add and device_del errors', async (t) => {
  await same(t, [
    hmp('device_add'),
    hmp('device_add bogus'),
    hmp('device_add bogus,id=1x'),
    hmp('device_del'),
    hmp('device_del x'),
  ]);
});

test.serial('info ramblock lists a memory backend as QEMU does', async (t) => {
  const out = await same(t, [
    x('object-add', { 'qom-type': 'memory-backend-ram', id: 'rb0', size: 1048576 }),
    hmp('info ramblock'),
    x('object-del', { id: 'rb0' }),
    hmp('info ramblock'),
  ]);
  t.regex(out, /4 KiB {2}0x0000000000000000 0x0000000000100000 0x0000000000100000/);
});

test.serial(
  'HMP quit: SHUTDOWN with host-qmp-quit, then an empty reply (last: QEMU exits)',
  async (t) => {
    const read2 = async (c: QmpClient): Promise<string[]> => {
      c.sendRaw(hmp('quit'));
      return [normalizeLine(await c.readLine()), normalizeLine(await c.readLine())];
    };
    const [q, s] = await Promise.all([read2(cq), read2(ct)]);
    t.deepEqual(s, q);
    t.deepEqual(s, [
      '{"timestamp": <time>, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}',
      '{"return": ""}',
    ]);
  },
);
