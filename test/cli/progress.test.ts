/**
 * The preallocation progress bar of command-line backends (tsqom's own;
 * QEMU has none): drawn on a terminal, never into a pipe. A real pty comes
 * from util-linux's `script`.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { TSQOM_MAIN } from '../helpers/cli/run.js';

/** Runs `tsqom ARGS` to its end; with `tty`, under `script` so its stdio is a pty. */
function runTsqom(
  args: readonly string[],
  tty: boolean,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; output: string }> {
  const cmd = [process.execPath, TSQOM_MAIN, ...args];
  const quoted = cmd.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = tty
    ? spawn('script', ['-qfec', quoted, '/dev/null'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      })
    : spawn(cmd[0], cmd.slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      });
  let output = '';
  // Under script, the pty's output (stdout and stderr together) is script's stdout.
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

// A bad -device ends start-up right after the backends exist.
const PREALLOC = [
  '-machine',
  'none',
  '-nodefaults',
  '-object',
  'memory-backend-ram,id=big,size=128M,prealloc=on',
  '-device',
  'bogus',
];
const ERROR = "tsqom: -device bogus: 'bogus' is not a valid device model name";

test('on a terminal, a preallocation shows a bar that reaches 100 % and ends its line', async (t) => {
  // The delay before the bar appears is 0 here, so the test does not depend on speed.
  const r = await runTsqom(PREALLOC, true, { TSQOM_PROGRESS_DELAY_MS: '0' });
  t.is(r.code, 1);
  const lines = r.output.split('\r\n');
  const bar = lines[0].split('\r').filter((x) => x !== '');
  t.true(bar.length >= 1, JSON.stringify(r.output));
  for (const b of bar) t.regex(b, /^tsqom: preallocating big: +\d+% \(\d+\/128 MiB\) *$/);
  t.regex(bar[bar.length - 1], /^tsqom: preallocating big: 100% \(128\/128 MiB\)/);
  // The error starts on a fresh line.
  t.is(lines[1], ERROR);
});

test('on a terminal, a short preallocation shows nothing', async (t) => {
  const args = PREALLOC.map((a) => a.replace('size=128M', 'size=4M'));
  const r = await runTsqom(args, true);
  t.is(r.code, 1);
  t.is(r.output, `${ERROR}\r\n`);
});

test('with stderr a pipe, no bar is written', async (t) => {
  const r = await runTsqom(PREALLOC, false, { TSQOM_PROGRESS_DELAY_MS: '0' });
  t.is(r.code, 1);
  t.is(r.output, `${ERROR}\n`);
});
