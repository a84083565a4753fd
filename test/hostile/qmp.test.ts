/**
 * Hostile QMP clients against the real `tsqom` command, watched from
 * outside (/proc/PID): a client that never reads its replies, floods of
 * valid and malformed requests, clients vanishing in the middle of a
 * message. The process must stay bounded, keep answering its other
 * clients, and give back what it took once the client is gone.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TSQOM_CLI,
  connectUnix,
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
let hostilePath: string;
let otherPath: string;
let hmpPath: string;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsqom-hostile-qmp-'));
  hostilePath = join(dir, 'a.sock');
  otherPath = join(dir, 'b.sock');
  hmpPath = join(dir, 'hmp.sock');
  tsq = startWatched(TSQOM_CLI, [
    '-qmp',
    `unix:${hostilePath},server=on,wait=off`,
    '-qmp',
    `unix:${otherPath},server=on,wait=off`,
    '-monitor',
    `unix:${hmpPath},server=on,wait=off`,
  ]);
  await waitListening([hostilePath, otherPath, hmpPath]);
  // Warm up: what the first clients make the process load, build and
  // size (code, caches, allocator arenas) is not what a client leaves behind.
  const c = await QmpClient.connect(hostilePath);
  await c.negotiate();
  for (let i = 0; i < 20; i++) await c.execute('qom-list-types');
  await c.close();
  await measure('{"execute":"qom-list-types"}', 1000);
  await measure(']'.repeat(64), 1000);
  reference = await tsq.quietRss();
});

test.after.always(async () => {
  await tsq?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Connects, reads the greeting, negotiates, then stops reading. */
async function nonReader(): Promise<net.Socket> {
  const s = await connectUnix(hostilePath);
  let got = '';
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.split('\r\n').length >= 3) {
        s.off('data', onData);
        s.pause();
        resolve();
      }
    };
    s.on('data', onData);
    s.write('{"execute":"qmp_capabilities"}\n');
  });
  return s;
}

/** Connects to the human monitor, reads the banner and prompt, then stops reading. */
async function hmpNonReader(): Promise<net.Socket> {
  const s = await connectUnix(hmpPath);
  let got = '';
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer): void => {
      got += d.toString();
      if (got.includes('(qemu) ')) {
        s.off('data', onData);
        s.pause();
        resolve();
      }
    };
    s.on('data', onData);
  });
  return s;
}

/** Floods `unit` from a non-reading client while another client asks query-version every 50 ms. */
async function measure(
  unit: string,
  ms: number,
  open: () => Promise<net.Socket> = nonReader,
): ReturnType<typeof underNonReader> {
  const other = await QmpClient.connect(otherPath);
  await other.negotiate();
  try {
    return await underNonReader(tsq, open, Buffer.from(unit), ms, () =>
      other.execute('query-version'),
    );
  } finally {
    await other.close();
  }
}

test.serial(
  'a client that never reads qom-list-types replies: bounded, others answered, memory returned',
  async (t) => {
    const r = await proveNonReaderBounds(
      t,
      () => measure('{"execute":"qom-list-types"}', 3000),
      reference,
    );
    // It stopped reading: far less than 3 s of flooding went in.
    t.true(r.took < 4 * MiB, `took ${r.took}`);
    t.notRegex(tsq.stderr(), /uv_poll|Bad file descriptor|heap out of memory/);
  },
);

test.serial(
  'a non-reading client flooding malformed input (`]`): bounded, others answered, memory returned',
  async (t) => {
    const r = await proveNonReaderBounds(t, () => measure(']'.repeat(64), 3000), reference);
    t.true(r.took < 4 * MiB, `took ${r.took}`);
  },
);

test.serial(
  'a human-monitor client that never reads `info qom-tree`: bounded, others answered, memory returned',
  async (t) => {
    const r = await proveNonReaderBounds(
      t,
      () => measure('info qom-tree\n', 3000, hmpNonReader),
      reference,
    );
    t.true(r.took < 4 * MiB, `took ${r.took}`);
  },
);

test.serial(
  'a reading client flooding valid and malformed requests gets one reply each, in order',
  async (t) => {
    const c = await QmpClient.connect(hostilePath);
    await c.negotiate();
    const n = 3000;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      parts.push(
        i % 3 === 0
          ? `{"execute":"query-version","id":${i}}`
          : i % 3 === 1
            ? `{"execute":"no-such-command","id":${i}}`
            : `{"execute":"qom-get","arguments":{"path":"/machine","property":[]},"id":${i}}`,
      );
    }
    parts.push('{"execute":"query-version","id":"end"}');
    c.sendRaw(parts.join('\n'));
    for (let i = 0; i < n; i++) {
      const r = await c.readReply();
      t.is(r.id, i);
      if (i % 3 === 0) t.truthy(r.return);
      else t.truthy(r.error);
    }
    t.is((await c.readReply()).id, 'end');
    await c.close();
  },
);

test.serial('clients vanishing in the middle of a message leave nothing behind', async (t) => {
  const c0 = await QmpClient.connect(hostilePath);
  await c0.close();
  await new Promise((r) => setTimeout(r, 100));
  const fds = tsq.fdCount();
  const base = await tsq.quietRss();
  for (let i = 0; i < 100; i++) {
    const s = await connectUnix(hostilePath);
    s.on('error', () => undefined);
    s.write('{"execute":"qmp_capabilities"}{"execute":"qom-list-types","arguments":{"abstr');
    if (i % 2 === 0) s.write('"' + 'x'.repeat(100_000));
    s.destroy();
  }
  await new Promise((r) => setTimeout(r, 300));
  // The next client is served as if nothing happened.
  const c = await QmpClient.connect(hostilePath);
  await c.negotiate();
  t.truthy((await c.execute('query-version')).return);
  await c.close();
  await new Promise((r) => setTimeout(r, 200));
  t.is(tsq.fdCount(), fds);
  const after = await tsq.rssReturnsBelow(base * 1.1);
  t.true(after <= base * 1.1, `${after} vs ${base}`);
});
