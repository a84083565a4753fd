import test from 'ava';
import {
  VhostUserFramer,
  VhostUserRequest as R,
  type VhostUserMsg,
  type VhostUserWireMsg,
  encodeVhostUserMsg,
  encodeVhostUserMemory,
} from '../../../../src/hw/virtio/vhost-user/index.js';

interface Sent {
  wire: VhostUserWireMsg;
  start: number;
}

/** A stream of messages as a sender would write them, each with its fds on its first byte. */
function stream(msgs: VhostUserWireMsg[]): { data: Buffer; sent: Sent[] } {
  let start = 0;
  const sent = msgs.map((wire) => {
    const s = { wire, start };
    start += wire.data.byteLength;
    return s;
  });
  return { data: Buffer.concat(msgs.map((m) => m.data)), sent };
}

const region = { guestPhysAddr: 0n, memorySize: 0x1000n, userspaceAddr: 0x7000n, mmapOffset: 0n };

function sampleStream(): { data: Buffer; sent: Sent[] } {
  return stream([
    encodeVhostUserMsg({ request: R.VHOST_USER_GET_FEATURES }),
    encodeVhostUserMsg({
      request: R.VHOST_USER_SET_MEM_TABLE,
      body: { kind: 'memory', memory: { regions: [region, region] } },
      fds: [10, 11],
    }),
    encodeVhostUserMsg({
      request: R.VHOST_USER_SET_VRING_KICK,
      body: { kind: 'vringFile', file: { index: 0, noFd: false } },
      fds: [12],
    }),
    encodeVhostUserMsg({ request: R.VHOST_USER_SET_FEATURES, body: { kind: 'u64', u64: 3n } }),
    encodeVhostUserMsg({ request: R.VHOST_USER_SET_BACKEND_REQ_FD, fds: [13] }),
    encodeVhostUserMsg({
      request: R.VHOST_USER_SET_CONFIG,
      body: {
        kind: 'config',
        config: { offset: 4, size: 3, flags: 0, region: Buffer.from('abc') },
      },
    }),
  ]);
}

/**
 * Cuts `data` at `cuts` and at every start of a message with fds (the
 * kernel never merges data before an SCM_RIGHTS boundary into one read),
 * and gives each message's fds to the chunk starting at its first byte.
 */
function chunks(data: Buffer, sent: Sent[], cuts: number[]): [Buffer, number[]][] {
  const points = new Set<number>([0, data.byteLength, ...cuts]);
  for (const s of sent) if (s.wire.fds.length > 0) points.add(s.start);
  const sorted = [...points].sort((a, b) => a - b);
  const out: [Buffer, number[]][] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const [a, b] = [sorted[i], sorted[i + 1]];
    if (a === b) continue;
    const fds = sent.filter((s) => s.start === a).flatMap((s) => s.wire.fds);
    out.push([data.subarray(a, b), fds]);
  }
  return out;
}

function run(framer: VhostUserFramer, parts: [Buffer, number[]][]): VhostUserMsg[] {
  const msgs: VhostUserMsg[] = [];
  for (const [chunk, fds] of parts) {
    const out = framer.feed(chunk, fds);
    if (out.error) throw out.error;
    if (out.unattachedFds.length) throw new Error(`unattached ${out.unattachedFds.join()}`);
    msgs.push(...out.messages);
  }
  const end = framer.end();
  if (end.error) throw end.error;
  return msgs;
}

function check(t: import('ava').ExecutionContext, got: VhostUserMsg[], sent: Sent[], what: string) {
  t.is(got.length, sent.length, what);
  got.forEach((m, i) => {
    const wire = sent[i].wire;
    t.deepEqual(m.hdr, {
      request: wire.data.readUInt32LE(0),
      flags: wire.data.readUInt32LE(4),
      size: wire.data.readUInt32LE(8),
    });
    t.deepEqual(m.payload, wire.data.subarray(12), what);
    t.deepEqual(m.fds, wire.fds, what);
  });
}

test('whole stream in one chunk, and byte by byte', (t) => {
  const { data, sent } = sampleStream();
  check(t, run(new VhostUserFramer(), chunks(data, sent, [])), sent, 'one chunk');
  const every = Array.from({ length: data.byteLength }, (_, i) => i);
  check(t, run(new VhostUserFramer(), chunks(data, sent, every)), sent, 'byte by byte');
});

test('every split point, and every pair of split points, of a multi-message stream', (t) => {
  const { data, sent } = sampleStream();
  let runs = 0;
  for (let k = 0; k <= data.byteLength; k++) {
    const got = run(new VhostUserFramer({ channel: 'frontend' }), chunks(data, sent, [k]));
    t.is(got.length, sent.length);
    got.forEach((m, i) => {
      if (!m.payload.equals(sent[i].wire.data.subarray(12))) t.fail(`split ${k}, message ${i}`);
      if (m.fds.join() !== sent[i].wire.fds.join()) t.fail(`split ${k}, fds of ${i}`);
    });
    runs++;
  }
  // All pairs over the first 120 bytes (covers header/payload splits of several messages).
  const n = Math.min(120, data.byteLength);
  for (let a = 1; a < n; a++) {
    for (let b = a + 1; b < n; b++) {
      const got = run(new VhostUserFramer(), chunks(data, sent, [a, b]));
      if (got.length !== sent.length) t.fail(`pair ${a},${b}`);
      got.forEach((m, i) => {
        if (!m.payload.equals(sent[i].wire.data.subarray(12))) t.fail(`pair ${a},${b}, msg ${i}`);
        if (m.fds.join() !== sent[i].wire.fds.join()) t.fail(`pair ${a},${b}, fds of ${i}`);
      });
      runs++;
    }
  }
  t.true(runs > 7000);
});

test('fds attach to the message holding the first byte of their chunk', (t) => {
  const a = encodeVhostUserMsg({
    request: R.VHOST_USER_SET_FEATURES,
    body: { kind: 'u64', u64: 1n },
  });
  const b = encodeVhostUserMsg({ request: R.VHOST_USER_GET_FEATURES });
  const data = Buffer.concat([a.data, b.data]);
  const f = new VhostUserFramer();
  // First chunk: header only. Second chunk starts in A's payload and runs into B.
  let out = f.feed(data.subarray(0, 12), [5]);
  t.deepEqual(out.messages, []);
  t.is(f.bufferedFds, 1);
  out = f.feed(data.subarray(12), [6]);
  t.is(out.messages.length, 2);
  t.deepEqual(out.messages[0].fds, [5, 6]);
  t.deepEqual(out.messages[1].fds, []);
  t.deepEqual(out.unattachedFds, []);
  // fds with no bytes have nothing to attach to.
  out = f.feed(Buffer.alloc(0), [7, 8]);
  t.deepEqual(out.unattachedFds, [7, 8]);
  t.deepEqual(f.end(), { messages: [], unattachedFds: [], error: null });
});

test('a protocol error keeps the messages before it and returns every held fd', (t) => {
  const good = encodeVhostUserMsg({ request: R.VHOST_USER_GET_FEATURES });
  const bad = Buffer.from('0200000002000000080000000000000000000000', 'hex'); // version 2
  const f = new VhostUserFramer();
  let out = f.feed(Buffer.concat([good.data, bad]), [3]);
  t.is(out.messages.length, 1);
  t.deepEqual(out.messages[0].fds, [3]);
  t.is(out.error?.reason, 'bad-flags');
  t.true(out.error?.framing);
  t.is(out.error?.message, 'Failed to read msg header. Flags 0x2 instead of 0x1.');
  // Everything after the error comes straight back.
  out = f.feed(good.data, [4, 5]);
  t.deepEqual(out.messages, []);
  t.deepEqual(out.unattachedFds, [4, 5]);
  t.is(out.error?.reason, 'bad-flags');
  t.is(f.error?.reason, 'bad-flags');

  const g = new VhostUserFramer();
  out = g.feed(Buffer.from('01000000 41000000 00000000'.replace(/ /g, ''), 'hex'), [9]);
  t.is(out.error?.reason, 'bad-flags');
  t.is(out.error?.message, 'Failed to read msg header. Flags 0x41 instead of 0x1.');
  t.deepEqual(out.unattachedFds, [9]);
});

test('oversized payloads: per request with a channel, VHOST_USER_PAYLOAD_SIZE without', (t) => {
  const hdr = (request: number, size: number) => {
    const b = Buffer.alloc(12);
    b.writeUInt32LE(request, 0);
    b.writeUInt32LE(1, 4);
    b.writeUInt32LE(size, 8);
    return b;
  };
  let out = new VhostUserFramer({ channel: 'frontend' }).feed(
    hdr(R.VHOST_USER_SET_FEATURES, 16),
    [1],
  );
  t.is(out.error?.reason, 'oversized');
  t.is(out.error?.message, 'Failed to read msg header. Size 16 exceeds the maximum 8.');
  t.deepEqual(out.unattachedFds, [1]);
  out = new VhostUserFramer().feed(hdr(R.VHOST_USER_SET_FEATURES, 16));
  t.is(out.error, null);
  out = new VhostUserFramer().feed(hdr(1, 2057));
  t.is(out.error?.message, 'Failed to read msg header. Size 2057 exceeds the maximum 2056.');
  out = new VhostUserFramer().feed(hdr(1, 0xffffffff));
  t.is(out.error?.reason, 'oversized');
  // A GET_SHMEM_CONFIG reply is the largest legal message.
  out = new VhostUserFramer({ channel: 'frontend' }).feed(
    Buffer.concat([hdr(R.VHOST_USER_GET_SHMEM_CONFIG, 2056), Buffer.alloc(2056)]),
  );
  t.is(out.error, null);
  t.is(out.messages[0].payload.byteLength, 2056);
});

test('more than 8 fds for one message breaks the stream and returns them all', (t) => {
  const m = encodeVhostUserMsg({ request: R.VHOST_USER_GET_FEATURES });
  const f = new VhostUserFramer();
  let out = f.feed(m.data.subarray(0, 4), [1, 2, 3, 4, 5]);
  t.is(out.error, null);
  out = f.feed(m.data.subarray(4), [6, 7, 8, 9]);
  t.is(out.error?.reason, 'too-many-fds');
  t.deepEqual(
    out.unattachedFds.sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  t.deepEqual(out.messages, []);
});

test('end of stream inside a message is a truncation; its fds come back', (t) => {
  const m = encodeVhostUserMsg({
    request: R.VHOST_USER_SET_FEATURES,
    body: { kind: 'u64', u64: 1n },
  });
  let f = new VhostUserFramer();
  f.feed(m.data.subarray(0, 5), [4]);
  t.is(f.bufferedBytes, 5);
  let out = f.end();
  t.is(out.error?.reason, 'truncated');
  t.is(out.error?.message, 'Failed to read msg header. Read 5 instead of 12.');
  t.deepEqual(out.unattachedFds, [4]);
  t.deepEqual(f.end().unattachedFds, []);
  out = f.feed(m.data, [5]);
  t.deepEqual(out.unattachedFds, [5]);
  t.not(out.error, null);

  f = new VhostUserFramer();
  f.feed(m.data.subarray(0, 15), [6, 7]);
  out = f.end();
  t.is(out.error?.message, 'Failed to read msg payload. Read 3 instead of 8.');
  t.deepEqual(out.unattachedFds, [6, 7]);

  f = new VhostUserFramer();
  t.deepEqual(f.end(), { messages: [], unattachedFds: [], error: null });
  out = f.feed(m.data, [8]);
  t.deepEqual(out.unattachedFds, [8]);
  t.is(out.error?.reason, 'truncated');
});

test('a large memory table split inside its regions', (t) => {
  const regions = Array.from({ length: 8 }, (_, i) => ({
    ...region,
    guestPhysAddr: BigInt(i) << 30n,
  }));
  const m = encodeVhostUserMsg({
    request: R.VHOST_USER_SET_MEM_TABLE,
    body: { kind: 'memory', memory: { regions } },
    fds: [20, 21, 22, 23, 24, 25, 26, 27],
  });
  t.deepEqual(encodeVhostUserMemory({ regions }), m.data.subarray(12));
  const f = new VhostUserFramer({ channel: 'frontend' });
  const out1 = f.feed(m.data.subarray(0, 100), m.fds);
  const out2 = f.feed(m.data.subarray(100));
  t.deepEqual(out1.messages, []);
  t.is(out2.messages.length, 1);
  t.deepEqual(out2.messages[0].fds, m.fds);
  t.is(out2.messages[0].hdr.size, 264);
});
