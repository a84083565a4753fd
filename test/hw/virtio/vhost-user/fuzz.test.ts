import test from 'ava';
import {
  CodecError,
  VhostUserFramer,
  type VhostUserChannel,
  type VhostUserFramerOutput,
  decodeVhostUserMsg,
  encodeVhostUserBody,
  encodeVhostUserHeader,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import { Prng } from '../../../helpers/hw/virtio/prng.js';
import {
  expectations,
  sampleBody,
  sampleFdCount,
} from '../../../helpers/hw/virtio/vhost-user-samples.js';

const MESSAGES = 100_000;

interface Piece {
  data: Buffer;
  fds: number[];
}

/** Fake fds: numbers handed to the code under test, each to be closed exactly once. */
class FdLedger {
  #next = 1000;
  readonly handed = new Set<number>();
  readonly closed = new Set<number>();
  problems: string[] = [];

  open(): number {
    const fd = this.#next++;
    this.handed.add(fd);
    return fd;
  }

  close(fd: number): void {
    if (!this.handed.has(fd)) this.problems.push(`closed fd ${fd} that was never handed out`);
    else if (this.closed.has(fd)) this.problems.push(`fd ${fd} returned twice`);
    this.closed.add(fd);
  }
}

function validPiece(rng: Prng, channel: VhostUserChannel, ledger: FdLedger): Piece {
  const [request, reqAlts, replyAlts] = rng.pick(expectations(channel));
  const reply = rng.chance(0.3);
  const exp = rng.pick(reply ? replyAlts : reqAlts);
  const body = sampleBody(rng, exp.kind, rng.chance(0.3));
  const payload = encodeVhostUserBody(body);
  const flags = reply ? 0x5 : rng.chance(0.5) ? 0x9 : 0x1;
  const nfds = sampleFdCount(rng, exp, body);
  return {
    data: Buffer.concat([
      encodeVhostUserHeader({ request, flags, size: payload.byteLength }),
      payload,
    ]),
    fds: Array.from({ length: nfds }, () => ledger.open()),
  };
}

function mutate(rng: Prng, p: Piece, ledger: FdLedger): Piece {
  let data = Buffer.from(p.data);
  let fds = p.fds;
  switch (rng.below(8)) {
    case 0: // flip bytes anywhere
      for (let i = rng.below(4) + 1; i > 0; i--)
        data[rng.below(data.byteLength)] ^= 1 << rng.below(8);
      break;
    case 1: // another size
      data.writeUInt32LE(
        rng.chance(0.5) ? Math.max(0, data.readUInt32LE(8) + rng.below(17) - 8) : rng.u32(),
        8,
      );
      break;
    case 2: // truncate the payload
      data = data.subarray(0, 12 + rng.below(Math.max(1, data.byteLength - 12)));
      break;
    case 3: // extend the payload, header unchanged
      data = Buffer.concat([data, rng.bytes(rng.below(64) + 1)]);
      break;
    case 4: // random flags
      data.writeUInt32LE(rng.chance(0.5) ? rng.below(16) : rng.u32(), 4);
      break;
    case 5: // random request id
      data.writeUInt32LE(rng.chance(0.7) ? rng.below(50) : rng.u32(), 0);
      break;
    case 6: // a wrong number of fds
      for (const fd of fds) ledger.close(fd); // the test's own fds, not handed to the framer
      fds = Array.from({ length: rng.below(11) }, () => ledger.open());
      break;
    default: // payload size grown consistently with random bytes
      data = Buffer.concat([data, rng.bytes(8)]);
      data.writeUInt32LE(data.byteLength - 12, 8);
  }
  return { data, fds };
}

function garbage(rng: Prng, ledger: FdLedger): Piece {
  const size = rng.chance(0.8) ? rng.below(300) : rng.chance(0.5) ? rng.below(3000) : rng.u32();
  const hdr = Buffer.alloc(12);
  hdr.writeUInt32LE(rng.chance(0.8) ? rng.below(50) : rng.u32(), 0);
  hdr.writeUInt32LE(rng.pick([1, 5, 9, rng.u32(), rng.below(16)]), 4);
  hdr.writeUInt32LE(size, 8);
  const len = size <= 3000 && rng.chance(0.8) ? size : rng.below(300);
  return {
    data: Buffer.concat([hdr, rng.bytes(len)]),
    fds: Array.from({ length: rng.chance(0.7) ? rng.below(3) : rng.below(12) }, () =>
      ledger.open(),
    ),
  };
}

test(`fuzz: ${MESSAGES} random and mutated messages through framer and decoder`, (t) => {
  const rng = new Prng(0x7e57c0de);
  const ledger = new FdLedger();
  const stats = { generated: 0, framed: 0, decoded: 0, rejected: 0, framingErrors: 0 };
  const unexpected: unknown[] = [];

  const decodeBoth = (out: VhostUserFramerOutput, channel: VhostUserChannel) => {
    for (const m of out.messages) {
      stats.framed++;
      for (const ch of [channel, channel === 'frontend' ? 'backend' : 'frontend'] as const) {
        try {
          decodeVhostUserMsg(m, ch);
          stats.decoded++;
        } catch (e) {
          if (e instanceof CodecError) stats.rejected++;
          else unexpected.push(e);
        }
      }
      for (const fd of m.fds) ledger.close(fd);
    }
    for (const fd of out.unattachedFds) ledger.close(fd);
    if (out.error !== null) {
      if (!(out.error instanceof CodecError) || !out.error.framing) unexpected.push(out.error);
    }
  };

  while (stats.generated < MESSAGES) {
    const channel: VhostUserChannel = rng.chance(0.5) ? 'frontend' : 'backend';
    const pieces: Piece[] = [];
    for (let n = 1 + rng.below(16); n > 0 && stats.generated < MESSAGES; n--) {
      stats.generated++;
      const r = rng.below(10);
      if (r < 4) pieces.push(validPiece(rng, channel, ledger));
      else if (r < 8) pieces.push(mutate(rng, validPiece(rng, channel, ledger), ledger));
      else pieces.push(garbage(rng, ledger));
    }
    // Each message alone on a fresh connection too, so every one reaches the decoder
    // when its header frames at all (its fds travel with the stream below).
    for (const p of pieces) {
      const single = new VhostUserFramer();
      decodeBoth(single.feed(p.data), channel);
      decodeBoth(single.end(), channel);
    }
    const data = Buffer.concat(pieces.map((p) => p.data));
    // Where the fds ride: normally on the first byte of their message, sometimes anywhere.
    const starts: number[] = [];
    let at = 0;
    for (const p of pieces) {
      starts.push(at);
      at += p.data.byteLength;
    }
    const cuts = new Set<number>([0, data.byteLength]);
    for (let c = rng.below(6); c > 0; c--) cuts.add(rng.below(data.byteLength + 1));
    const fdAt = new Map<number, number[]>();
    pieces.forEach((p, i) => {
      if (p.fds.length === 0) return;
      const pos = rng.chance(0.9) ? starts[i] : rng.below(data.byteLength + 1);
      cuts.add(pos);
      fdAt.set(pos, [...(fdAt.get(pos) ?? []), ...p.fds]);
    });
    const sorted = [...cuts].sort((a, b) => a - b);
    const newFramer = () => new VhostUserFramer(rng.chance(0.5) ? { channel } : {});
    let framer = newFramer();
    // After a framing error the peer reconnects and resumes at the next message.
    let resumeAt = 0;
    for (let i = 0; i < sorted.length; i++) {
      let a = sorted[i];
      const b = i + 1 < sorted.length ? sorted[i + 1] : a;
      let fds = fdAt.get(a) ?? [];
      if (a < resumeAt) {
        // Bytes of the dead connection: the test drops them and closes their fds.
        for (const fd of fds) ledger.close(fd);
        if (b <= resumeAt) continue;
        a = resumeAt;
        fds = [];
      }
      if (a === b && fds.length === 0) continue;
      const out = framer.feed(data.subarray(a, b), fds);
      decodeBoth(out, channel);
      if (out.error !== null) {
        stats.framingErrors++;
        decodeBoth(framer.end(), channel);
        resumeAt = starts.find((st) => st >= b) ?? data.byteLength;
        framer = newFramer();
      }
    }
    const end = framer.end();
    decodeBoth(end, channel);
    if (end.error !== null) stats.framingErrors++;
  }

  t.deepEqual(unexpected, []);
  t.deepEqual(ledger.problems, []);
  t.is(ledger.closed.size, ledger.handed.size, 'every fd handed out came back exactly once');
  t.is(stats.generated, MESSAGES);
  // The mix exercises both outcomes.
  t.true(stats.decoded > 10_000, JSON.stringify(stats));
  t.true(stats.rejected > 10_000, JSON.stringify(stats));
  t.log(JSON.stringify(stats));
});

test('fuzz: decoding arbitrary headers and payloads directly', (t) => {
  const rng = new Prng(42);
  let rejected = 0;
  for (let i = 0; i < 20_000; i++) {
    const size = rng.below(2100);
    const payload = rng.chance(0.1) ? Buffer.alloc(size) : rng.bytes(size);
    const hdr = {
      request: rng.chance(0.8) ? rng.below(48) : rng.u32(),
      flags: rng.pick([1, 5, 9, 0xd, rng.u32()]),
      size: rng.chance(0.95) ? size : rng.u32(),
    };
    const fds = Array.from({ length: rng.below(10) }, (_, k) => k);
    for (const ch of ['frontend', 'backend'] as const) {
      try {
        decodeVhostUserMsg({ hdr, payload, fds }, ch);
      } catch (e) {
        if (!(e instanceof CodecError)) {
          t.fail(`unexpected ${String(e)} for ${JSON.stringify(hdr)}`);
          return;
        }
        t.false(e.framing);
        rejected++;
      }
    }
  }
  t.true(rejected > 30_000);
});
