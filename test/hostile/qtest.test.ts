/**
 * Hostile qtest clients against the real `tsqom` command, watched from
 * outside: one that asks for huge reads and never reads the replies, a
 * runaway line, a client vanishing in the middle of a write, and a large
 * write split into small pieces (lines are found in linear time).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TSQOM_CLI,
  connectUnix,
  flood,
  proveNonReaderBounds,
  startWatched,
  underNonReader,
  waitListening,
  type WatchedChild,
} from '../helpers/hostile/child.js';
import { QmpClient } from '../helpers/qemu/qmp-client.js';

const MiB = 1024 * 1024;

let dir: string;
/** Resident size after the warm-up, before the first hostile client of a test. */
let reference: number;
let tsq: WatchedChild;
let qtestPath: string;
let qmpPath: string;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-qtest-'));
  qtestPath = join(dir, 'qtest.sock');
  qmpPath = join(dir, 'qmp.sock');
  tsq = startWatched(TSQOM_CLI, [
    '-qmp',
    `unix:${qmpPath},server=on,wait=off`,
    '-qtest',
    `unix:${qtestPath},server=on,wait=off`,
  ]);
  await waitListening([qmpPath, qtestPath]);
  const s = await connectUnix(qtestPath);
  await ask(s, 'read 0 1048576\n');
  s.destroy();
  // Warm up: the first flood sizes what the process keeps for good (code, caches, arenas).
  await measure(1000);
  reference = await tsq.quietRss();
});

test.after.always(async () => {
  await tsq?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends `text` and resolves with everything up to the reply's newline. */
function ask(s: import('node:net').Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const onData = (d: Buffer): void => {
      got.push(d);
      if (d.includes(0x0a)) {
        s.off('data', onData);
        resolve(Buffer.concat(got).toString('latin1'));
      }
    };
    s.on('data', onData);
    s.write(text);
  });
}

async function qtestClient(): Promise<import('node:net').Socket> {
  // One client at a time: wait for the previous one to be gone.
  await new Promise((r) => setTimeout(r, 100));
  const s = await connectUnix(qtestPath);
  s.on('error', () => undefined);
  return s;
}

/** A qtest client that asks for huge reads and never reads the replies. */
async function nonReader(): Promise<import('node:net').Socket> {
  const s = await qtestClient();
  s.pause();
  return s;
}

/** Floods huge reads from a non-reading client while a QMP client asks query-version every 50 ms. */
async function measure(ms: number): ReturnType<typeof underNonReader> {
  const qmp = await QmpClient.connect(qmpPath);
  await qmp.negotiate();
  try {
    return await underNonReader(
      tsq,
      nonReader,
      Buffer.from('read 0 67108864\nread 0 1048576\n'),
      ms,
      () => qmp.execute('query-version'),
    );
  } finally {
    await qmp.close();
  }
}

test.serial(
  'a client that never reads 64 MiB read replies: bounded, QMP answered, memory returned',
  async (t) => {
    await proveNonReaderBounds(t, () => measure(3000), reference);
    t.notRegex(tsq.stderr(), /heap out of memory/);
  },
);

test.serial('a runaway line is cut off; the next client is served', async (t) => {
  // Clients of earlier tests are gone.
  await new Promise((r) => setTimeout(r, 300));
  const fds = tsq.fdCount();
  const bad = await qtestClient();
  const closed = new Promise<void>((r) => bad.once('close', () => r()));
  // Not a write: 64 KiB is the most a command line may be.
  await flood(bad, Buffer.from('readb '.padEnd(4096, '1')), 5000).catch(() => 0);
  await closed;
  t.true(bad.destroyed);
  const s = await qtestClient();
  t.is(await ask(s, 'readb 0\n'), 'OK 0x0000000000000000\n');
  s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  t.is(tsq.fdCount(), fds);
});

test.serial('a 32 MiB write in small pieces, and a client vanishing mid-write', async (t) => {
  const s = await qtestClient();
  const hex = Buffer.alloc(32 * MiB * 2, '5a');
  const line = Buffer.concat([Buffer.from(`write 0 ${32 * MiB} 0x`), hex, Buffer.from('\n')]);
  const reply = new Promise<string>((resolve) => {
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\n')) resolve(got);
    });
  });
  for (let off = 0; off < line.length; off += 4096) s.write(line.subarray(off, off + 4096));
  t.is(await reply, 'OK\n');
  s.destroy();
  const v = await qtestClient();
  v.write(line.subarray(0, line.length >> 1));
  v.destroy();
  const w = await qtestClient();
  t.is(await ask(w, 'endianness\n'), 'OK little\n');
  w.destroy();
});
