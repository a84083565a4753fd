/**
 * The main system bus, `/machine/unattached/sysbus`, against QEMU 7.2 with
 * `-machine none`: where it sits in the tree, its properties, their values
 * and errors, and `info qtree`.
 */
import test from 'ava';
import { onBothLaunched, replies } from '../../helpers/cli/differential.js';

const BUS = '/machine/unattached/sysbus';
const hmp = (cmd: string) => ['human-monitor-command', { 'command-line': cmd }] as const;

test('the system bus answers as in QEMU 7.2', async (t) => {
  const cmds = [
    ['qom-list', { path: '/machine/unattached' }],
    ['qom-list', { path: BUS }],
    ['qom-list', { path: 'sysbus' }],
    ['qom-get', { path: BUS, property: 'type' }],
    ['qom-get', { path: BUS, property: 'realized' }],
    ['qom-get', { path: BUS, property: 'hotplug-handler' }],
    ['qom-get', { path: BUS, property: 'child[0]' }],
    ['qom-set', { path: BUS, property: 'hotplug-handler', value: '/machine' }],
    ['qom-set', { path: BUS, property: 'hotplug-handler', value: '/nosuch' }],
    ['qom-set', { path: BUS, property: 'hotplug-handler', value: 1 }],
    ['qom-set', { path: BUS, property: 'hotplug-handler', value: '' }],
    ['qom-set', { path: BUS, property: 'realized', value: 'x' }],
    ['qom-set', { path: BUS, property: 'realized', value: true }],
    ['qom-get', { path: BUS, property: 'realized' }],
    ['qom-set', { path: BUS, property: 'realized', value: false }],
    ['qom-get', { path: BUS, property: 'realized' }],
    ['qom-list-properties', { typename: 'System' }],
    ['qom-list-properties', { typename: 'bus' }],
    ['object-add', { 'qom-type': 'System', id: 'x' }],
    hmp('info qtree'),
    hmp('info qom-tree'),
  ] as const;
  const [q, s] = await onBothLaunched([], (qmp) => replies(qmp, cmds));
  t.is(q.length, cmds.length);
  t.deepEqual(s, q);
  t.true(q[1].includes('"link<hotplug-handler>"'), 'QEMU 7.2 has the bus');
});
