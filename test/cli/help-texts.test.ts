/**
 * `-device help`, `-device TYPE,help`, `-chardev help` and `-M none,help`,
 * differential against QEMU 7.2 where QEMU has the same thing to say.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { runTsqom } from '../helpers/cli/run.js';
import { QEMU_BINARY } from '../helpers/qemu/qemu.js';

function qemu(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(QEMU_BINARY, ['-nodefaults', '-display', 'none', ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('-M none,help prints the machine options, each line as QEMU prints it', async (t) => {
  const q = qemu(['-M', 'none,help']);
  const s = await runTsqom(['-M', 'none,help']);
  t.is(s.code, 0);
  const [head, ...lines] = s.stdout.trimEnd().split('\n');
  t.is(head, 'none-machine options:');
  t.true(q.stdout.startsWith('none-machine options:\n'));
  const qemuLines = new Set(q.stdout.split('\n'));
  t.true(lines.length >= 3);
  for (const l of lines) t.true(qemuLines.has(l), l);
});

test('-device TYPE,help errors: unknown and abstract types, exit status 0', async (t) => {
  for (const arg of ['bogus,help', 'device,help']) {
    const q = qemu(['-device', arg]);
    const s = await runTsqom(['-device', arg]);
    t.is(s.code, q.code, arg);
    t.is(s.stderr.replace(/^tsqom:/, ''), q.stderr.replace(/^qemu-system-x86_64:/, ''), arg);
    t.is(s.stdout, '');
  }
});

test('-device help lists the device types in QEMU layout', async (t) => {
  const s = await runTsqom(['-device', 'help']);
  t.is(s.code, 0);
  // QEMU's category header ("\nMisc devices:" after the first category) and line shape.
  t.regex(s.stdout, /^\nMisc devices:\n(name "[^"]+"(, desc "[^"]*")?\n)+$/);
  t.regex(s.stdout, /name "vhost-user-device", desc "generic vhost-user device"\n/);
  const q = qemu(['-device', 'help']);
  t.regex(q.stdout, /\nMisc devices:\nname "[^"]+"/);
});

test('-device TYPE,help prints the properties as QEMU formats them', async (t) => {
  const s = await runTsqom(['-device', 'vhost-user-device,help']);
  t.is(s.code, 0);
  t.regex(s.stdout, /^vhost-user-device options:\n/);
  t.regex(s.stdout, /\n {2}chardev=<str> {10}- ID of a chardev to use as a backend\n/);
  // QEMU's shape for the same kind of line: name=<type>, padding, " - ", default.
  const q = qemu(['-device', 'pc-dimm,help']);
  t.regex(q.stdout, /\n {2}addr=<uint64> {10}- {2}\(default: 0\)\n/);
  t.regex(s.stdout, /\n {2}num_vqs=<uint32> {7}- {2}\(default: 1\)\n/);
});

test('-chardev help names the backend types with QEMU header', async (t) => {
  const s = await runTsqom(['-chardev', 'help']);
  const q = qemu(['-chardev', 'help']);
  t.is(s.code, 0);
  t.is(s.stdout.split('\n')[0], q.stdout.split('\n')[0]);
  const qemuLines = new Set(q.stdout.split('\n'));
  for (const l of s.stdout.trimEnd().split('\n').slice(1)) t.true(qemuLines.has(l), l);
  t.regex(s.stdout, /\n {2}socket\n/);
});
