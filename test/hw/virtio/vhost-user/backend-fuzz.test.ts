/**
 * A bounded fuzz of the back-end's request handler: well over 100,000
 * mutated, truncated, oversized and unknown messages carrying real fds
 * (dups of /dev/null, memfds, eventfds), fed to the handler directly, then
 * a few thousand byte streams through real sockets. Nothing may throw, every
 * handled NEED_REPLY request is acked and every reply decodes, every fd is
 * closed and every mapping unmapped in the end.
 * Serial: the tests count this process's fds and mappings.
 */
import test from 'ava';
import {
  VhostUserBackend,
  type VhostUserBackendDevice,
  type VhostUserTransport,
} from '../../../../src/hw/virtio/vhost-user/backend/backend.js';
import {
  VhostUserRequest as R,
  VhostUserProtocolFeature as PF,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_VERSION,
  type VhostUserMsg,
  type VhostUserOutMsg,
  decodeVhostUserHeader,
  decodeVhostUserReply,
  encodeVhostUserMsg,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import {
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
} from '../../../../src/hw/virtio/standard-headers.js';
import { O_RDONLY } from '../../../../src/native/index.js';
import { Prng } from '../../../helpers/hw/virtio/prng.js';
import {
  ScriptedFrontend,
  makeGuestRam,
  os,
  sleep,
} from '../../../helpers/guest/scripted-frontend.js';
import { fdCount, procMaps } from '../../../helpers/native/util.js';

const bit = (n: number): bigint => 1n << BigInt(n);
const ramMappings = (): number =>
  procMaps().filter((l) => l.path.includes('memfd:tsqom-test')).length;

function device(): VhostUserBackendDevice {
  const config = new Uint8Array(8);
  return {
    numQueues: 2,
    shmemSizes: [0x1000n],
    getConfig: (o, n) => (o + n <= 8 ? config.slice(o, o + n) : null),
    setConfig: (o, d) => {
      if (o + d.length > 8) return false;
      config.set(d, o);
      return true;
    },
    onKick(q) {
      for (let e = q.pop(); e !== null; e = q.pop()) {
        q.write(e, q.read(e, 0, 64));
        q.push(e, 0);
      }
      q.notify();
    },
  };
}

/** A transport that records replies and sometimes behaves as a closed socket. */
class Recorder implements VhostUserTransport {
  readonly replies: { data: Buffer; fds: number[] }[] = [];
  closed = false;
  refuse = false;
  send(data: Uint8Array, fds: readonly number[] = []): boolean {
    if (this.closed || this.refuse) return false;
    this.replies.push({ data: Buffer.from(data), fds: [...fds] });
    return true;
  }
  close(): void {
    this.closed = true;
  }
}

type Rand = () => number;
const mulberry32 = (seed: number): Rand => {
  const p = new Prng(seed);
  return () => p.u32() / 0x1_0000_0000;
};
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const U64_EDGES = [0n, 1n, 0x1000n, 0xffffffffn, 0x1_0000_0000n, 2n ** 63n, 2n ** 64n - 1n];

/** Valid messages of a session over `ram`; fds are placeholders filled in per use. */
function corpus(ram: ReturnType<typeof makeGuestRam>): {
  msg: VhostUserOutMsg;
  fdKind: 'none' | 'ram' | 'event' | 'null';
}[] {
  const features = bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES);
  const proto =
    bit(PF.VHOST_USER_PROTOCOL_F_MQ) |
    bit(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK) |
    bit(PF.VHOST_USER_PROTOCOL_F_CONFIG) |
    bit(PF.VHOST_USER_PROTOCOL_F_SHMEM);
  const q = (i: number) => ({ index: i, noFd: false });
  const addr = (i: number) => ({
    index: i,
    flags: 0,
    descUserAddr: ram.qva(0x1000n),
    usedUserAddr: ram.qva(0x2000n),
    availUserAddr: ram.qva(0x1800n),
    logGuestAddr: 0n,
  });
  return [
    { msg: { request: R.VHOST_USER_GET_FEATURES }, fdKind: 'none' },
    {
      msg: { request: R.VHOST_USER_SET_FEATURES, body: { kind: 'u64', u64: features } },
      fdKind: 'none',
    },
    {
      msg: {
        request: R.VHOST_USER_SET_FEATURES,
        body: { kind: 'u64', u64: features | bit(VIRTIO_RING_F_EVENT_IDX) },
      },
      fdKind: 'none',
    },
    { msg: { request: R.VHOST_USER_GET_PROTOCOL_FEATURES }, fdKind: 'none' },
    {
      msg: { request: R.VHOST_USER_SET_PROTOCOL_FEATURES, body: { kind: 'u64', u64: proto } },
      fdKind: 'none',
    },
    { msg: { request: R.VHOST_USER_SET_OWNER }, fdKind: 'none' },
    { msg: { request: R.VHOST_USER_GET_QUEUE_NUM }, fdKind: 'none' },
    {
      msg: {
        request: R.VHOST_USER_SET_MEM_TABLE,
        body: { kind: 'memory', memory: { regions: ram.regions } },
      },
      fdKind: 'ram',
    },
    {
      msg: {
        request: R.VHOST_USER_SET_VRING_NUM,
        body: { kind: 'state', state: { index: 0, num: 16 } },
      },
      fdKind: 'none',
    },
    {
      msg: {
        request: R.VHOST_USER_SET_VRING_BASE,
        body: { kind: 'state', state: { index: 1, num: 3 } },
      },
      fdKind: 'none',
    },
    {
      msg: { request: R.VHOST_USER_SET_VRING_ADDR, body: { kind: 'addr', addr: addr(0) } },
      fdKind: 'none',
    },
    {
      msg: { request: R.VHOST_USER_SET_VRING_ADDR, body: { kind: 'addr', addr: addr(1) } },
      fdKind: 'none',
    },
    {
      msg: { request: R.VHOST_USER_SET_VRING_KICK, body: { kind: 'vringFile', file: q(0) } },
      fdKind: 'event',
    },
    {
      msg: { request: R.VHOST_USER_SET_VRING_CALL, body: { kind: 'vringFile', file: q(1) } },
      fdKind: 'event',
    },
    {
      msg: { request: R.VHOST_USER_SET_VRING_ERR, body: { kind: 'vringFile', file: q(0) } },
      fdKind: 'event',
    },
    {
      msg: {
        request: R.VHOST_USER_SET_VRING_CALL,
        body: { kind: 'vringFile', file: { index: 0, noFd: true } },
      },
      fdKind: 'none',
    },
    {
      msg: {
        request: R.VHOST_USER_SET_VRING_ENABLE,
        body: { kind: 'state', state: { index: 0, num: 1 } },
      },
      fdKind: 'none',
    },
    {
      msg: {
        request: R.VHOST_USER_GET_VRING_BASE,
        body: { kind: 'state', state: { index: 0, num: 0 } },
      },
      fdKind: 'none',
    },
    {
      msg: {
        request: R.VHOST_USER_VRING_KICK,
        body: { kind: 'state', state: { index: 0, num: 0 } },
      },
      fdKind: 'none',
    },
    {
      msg: {
        request: R.VHOST_USER_GET_CONFIG,
        body: {
          kind: 'config',
          config: { offset: 0, size: 4, flags: 0, region: new Uint8Array(4) },
        },
      },
      fdKind: 'none',
    },
    {
      msg: {
        request: R.VHOST_USER_SET_CONFIG,
        body: {
          kind: 'config',
          config: { offset: 2, size: 2, flags: 0, region: Uint8Array.of(7, 8) },
        },
      },
      fdKind: 'none',
    },
    { msg: { request: R.VHOST_USER_GET_SHMEM_CONFIG }, fdKind: 'none' },
    { msg: { request: R.VHOST_USER_SET_BACKEND_REQ_FD }, fdKind: 'null' },
    { msg: { request: R.VHOST_USER_RESET_DEVICE }, fdKind: 'none' },
    { msg: { request: R.VHOST_USER_RESET_OWNER }, fdKind: 'none' },
  ];
}

test.serial('100,000+ mutated messages fed to the handler: no throw, no leak', async (t) => {
  t.timeout(120_000);
  const fdsBefore = fdCount();
  const rand = mulberry32(0x7509);
  const ram = makeGuestRam([
    { gpa: 0n, size: 0x1_0000 },
    { gpa: 0x1_0000n, size: 0x1_0000 },
  ]);
  const devnull = os.open('/dev/null', O_RDONLY);
  const base = corpus(ram);
  const N = 120_000;
  let backend: VhostUserBackend | null = null;
  let rec = new Recorder();
  let connections = 0;
  let disconnects = 0;
  let acks = 0;
  let replies = 0;
  const errors = new Set<string>();
  const fresh = (): VhostUserBackend => {
    rec = new Recorder();
    connections++;
    return new VhostUserBackend(rec, device(), { onError: (m) => errors.add(m.slice(0, 40)) });
  };

  const makeFds = (kind: string, n: number): number[] => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      if (kind === 'ram' && i < ram.fds.length) out.push(os.dup(ram.fds[i]));
      else if (kind === 'event') out.push(os.eventfd());
      else out.push(os.dup(devnull));
    }
    return out;
  };

  for (let i = 0; i < N; i++) {
    if (backend === null || backend.closed) {
      if (backend !== null) disconnects++;
      backend = fresh();
    }
    const c = pick(rand, base);
    const wire = encodeVhostUserMsg({ ...c.msg, fds: [] });
    const hdr = decodeVhostUserHeader(wire.data);
    let payload = Buffer.from(wire.data.subarray(12));
    let nfds = c.fdKind === 'none' ? 0 : c.fdKind === 'ram' ? ram.fds.length : 1;
    let flags = rand() < 0.5 ? VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK : VHOST_USER_VERSION;
    const mutate = rand();
    if (mutate < 0.15) {
      // Flip bytes of the payload.
      for (let k = 0; k < 1 + Math.floor(rand() * 4) && payload.length > 0; k++) {
        payload[Math.floor(rand() * payload.length)] ^= 1 << Math.floor(rand() * 8);
      }
    } else if (mutate < 0.3) {
      // Overflowing values in every u64 slot.
      for (let off = 0; off + 8 <= payload.length; off += 8) {
        if (rand() < 0.5) payload.writeBigUInt64LE(pick(rand, U64_EDGES), off);
      }
    } else if (mutate < 0.42) {
      // Bad sizes: truncated or padded payloads.
      const n = Math.max(0, payload.length + Math.floor(rand() * 40) - 20);
      const p = Buffer.alloc(n);
      payload.copy(p, 0, 0, Math.min(n, payload.length));
      payload = p;
    } else if (mutate < 0.54) {
      // Wrong fd counts.
      nfds = Math.floor(rand() * 10);
    } else if (mutate < 0.62) {
      // Unknown or out-of-place requests.
      hdr.request = pick(rand, [0, 45, 46, 99, 255, 0xffffffff, 6, 7, 19, 22, 28, 31, 36, 37, 41]);
    } else if (mutate < 0.68) {
      flags = pick(rand, [0, 2, 3, 5, 0x11, 0xffffffff, VHOST_USER_VERSION | 4]);
    }
    hdr.size = payload.length;
    const msg: VhostUserMsg = {
      hdr: { ...hdr, flags },
      payload,
      fds: makeFds(c.fdKind, nfds),
    };
    const before = rec.replies.length;
    rec.refuse = rand() < 0.01;
    t.notThrows(() => backend!.handleMessage(msg));
    const after = rec.replies.slice(before);
    replies += after.length;
    if (!backend.closed && (flags & VHOST_USER_NEED_REPLY_MASK) !== 0 && !rec.refuse) {
      // A handled request that asked for a reply got exactly one.
      if (after.length !== 1) t.fail(`request ${hdr.request}: ${after.length} replies`);
      acks++;
    }
    for (const r of after) {
      // Every reply is one the front-end's reader accepts, except the empty
      // GET_CONFIG reply: libvhost-user's way to fail, which QEMU rejects.
      const h = decodeVhostUserHeader(r.data);
      if (h.request === R.VHOST_USER_GET_CONFIG && h.size === 0) continue;
      t.notThrows(() =>
        decodeVhostUserReply(
          { hdr: h, payload: r.data.subarray(12), fds: r.fds },
          hdr.request,
          'frontend',
        ),
      );
    }
    if (i % 2000 === 1999) {
      // Let watchers and queued kicks run.
      await new Promise((r) => setImmediate(r));
    }
  }
  backend?.close();
  await sleep(10);
  os.close(devnull);
  ram.dispose();
  t.is(fdCount(), fdsBefore, 'no fd leaked');
  t.is(ramMappings(), 0, 'no mapping leaked');
  t.true(connections > 100 && disconnects > 100, `${connections} connections`);
  t.true(acks > 1000 && replies > 10_000, `${acks} acks, ${replies} replies`);
  t.log(`${N} messages, ${connections} connections, ${errors.size} distinct errors`);
});

test.serial('raw byte streams: truncated headers, random chunking, garbage', async (t) => {
  t.timeout(60_000);
  const fdsBefore = fdCount();
  const rand = mulberry32(0x51ab);
  const devnull = os.open('/dev/null', O_RDONLY);
  const good = encodeVhostUserMsg({ request: R.VHOST_USER_GET_QUEUE_NUM }).data;
  for (let i = 0; i < 20_000; i++) {
    const rec = new Recorder();
    const b = new VhostUserBackend(rec, device(), { onError: () => undefined });
    const parts: Buffer[] = [];
    const n = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < n; k++) {
      const g = Buffer.from(good);
      if (rand() < 0.5) g.writeUInt32LE(Math.floor(rand() * 0x10000), 8 * Math.floor(rand() * 2));
      parts.push(g.subarray(0, Math.floor(rand() * (g.length + 1))));
    }
    const bytes = Buffer.concat(parts);
    let off = 0;
    while (off < bytes.length && !b.closed) {
      const len = 1 + Math.floor(rand() * 16);
      const fds = rand() < 0.1 ? [os.dup(devnull)] : [];
      b.receive(bytes.subarray(off, off + len), fds);
      off += len;
    }
    if (rand() < 0.1) b.receive(new Uint8Array(0), [os.dup(devnull)]);
    b.close();
    t.true(rec.closed);
  }
  os.close(devnull);
  t.is(fdCount(), fdsBefore);
});

test.serial(
  'socket level: mutated sessions over real sockets, closed at random points',
  async (t) => {
    t.timeout(60_000);
    const fdsBefore = fdCount();
    const rand = mulberry32(0xbeef);
    const ram = makeGuestRam([{ gpa: 0n, size: 0x1_0000 }]);
    const base = corpus(ram);
    for (let i = 0; i < 300; i++) {
      const { frontend, backendFd } = ScriptedFrontend.pair();
      const b = VhostUserBackend.fromFd(backendFd, device(), { onError: () => undefined });
      const steps = 1 + Math.floor(rand() * 12);
      for (let k = 0; k < steps && !b.closed; k++) {
        const c = pick(rand, base);
        const fds =
          c.fdKind === 'ram'
            ? ram.fds
            : c.fdKind === 'event'
              ? [os.eventfd()]
              : c.fdKind === 'null'
                ? []
                : [];
        const w = encodeVhostUserMsg({ ...c.msg, fds });
        const data = Buffer.from(w.data);
        if (rand() < 0.3) data[Math.floor(rand() * data.length)] ^= 0xff;
        const cut = rand() < 0.2 ? Math.floor(rand() * data.length) : data.length;
        frontend.sendRaw(data.subarray(0, cut), cut > 0 ? w.fds : []);
        if (c.fdKind === 'event') os.close(fds[0]);
        if (cut < data.length) break;
      }
      await sleep(0);
      frontend.close();
      await b.whenClosed;
      await frontend.closed;
    }
    ram.dispose();
    await sleep(10);
    t.is(fdCount(), fdsBefore);
    t.is(ramMappings(), 0);
  },
);
