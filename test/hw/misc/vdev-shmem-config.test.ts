import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QomError } from '../../../src/util/error.js';
import {
  VdevShmemConfigError,
  mergeVdevShmemConfig,
  parseVdevShmemOptions,
  resolveVdevShmemConfig,
  vdevShmemConfigFromProps,
  vdevShmemGuestMode,
  vdevShmemPolicy,
  type VdevShmemConfig,
  type VdevShmemProps,
} from '../../../src/hw/misc/vdev-shmem-config.js';
import { scenarios } from './vdev-shmem-table.js';

function fromProps(props: VdevShmemProps): VdevShmemConfig {
  return vdevShmemConfigFromProps(props).config;
}

for (const s of scenarios) {
  test(`both sources: ${s.title}`, (t) => {
    const a = parseVdevShmemOptions(s.qnx, 'test.conf');
    const b = fromProps(s.props);
    t.deepEqual(a, b, 'the two sources give the same configuration');
    t.deepEqual(a.rules, s.rules);
    t.deepEqual(a.subst, s.subst);
    t.deepEqual(
      a.creates.map((c) => [c.name, c.hostName]),
      s.creates ?? [],
    );
    for (const cfg of [a, b]) {
      const p = vdevShmemPolicy(cfg);
      for (const [name, status, hostName] of s.cases) {
        const d = p.decide(name);
        t.is(d.status, status, `decide(${JSON.stringify(name)})`);
        t.is(d.hostName, status === 'ok' ? hostName : undefined);
      }
    }
  });
}

test('a one-line QNX block with every option', (t) => {
  const cfg = parseVdevShmemOptions(
    'vdev shmem loc 0x1c0000 intr gic:45 sched 10 umask 022 gid 100 create wombat,0x2000 create koala,8K,0640,staff allow test* deny x',
  );
  t.deepEqual(cfg, {
    loc: 0x1c0000n,
    intr: { controller: 'gic', line: 45 },
    sched: 10,
    umask: 0o22,
    gid: 100,
    creates: [
      {
        name: 'wombat',
        hostName: 'wombat',
        size: 0x2000n,
        pages: 2n,
        mode: 0o600,
        gid: 100,
        subst: false,
      },
      {
        name: 'koala',
        hostName: 'koala',
        size: 8192n,
        pages: 2n,
        mode: 0o640,
        gid: 'staff',
        subst: false,
      },
    ],
    rules: [
      { action: 'allow', pattern: 'test*' },
      { action: 'deny', pattern: 'x' },
    ],
  });
  t.is(vdevShmemGuestMode(cfg), 0o600);
});

test('the QNX documentation example block', (t) => {
  const cfg = parseVdevShmemOptions(
    [
      'vdev shmem',
      '  create TEST1,0xf0000  # name is TEST1 with size of 0xf0000',
      '  loc 0x10000000    # location of factory page',
      '  intr myioapic:10  # hardware interrupt used for signaling',
      '',
    ].join('\n'),
  );
  t.is(cfg.loc, 0x10000000n);
  t.deepEqual(cfg.intr, { controller: 'myioapic', line: 10 });
  t.deepEqual(cfg.creates, [
    { name: 'TEST1', hostName: 'TEST1', size: 0xf0000n, pages: 0xf0n, mode: 0o600, subst: false },
  ]);
});

test('QNX syntax details: loc without address, sizes rounded to pages, umask and gid apply forward, no execute bits', (t) => {
  const cfg = parseVdevShmemOptions(
    'loc intr 5 create a,1 umask 077 create b,4097 gid 7 create c,1,0777 create d,1,0755,9',
  );
  t.is(cfg.loc, undefined);
  t.deepEqual(cfg.intr, { line: 5 });
  t.is(parseVdevShmemOptions('loc 010').loc, 8n, 'numbers are C numbers: a leading 0 means octal');
  t.is(parseVdevShmemOptions('loc 0').loc, 0n);
  t.is(fromProps({ loc: '010' }).loc, 8n);
  t.deepEqual(
    cfg.creates.map((c) => [c.name, c.pages, c.mode.toString(8), c.gid]),
    [
      ['a', 1n, '600', undefined],
      ['b', 2n, '600', undefined],
      ['c', 1n, '600', 7],
      ['d', 1n, '600', 9],
    ],
  );
  t.is(cfg.umask, 0o77);
  t.is(cfg.gid, 7);
});

test('QNX syntax: quotes, comments and # inside words', (t) => {
  const cfg = parseVdevShmemOptions(
    'allow "a b*" # comment\n# whole line\ndeny x#y\nallow "q\\"uote"',
  );
  t.deepEqual(cfg.rules, [
    { action: 'allow', pattern: 'a b*' },
    { action: 'deny', pattern: 'x#y' },
    { action: 'allow', pattern: 'q"uote' },
  ]);
});

test('QNX syntax errors, with file and line', (t) => {
  const cases: [string, string][] = [
    ['allow a\nbogus', "f.conf:2: unknown vdev shmem option 'bogus'"],
    ['allow', "f.conf:1: option 'allow' needs an argument"],
    ['subst ,a\nsubst ,b', 'f.conf:2: only one subst option is allowed'],
    ['subst abc', "f.conf:1: subst takes [match],prefix, not 'abc'"],
    ['subst abc,', 'f.conf:1: subst prefix must not be empty'],
    ['subst ,a/b', "f.conf:1: subst prefix 'a/b' contains '/' or NUL"],
    ['create wombat', "f.conf:1: create takes name,size[,mode[,gid]], not 'wombat'"],
    ['create wombat,0', 'f.conf:1: size must not be zero'],
    ['create wombat,lots', "f.conf:1: invalid size 'lots'"],
    ['create wombat,1,999', "f.conf:1: invalid mode '999' (octal expected)"],
    ['create a/b,1', "f.conf:1: create name 'a/b': name contains '/'"],
    ['create ,1', "f.conf:1: create name '': empty name"],
    ['create w,1\n\ncreate w,2', "f.conf:3: region 'w' created twice"],
    [
      `subst ,vm1_ create ${'a'.repeat(29)},1`,
      `f.conf:1: create name '${'a'.repeat(29)}': name plus subst prefix longer than 32 characters`,
    ],
    ['allow [[:foo:]]', "f.conf:1: invalid pattern '[[:foo:]]': unknown character class '[:foo:]'"],
    ['deny abc\\', "f.conf:1: invalid pattern 'abc\\': trailing backslash"],
    ['intr gic:', "f.conf:1: invalid intr 'gic:'"],
    ['intr 5 intr 6', "f.conf:1: option 'intr' given twice"],
    ['loc 0x1000 loc 0x2000', "f.conf:1: option 'loc' given twice"],
    ['loc 0xzz', "f.conf:1: invalid loc '0xzz'"],
    ['loc x', "f.conf:1: unknown vdev shmem option 'x'"],
    ['loc 12ab', "f.conf:1: invalid loc '12ab'"],
    ['sched 256', "f.conf:1: sched priority '256' out of range"],
    ['sched 08', "f.conf:1: invalid sched priority '08'"],
    ['intr -1', "f.conf:1: invalid intr '-1'"],
    ['umask 1777', "f.conf:1: umask '1777' out of range"],
    ['vdev ser8250', "f.conf:1: expected 'vdev shmem'"],
    ['allow "abc', 'f.conf:1: unterminated quote'],
    ['create w,0x100000000000', "f.conf:1: size '0x100000000000' larger than 0xffffffff pages"],
  ];
  for (const [text, msg] of cases) {
    const e = t.throws(() => parseVdevShmemOptions(text, 'f.conf'), {
      instanceOf: VdevShmemConfigError,
    });
    t.is(e?.message, msg, JSON.stringify(text));
    t.true(e instanceof QomError);
    t.is(e?.errorClass, 'GenericError');
  }
});

test('properties: keyval strings and JSON values give the same configuration', (t) => {
  const a = fromProps({
    loc: '0x1c0000',
    intr: '45',
    'create.0.name': 'w',
    'create.0.size': '1M',
    'create.0.mode': '0600',
    'create.0.gid': 'staff',
    'rules.0.allow': 'w*',
  });
  const b = fromProps({
    loc: 0x1c0000n,
    intr: 45,
    create: [{ name: 'w', size: 1048576, mode: 0o600, gid: 'staff' }],
    rules: [{ allow: 'w*' }],
  });
  t.deepEqual(a, b);
  t.is(a.creates[0]!.pages, 256n);
  t.deepEqual(fromProps({ intr: 'gic:45' }).intr, { controller: 'gic', line: 45 });
  t.deepEqual(vdevShmemConfigFromProps({ config: '/x/y.conf' }), {
    config: { umask: 0, creates: [], rules: [] },
    configFile: '/x/y.conf',
  });
});

test('property errors use QEMU texts', (t) => {
  const cases: [VdevShmemProps, string][] = [
    [{ foo: '1' }, "Property 'vdev-shmem.foo' not found"],
    [{ 'create.1.name': 'a', 'create.1.size': '1' }, "Parameter 'create.0' missing"],
    [{ 'create.x.name': 'a' }, "Invalid parameter 'create.x.name'"],
    [{ 'create.0.name': 'a' }, "Parameter 'create.0.size' is missing"],
    [{ 'create.0.size': '1' }, "Parameter 'create.0.name' is missing"],
    [
      { 'create.0.name': 'a', 'create.0.size': 'big' },
      "Parameter 'create.0.size': invalid size 'big'",
    ],
    [
      { 'create.0.name': 'a', 'create.0.size': '1', 'create.0.colour': 'red' },
      "Invalid parameter 'create.0.colour'",
    ],
    [
      { 'create.0.name': 'a', 'create.0.size': '1', 'create.0.subst': 'maybe' },
      "Parameter 'create.0.subst' expects 'on' or 'off'",
    ],
    [
      { 'create.0.name': 'a', 'create.0.size': '1', 'create.1.name': 'a', 'create.1.size': '2' },
      "Parameter 'create.1': region 'a' created twice",
    ],
    [
      { 'rules.0.allow': 'a', 'rules.0.deny': 'b' },
      "Parameter 'rules.0' needs exactly one of 'allow' and 'deny'",
    ],
    [{ 'rules.0.permit': 'a' }, "Invalid parameter 'rules.0.permit'"],
    [
      { 'rules.0.allow': '[[:foo:]]' },
      "Parameter 'rules.0.allow': invalid pattern '[[:foo:]]': unknown character class '[:foo:]'",
    ],
    [{ loc: 'here' }, "Parameter 'loc' expects a uint64 value"],
    [{ intr: 'x:y' }, "Parameter 'intr': invalid intr 'x:y'"],
    [{ 'subst.match': 'a' }, "Parameter 'subst.prefix' is missing"],
    [{ 'subst.prefix': '' }, "Parameter 'subst': subst prefix must not be empty"],
    [{ 'rules.0.allow': 1 }, "Invalid parameter type for 'rules.0.allow', expected: string"],
  ];
  for (const [props, msg] of cases) {
    const e = t.throws(() => vdevShmemConfigFromProps(props), { instanceOf: VdevShmemConfigError });
    t.is(
      e?.message,
      msg,
      JSON.stringify(props, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
    );
  }
});

test('config=PATH reads a QNX block and merges it with the properties', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-vdev-shmem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'shmem.conf');
  const s = scenarios.find((x) => x.title.startsWith('subst applies'))!;
  writeFileSync(file, `vdev shmem\n intr 45\n${s.qnx}`);
  const cfg = resolveVdevShmemConfig({ config: file, loc: '0x1c0000', intr: 45 });
  t.deepEqual(cfg, { ...fromProps(s.props), loc: 0x1c0000n, intr: { line: 45 } });

  t.is(
    t.throws(() => resolveVdevShmemConfig({ config: file, intr: 46 }))?.message,
    "'intr' differs between the properties and the 'config' file",
  );
  t.is(
    t.throws(() => resolveVdevShmemConfig({ config: file, 'rules.0.allow': 'x' }))?.message,
    "'config' cannot be combined with 'create', 'rules', 'subst', 'umask' or 'gid'",
  );
  const missing = join(dir, 'nope.conf');
  t.is(
    t.throws(() => resolveVdevShmemConfig({ config: missing }), {
      instanceOf: VdevShmemConfigError,
    })?.message,
    `Could not open '${missing}': No such file or directory`,
  );
  writeFileSync(file, 'allow a\nfrobnicate\n');
  t.is(
    t.throws(() => resolveVdevShmemConfig({ config: file }))?.message,
    `${file}:2: unknown vdev shmem option 'frobnicate'`,
  );
});

test('config files keep every byte of a name (read as Latin-1)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-vdev-shmem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'shmem.conf');
  writeFileSync(file, Buffer.from([...Buffer.from('create caf'), 0xe9, ...Buffer.from(',4K\n')]));
  const cfg = resolveVdevShmemConfig({ config: file });
  t.is(cfg.creates[0]!.name, 'caf\u00e9');
});

test('merge keeps the file when the properties only place the device', (t) => {
  const file = parseVdevShmemOptions('intr gic:3 allow a*');
  const merged = mergeVdevShmemConfig(fromProps({ loc: '4096', intr: '3' }), file);
  t.deepEqual(merged, { ...file, loc: 4096n, intr: { controller: 'gic', line: 3 } });
  t.is(
    t.throws(() => mergeVdevShmemConfig(fromProps({ intr: 'apic:3' }), file))?.message,
    "'intr' differs between the properties and the 'config' file",
  );
});
