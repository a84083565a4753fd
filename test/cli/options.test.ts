import test from 'ava';
import { parseArgv, CliError, usage } from '../../src/cli/options.js';

test('options keep their order and arguments; -M and --machine are -machine', (t) => {
  const opts = parseArgv([
    '-M',
    'none',
    '--object',
    'memory-backend-ram,id=m,size=1M',
    '-S',
    '-nodefaults',
    '-display',
    'none',
    '-qmp',
    'unix:/x,server=on,wait=off',
    '--machine',
    'none',
  ]);
  t.deepEqual(
    opts.map((o) => [o.name, o.arg]),
    [
      ['machine', 'none'],
      ['object', 'memory-backend-ram,id=m,size=1M'],
      ['S', undefined],
      ['nodefaults', undefined],
      ['display', 'none'],
      ['qmp', 'unix:/x,server=on,wait=off'],
      ['machine', 'none'],
    ],
  );
});

test("QEMU's texts for an unknown option and a missing argument", (t) => {
  t.throws(() => parseArgv(['-bogus']), {
    instanceOf: CliError,
    message: '-bogus: invalid option',
  });
  t.throws(() => parseArgv(['-object']), { message: '-object: requires an argument' });
  t.throws(() => parseArgv(['-S', '--qmp']), { message: '--qmp: requires an argument' });
});

test('a bare argument (a disk image to QEMU) is refused with a reason', (t) => {
  t.throws(() => parseArgv(['disk.img']), { message: /disk\.img: disk images are not supported/ });
});

test('usage lists every option once', (t) => {
  const u = usage('tsqom');
  for (const o of [
    '-object',
    '-device',
    '-chardev',
    '-qmp',
    '-qtest',
    '-machine',
    '-S',
    '-nodefaults',
    '-version',
    '-help',
  ]) {
    t.true(u.includes(`\n${o}`), o);
  }
  t.false(u.includes('\n-h\n'));
});
