/**
 * object-add argument checking with the memory backends' QAPI schemas
 * registered, differential against QEMU 7.2: the first missing, mistyped
 * or unexpected member is reported with QEMU's text.
 */
import test from 'ava';
import { BACKEND_OBJECT_OPTIONS } from '../../src/backends/index.js';
import { registerObjectOptions } from '../../src/monitor/qom-qmp-cmds.js';
import { qobjectToJson } from '../../src/qobject/qjson.js';
import {
  type QemuInstance,
  type TsqomInstance,
  startQemu,
  startTsqom,
} from '../helpers/qemu/qemu.js';
import { exchange, onBoth } from '../helpers/qemu/compare.js';

let qemu: QemuInstance;
let tsqom: TsqomInstance;

test.before(async () => {
  for (const [type, members] of Object.entries(BACKEND_OBJECT_OPTIONS))
    registerObjectOptions(type, members);
  [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
});

test.after.always(async () => {
  await Promise.all([qemu?.stop(), tsqom?.stop()]);
});

const RAM = { 'qom-type': 'memory-backend-ram', id: 'm' };
const CASES: string[] = [
  qobjectToJson({ ...RAM }),
  qobjectToJson({ ...RAM, size: '1' }),
  qobjectToJson({ ...RAM, size: null }),
  '{"qom-type":"memory-backend-ram","id":"m","size":1.0}',
  '{"qom-type":"memory-backend-ram","id":"m","size":1e3}',
  qobjectToJson({ ...RAM, size: 4096, 'prealloc-threads': -1 }),
  qobjectToJson({ ...RAM, size: 4096, 'prealloc-threads': 4294967296 }),
  qobjectToJson({ ...RAM, size: 4096, 'host-nodes': [1, 'a'] }),
  qobjectToJson({ ...RAM, size: 4096, 'host-nodes': [70000] }),
  qobjectToJson({ ...RAM, size: 4096, 'host-nodes': 1 }),
  qobjectToJson({ ...RAM, size: 4096, policy: 'x' }),
  qobjectToJson({ ...RAM, size: 4096, policy: 1 }),
  qobjectToJson({ ...RAM, size: 4096, dump: 'on' }),
  qobjectToJson({ ...RAM, size: 4096, a: 1, b: 2, c: 3, d: 4, e: 5 }),
  qobjectToJson({ ...RAM, size: 4096, bogus: 1 }),
  qobjectToJson({ ...RAM, bogus: 1 }),
  qobjectToJson({ ...RAM, size: 4096, 'mem-path': '/tmp' }),
  qobjectToJson({ 'qom-type': 'memory-backend-file', id: 'f', size: 4096 }),
  qobjectToJson({ 'qom-type': 'memory-backend-file', id: 'f', size: 4096, 'mem-path': 1 }),
  qobjectToJson({ 'qom-type': 'memory-backend-memfd', id: 'f', size: 4096, seal: 'yes' }),
  qobjectToJson({
    'qom-type': 'memory-backend-memfd',
    id: 'f',
    size: 4096,
    hugetlbsize: -1,
    zz: 1,
  }),
  qobjectToJson({ 'qom-type': 'memory-backend-memfd', id: '0bad', size: 4096 }),
];

const HMP = [
  'object_add memory-backend-ram,id=h',
  'object_add memory-backend-ram,id=h,size=1Q',
  'object_add memory-backend-ram,id=h,size=4k,dump=maybe',
  'object_add memory-backend-ram,id=h,size=4k,prealloc-threads=x',
  'object_add memory-backend-ram,id=h,size=4k,host-nodes.0=1,host-nodes.1=q',
  'object_add memory-backend-ram,id=h,size=4k,policy=x',
  'object_add memory-backend-ram,id=h,size=4k,bogus=1',
  'object_add memory-backend-ram,id=h,size.x=1',
];

test.serial('object-add errors for memory backends match QEMU 7.2', async (t) => {
  const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
    await c.negotiate();
    const out: string[][] = [];
    for (const args of CASES)
      out.push(await exchange(c, `{"execute":"object-add","arguments":${args}}`));
    for (const line of HMP) {
      out.push(
        await exchange(
          c,
          qobjectToJson({ execute: 'human-monitor-command', arguments: { 'command-line': line } }),
        ),
      );
    }
    return out;
  });
  [...CASES, ...HMP].forEach((c, i) => t.deepEqual(ts[i], q[i], c));
});
