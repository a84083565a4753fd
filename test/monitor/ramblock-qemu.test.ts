/**
 * `info ramblock` against QEMU 7.2 while backends come and go: the list
 * order (largest first) and the offsets QEMU's gap search hands out,
 * including gaps left by deleted blocks and sizes that are not multiples
 * of the 256 KiB offset alignment.
 */
import test from 'ava';
import type { JsonObject } from '../../src/qobject/qobject.js';
import { onBothLaunched, replies } from '../helpers/cli/differential.js';

const info = ['human-monitor-command', { 'command-line': 'info ramblock' }] as const;
const add = (type: string, id: string, size: number, extra: JsonObject = {}) =>
  ['object-add', { 'qom-type': type, id, size, ...extra }] as const;
const del = (id: string) => ['object-del', { id }] as const;
const MiB = 1 << 20;

test('info ramblock offsets follow QEMU 7.2 as blocks are added and removed', async (t) => {
  const cmds = [
    info,
    add('memory-backend-ram', 'a', MiB),
    add('memory-backend-memfd', 'b', 4 * MiB),
    add('memory-backend-ram', 'c', 2 * MiB),
    info,
    del('b'),
    info,
    add('memory-backend-ram', 'd', MiB),
    info,
    add('memory-backend-ram', 'e', 8 * MiB),
    add('memory-backend-ram', 'odd', 5000),
    add('memory-backend-memfd', 'k', 300 * 1024),
    info,
    del('a'),
    del('d'),
    add('memory-backend-ram', 'f', 3 * MiB),
    info,
    add('memory-backend-ram', 'g', 256 * 1024),
    add('memory-backend-ram', 'h', 512 * 1024, { share: true }),
    info,
    del('e'),
    del('c'),
    add('memory-backend-ram', 'i', 10 * MiB),
    info,
  ] as const;
  // -m gives the machine a named RAM block first.
  const [q, s] = await onBothLaunched(['-m', '16'], (qmp) => replies(qmp, cmds));
  t.deepEqual(s, q);
  t.true(q[0].includes('ram'), 'the guest RAM block is named');
  t.true(q.at(-1)!.includes('0x0000000001'), 'offsets past 16 MiB');
});
