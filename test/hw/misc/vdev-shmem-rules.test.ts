import test from 'ava';
import { spawnSync } from 'node:child_process';
import {
  FnmatchPatternError,
  ShmemPolicy,
  applySubst,
  checkFnmatchPattern,
  checkShmemName,
  fnmatch,
  hostShmemName,
} from '../../../src/hw/misc/vdev-shmem-rules.js';
import { scenarios } from './vdev-shmem-table.js';

test('the decision table has at least 40 cases', (t) => {
  const count = scenarios.reduce((a, s) => a + s.cases.length, 0);
  t.true(count >= 40, `only ${count} cases`);
});

for (const s of scenarios) {
  test(`policy: ${s.title}`, (t) => {
    const p = new ShmemPolicy({ rules: s.rules, ...(s.subst ? { subst: s.subst } : {}) });
    for (const [name, status, hostName] of s.cases) {
      const d = p.decide(name);
      t.is(d.status, status, `decide(${JSON.stringify(name)})`);
      t.is(
        d.hostName,
        status === 'ok' ? hostName : undefined,
        `hostName for ${JSON.stringify(name)}`,
      );
    }
  });
}

test('the implicit rule: deny when any rule allows, allow otherwise', (t) => {
  t.is(new ShmemPolicy().defaultAction, 'allow');
  t.is(new ShmemPolicy({ rules: [{ action: 'deny', pattern: 'x' }] }).defaultAction, 'allow');
  t.is(new ShmemPolicy({ rules: [{ action: 'allow', pattern: 'x' }] }).defaultAction, 'deny');
  t.is(
    new ShmemPolicy({
      rules: [
        { action: 'deny', pattern: 'x' },
        { action: 'allow', pattern: 'y' },
      ],
    }).defaultAction,
    'deny',
  );
});

test('decide() names the deciding rule', (t) => {
  const p = new ShmemPolicy({
    rules: [
      { action: 'deny', pattern: 'pluto' },
      { action: 'allow', pattern: 'pluto*' },
    ],
  });
  t.deepEqual(p.decide('pluto'), { status: 'no-permission', rule: 0 });
  t.deepEqual(p.decide('plutoplanet'), { status: 'ok', hostName: 'plutoplanet', rule: 1 });
  t.deepEqual(p.decide('mars'), { status: 'no-permission', rule: 'implicit' });
  const bad = p.decide('a/b');
  t.is(bad.status, 'illegal-name');
  t.is(bad.reason, "name contains '/'");
  t.is(bad.rule, undefined);
});

test('a policy is immutable and copies its inputs', (t) => {
  const rules = [{ action: 'allow' as const, pattern: 'a*' }];
  const p = new ShmemPolicy({ rules });
  rules[0]!.pattern = 'b*';
  t.is(p.decide('abc').status, 'ok');
  t.throws(() => {
    (p.rules as { action: string; pattern: string }[]).push({ action: 'deny', pattern: 'x' });
  });
  t.true(Object.isFrozen(p.rules[0]));
});

test('a policy refuses patterns fnmatch cannot use', (t) => {
  const e = t.throws(
    () => new ShmemPolicy({ rules: [{ action: 'allow', pattern: '[[:foo:]]' }] }),
    {
      instanceOf: FnmatchPatternError,
    },
  );
  t.is(e?.message, "invalid pattern '[[:foo:]]': unknown character class '[:foo:]'");
});

test('name checks', (t) => {
  t.is(checkShmemName('ok'), undefined);
  t.is(checkShmemName('a'.repeat(32)), undefined);
  t.is(checkShmemName(''), 'empty name');
  t.is(checkShmemName('a'.repeat(33)), 'name longer than 32 characters');
  t.is(checkShmemName('a/b'), "name contains '/'");
  t.is(checkShmemName('a\0b'), 'name contains NUL');
  t.is(checkShmemName('..'), "'..' is not a region name");
  t.is(checkShmemName('\u0100'), 'name contains a character above U+00FF');
  t.is(checkShmemName('caf\u00e9'), undefined);
});

test('subst: first occurrence, prepend, unchanged when absent', (t) => {
  t.is(applySubst('abc', undefined), 'abc');
  t.is(applySubst('abc', { match: '', prefix: 'p_' }), 'p_abc');
  t.is(applySubst('xabcabc', { match: 'abc', prefix: 'Z' }), 'xZabc');
  t.is(applySubst('xyz', { match: 'abc', prefix: 'Z' }), 'xyz');
  t.deepEqual(hostShmemName('abc', { match: '', prefix: 'p_' }), { hostName: 'p_abc' });
  t.deepEqual(hostShmemName('a'.repeat(31), { match: '', prefix: 'p_' }), {
    reason: 'name plus subst prefix longer than 32 characters',
  });
  // The limit is the documented one (name plus prefix), even when the
  // replacement makes the host name shorter.
  t.deepEqual(hostShmemName('guest_' + 'a'.repeat(26), { match: 'guest_', prefix: 'vm_' }), {
    reason: 'name plus subst prefix longer than 32 characters',
  });
  t.deepEqual(hostShmemName('xa', { match: 'xa', prefix: '..' }), {
    reason: "host name '..': '..' is not a region name",
  });
});

// fnmatch: a table of glibc's answers (fnmatch(3), flags 0, C locale).
const fnmatchTable: [string, string, boolean][] = [
  ['*', '', true],
  ['*', '.x', true],
  ['*', 'a/b', true],
  ['?', '/', true],
  ['?', '', false],
  ['a*b', 'ab', true],
  ['a*b', 'axxb', true],
  ['a*b', 'axxbc', false],
  ['*a*a*a', 'aaaa', true],
  ['*a*a*b', 'aaaaaaaaaaaaaaaaaaaa', false],
  ['\\*', '*', true],
  ['\\*', 'a', false],
  ['\\a', 'a', true],
  ['[', '[', true],
  ['[a', '[a', true],
  ['a[', 'a[', true],
  ['[!', '[!', true],
  ['[a-z', '[a-z', true],
  ['[]', ']', false],
  ['[]', '[]', true],
  ['[]]', ']', true],
  ['[]a]', 'a', true],
  ['[!]]', 'a', true],
  ['[!]]', ']', false],
  ['[^a]', 'b', true],
  ['[^a]', 'a', false],
  ['[a-]', '-', true],
  ['[-a]', '-', true],
  ['[z-a]', 'm', false],
  ['[z-a]', 'z', false],
  ['[--0]', '.', true],
  ['[]-a]', '^', true],
  ['[]-a]', 'b', false],
  ['[\\]]', ']', true],
  ['[\\]]', '\\', false],
  ['[a\\-z]', 'm', false],
  ['[a\\-z]', '-', true],
  ['[\\a-c]', 'b', true],
  ['[[:alpha:]]', 'a', true],
  ['[[:alpha:]]', '\u00e9', false],
  ['[[:digit:][:upper:]]', 'Q', true],
  ['[[:digit:][:upper:]]', 'q', false],
  ['[[:xdigit:]]', 'F', true],
  ['[[:xdigit:]]', 'g', false],
  ['[[:punct:]]', '!', true],
  ['[[:space:]]', '\t', true],
  ['[[:blank:]]', '\n', false],
  ['[[.a.]]', 'a', true],
  ['[[=b=]]', 'b', true],
  ['[[.-.]]', '-', true],
  ['[*]', '*', true],
  ['[!a-c]', '\u00e9', true],
  ['[\u0080-\u00ff]', '\u00e9', true],
  ['[[:foo:]]', 'a', false],
  ['[[:alpha:]', 'a', false],
  ['a\\', 'a\\', false],
];

test('fnmatch agrees with glibc on a table of edge cases', (t) => {
  for (const [p, s, want] of fnmatchTable)
    t.is(fnmatch(p, s), want, `fnmatch(${JSON.stringify(p)}, ${JSON.stringify(s)})`);
});

test('checkFnmatchPattern rejects what glibc cannot match', (t) => {
  for (const [p, reason] of [
    ['', 'empty pattern'],
    ['[[:foo:]]', "unknown character class '[:foo:]'"],
    ['[[:alpha:]', "unterminated '['"],
    ['[[:', "unterminated '[:'"],
    ['[[.space.]]', "unknown collating element '[.space.]'"],
    ['[a-[:alpha:]]', 'a character class cannot end a range'],
    ['[[:alpha:]-z]', 'a character class cannot start a range'],
    ['abc\\', 'trailing backslash'],
  ] as const) {
    const e = t.throws(() => checkFnmatchPattern(p), { instanceOf: FnmatchPatternError });
    t.is(e?.message, `invalid pattern '${p}': ${reason}`);
  }
  for (const p of ['*', '[', 'a[', '[]]', '[!]]', '\\*', '[[:alpha:]]'])
    t.notThrows(() => checkFnmatchPattern(p));
});

// Differential test against the host C library's fnmatch(3) (glibc, C
// locale), through Python's ctypes: thousands of random valid patterns.
test('fnmatch agrees with glibc fnmatch(3) on random patterns', (t) => {
  let seed = 20240607;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = [
    'a',
    'b',
    'c',
    'z',
    '-',
    '*',
    '?',
    '[',
    ']',
    '!',
    '^',
    '\\',
    '.',
    ':',
    '[:alpha:]',
    '[:digit:]',
    '[.a.]',
    '[=b=]',
    'A',
    '0',
    '9',
    ' ',
  ];
  const chars = 'abcz-[]!^\\.:A09 _'.split('');
  const cases: [string, string][] = [];
  while (cases.length < 8000) {
    let p = '';
    for (let i = 1 + rnd(7); i > 0; i--) p += pieces[rnd(pieces.length)];
    try {
      checkFnmatchPattern(p);
    } catch {
      continue;
    }
    for (let j = 0; j < 4; j++) {
      let s = '';
      for (let i = rnd(5); i > 0; i--) s += chars[rnd(chars.length)];
      cases.push([p, s]);
    }
  }
  const py = [
    'import ctypes, json, sys',
    'libc = ctypes.CDLL("libc.so.6")',
    'libc.fnmatch.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]',
    'cases = json.load(sys.stdin)',
    "print(json.dumps([libc.fnmatch(p.encode('latin1'), s.encode('latin1'), 0) == 0 for p, s in cases]))",
  ].join('\n');
  const r = spawnSync('python3', ['-c', py], {
    input: JSON.stringify(cases),
    env: { ...process.env, LC_ALL: 'C' },
  });
  t.is(r.status, 0, r.stderr?.toString());
  const glibc = JSON.parse(r.stdout.toString()) as boolean[];
  t.is(glibc.length, cases.length);
  const diffs = cases.filter(([p, s], i) => fnmatch(p, s) !== glibc[i]);
  t.deepEqual(diffs.slice(0, 10), []);
  // Both answers occur, so the comparison is not vacuous.
  t.true(glibc.some((x) => x) && glibc.some((x) => !x));
});
