/**
 * A bounded fuzz of the front-end's back-end channel: at least 100,000
 * malformed and mutated messages (bad sizes, wrong fd counts with real
 * fds, overflowing offsets, unknown requests, flipped bits, bad flags,
 * truncated messages, closed sockets) from a deterministic generator. For
 * every message an oracle (a model of the region's mappings and of QEMU's
 * rules) predicts the outcome: a reply with the right value, no reply, or a
 * clean disconnect. At the end the device's mappings match the model and
 * no descriptor is left behind.
 */
import test from 'ava';
import 'reflect-metadata';
import { container } from 'tsyringe';
import { HostOs } from '../../../../src/native/host.js';
import { MFD_CLOEXEC } from '../../../../src/native/constants.js';
import {
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_REPLY_MASK,
  VHOST_USER_VERSION,
  VhostUserBackendRequest as B,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import { VhostUserBackendChannel } from '../../../../src/hw/virtio/vhost-user/frontend/frontend-channel.js';
import { VhostUserStreamFramer } from '../../../../src/hw/virtio/vhost-user/protocol/stream-framer.js';
import { UnixStream } from '../../../../src/io/unix-stream.js';
import { virtioShmemDropAll } from '../../../../src/hw/virtio/virtio-shmem.js';
import { Prng } from '../../../helpers/hw/virtio/prng.js';
import { setupFakeDevice, vhostFds } from '../../../helpers/vhost-user/setup.js';

const os = container.resolve(HostOs);
const REGION = 16n * 2n ** 20n;
const PAGE = 4096n;
const MEMFD_SIZE = 64 * 1024;
const TOTAL = Math.max(1, Number(process.env.TSQOM_FUZZ_MESSAGES ?? 100_000));
const U64 = (1n << 64n) - 1n;

interface Out {
  data: Buffer;
  nfds: number;
  /** 'reply' with the value, 'none', or 'disconnect' (the channel must close after it). */
  expect:
    { kind: 'reply'; request: number; value: bigint } | { kind: 'none' } | { kind: 'disconnect' };
}

class Model {
  readonly maps = new Map<bigint, bigint>();

  overlaps(off: bigint, len: bigint): boolean {
    for (const [o, l] of this.maps) if (off < o + l && o < off + len) return true;
    return false;
  }
}

function header(request: number, flags: number, size: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32LE(request >>> 0, 0);
  h.writeUInt32LE(flags >>> 0, 4);
  h.writeUInt32LE(size >>> 0, 8);
  return h;
}

function mmapPayload(
  shmid: number,
  fdOffset: bigint,
  shmOffset: bigint,
  len: bigint,
  flags: bigint,
): Buffer {
  const p = Buffer.alloc(40);
  p.writeUInt8(shmid, 0);
  p.writeBigUInt64LE(fdOffset & U64, 8);
  p.writeBigUInt64LE(shmOffset & U64, 16);
  p.writeBigUInt64LE(len & U64, 24);
  p.writeBigUInt64LE(flags & U64, 32);
  return p;
}

/**
 * The oracle: what the front-end does with one well-framed message
 * (header size equal to the payload), updating the model as it would.
 */
function predict(
  model: Model,
  request: number,
  flags: number,
  payload: Buffer,
  nfds: number,
): Out['expect'] {
  if ((flags & 3) !== VHOST_USER_VERSION || (flags >>> 0) & ~0xf) return { kind: 'disconnect' };
  if (payload.length > 2056 || nfds > 8) return { kind: 'disconnect' };
  const needReply = (flags & VHOST_USER_NEED_REPLY_MASK) !== 0;
  const plain = (flags & VHOST_USER_REPLY_MASK) === 0;
  let ok = false;
  if (plain && request === B.VHOST_USER_BACKEND_CONFIG_CHANGE_MSG) {
    ok = payload.length === 0 && nfds === 0;
  } else if (
    plain &&
    (request === B.VHOST_USER_BACKEND_SHMEM_MAP || request === B.VHOST_USER_BACKEND_SHMEM_UNMAP)
  ) {
    const isMap = request === B.VHOST_USER_BACKEND_SHMEM_MAP;
    if (payload.length === 40 && nfds === (isMap ? 1 : 0)) {
      const shmid = payload.readUInt8(0);
      const fdOffset = payload.readBigUInt64LE(8);
      const off = payload.readBigUInt64LE(16);
      const len = payload.readBigUInt64LE(24);
      const inRegion = shmid === 0 && off + len <= U64 && off + len <= REGION;
      if (isMap) {
        const pages = ((len + PAGE - 1n) / PAGE) * PAGE;
        ok =
          inRegion &&
          len > 0n &&
          !model.overlaps(off, len) &&
          fdOffset % PAGE === 0n &&
          fdOffset + pages <= BigInt(MEMFD_SIZE);
        if (ok) model.maps.set(off, len);
      } else {
        ok = inRegion && model.maps.get(off) === len;
        if (ok) model.maps.delete(off);
      }
    }
  }
  if (!needReply) return { kind: 'none' };
  return { kind: 'reply', request, value: ok ? 0n : 1n };
}

/** One message of the fuzz mix (well framed: the header's size is the payload's). */
function generate(
  r: Prng,
  model: Model,
): { request: number; flags: number; payload: Buffer; nfds: number } {
  const pick = r.below(100);
  let flags = VHOST_USER_VERSION | (r.below(10) < 8 ? VHOST_USER_NEED_REPLY_MASK : 0);
  const page = (n: number): bigint => BigInt(n) * PAGE;
  if (pick < 35) {
    // SHMEM_MAP, mostly plausible, with interesting edges.
    const e = r.below(20);
    const shmid = e === 0 ? 1 + r.below(255) : 0;
    let off = page(r.below(4096));
    let len = page(1 + r.below(16));
    let fdOff = page(r.below(16));
    if (e === 1) off = U64 - page(r.below(4));
    if (e === 2) len = U64 - BigInt(r.below(4096));
    if (e === 3) len = 0n;
    if (e === 4) off = REGION - page(r.below(2));
    if (e === 5) fdOff += BigInt(1 + r.below(4095));
    if (e === 6) len += BigInt(1 + r.below(4095));
    if (e === 7) off += BigInt(1 + r.below(4095));
    if (e === 8 && model.maps.size)
      off = [...model.maps.keys()][r.below(model.maps.size)] + page(r.below(2));
    const nfds = r.below(10) === 0 ? r.below(4) : 1;
    return {
      request: B.VHOST_USER_BACKEND_SHMEM_MAP,
      flags,
      payload: mmapPayload(shmid, fdOff, off, len, BigInt(r.below(4))),
      nfds,
    };
  }
  if (pick < 55) {
    // SHMEM_UNMAP: exact, partial, or random.
    const keys = [...model.maps.entries()];
    let off = page(r.below(4096));
    let len = page(1 + r.below(16));
    if (keys.length && r.below(3) > 0) {
      const [o, l] = keys[r.below(keys.length)];
      off = o;
      len = r.below(4) === 0 ? l - PAGE : l;
    }
    const shmid = r.below(30) === 0 ? 7 : 0;
    const nfds = r.below(15) === 0 ? 1 + r.below(2) : 0;
    return {
      request: B.VHOST_USER_BACKEND_SHMEM_UNMAP,
      flags,
      payload: mmapPayload(shmid, 0n, off, len, 0n),
      nfds,
    };
  }
  if (pick < 65) {
    // Bad sizes for MAP/UNMAP.
    let size = r.below(120);
    if (size === 40) size = 41;
    const payload = r.bytes(size);
    return {
      request: r.below(2) ? B.VHOST_USER_BACKEND_SHMEM_MAP : B.VHOST_USER_BACKEND_SHMEM_UNMAP,
      flags,
      payload,
      nfds: r.below(3),
    };
  }
  if (pick < 75) {
    // Unknown request ids, and the known ones tsqom does not serve.
    const ids = [0, 11, 12, 44, 99, 1000, 0x7fffffff, 0xffffffff, 1, 3, 4, 5, 6, 7, 8];
    const payload = r.bytes([0, 8, 16, 24, 32, 40][r.below(6)]);
    return { request: ids[r.below(ids.length)], flags, payload, nfds: r.below(5) === 0 ? 1 : 0 };
  }
  if (pick < 80) {
    return {
      request: B.VHOST_USER_BACKEND_CONFIG_CHANGE_MSG,
      flags,
      payload: Buffer.alloc(r.below(5) === 0 ? 8 : 0),
      nfds: r.below(8) === 0 ? 1 : 0,
    };
  }
  if (pick < 88) {
    // Reply flags where requests are expected.
    flags |= VHOST_USER_REPLY_MASK;
    return {
      request: B.VHOST_USER_BACKEND_SHMEM_MAP,
      flags,
      payload: mmapPayload(0, 0n, page(r.below(4096)), PAGE, 1n),
      nfds: 1,
    };
  }
  // Bit flips in a valid MAP/UNMAP (request id, flags' reply bits, payload).
  const isMap = r.below(2) === 0;
  const payload = mmapPayload(0, page(r.below(16)), page(r.below(4096)), page(1 + r.below(8)), 1n);
  let request = isMap ? B.VHOST_USER_BACKEND_SHMEM_MAP : B.VHOST_USER_BACKEND_SHMEM_UNMAP;
  for (let k = 1 + r.below(3); k > 0; k--) {
    const where = r.below(3);
    if (where === 0) request ^= 1 << r.below(8);
    else if (where === 1) flags ^= 1 << (2 + r.below(2));
    else payload[r.below(40)] ^= 1 << r.below(8);
  }
  return { request, flags, payload, nfds: isMap ? 1 : 0 };
}

/** A message that must end the channel, and how. */
function breaker(r: Prng): { data: Buffer; nfds: number; closePeer: boolean } {
  switch (r.below(5)) {
    case 0:
      return {
        data: header(B.VHOST_USER_BACKEND_SHMEM_MAP, 1, 2057 + r.below(1 << 20)),
        nfds: 0,
        closePeer: false,
      };
    case 1:
      return {
        data: Buffer.concat([header(9, (r.below(3) + 2) | 8, 40), Buffer.alloc(40)]),
        nfds: 0,
        closePeer: false,
      };
    case 2:
      return {
        data: Buffer.concat([header(9, 1 | (1 << (4 + r.below(28))), 40), Buffer.alloc(40)]),
        nfds: 0,
        closePeer: false,
      };
    case 3:
      return {
        data: Buffer.concat([header(10, 9, 40), Buffer.alloc(40)]),
        nfds: 9 + r.below(4),
        closePeer: false,
      };
    default: {
      // A truncated header or payload, then the socket closes.
      const full = Buffer.concat([header(9, 9, 40), Buffer.alloc(40)]);
      return { data: full.subarray(0, 1 + r.below(51)), nfds: r.below(2), closePeer: true };
    }
  }
}

interface Reply {
  request: number;
  flags: number;
  size: number;
  value: bigint;
}

test.serial(`the back-end channel survives ${TOTAL} malformed and mutated messages`, async (t) => {
  const s = await setupFakeDevice({ backend: { shmemSizes: [REGION] } });
  const region = s.dev.shmemRegion(0)!;
  const handler = s.dev.backendHandler();
  let reports = 0;
  const sink = (): void => {
    reports++;
  };
  const memfd = os.memfdCreate('fuzz', MFD_CLOEXEC);
  os.ftruncate(memfd, MEMFD_SIZE);
  const baseline = vhostFds();
  const r = new Prng(0x5eed1234);
  const model = new Model();
  let sent = 0;
  let replies = 0;
  let disconnects = 0;
  try {
    while (sent < TOTAL) {
      const [a, b] = UnixStream.pair();
      const ch = new VhostUserBackendChannel(a, { handler, report: sink });
      const got: Reply[] = [];
      const framer = new VhostUserStreamFramer();
      const closed = new Promise<void>((res) => ch.once('close', () => res()));
      b.on('data', (chunk, fds) => {
        for (const fd of fds) os.close(fd);
        const out = framer.feed(chunk);
        for (const m of out.messages) {
          got.push({
            request: m.hdr.request,
            flags: m.hdr.flags,
            size: m.hdr.size,
            value: m.payload.length === 8 ? m.payload.readBigUInt64LE(0) : -1n,
          });
        }
      });
      b.on('error', () => undefined);
      b.resume();
      try {
        // Up to ~2000 messages per channel, in batches; sometimes the channel ends with a breaker.
        let channelAlive = true;
        for (let batchNo = 0; channelAlive && batchNo < 40 && sent < TOTAL; batchNo++) {
          const want: Extract<Out['expect'], { kind: 'reply' }>[] = [];
          const n = 1 + r.below(64);
          for (let i = 0; i < n && sent < TOTAL; i++) {
            const m = generate(r, model);
            const expect = predict(model, m.request, m.flags, m.payload, m.nfds);
            b.send(
              Buffer.concat([header(m.request, m.flags, m.payload.length), m.payload]),
              new Array(m.nfds).fill(memfd),
            );
            sent++;
            if (expect.kind === 'reply') want.push(expect);
            t.not(expect.kind, 'disconnect');
          }
          // A request that always gets a reply: once it is answered, everything before it was handled.
          b.send(header(0xfffe, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK, 0));
          sent++;
          want.push({ kind: 'reply', request: 0xfffe, value: 1n });
          const breakNow = r.below(40) === 0;
          let closePeer = false;
          if (breakNow) {
            const k = breaker(r);
            b.send(k.data, new Array(k.nfds).fill(memfd));
            sent++;
            closePeer = k.closePeer;
          }
          const start = got.length;
          const deadline = Date.now() + 10000;
          while (got.length < start + want.length || (breakNow && !ch.closed)) {
            // A socket closed in the middle of a message: once the replies are in, hang up.
            if (closePeer && got.length >= start + want.length) b.close();
            if (Date.now() > deadline) {
              t.fail(`stalled at message ${sent}: ${got.length - start}/${want.length} replies`);
              return;
            }
            await new Promise((res) => setImmediate(res));
          }
          const batch = got.slice(start);
          t.is(batch.length, want.length, `replies in batch ending at ${sent}`);
          for (let i = 0; i < want.length; i++) {
            const g = batch[i];
            const w = want[i];
            if (
              g.request !== w.request ||
              g.value !== w.value ||
              g.flags !== (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK) ||
              g.size !== 8
            ) {
              t.fail(
                `message ${sent}: got ${JSON.stringify({ ...g, value: String(g.value) })}, want ${w.request}=${w.value}`,
              );
              return;
            }
          }
          replies += want.length;
          if (breakNow) {
            await closed;
            disconnects++;
            channelAlive = false;
          }
          t.is(region.mappingCount, model.maps.size);
          if (model.maps.size > 256) {
            virtioShmemDropAll(s.dev);
            model.maps.clear();
          }
        }
      } finally {
        b.close();
        ch.close();
      }
      await closed;
    }
    t.true(sent >= TOTAL);
    t.true(replies > TOTAL / 2, `${replies} replies checked`);
    t.true(disconnects >= Math.floor(TOTAL / 5000), `${disconnects} clean disconnects`);
    t.true(reports > TOTAL / 4);
    t.is(region.mappingCount, model.maps.size);
    virtioShmemDropAll(s.dev);
    await new Promise((res) => setImmediate(res));
    t.deepEqual(vhostFds(), baseline, 'no descriptor left behind');
  } finally {
    os.close(memfd);
    await s.close();
  }
});
