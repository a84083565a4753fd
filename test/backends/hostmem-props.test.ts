import test from 'ava';
import { objectGetObjectsRoot } from '../../src/qom/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type JsonObject,
  type JsonValue,
  type ObjectClass,
  type QomObject,
  QomError,
  objectClassByName,
  objectNew,
  userCreatableAddType,
  userCreatableDel,
  objectCheck,
} from '../../src/qom/index.js';
import {
  HostMemoryBackend,
  TYPE_MEMORY_BACKEND,
  TYPE_MEMORY_BACKEND_FILE,
  TYPE_MEMORY_BACKEND_MEMFD,
  TYPE_MEMORY_BACKEND_RAM,
  TYPE_MEMORY_BACKEND_SHM,
  qemuMemfdCheck,
} from '../../src/backends/index.js';
import { MFD_HUGETLB } from '../../src/native/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostmem-props-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1 << 20;
let seq = 0;
const uid = (p: string): string => `${p}${process.pid}x${seq++}`;

/** What QEMU 7.2 reports for the abstract type (qom-list-properties), plus its order of definition. */
const BASE: [string, string, string | undefined][] = [
  ['merge', 'bool', 'Mark memory as mergeable'],
  ['dump', 'bool', "Set to 'off' to exclude from core dump"],
  ['prealloc', 'bool', 'Preallocate memory'],
  ['prealloc-threads', 'int', 'Number of CPU threads to use for prealloc'],
  [
    'prealloc-context',
    'link<thread-context>',
    'Context to use for creating CPU threads for preallocation',
  ],
  ['size', 'int', 'Size of the memory region (ex: 500M)'],
  ['host-nodes', 'int', 'Binds memory to the list of NUMA host nodes'],
  ['policy', 'HostMemPolicy', 'Set the NUMA policy'],
  ['share', 'bool', 'Mark the memory as private to QEMU or shared'],
  ['reserve', 'bool', 'Reserve swap space (or huge pages) if applicable'],
  ['x-use-canonical-path-for-ramblock-id', 'bool', undefined],
];

function ownProps(k: ObjectClass): [string, string, string | undefined][] {
  return [...k.ownProperties()].map((p) => [p.name, p.type, p.description]);
}

test('memory-backend is abstract and user-creatable, with every property as a class property', (t) => {
  const k = objectClassByName(TYPE_MEMORY_BACKEND)!;
  t.true(k.isAbstract);
  t.true(k.isA('user-creatable'));
  t.deepEqual(ownProps(k), BASE);
  for (const p of k.ownProperties()) {
    t.is(p.defval, undefined, `${p.name} has no default-value, as in QEMU`);
    t.truthy(p.get && p.set, `${p.name} is read-write`);
  }
  t.throws(() => objectNew(TYPE_MEMORY_BACKEND), {
    message: "object type 'memory-backend' is abstract",
  });
});

test('subtypes add QEMU properties (file, memfd) or none (ram, shm)', (t) => {
  t.deepEqual(ownProps(objectClassByName(TYPE_MEMORY_BACKEND_RAM)!), []);
  t.deepEqual(ownProps(objectClassByName(TYPE_MEMORY_BACKEND_SHM)!), []);
  t.deepEqual(ownProps(objectClassByName(TYPE_MEMORY_BACKEND_FILE)!), [
    ['discard-data', 'bool', undefined],
    ['mem-path', 'string', undefined],
    ['align', 'int', undefined],
    ['offset', 'int', 'Offset into the target file (ex: 1G)'],
    ['pmem', 'bool', undefined],
    ['readonly', 'bool', undefined],
    ['rom', 'OnOffAuto', 'Whether to create Read Only Memory (ROM)'],
  ]);
  const memfd: [string, string, string | undefined][] = [];
  if (qemuMemfdCheck(MFD_HUGETLB)) {
    memfd.push(
      ['hugetlb', 'bool', 'Use huge pages'],
      ['hugetlbsize', 'int', 'Huge pages size (ex: 2M, 1G)'],
    );
  }
  memfd.push(['seal', 'bool', 'Seal growing & shrinking']);
  t.deepEqual(ownProps(objectClassByName(TYPE_MEMORY_BACKEND_MEMFD)!), memfd);
  for (const type of [TYPE_MEMORY_BACKEND_RAM, TYPE_MEMORY_BACKEND_FILE]) {
    const k = objectClassByName(type)!;
    t.false(k.isAbstract);
    t.is(k.parent!.typeName, TYPE_MEMORY_BACKEND);
  }
});

const COMMON_DEFAULTS: JsonObject = {
  size: 0,
  merge: true,
  dump: true,
  prealloc: false,
  'prealloc-threads': 1,
  'prealloc-context': '',
  'host-nodes': [],
  policy: 'default',
  reserve: true,
  'x-use-canonical-path-for-ramblock-id': false,
};

const DEFAULTS: Record<string, JsonObject> = {
  [TYPE_MEMORY_BACKEND_RAM]: { ...COMMON_DEFAULTS, share: false },
  [TYPE_MEMORY_BACKEND_SHM]: { ...COMMON_DEFAULTS, share: true },
  [TYPE_MEMORY_BACKEND_MEMFD]: {
    ...COMMON_DEFAULTS,
    share: true,
    seal: true,
    ...(qemuMemfdCheck(MFD_HUGETLB) ? { hugetlb: false, hugetlbsize: 0 } : {}),
  },
  [TYPE_MEMORY_BACKEND_FILE]: {
    ...COMMON_DEFAULTS,
    share: false,
    'mem-path': '',
    align: 0,
    offset: 0,
    'discard-data': false,
    pmem: false,
    readonly: false,
    rom: 'auto',
  },
};

for (const [type, defaults] of Object.entries(DEFAULTS)) {
  test(`${type}: defaults as QEMU with -M none`, (t) => {
    using obj = objectCheck(objectNew(type), HostMemoryBackend);
    for (const [name, value] of Object.entries(defaults)) {
      t.deepEqual(obj.propertyGet(name), value, name);
    }
    t.is(obj.propertyGet('type'), type);
    t.throws(() => obj.propertySet('type', 'x'), {
      message: `Property '${type}.type' is not writable`,
    });
  });
}

/** Sets `name` from JSON on a fresh object and returns the error message (or null). */
function setErr(type: string, props: [string, JsonValue][]): string | null {
  using obj = objectNew(type);
  try {
    for (const [k, v] of props) obj.propertySet(k, v);
    return null;
  } catch (e) {
    t_assertQom(e);
    return (e as Error).message;
  }
}

function t_assertQom(e: unknown): void {
  if (!(e instanceof QomError)) throw e;
}

test('setter errors before creation, with QEMU 7.2 texts', (t) => {
  const ram = TYPE_MEMORY_BACKEND_RAM;
  t.is(setErr(ram, [['size', 0]]), "property 'size' of memory-backend-ram doesn't take value '0'");
  t.is(
    setErr(TYPE_MEMORY_BACKEND_MEMFD, [['size', 0]]),
    "property 'size' of memory-backend-memfd doesn't take value '0'",
  );
  t.is(setErr(ram, [['size', '1M']]), "Parameter 'size' expects uint64");
  t.is(setErr(ram, [['size', true]]), "Parameter 'size' expects uint64");
  t.is(
    setErr(ram, [['prealloc-threads', 0]]),
    "property 'prealloc-threads' of memory-backend-ram doesn't take value '0'",
  );
  t.is(
    setErr(ram, [['prealloc-threads', 4294967296]]),
    "Parameter 'prealloc-threads' expects uint32_t",
  );
  t.is(setErr(ram, [['host-nodes', [128]]]), 'Invalid host-nodes value: 128');
  t.is(setErr(ram, [['host-nodes', [0, 200]]]), 'Invalid host-nodes value: 200');
  t.is(setErr(ram, [['host-nodes', [65536]]]), "Parameter 'null' expects uint16_t");
  t.is(setErr(ram, [['policy', 'bogus']]), "Parameter 'policy' does not accept value 'bogus'");
  t.is(setErr(ram, [['merge', 1]]), "Invalid parameter type for 'merge', expected: boolean");
  const incompatible = "'prealloc=on' and 'reserve=off' are incompatible";
  t.is(
    setErr(ram, [
      ['prealloc', true],
      ['reserve', false],
    ]),
    incompatible,
  );
  t.is(
    setErr(ram, [
      ['reserve', false],
      ['prealloc', true],
    ]),
    incompatible,
  );
  t.is(
    setErr(ram, [
      ['reserve', false],
      ['prealloc', false],
    ]),
    null,
  );
  t.is(setErr(ram, [['prealloc-context', 'nothere']]), "Device 'nothere' not found");
  // /objects comes into being on first use, as in QEMU 7.2.
  objectGetObjectsRoot();
  t.is(
    setErr(ram, [['prealloc-context', '/objects']]),
    "Invalid parameter type for 'prealloc-context', expected: thread-context",
  );
  if (qemuMemfdCheck(MFD_HUGETLB)) {
    t.is(
      setErr(TYPE_MEMORY_BACKEND_MEMFD, [['hugetlbsize', 0]]),
      "Property 'memory-backend-memfd.hugetlbsize' doesn't take value '0'",
    );
  }
  t.is(
    setErr(TYPE_MEMORY_BACKEND_FILE, [['rom', 'maybe']]),
    "Parameter 'rom' does not accept value 'maybe'",
  );
});

test('string (command-line) values: sizes with suffixes, node ranges, on/off', (t) => {
  using obj = objectCheck(objectNew(TYPE_MEMORY_BACKEND_FILE), HostMemoryBackend);
  obj.propertyParse('size', '2M');
  obj.propertyParse('host-nodes', '0-2,5');
  obj.propertyParse('merge', 'off');
  obj.propertyParse('align', '64K');
  obj.propertyParse('policy', 'interleave');
  t.is(obj.propertyGet('size'), 2 * MiB);
  t.deepEqual(obj.propertyGet('host-nodes'), [0, 1, 2, 5]);
  t.is(obj.propertyGet('merge'), false);
  t.is(obj.propertyGet('align'), 65536);
  t.is(obj.propertyGet('policy'), 'interleave');
  t.is(obj.propertyPrint('host-nodes'), '0-2,5');
  // Nodes are only ever added, as in QEMU.
  obj.propertyParse('host-nodes', '7');
  t.deepEqual(obj.propertyGet('host-nodes'), [0, 1, 2, 5, 7]);
  t.throws(() => obj.propertyParse('size', '0'), {
    message: "property 'size' of memory-backend-file doesn't take value '0'",
  });
  const e = t.throws(() => obj.propertyParse('size', '1Q'), { instanceOf: QomError });
  t.is(e.message, "Parameter 'size' expects a non-negative number below 2^64");
  t.throws(() => obj.propertyParse('prealloc', 'maybe'), {
    message: "Parameter 'prealloc' expects 'on' or 'off'",
  });
});

test('object-add order: the first failing property wins and nothing is left in /objects', async (t) => {
  const id = uid('order');
  await t.throwsAsync(
    userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, id, { size: 0, 'prealloc-threads': 0 }),
    { message: "property 'size' of memory-backend-ram doesn't take value '0'" },
  );
  await t.throwsAsync(userCreatableAddType(TYPE_MEMORY_BACKEND_RAM, id, { size: MiB, bogus: 1 }), {
    message: "Property 'memory-backend-ram.bogus' not found",
  });
  await t.throwsAsync(userCreatableAddType(TYPE_MEMORY_BACKEND, id, { size: MiB }), {
    message: "object type 'memory-backend' is abstract",
  });
  t.throws(() => userCreatableDel(id), { message: `object '${id}' not found` });
});

async function created(
  type: string,
  props: JsonObject,
): Promise<{ obj: HostMemoryBackend; id: string } & Disposable> {
  const id = uid('c');
  const obj = (await userCreatableAddType(type, id, props)) as HostMemoryBackend;
  obj.unref();
  return {
    obj,
    id,
    [Symbol.dispose]: () => {
      if (!obj.finalized && obj.parent) userCreatableDel(id);
    },
  };
}

function errOf(obj: QomObject, name: string, value: JsonValue): string | null {
  try {
    obj.propertySet(name, value);
    return null;
  } catch (e) {
    t_assertQom(e);
    return (e as Error).message;
  }
}

test('after creation: size, share and reserve refuse; merge, dump, threads and the rest change', async (t) => {
  using c = await created(TYPE_MEMORY_BACKEND_RAM, { size: MiB });
  const o = c.obj;
  t.is(errOf(o, 'size', 2 * MiB), 'cannot change property size of memory-backend-ram ');
  t.is(errOf(o, 'size', 0), 'cannot change property size of memory-backend-ram ');
  for (const v of [true, false]) {
    t.is(errOf(o, 'share', v), 'cannot change property value');
    t.is(errOf(o, 'reserve', v), 'cannot change property value');
  }
  t.is(errOf(o, 'merge', false), null);
  t.is(o.propertyGet('merge'), false);
  t.is(errOf(o, 'dump', false), null);
  t.is(o.propertyGet('dump'), false);
  t.is(errOf(o, 'prealloc-threads', 4), null);
  t.is(o.propertyGet('prealloc-threads'), 4);
  t.is(
    errOf(o, 'prealloc-threads', 0),
    "property 'prealloc-threads' of memory-backend-ram doesn't take value '0'",
  );
  t.is(errOf(o, 'x-use-canonical-path-for-ramblock-id', true), null);
  t.is(errOf(o, 'host-nodes', [0]), null);
  t.deepEqual(o.propertyGet('host-nodes'), [0]);
  t.is(errOf(o, 'policy', 'bind'), null);
  t.is(o.propertyGet('policy'), 'bind');
  t.is(o.propertyGet('size'), MiB);
  t.is(o.propertyGet('share'), false);
});

test('file backend after creation: texts with and without a trailing period; discard-data changes', async (t) => {
  using c = await created(TYPE_MEMORY_BACKEND_FILE, { size: MiB, 'mem-path': dir });
  const o = c.obj;
  t.is(errOf(o, 'mem-path', '/tmp'), "cannot change property 'mem-path' of memory-backend-file");
  t.is(errOf(o, 'align', 4096), "cannot change property 'align' of memory-backend-file");
  t.is(errOf(o, 'offset', 4096), "cannot change property 'offset' of memory-backend-file");
  t.is(errOf(o, 'readonly', true), "cannot change property 'readonly' of memory-backend-file.");
  t.is(errOf(o, 'pmem', true), "cannot change property 'pmem' of memory-backend-file.");
  t.is(errOf(o, 'rom', 'on'), "cannot change property 'rom' of memory-backend-file.");
  t.is(errOf(o, 'discard-data', true), null);
  t.is(o.propertyGet('discard-data'), true);
  t.is(o.propertyGet('mem-path'), dir);
  // rom=auto was resolved at allocation, as in QEMU.
  t.is(o.propertyGet('rom'), 'off');
});

test('memfd backend after creation: hugetlbsize refuses, hugetlb and seal are accepted', async (t) => {
  using c = await created(TYPE_MEMORY_BACKEND_MEMFD, { size: MiB });
  const o = c.obj;
  if (qemuMemfdCheck(MFD_HUGETLB)) {
    t.is(errOf(o, 'hugetlbsize', 0), 'cannot change property value');
    t.is(errOf(o, 'hugetlbsize', 2 * MiB), 'cannot change property value');
    t.is(errOf(o, 'hugetlb', true), null);
  }
  t.is(errOf(o, 'seal', false), null);
  t.is(o.propertyGet('seal'), false);
  t.is(o.propertyGet('share'), true);
});
