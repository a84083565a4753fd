import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shmBackendSweepStale } from '../../src/backends/index.js';

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Creates names in `dir` for the test and removes whatever is left at the end. */
function shmNames(names: string[], dir = '/dev/shm'): Disposable {
  for (const n of names) writeFileSync(join(dir, n), '');
  return {
    [Symbol.dispose]: () => {
      for (const n of names) rmSync(join(dir, n), { force: true });
    },
  };
}

test.serial('the sweep removes qemu-<pid>-shm-<seq> of dead processes only', async (t) => {
  // A directory of our own: other test processes sweep /dev/shm meanwhile.
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-sweep-'));
  try {
    const dead = await deadPid();
    t.false(alive(dead));
    const live = process.ppid;
    const stale = [`qemu-${dead}-shm-7`, `qemu-${dead}-shm-0`, `qemu-${dead}-shm--3`];
    const keep = [
      `qemu-${live}-shm-3`,
      `qemu-${process.pid}-shm-99999`,
      `qemu-${dead}-shm-x`,
      `qemu-${dead}-shm-1.bak`,
      `xqemu-${dead}-shm-1`,
      `qemu-${dead}-memfd-1`,
      `qemu-0${dead}-shm-1`,
    ];
    using _names = shmNames([...stale, ...keep], dir);
    t.deepEqual(shmBackendSweepStale(dir).sort(), [...stale].sort());
    for (const n of stale) t.false(existsSync(join(dir, n)), n);
    for (const n of keep) t.true(existsSync(join(dir, n)), n);
    t.deepEqual(shmBackendSweepStale(join(dir, 'missing')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial("a process's first shm backend sweeps stale names", async (t) => {
  const dead = await deadPid();
  const stale = `qemu-${dead}-shm-1`;
  const live = `qemu-${process.pid}-shm-424242`;
  using _names = shmNames([stale, live]);
  const script = fileURLToPath(new URL('../helpers/backends/sweep-child.js', import.meta.url));
  const child = spawn(process.execPath, [script, stale, live], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise((resolve) => child.once('close', resolve));
  t.is(code, 0, err);
  const r = JSON.parse(out) as { before: boolean[]; after: boolean[] };
  // Other test processes sweep /dev/shm too, so only the outcome is certain.
  t.true(r.before[1]);
  t.deepEqual(r.after, [false, true]);
});
