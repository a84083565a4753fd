import test from 'ava';
import {
  QemuOptsList,
  QemuOptsError,
  qemuOptGet,
  idWellformed,
} from '../../src/util/qemu-option.js';

const objectList = (): QemuOptsList => new QemuOptsList('object', 'qom-type');

test('implied key, id, and values in order', (t) => {
  const g = objectList().parse('memory-backend-ram,id=m0,size=1M,share=on');
  t.is(g.id, 'm0');
  t.deepEqual(g.opts, [
    { name: 'qom-type', str: 'memory-backend-ram' },
    { name: 'size', str: '1M' },
    { name: 'share', str: 'on' },
  ]);
  t.false(g.helpWanted);
  t.deepEqual(g.warnings, []);
});

test(',, is a literal comma in values, including the implied one', (t) => {
  const g = objectList().parse('a,,b=c,mem-path=/tmp/x,,y,size=1');
  t.is(qemuOptGet(g, 'qom-type'), 'a,b=c');
  t.is(qemuOptGet(g, 'mem-path'), '/tmp/x,y');
  t.is(qemuOptGet(g, 'size'), '1');
});

test('an id with an escaped comma is not an identifier (QEMU 7.2 text and hint)', (t) => {
  const e = t.throws(() => objectList().parse('memory-backend-ram,id=a,,b,size=1M'), {
    instanceOf: QemuOptsError,
  });
  t.is(e?.message, "Parameter 'id' expects an identifier");
  t.is(e?.hint, "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n");
  t.throws(() => objectList().parse('memory-backend-ram,id=0x,size=1M'), {
    message: "Parameter 'id' expects an identifier",
  });
});

test('duplicate ids in one list are refused; del frees the id', (t) => {
  const l = objectList();
  l.parse('memory-backend-ram,id=x,size=1M');
  t.throws(() => l.parse('memory-backend-ram,id=x,size=1M'), {
    message: "Duplicate ID 'x' for object",
  });
  l.del('x');
  t.notThrows(() => l.parse('memory-backend-ram,id=x,size=2M'));
});

test('short-form booleans turn into on/off and warn as QEMU 7.2 does', (t) => {
  const g = objectList().parse('memory-backend-ram,id=x,size=1M,noshare,merge');
  t.is(qemuOptGet(g, 'share'), 'off');
  t.is(qemuOptGet(g, 'merge'), 'on');
  t.deepEqual(g.warnings, [
    "short-form boolean option 'noshare' deprecated\nPlease use share=off instead",
    "short-form boolean option 'merge' deprecated\nPlease use merge=on instead",
  ]);
  const d = new QemuOptsList('chardev', 'backend').parse('socket,id=c,nodelay');
  t.is(
    d.warnings[0],
    "short-form boolean option 'nodelay' deprecated\nPlease use nodelay=on instead",
  );
});

test('help and ? ask for help; as the implied value they are just the type name', (t) => {
  t.true(objectList().parse('memory-backend-ram,help').helpWanted);
  t.true(objectList().parse('memory-backend-ram,?').helpWanted);
  const g = objectList().parse('help');
  t.false(g.helpWanted);
  t.is(qemuOptGet(g, 'qom-type'), 'help');
});

test('repeated keys are all kept; lookups see the last', (t) => {
  const g = objectList().parse(
    'memory-backend-ram,id=x,host-nodes=0,host-nodes=1,merge=on,merge=off',
  );
  t.deepEqual(
    g.opts.filter((o) => o.name === 'host-nodes').map((o) => o.str),
    ['0', '1'],
  );
  t.is(qemuOptGet(g, 'merge'), 'off');
});

test('empty implied value and empty strings', (t) => {
  const g = objectList().parse(',id=x');
  t.is(qemuOptGet(g, 'qom-type'), ''); // QEMU 7.2: "does not accept value ''"
  t.is(g.id, 'x');
  t.deepEqual(objectList().parse('').opts, []);
  t.is(qemuOptGet(objectList().parse('t,a='), 'a'), '');
});

test('idWellformed', (t) => {
  for (const ok of ['a', 'a0', 'a-b.c_d', 'Z']) t.true(idWellformed(ok), ok);
  for (const bad of ['', '0a', '-a', 'a b', 'a,b', 'a/b', '_a']) t.false(idWellformed(bad), bad);
});
