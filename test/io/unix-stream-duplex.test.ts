/**
 * UnixStreamDuplex backpressure: while the peer does not read, writes
 * wait in the duplex (`write()` says false, `writableLength` grows) once
 * the socket's own queue is full, and `'drain'` comes when the peer reads.
 */
import 'reflect-metadata';
import test from 'ava';
import { UnixStream, UNIX_STREAM_MAX_PENDING_BYTES } from '../../src/io/unix-stream.js';
import { UnixStreamDuplex } from '../../src/io/unix-stream-duplex.js';

test('a peer that does not read makes writes wait, and drain follows its reading', async (t) => {
  const [a, b] = UnixStream.pair();
  const d = new UnixStreamDuplex(a);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let writes = 0;
  while (d.write(chunk)) {
    writes++;
    t.true(writes < 1000, 'write() never asked to wait');
  }
  // The socket queue is bounded; the rest waits in the duplex.
  t.true(d.pendingBytes <= UNIX_STREAM_MAX_PENDING_BYTES + chunk.length);
  t.true(d.writableLength > 0);
  for (let i = 0; i < 20; i++) d.write(chunk);
  t.true(d.pendingBytes <= UNIX_STREAM_MAX_PENDING_BYTES + chunk.length);
  t.true(d.writableLength >= 20 * chunk.length);
  const total = (writes + 21) * chunk.length;
  let got = 0;
  const drained = new Promise<void>((r) => d.once('drain', () => r()));
  const all = new Promise<void>((r) =>
    b.on('data', (data) => {
      got += data.length;
      if (got === total) r();
    }),
  );
  b.resume();
  await drained;
  await all;
  t.is(d.writableLength, 0);
  t.is(d.pendingBytes, 0);
  d.destroy();
  b.close();
});

test('destroying the duplex while writes wait releases them', async (t) => {
  const [a, b] = UnixStream.pair();
  const d = new UnixStreamDuplex(a);
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  while (d.write(chunk));
  d.write(chunk);
  const closed = new Promise<void>((r) => d.once('close', () => r()));
  d.destroy();
  await closed;
  t.true(a.closed);
  t.is(a.pendingBytes, 0);
  b.close();
});
