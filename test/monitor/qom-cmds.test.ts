/**
 * QOM commands, differential: the same QMP and HMP requests to QEMU 7.2
 * and to tsqom, on what both have (containers, errors, paths, types).
 */
import test from 'ava';
import {
  type QemuInstance,
  type TsqomInstance,
  startQemu,
  startTsqom,
} from '../helpers/qemu/qemu.js';
import { exchange, onBoth } from '../helpers/qemu/compare.js';
import type { QmpClient } from '../helpers/qemu/qmp-client.js';
import { qobjectToJson } from '../../src/qobject/qjson.js';

let qemu: QemuInstance;
let tsqom: TsqomInstance;

test.before(async () => {
  [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
  // QEMU 7.2 creates /objects on first use, and so does tsqom.
  for (const server of [qemu, tsqom]) {
    const c = await server.connect();
    await c.negotiate();
    await c.cmd('object-add', { 'qom-type': 'memory-backend-ram', id: 'prep', size: 4096 });
    await c.cmd('object-del', { id: 'prep' });
    await c.close();
  }
});

test.after.always(async () => {
  await Promise.all([qemu?.stop(), tsqom?.stop()]);
});

const QMP: Array<[string, object?]> = [
  ['qom-list', { path: '/objects' }],
  ['qom-list', { path: 'objects' }],
  ['qom-list', { path: '' }],
  ['qom-list', { path: 'nosuch' }],
  ['qom-list', { path: '/nosuch' }],
  ['qom-list', { path: '/objects/nosuch' }],
  ['qom-list', { path: '//objects' }],
  ['qom-list', {}],
  ['qom-list', { path: 1 }],
  ['qom-list', { path: '/', bogus: 1 }],
  ['qom-get', { path: '/', property: 'type' }],
  ['qom-get', { path: '/objects', property: 'type' }],
  ['qom-get', { path: '/', property: 'objects' }],
  ['qom-get', { path: '/', property: 'nosuch' }],
  ['qom-get', { path: '', property: 'type' }],
  ['qom-get', { path: '/nosuch', property: 'type' }],
  ['qom-get', { path: '/' }],
  ['qom-set', { path: '/', property: 'type', value: 'x' }],
  ['qom-set', { path: '/objects', property: 'type', value: 1 }],
  ['qom-set', { path: '/', property: 'nosuch', value: 'x' }],
  ['qom-set', { path: '/nosuch', property: 'type', value: 'x' }],
  ['qom-set', { path: '', property: 'type', value: 'x' }],
  ['qom-set', { path: '/', property: 'type' }],
  ['qom-list-types', { implements: 'container', abstract: true }],
  ['qom-list-types', { implements: 'container' }],
  ['qom-list-types', { implements: 'nosuch' }],
  ['qom-list-types', { abstract: 1 }],
  ['qom-list-types', { implements: null }],
  ['qom-list-properties', { typename: 'nosuch' }],
  ['qom-list-properties', { typename: 'user-creatable' }],
  ['qom-list-properties', { typename: 'interface' }],
  ['qom-list-properties', { typename: 'object' }],
  ['qom-list-properties', { typename: 'container' }],
  ['qom-list-properties', {}],
  ['object-add', {}],
  ['object-add', { id: 'x' }],
  ['object-add', { 'qom-type': 'nosuch', id: 'x' }],
  ['object-add', { 'qom-type': 'container', id: 'x' }],
  ['object-add', { 'qom-type': 'object', id: 'x' }],
  ['object-add', { 'qom-type': 'user-creatable', id: 'x' }],
  ['object-add', { 'qom-type': 'interface', id: 'x' }],
  ['object-add', { 'qom-type': 'memory-backend', id: 'x', size: 1 }],
  ['object-add', { 'qom-type': 1, id: 'x' }],
  ['object-add', { 'qom-type': null }],
  ['object-del', { id: 'nosuch' }],
  ['object-del', {}],
  ['object-del', { id: 1 }],
];

const HMP = [
  'qom-list',
  'qom-list /objects',
  'qom-list /nosuch',
  'qom-list ""',
  'qom-list /objects extra',
  'qom-get /objects type',
  'qom-get "/objects" "type"',
  'qom-get / objects',
  'qom-get /objects',
  'qom-get /objects nosuch',
  'qom-get "/objects type',
  'qom-set /objects type x',
  'qom-set /nosuch type x',
  'qom-set -j /objects type "x"',
  'qom-set -j /objects type {',
  'qom-set -j /objects type 1 2',
  'qom-set -j /objects type [1,',
  "qom-set -j /objects type 'q'",
  'qom-set -x /objects type 1',
  'qom-set /objects',
  'info qom-tree /objects',
  'info qom-tree /nosuch',
  'info qom-tree ""',
  'object_add nosuch,id=x',
  'object_add',
  'object_add id=x',
  'object_add container,id=x',
  'object_add qom-type=memory-backend,id=x',
  'object_add a',
  'object_add =x',
  'object_add x,y',
  'object_add qom-type=x,a.b=1,a=2',
  'object_add qom-type=x,a.1=2',
  'object_add qom-type=x,a.0=1,a.x=2',
  'object_add {"qom-type":"nosuch","id":"x"}',
  'object_add {"qom-type":"nosuch"',
  'object_add {} {}',
  'object_add container,help',
  'object_add qom-type=container,id=x,?',
  'object_del nosuch',
  'object_del',
  'object_del a b',
  'nosuch',
  'nosuch arg',
  '  nosuch',
  '',
  'info nosuch',
  'help nosuch',
  'help info nosuch',
  'qom/list',
];

async function negotiated(c: QmpClient): Promise<QmpClient> {
  await c.negotiate();
  return c;
}

test.serial('QMP: qom-* and object-* replies match QEMU 7.2', async (t) => {
  const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
    await negotiated(c);
    const out: string[][] = [];
    for (const [cmd, args] of QMP) {
      out.push(
        await exchange(
          c,
          qobjectToJson({ execute: cmd, arguments: (args ?? {}) as never, id: cmd }),
        ),
      );
    }
    return out;
  });
  QMP.forEach((req, i) => t.deepEqual(ts[i], q[i], JSON.stringify(req)));
});

test.serial(
  'HMP: qom commands, object_add/object_del and parsing errors match QEMU 7.2',
  async (t) => {
    const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
      await negotiated(c);
      const out: string[][] = [];
      for (const line of HMP) {
        out.push(
          await exchange(
            c,
            qobjectToJson({
              execute: 'human-monitor-command',
              arguments: { 'command-line': line },
            }),
          ),
        );
      }
      return out;
    });
    HMP.forEach((line, i) => t.deepEqual(ts[i], q[i], line));
    t.true(q.flat().some((l) => l.includes('/objects (container)')));
  },
);

test.serial('HMP: object_add help lists the user-creatable types', async (t) => {
  const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
    await negotiated(c);
    const out: string[] = [];
    for (const line of ['object_add help', 'object_add nosuch,help', 'object_add ?']) {
      out.push(String((await c.cmd('human-monitor-command', { 'command-line': line })) as string));
    }
    return out;
  });
  for (const out of [q, ts]) {
    for (const text of out)
      t.regex(text, /^List of user creatable objects:\r\n( {2}[a-z][\w.-]*\r\n)*$/);
  }
});
