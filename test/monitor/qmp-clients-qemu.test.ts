/**
 * Clients of one `-qmp` socket, differential against QEMU 7.2: the socket
 * serves one client at a time; a second one connects, is not answered
 * while the first is there (what it sends waits), and gets its greeting
 * and its replies once the first has left.
 */
import test from 'ava';
import net from 'node:net';
import { startQemu, startTsqom, type QmpPeer } from '../helpers/qemu/qemu.js';
import { normalizeLine } from '../helpers/qemu/compare.js';

interface RawClient {
  sock: net.Socket;
  text(): string;
}

async function rawConnect(path: string): Promise<RawClient> {
  const sock = net.createConnection(path);
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
  sock.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', () => resolve());
    sock.once('error', reject);
  });
  return { sock, text: () => got };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The exchange: what the waiting client saw before and after the first one left. */
async function scenario(peer: QmpPeer): Promise<{ before: string; after: string[] }> {
  const first = await peer.connect();
  await first.negotiate();
  const second = await rawConnect(peer.sockets[0]);
  second.sock.write('{"execute":"qmp_capabilities"}{"execute":"query-version","id":"second"}');
  // The first client is still served while the second waits.
  await first.execute('query-commands');
  await new Promise((r) => setTimeout(r, 200));
  const before = second.text();
  await first.close();
  await until(() => second.text().split('\r\n').length >= 4);
  second.sock.destroy();
  return { before, after: second.text().split('\r\n').slice(0, 3).map(normalizeLine) };
}

test('a second client on one -qmp socket waits until the first leaves, as with QEMU', async (t) => {
  const [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
  try {
    const [q, s] = await Promise.all([scenario(qemu), scenario(tsqom)]);
    t.is(q.before, '');
    t.is(s.before, '');
    t.regex(q.after[0], /^\{"QMP": /);
    t.deepEqual(s.after, q.after);
    t.is(s.after[2], '{"return": <version>, "id": "second"}');
  } finally {
    await Promise.all([qemu.stop(), tsqom.stop()]);
  }
});
