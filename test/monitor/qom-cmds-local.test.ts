/**
 * QOM commands on tsqom's own test types: values, schemas registered with
 * registerObjectOptions, async completion, deletion, and the HMP views.
 */
import test from 'ava';
import {
  type ObjectClass,
  QomObject,
  TYPE_OBJECT,
  TYPE_USER_CREATABLE,
  UserCreatableClass,
  objectGetObjectsRoot,
  typeRegister,
} from '../../src/qom/index.js';
import { QomError } from '../../src/util/error.js';
import { registerObjectOptions, parseObjectOptions } from '../../src/monitor/qom-qmp-cmds.js';
import { objectAddFromStr, qomCompositionTree } from '../../src/monitor/qom-hmp-cmds.js';
import { hmpCommandOutput } from '../../src/monitor/hmp.js';
import { startTsqom } from '../helpers/qemu/qemu.js';
import type { QmpClient } from '../helpers/qemu/qmp-client.js';

class Widget extends QomObject {
  flag = false;
  label = 'none';
  size = 0n;
  inUse = false;
}

class SlowWidget extends Widget {}
const gates: Array<() => void> = [];

typeRegister<UserCreatableClass, Widget>({
  name: 'tm-widget',
  parent: TYPE_OBJECT,
  instanceType: Widget,
  interfaces: [TYPE_USER_CREATABLE],
  classInit(oc) {
    const props = oc.propertiesOf(Widget);
    props.propertyAddBool(
      'flag',
      (o) => o.flag,
      (o, v) => {
        o.flag = v;
      },
    );
    props.propertyAddStr(
      'label',
      (o) => o.label,
      (o, v) => {
        o.label = v;
      },
    );
    oc.propertySetDescription('label', 'What it says');
    props.propertyAddUint64(
      'size',
      (o) => o.size,
      (o, v) => {
        o.size = BigInt(v);
      },
    );
    props.propertyAddStr('ro', (o) => `ro-${o.label}`, null);
  },
  instanceInit(obj) {
    obj.propertyAddBool(
      'in-use',
      () => (obj as Widget).inUse,
      (v) => {
        (obj as Widget).inUse = v;
      },
    );
  },
});

typeRegister<UserCreatableClass, SlowWidget>({
  name: 'tm-slow-widget',
  parent: 'tm-widget',
  instanceType: SlowWidget,
  classInit(oc) {
    const uc = (oc as ObjectClass).dynamicCast(UserCreatableClass)!;
    uc.complete = (obj: QomObject) =>
      new Promise<void>((resolve, reject) => {
        gates.push(() =>
          (obj as Widget).label === 'fail' ? reject(new QomError('refused')) : resolve(),
        );
      });
    uc.canBeDeleted = (obj: QomObject) => !(obj as Widget).inUse;
  },
});

typeRegister({ name: 'tm-abstract', parent: 'tm-widget', abstract: true });

registerObjectOptions('tm-widget', { '*flag': 'bool', '*label': 'str', size: 'size' });

async function client(t: { teardown(fn: () => Promise<void>): void }): Promise<QmpClient> {
  const peer = await startTsqom();
  const c = await peer.connect();
  t.teardown(async () => {
    await c.close();
    await peer.stop();
  });
  await c.negotiate();
  return c;
}

test.serial('object-add checks registered members, then the object gets them', async (t) => {
  const c = await client(t);
  t.deepEqual(await c.execute('object-add', { 'qom-type': 'tm-widget', id: 'w1' }), {
    error: { class: 'GenericError', desc: "Parameter 'size' is missing" },
  });
  t.deepEqual(
    await c.execute('object-add', { 'qom-type': 'tm-widget', id: 'w1', size: 1, bogus: 2 }),
    {
      error: { class: 'GenericError', desc: "Parameter 'bogus' is unexpected" },
    },
  );
  t.deepEqual(await c.execute('object-add', { 'qom-type': 'tm-widget', id: 'w1', size: 'x' }), {
    error: { class: 'GenericError', desc: "Parameter 'size' expects uint64" },
  });
  t.deepEqual(await c.execute('object-add', { 'qom-type': 'tm-abstract', id: 'w1', size: 1 }), {
    error: {
      class: 'GenericError',
      desc: "Parameter 'qom-type' does not accept value 'tm-abstract'",
    },
  });
  t.deepEqual(await c.execute('object-add', { 'qom-type': 'tm-widget', id: '0bad', size: 1 }), {
    error: { class: 'GenericError', desc: "Parameter 'id' expects an identifier" },
  });
  t.deepEqual(
    await c.execute('object-add', { 'qom-type': 'tm-widget', id: 'w1', size: -1, label: 'hi' }),
    {
      return: {},
    },
  );
  t.deepEqual(await c.execute('object-add', { 'qom-type': 'tm-widget', id: 'w1', size: 1 }), {
    error: {
      class: 'GenericError',
      desc: "attempt to add duplicate property 'w1' to object (type 'container')",
    },
  });
  t.is(await c.cmd('qom-get', { path: '/objects/w1', property: 'size' }), 18446744073709551615n);
  t.is(await c.cmd('qom-get', { path: 'w1', property: 'label' }), 'hi');
  t.is(await c.cmd('qom-get', { path: '/objects', property: 'w1' }), '/objects/w1');
  t.deepEqual(await c.cmd('qom-set', { path: 'w1', property: 'flag', value: true }), {});
  t.is(await c.cmd('qom-get', { path: 'w1', property: 'flag' }), true);
  t.deepEqual(await c.execute('qom-set', { path: 'w1', property: 'flag', value: 'x' }), {
    error: { class: 'GenericError', desc: "Invalid parameter type for 'flag', expected: boolean" },
  });
  t.deepEqual(await c.execute('qom-set', { path: 'w1', property: 'ro', value: 'x' }), {
    error: { class: 'GenericError', desc: "Property 'tm-widget.ro' is not writable" },
  });
  // Last property first, instance properties before class ones (reversed).
  t.deepEqual(await c.cmd('qom-list', { path: '/objects/w1' }), [
    { name: 'type', type: 'string' },
    { name: 'ro', type: 'string' },
    { name: 'size', type: 'uint64' },
    { name: 'label', type: 'string' },
    { name: 'flag', type: 'bool' },
    { name: 'in-use', type: 'bool' },
  ]);
  t.deepEqual(await c.cmd('object-del', { id: 'w1' }), {});
  t.deepEqual(await c.execute('qom-get', { path: '/objects/w1', property: 'size' }), {
    error: { class: 'DeviceNotFound', desc: "Device '/objects/w1' not found" },
  });
});

test.serial('types without registered members take any properties', async (t) => {
  const c = await client(t);
  t.deepEqual(await c.execute('object-add', { 'qom-type': 'tm-slow-widget', id: 's', nosuch: 1 }), {
    error: { class: 'GenericError', desc: "Property 'tm-slow-widget.nosuch' not found" },
  });
  t.deepEqual(
    parseObjectOptions({ 'qom-type': 'tm-slow-widget', id: 's', label: 'x', flag: true }),
    {
      qomType: 'tm-slow-widget',
      id: 's',
      props: { label: 'x', flag: true },
      untyped: true,
    },
  );
});

test.serial('a slow complete() holds its own monitor only; failures leave nothing', async (t) => {
  const peer = await startTsqom({ monitors: 2 });
  const a = await peer.connect(0);
  const b = await peer.connect(1);
  t.teardown(async () => {
    for (const g of gates.splice(0)) g();
    await Promise.all([a.close(), b.close()]);
    await peer.stop();
  });
  await a.negotiate();
  await b.negotiate();
  a.sendRaw(
    '{"execute":"object-add","arguments":{"qom-type":"tm-slow-widget","id":"s1","label":"ok"},"id":1}',
  );
  while (gates.length === 0) await new Promise((r) => setTimeout(r, 1));
  // While s1 completes, the other monitor is answered. s1 is already in
  // /objects (QEMU adds the child before completing), so its id is taken.
  t.deepEqual(await b.execute('object-add', { 'qom-type': 'tm-slow-widget', id: 's1' }), {
    error: {
      class: 'GenericError',
      desc: "attempt to add duplicate property 's1' to object (type 'container')",
    },
  });
  gates.shift()!();
  t.deepEqual(await a.readReply(), { return: {}, id: 1 });
  a.sendRaw(
    '{"execute":"object-add","arguments":{"qom-type":"tm-slow-widget","id":"s2","label":"fail"},"id":2}',
  );
  while (gates.length === 0) await new Promise((r) => setTimeout(r, 1));
  gates.shift()!();
  t.deepEqual(await a.readReply(), { id: 2, error: { class: 'GenericError', desc: 'refused' } });
  t.is(objectGetObjectsRoot().resolvePathComponent('s2'), null);
  await a.cmd('qom-set', { path: 's1', property: 'in-use', value: true });
  t.deepEqual(await a.execute('object-del', { id: 's1' }), {
    error: { class: 'GenericError', desc: "object 's1' is in use, can not be deleted" },
  });
  await a.cmd('qom-set', { path: 's1', property: 'in-use', value: false });
  t.deepEqual(await a.cmd('object-del', { id: 's1' }), {});
});

test.serial('qom-list-types and qom-list-properties', async (t) => {
  const c = await client(t);
  const all = (await c.cmd('qom-list-types', {
    implements: 'tm-widget',
    abstract: true,
  })) as Array<{ name: string }>;
  t.deepEqual(
    all.sort((x, y) => (x.name < y.name ? -1 : 1)),
    [
      { name: 'tm-abstract', abstract: true, parent: 'tm-widget' },
      { name: 'tm-slow-widget', parent: 'tm-widget' },
      { name: 'tm-widget', parent: 'object' },
    ],
  );
  const concrete = (await c.cmd('qom-list-types', { implements: 'tm-widget' })) as Array<{
    name: string;
  }>;
  t.deepEqual(concrete.map((x) => x.name).sort(), ['tm-slow-widget', 'tm-widget']);
  t.deepEqual(await c.cmd('qom-list-properties', { typename: 'tm-widget' }), [
    { name: 'type', type: 'string' },
    { name: 'ro', type: 'string' },
    { name: 'size', type: 'uint64' },
    { name: 'label', type: 'string', description: 'What it says' },
    { name: 'flag', type: 'bool' },
    { name: 'in-use', type: 'bool' },
  ]);
  // Abstract: class properties only (no instance is made).
  t.deepEqual(
    (
      (await c.cmd('qom-list-properties', { typename: 'tm-abstract' })) as Array<{ name: string }>
    ).map((p) => p.name),
    ['type', 'ro', 'size', 'label', 'flag'],
  );
});

test.serial(
  'HMP views: qom-get pretty, qom-set from a string, object_add keyval, info qom-tree',
  async (t) => {
    const c = await client(t);
    const hmp = async (line: string): Promise<string> =>
      (await c.cmd('human-monitor-command', { 'command-line': line })) as string;
    t.is(await hmp('object_add tm-widget,id=h1,size=1k,flag=on,label=a,,b'), '');
    t.is(await hmp('qom-get h1 size'), '1024\r\n');
    t.is(await hmp('qom-get h1 label'), '"a,b"\r\n');
    t.is(await hmp('qom-set h1 flag off'), '');
    t.is(await hmp('qom-get h1 flag'), 'false\r\n');
    t.is(await hmp('qom-set h1 flag maybe'), "Error: Parameter 'flag' expects 'on' or 'off'\r\n");
    t.is(await hmp('qom-set -j h1 label "q"'), '');
    t.is(await hmp('qom-get h1 label'), '"q"\r\n');
    t.is(await hmp('object_add tm-widget,id=h2'), "Error: Parameter 'size' is missing\r\n");
    t.is(
      await hmp('object_add tm-widget,id=h2,size=1x'),
      "Error: Parameter 'size' expects size\r\n",
    );
    t.is(
      await hmp('object_add tm-widget,id=h2,size=1,flag=2'),
      "Error: Parameter 'flag' expects 'on' or 'off'\r\n",
    );
    t.is(await hmp('object_add {"qom-type":"tm-widget","id":"h2","size":2}'), '');
    t.is(
      await hmp('object_add tm-widget,help'),
      'tm-widget options:\r\n  flag=<bool>\r\n' +
        '  label=<string>'.padEnd(24) +
        ' - What it says\r\n  size=<uint64>\r\n',
    );
    t.is(
      await hmp('info qom-tree /objects'),
      '/objects (container)\r\n  /h1 (tm-widget)\r\n  /h2 (tm-widget)\r\n',
    );
    t.is(await hmp('qom-list h2').then((s) => s.split('\r\n')[0]), 'type (string)');
    t.is(await hmp('object_del h1'), '');
    t.is(await hmp('object_del h1'), "Error: object 'h1' not found\r\n");
    t.regex(await hmpCommandOutput('info qom-tree'), /^\/ \(container\)\r\n/);
    t.is(qomCompositionTree(objectGetObjectsRoot()), '/objects (container)\n  /h2 (tm-widget)\n');
    await objectAddFromStr('tm-widget,id=h3,size=3');
    t.is(await c.cmd('qom-get', { path: 'h3', property: 'size' }), 3);
    t.is(await hmp('help qom-list'), 'qom-list path -- list QOM properties\r\n');
    t.is(await hmp('help info qom-tree'), 'info qom-tree [path] -- show QOM composition tree\r\n');
  },
);
