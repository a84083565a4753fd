/**
 * Each QEMU option tsqom accepts or refuses, against QEMU 7.2: the same
 * exit status and, for errors, the same text (program name aside).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Launchee } from '../helpers/cli/launch.js';
import { type BriefRun, runFor } from '../helpers/cli/differential.js';

const BASE = ['-machine', 'none', '-display', 'none', '-nodefaults'];

/** Runs for up to `ms`; a process still running then has accepted its options. */
function run(who: Launchee, args: readonly string[], ms = 4000): Promise<BriefRun> {
  return runFor(who, [...BASE, ...args], ms);
}

const refused: string[][] = [
  ['-qmp', 'unix:/tmp/tsqom-opt-x.sock,bogus=1'],
  ['-qmp-pretty', 'unix:/tmp/tsqom-opt-y.sock,bogus=1'],
  ['-qmp', 'unix:/tmp/tsqom-opt-nolisten.sock'],
  ['-qmp', 'unix:/nonexistent-tsqom/x.sock,server=on,wait=off'],
  ['-mon', 'chardev=nope'],
  ['-mon', 'foo'],
  ['-mon', 'chardev=c,mode=foo'],
  ['-mon', 'chardev=c,bogus=1'],
  ['-name'],
  ['-name', 'foo,bogus=1'],
  ['-uuid', 'bogus'],
  ['-m', 'foo'],
  ['-smp', 'foo'],
  ['-smp', '2'],
  ['-msg', 'timestamp=foo'],
  ['-overcommit', 'mem-lock=foo'],
  ['-action', 'reboot=foo'],
  ['-serial', 'foo'],
  ['-accel', 'foo'],
  ['-accel', 'kvm:tcg'],
  ['-accel', 'tcg,bogus=1'],
  ['-machine', 'none,accel=foo'],
  ['-chardev', 'socket,id=c,fd=99'],
  ['-chardev', 'null,id=c,bogus=1'],
  ['-global', 'foo'],
  ['-global', 'driver=x,property=y'],
  ['-global', 'a.b'],
];

const accepted: string[][] = [
  ['-m', '64'],
  ['-m', '0'],
  ['-name', 'guest1,debug-threads=on'],
  ['-uuid', '12345678-1234-1234-1234-123456789abc'],
  ['-smp', '1'],
  ['-no-shutdown'],
  ['-no-reboot'],
  ['-action', 'reboot=shutdown,shutdown=pause,panic=none'],
  ['-msg', 'timestamp=on'],
  ['-overcommit', 'mem-lock=off'],
  ['-sandbox', 'off'],
  ['-serial', 'null'],
  ['-serial', 'none'],
  ['-nographic'],
  ['-vga', 'none'],
  ['-monitor', 'none'],
  ['-no-user-config'],
  ['-S'],
  ['-accel', 'tcg'],
  ['-chardev', 'null,id=c', '-mon', 'chardev=c,mode=control,pretty=on'],
  ['-global', 'driver=nosuch-dev,property=num_vqs,value=2'],
  ['-global', 'nosuch-dev.prop=1'],
];

test('options QEMU 7.2 refuses are refused with its text', async (t) => {
  for (const args of refused) {
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-opt-'));
    try {
      const [q, s] = await Promise.all([run('qemu', args), run('tsqom', args)]);
      t.is(s.code, q.code, args.join(' '));
      t.is(s.stderr, q.stderr, args.join(' '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('options QEMU 7.2 accepts keep tsqom running', async (t) => {
  for (const args of accepted) {
    const [q, s] = await Promise.all([run('qemu', args, 3000), run('tsqom', args, 5000)]);
    t.true(q.running, `qemu ${args.join(' ')}: ${q.stderr}`);
    t.true(s.running, `tsqom ${args.join(' ')}: ${s.stderr}`);
    t.is(s.stderr, q.stderr, args.join(' '));
  }
});

test('-accel kvm fails as QEMU 7.2 fails on a host without KVM', async (t) => {
  // QEMU's text measured with /dev/kvm hidden (this host has KVM).
  const r = await run('tsqom', ['-accel', 'kvm']);
  t.is(r.code, 1);
  t.is(
    r.stderr,
    'Could not access KVM kernel module: No such file or directory\n' +
      'tsqom: -accel kvm: failed to initialize kvm: No such file or directory\n',
  );
  const fallback = await run('tsqom', ['-machine', 'none,accel=kvm:tcg'], 4000);
  t.true(fallback.running);
  t.is(
    fallback.stderr,
    'Could not access KVM kernel module: No such file or directory\n' +
      'tsqom: failed to initialize kvm: No such file or directory\n' +
      'tsqom: falling back to tcg\n',
  );
});
