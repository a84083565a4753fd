/**
 * The start-up sweep: a tsqom that creates a vdev-shmem device removes every
 * `tsqom-shmem-*` region whose holders were all killed, not only the names
 * it opens itself.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TSQOM_MAIN } from '../helpers/cli/run.js';

const HOLDER = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'helpers',
  'vdev-shmem',
  'holder.js',
);

test('regions left by SIGKILLed holders are removed when a vdev-shmem device starts', async (t) => {
  const name = `sweep${process.pid}`;
  const path = `/dev/shm/tsqom-shmem-${name}`;
  const holder = spawn(process.execPath, [HOLDER, 'client', name, '1'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) =>
    holder.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
  );
  t.true(existsSync(path));
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('close', r));
  t.true(existsSync(path), 'a killed holder leaves its region');
  // A tsqom whose device creates a different region: the sweep covers every leftover.
  const p = spawn(
    process.execPath,
    [
      TSQOM_MAIN,
      '-M',
      'none',
      '-device',
      `vdev-shmem,id=s0,loc=0x10000000,intr=5,create.0.name=other${process.pid},create.0.size=4K`,
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 20000;
  while (existsSync(path) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  p.kill('SIGTERM');
  await new Promise((res) => p.once('close', res));
  t.false(existsSync(path), 'the leftover region is gone');
  t.false(existsSync(`/dev/shm/tsqom-shmem-other${process.pid}`));
});
