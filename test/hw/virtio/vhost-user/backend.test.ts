/**
 * The vhost-user back-end library against a scripted front-end over a
 * socketpair: handshake, memory table, vrings driven by a test driver over
 * the same memfd memory, eventfds, the back-end channel (SHMEM_MAP /
 * SHMEM_UNMAP with REPLY_ACK), config space, malformed input, teardown.
 * Serial: the tests count this process's fds and mappings.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VhostUserBackendServer } from '../../../../src/hw/virtio/vhost-user/backend/backend-server.js';
import {
  VhostUserBackend,
  VhostUserBackendRequestError,
  type VhostUserBackendDevice,
  type VhostUserBackendQueue,
  VHOST_USER_BACKEND_FEATURES,
} from '../../../../src/hw/virtio/vhost-user/backend/backend.js';
import {
  VhostUserBackendRequest as B,
  VhostUserProtocolFeature as PF,
  VhostUserRequest as R,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_FLAG_MAP_RW,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_REPLY_MASK,
  VHOST_USER_VERSION,
  decodeVhostUserMMap,
  encodeVhostUserAck,
  encodeVhostUserMsg,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import { UnixStream } from '../../../../src/io/unix-stream.js';
import {
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
} from '../../../../src/hw/virtio/standard-headers.js';
import { VirtQueueDriver, vringLayout } from '../../../../src/hw/virtio/virtqueue.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_STREAM } from '../../../../src/native/index.js';
import {
  ScriptedFrontend,
  makeGuestRam,
  os,
  sleep,
  waitEventfd,
} from '../../../helpers/guest/scripted-frontend.js';
import { fdCount, procMaps } from '../../../helpers/native/util.js';

const bit = (n: number): bigint => 1n << BigInt(n);
/** Mappings of the test's guest RAM (other mappings come and go with the runtime). */
const ramMappings = (): number =>
  procMaps().filter((l) => l.path.includes('memfd:tsqom-test')).length;
const PROTO_ALL =
  bit(PF.VHOST_USER_PROTOCOL_F_MQ) |
  bit(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK) |
  bit(PF.VHOST_USER_PROTOCOL_F_BACKEND_REQ) |
  bit(PF.VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD) |
  bit(PF.VHOST_USER_PROTOCOL_F_RESET_DEVICE) |
  bit(PF.VHOST_USER_PROTOCOL_F_CONFIG) |
  bit(PF.VHOST_USER_PROTOCOL_F_SHMEM);

/** A device that answers each request with its bytes reversed. */
function reverser(extra: Partial<VhostUserBackendDevice> = {}): VhostUserBackendDevice & {
  kicks: number;
  started: string[];
} {
  const config = new Uint8Array(16).map((_, i) => 0xa0 + i);
  const dev = {
    numQueues: 2,
    features: bit(0),
    shmemSizes: [0x10_0000n, 0n, 0x20_0000n],
    kicks: 0,
    started: [] as string[],
    getConfig(offset: number, size: number): Uint8Array | null {
      if (offset + size > config.length) return null;
      return config.slice(offset, offset + size);
    },
    setConfig(offset: number, data: Uint8Array): boolean {
      if (offset + data.length > config.length) return false;
      config.set(data, offset);
      return true;
    },
    onQueueStarted(q: VhostUserBackendQueue, started: boolean): void {
      dev.started.push(`${q.index}:${started}`);
    },
    onKick(q: VhostUserBackendQueue): void {
      dev.kicks++;
      for (let e = q.pop(); e !== null; e = q.pop()) {
        const req = q.read(e);
        const n = q.write(e, req.reverse());
        q.push(e, n);
      }
      q.notify();
    },
    ...extra,
  };
  return dev;
}

interface Rig {
  fe: ScriptedFrontend;
  be: VhostUserBackend;
  errors: string[];
}

function rig(device: VhostUserBackendDevice = reverser()): Rig {
  const { frontend, backendFd } = ScriptedFrontend.pair();
  const errors: string[] = [];
  const be = VhostUserBackend.fromFd(backendFd, device, { onError: (m) => errors.push(m) });
  return { fe: frontend, be, errors };
}

async function handshake(fe: ScriptedFrontend, protocol = PROTO_ALL): Promise<void> {
  const f = await fe.request({ request: R.VHOST_USER_GET_FEATURES });
  const features = f.payload.readBigUInt64LE(0);
  await fe.request({ request: R.VHOST_USER_GET_PROTOCOL_FEATURES });
  fe.send({ request: R.VHOST_USER_SET_PROTOCOL_FEATURES, body: { kind: 'u64', u64: protocol } });
  fe.send({ request: R.VHOST_USER_SET_OWNER });
  const ack = await fe.requestAck({
    request: R.VHOST_USER_SET_FEATURES,
    body: {
      kind: 'u64',
      u64: features & (bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES)),
    },
  });
  if (ack !== 0n) throw new Error(`SET_FEATURES ack ${ack}`);
}

test.serial(
  'the handshake offers libvhost-user features plus the device and config/shmem bits',
  async (t) => {
    const { fe, be } = rig();
    const f = await fe.request({ request: R.VHOST_USER_GET_FEATURES });
    t.is(f.hdr.flags, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
    t.is(f.payload.readBigUInt64LE(0), VHOST_USER_BACKEND_FEATURES | bit(0));
    t.true((f.payload.readBigUInt64LE(0) & bit(VIRTIO_RING_F_EVENT_IDX)) !== 0n);
    const p = await fe.request({ request: R.VHOST_USER_GET_PROTOCOL_FEATURES });
    t.is(p.payload.readBigUInt64LE(0), PROTO_ALL);
    t.is(bit(22), bit(PF.VHOST_USER_PROTOCOL_F_SHMEM));
    t.is(
      await fe.requestAck({
        request: R.VHOST_USER_SET_PROTOCOL_FEATURES,
        body: { kind: 'u64', u64: PROTO_ALL },
      }),
      0n,
    );
    t.is(be.protocolFeatures, PROTO_ALL);
    const q = await fe.request({ request: R.VHOST_USER_GET_QUEUE_NUM });
    t.is(q.payload.readBigUInt64LE(0), 2n);
    t.is(await fe.requestAck({ request: R.VHOST_USER_SET_OWNER }), 0n);
    fe.close();
    await be.whenClosed;
    t.false(be.broken);
  },
);

test.serial('a device without config or shmem regions offers neither', async (t) => {
  const { fe, be } = rig({ numQueues: 1 });
  const p = await fe.request({ request: R.VHOST_USER_GET_PROTOCOL_FEATURES });
  const v = p.payload.readBigUInt64LE(0);
  t.is(v & bit(PF.VHOST_USER_PROTOCOL_F_CONFIG), 0n);
  t.is(v & bit(PF.VHOST_USER_PROTOCOL_F_SHMEM), 0n);
  t.not(v & bit(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK), 0n);
  fe.close();
  await be.whenClosed;
});

test.serial('GET_SHMEM_CONFIG replies with the region sizes, byte for byte', async (t) => {
  const { fe, be } = rig();
  await handshake(fe);
  const r = await fe.request({ request: R.VHOST_USER_GET_SHMEM_CONFIG });
  const expected = Buffer.alloc(12 + 2056);
  expected.writeUInt32LE(R.VHOST_USER_GET_SHMEM_CONFIG, 0);
  expected.writeUInt32LE(VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, 4);
  expected.writeUInt32LE(2056, 8);
  expected.writeUInt32LE(2, 12); // two non-zero sizes
  expected.writeBigUInt64LE(0x10_0000n, 20);
  expected.writeBigUInt64LE(0x20_0000n, 36);
  const got = Buffer.concat([
    Buffer.from([
      ...new Uint8Array(new Uint32Array([r.hdr.request, r.hdr.flags, r.hdr.size]).buffer),
    ]),
    r.payload,
  ]);
  t.deepEqual(got, expected);
  fe.close();
  await be.whenClosed;
});

test.serial(
  'GET_CONFIG / SET_CONFIG go to the device; a failed read is an empty reply',
  async (t) => {
    const { fe, be } = rig();
    await handshake(fe);
    const r = await fe.request({
      request: R.VHOST_USER_GET_CONFIG,
      body: { kind: 'config', config: { offset: 4, size: 4, flags: 0, region: new Uint8Array(4) } },
    });
    t.deepEqual([...r.payload.subarray(12)], [0xa4, 0xa5, 0xa6, 0xa7]);
    t.is(r.payload.readUInt32LE(0), 4);
    t.is(
      await fe.requestAck({
        request: R.VHOST_USER_SET_CONFIG,
        body: {
          kind: 'config',
          config: { offset: 4, size: 2, flags: 0, region: Uint8Array.of(1, 2) },
        },
      }),
      0n,
    );
    const r2 = await fe.request({
      request: R.VHOST_USER_GET_CONFIG,
      body: { kind: 'config', config: { offset: 4, size: 3, flags: 0, region: new Uint8Array(3) } },
    });
    t.deepEqual([...r2.payload.subarray(12)], [1, 2, 0xa6]);
    const bad = await fe.request({
      request: R.VHOST_USER_GET_CONFIG,
      body: {
        kind: 'config',
        config: { offset: 15, size: 4, flags: 0, region: new Uint8Array(4) },
      },
    });
    t.is(bad.hdr.size, 0);
    fe.close();
    await be.whenClosed;
  },
);

test.serial('SET_MEM_TABLE maps the memfds shared, closes them, and teardown unmaps', async (t) => {
  const fdsBefore = fdCount();
  const mapsBefore = ramMappings();
  const ram = makeGuestRam([
    { gpa: 0n, size: 0x10_0000 },
    { gpa: 0x10_0000n, size: 0x8_0000 },
  ]);
  const { fe, be } = rig();
  await handshake(fe);
  const fdsWithRam = fdCount();
  t.is(
    await fe.requestAck({
      request: R.VHOST_USER_SET_MEM_TABLE,
      body: { kind: 'memory', memory: { regions: ram.regions } },
      fds: ram.fds,
    }),
    0n,
  );
  // The received duplicates were closed once mapped.
  t.is(fdCount(), fdsWithRam);
  const mem = be.memory!;
  t.is(mem.regions.length, 2);
  for (const r of mem.regions) {
    const line = procMaps().find((l) => l.start === r.mapping.address);
    t.truthy(line);
    t.is(line!.perms, 'rw-s');
    t.regex(line!.path, /memfd:tsqom-test-ram/);
  }
  // Both sides see the same bytes, across the region boundary too.
  ram.memory.write(0x10_0000n - 2n, Uint8Array.of(1, 2, 3, 4));
  t.deepEqual([...mem.read(0x10_0000n - 2n, 4)], [1, 2, 3, 4]);
  t.is(mem.qvaToGpa(ram.regions[1].userspaceAddr + 5n), 0x10_0005n);
  fe.close();
  await be.whenClosed;
  t.is(be.memory, null);
  ram.dispose();
  t.is(fdCount(), fdsBefore);
  t.is(ramMappings(), mapsBefore);
});

interface RingRig extends Rig {
  ram: ReturnType<typeof makeGuestRam>;
  driver: VirtQueueDriver<string>;
  kick: number;
  call: number;
  features: bigint;
}

const RING = 0x1000n;
const BUFS = 0x8000n;

async function ringRig(features: bigint, device = reverser()): Promise<RingRig> {
  const r = rig(device);
  const ram = makeGuestRam([{ gpa: 0n, size: 0x4_0000 }]);
  await handshake(r.fe);
  if (
    (await r.fe.requestAck({
      request: R.VHOST_USER_SET_FEATURES,
      body: { kind: 'u64', u64: features | bit(VHOST_USER_F_PROTOCOL_FEATURES) },
    })) !== 0n
  ) {
    throw new Error('SET_FEATURES failed');
  }
  await r.fe.requestAck({
    request: R.VHOST_USER_SET_MEM_TABLE,
    body: { kind: 'memory', memory: { regions: ram.regions } },
    fds: ram.fds,
  });
  const layout = vringLayout(RING, 8);
  const driver = new VirtQueueDriver<string>(ram.memory, layout, { features });
  const kick = os.eventfd();
  const call = os.eventfd();
  const fe = r.fe;
  await fe.requestAck({
    request: R.VHOST_USER_SET_VRING_NUM,
    body: { kind: 'state', state: { index: 0, num: 8 } },
  });
  await fe.requestAck({
    request: R.VHOST_USER_SET_VRING_BASE,
    body: { kind: 'state', state: { index: 0, num: 0 } },
  });
  await fe.requestAck({
    request: R.VHOST_USER_SET_VRING_ADDR,
    body: {
      kind: 'addr',
      addr: {
        index: 0,
        flags: 0,
        descUserAddr: ram.qva(BigInt(layout.desc)),
        usedUserAddr: ram.qva(BigInt(layout.used)),
        availUserAddr: ram.qva(BigInt(layout.avail)),
        logGuestAddr: 0n,
      },
    },
  });
  await fe.requestAck({
    request: R.VHOST_USER_SET_VRING_KICK,
    body: { kind: 'vringFile', file: { index: 0, noFd: false } },
    fds: [kick],
  });
  await fe.requestAck({
    request: R.VHOST_USER_SET_VRING_CALL,
    body: { kind: 'vringFile', file: { index: 0, noFd: false } },
    fds: [call],
  });
  // libvhost-user signals a fresh call fd once, in case an interrupt was lost.
  await waitEventfd(call);
  return { ...r, ram, driver, kick, call, features };
}

async function closeRing(t: { is: (a: unknown, b: unknown) => void }, r: RingRig): Promise<void> {
  r.fe.close();
  await r.be.whenClosed;
  os.close(r.kick);
  os.close(r.call);
  r.ram.dispose();
  t.is(r.be.closed, true);
}

for (const [name, features] of [
  ['', bit(VIRTIO_F_VERSION_1)],
  [' (EVENT_IDX)', bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_RING_F_EVENT_IDX)],
] as const) {
  test.serial(`a kicked ring is processed and the driver is called${name}`, async (t) => {
    const fdsBefore = fdCount();
    const mapsBefore = ramMappings();
    const dev = reverser();
    const r = await ringRig(features, dev);
    const { driver, ram, fe } = r;
    // Disabled rings are not processed; the kick is remembered.
    ram.memory.write(BUFS, Buffer.from('hello, vring'));
    driver.add([{ addr: BUFS, len: 12 }], [{ addr: BUFS + 0x100n, len: 64 }], 'one');
    t.true(driver.kickNeeded());
    os.eventfdWrite(r.kick, 1n);
    await sleep(50);
    t.is(dev.kicks, 0);
    t.false(driver.hasUsed());
    await fe.requestAck({
      request: R.VHOST_USER_SET_VRING_ENABLE,
      body: { kind: 'state', state: { index: 0, num: 1 } },
    });
    t.is(await waitEventfd(r.call), 1n);
    const used = driver.getUsed();
    t.deepEqual(used, { token: 'one', len: 12, id: used!.id });
    t.is(Buffer.from(ram.memory.read(BUFS + 0x100n, 12)).toString(), 'gnirv ,olleh');
    t.deepEqual(dev.started, ['0:true']);

    // A second request, kicked while the ring runs, split over two buffers.
    ram.memory.write(BUFS + 0x200n, Buffer.from('abc'));
    ram.memory.write(BUFS + 0x300n, Buffer.from('def'));
    driver.add(
      [
        { addr: BUFS + 0x200n, len: 3 },
        { addr: BUFS + 0x300n, len: 3 },
      ],
      [{ addr: BUFS + 0x400n, len: 6 }],
      'two',
    );
    if (driver.kickNeeded()) os.eventfdWrite(r.kick, 1n);
    await waitEventfd(r.call);
    t.is(driver.getUsed()!.token, 'two');
    t.is(Buffer.from(ram.memory.read(BUFS + 0x400n, 6)).toString(), 'fedcba');

    // GET_VRING_BASE reports the next index and stops the ring.
    const base = await fe.request({
      request: R.VHOST_USER_GET_VRING_BASE,
      body: { kind: 'state', state: { index: 0, num: 0 } },
    });
    t.is(base.payload.readUInt32LE(4), 2);
    t.deepEqual(dev.started, ['0:true', '0:false']);
    t.false(r.be.queue(0).started);
    t.is(r.be.queue(0).kickFd, -1);
    driver.add([{ addr: BUFS, len: 1 }], [{ addr: BUFS + 0x100n, len: 1 }], 'three');
    os.eventfdWrite(r.kick, 1n);
    await sleep(30);
    t.is(dev.kicks, 2);
    await closeRing(t, r);
    t.is(fdCount(), fdsBefore);
    t.is(ramMappings(), mapsBefore);
  });
}

test.serial('in-band VRING_KICK and NOFD kick/call are accepted', async (t) => {
  const dev = reverser();
  const r = await ringRig(bit(VIRTIO_F_VERSION_1), dev);
  await r.fe.requestAck({
    request: R.VHOST_USER_SET_VRING_ENABLE,
    body: { kind: 'state', state: { index: 0, num: 1 } },
  });
  t.is(
    await r.fe.requestAck({
      request: R.VHOST_USER_SET_VRING_KICK,
      body: { kind: 'vringFile', file: { index: 0, noFd: true } },
    }),
    0n,
  );
  t.is(r.be.queue(0).kickFd, -1);
  r.ram.memory.write(BUFS, Uint8Array.of(1, 2));
  r.driver.add([{ addr: BUFS, len: 2 }], [{ addr: BUFS + 0x10n, len: 2 }], 'x');
  r.fe.send({
    request: R.VHOST_USER_VRING_KICK,
    body: { kind: 'state', state: { index: 0, num: 0 } },
  });
  await waitEventfd(r.call);
  t.deepEqual([...r.ram.memory.read(BUFS + 0x10n, 2)], [2, 1]);
  await closeRing(t, r);
});

test.serial('RESET_DEVICE stops and forgets the rings, closing their eventfds', async (t) => {
  const dev = reverser();
  const r = await ringRig(bit(VIRTIO_F_VERSION_1), dev);
  const before = fdCount();
  t.is(await r.fe.requestAck({ request: R.VHOST_USER_RESET_DEVICE }), 0n);
  const q = r.be.queue(0);
  t.false(q.started);
  t.false(q.enabled);
  t.is(q.size, 0);
  t.is(q.addr, null);
  t.is(fdCount(), before - 2);
  await closeRing(t, r);
});

test.serial('SHMEM_MAP carries the fd and NEED_REPLY, and waits for the ack', async (t) => {
  const fdsBefore = fdCount();
  const { fe, be } = rig();
  await handshake(fe);
  const [mine, theirs] = os.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
  t.is(await fe.requestAck({ request: R.VHOST_USER_SET_BACKEND_REQ_FD, fds: [theirs] }), 0n);
  os.close(theirs);
  t.true(be.hasBackendChannel);
  const chan = new ScriptedFrontend(new UnixStream(mine), 'backend');
  const memfd = os.memfdCreate('tsqom-test-shmem', 0);
  os.ftruncate(memfd, 0x4000);

  let settled = false;
  const mapped = be.shmemMap(2, memfd, 0x1000n, 0x2000n, 0x3000n, VHOST_USER_FLAG_MAP_RW);
  void mapped.then(() => (settled = true));
  const req = (await chan.next())!;
  t.is(req.hdr.request, B.VHOST_USER_BACKEND_SHMEM_MAP);
  t.is(req.hdr.flags, VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK);
  t.is(req.hdr.size, 40);
  t.deepEqual(decodeVhostUserMMap(req.payload), {
    shmid: 2,
    fdOffset: 0x1000n,
    shmOffset: 0x2000n,
    len: 0x3000n,
    flags: 1n,
  });
  t.is(req.fds.length, 1);
  t.is(os.fstat(req.fds[0]).ino, os.fstat(memfd).ino);
  os.close(req.fds[0]);
  await sleep(20);
  t.false(settled, 'the map waits for the ack');
  const ack = encodeVhostUserAck(req.hdr, 0);
  chan.sendRaw(ack.data);
  await t.notThrowsAsync(mapped);

  const unmapped = be.shmemUnmap(2, 0x2000n, 0x3000n);
  const req2 = (await chan.next())!;
  t.is(req2.hdr.request, B.VHOST_USER_BACKEND_SHMEM_UNMAP);
  t.is(req2.fds.length, 0);
  t.deepEqual(decodeVhostUserMMap(req2.payload), {
    shmid: 2,
    fdOffset: 0n,
    shmOffset: 0x2000n,
    len: 0x3000n,
    flags: 0n,
  });
  chan.sendRaw(encodeVhostUserAck(req2.hdr, 1).data);
  await t.throwsAsync(unmapped, {
    instanceOf: VhostUserBackendRequestError,
    code: 'ERR_VHOST_USER_REQUEST_REFUSED',
    message: 'the front-end refused request 10 (reply 1)',
  });

  // A reply for another request fails the request, as in libvhost-user.
  const third = be.shmemUnmap(0, 0n, 0x1000n);
  const req3 = (await chan.next())!;
  chan.sendRaw(encodeVhostUserAck({ ...req3.hdr, request: 9 }, 0).data);
  await t.throwsAsync(third, { code: 'ERR_VHOST_USER_BAD_REPLY' });

  // The front-end closing the channel fails what is pending.
  const fourth = be.shmemMap(0, memfd, 0n, 0n, 0x1000n);
  const req4 = (await chan.next())!;
  os.close(req4.fds[0]);
  chan.close();
  await t.throwsAsync(fourth, { code: 'ERR_VHOST_USER_CHANNEL_CLOSED' });
  await sleep(10);
  t.false(be.hasBackendChannel);
  await t.throwsAsync(be.shmemMap(0, memfd, 0n, 0n, 0x1000n), {
    code: 'ERR_VHOST_USER_NO_CHANNEL',
  });
  fe.close();
  await be.whenClosed;
  os.close(memfd);
  t.is(fdCount(), fdsBefore);
});

test.serial(
  'without REPLY_ACK, SHMEM_MAP asks for no reply; without SHMEM nothing is sent',
  async (t) => {
    const { fe, be } = rig();
    await handshake(fe, PROTO_ALL & ~bit(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK));
    const [mine, theirs] = os.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
    fe.send({ request: R.VHOST_USER_SET_BACKEND_REQ_FD, fds: [theirs] });
    os.close(theirs);
    // A round trip makes sure the channel is installed.
    await fe.request({ request: R.VHOST_USER_GET_QUEUE_NUM });
    const chan = new ScriptedFrontend(new UnixStream(mine), 'backend');
    const memfd = os.memfdCreate('tsqom-test-shmem', 0);
    await t.notThrowsAsync(be.shmemMap(0, memfd, 0n, 0n, 0x1000n, 0n));
    const req = (await chan.next())!;
    t.is(req.hdr.flags, VHOST_USER_VERSION);
    os.close(req.fds[0]);
    chan.close();
    fe.close();
    await be.whenClosed;

    const r2 = rig();
    await handshake(r2.fe, PROTO_ALL & ~bit(PF.VHOST_USER_PROTOCOL_F_SHMEM));
    await t.throwsAsync(r2.be.shmemMap(0, memfd, 0n, 0n, 0x1000n), {
      code: 'ERR_VHOST_USER_NOT_NEGOTIATED',
    });
    await t.throwsAsync(r2.be.shmemUnmap(0, 0n, 0x1000n), {
      code: 'ERR_VHOST_USER_NOT_NEGOTIATED',
    });
    r2.fe.close();
    await r2.be.whenClosed;
    os.close(memfd);
  },
);

test.serial(
  'malformed and unknown requests drop the connection with libvhost-user texts',
  async (t) => {
    const cases: { send: (fe: ScriptedFrontend) => void; text: RegExp }[] = [
      { send: (fe) => fe.send({ request: 99 }), text: /^Unhandled request: 99$/ },
      {
        send: (fe) =>
          fe.send({
            request: R.VHOST_USER_SET_LOG_BASE,
            body: { kind: 'raw', data: new Uint8Array(16) },
          }),
        text: /^Unhandled request: 6$/,
      },
      {
        send: (fe) =>
          fe.send({
            request: R.VHOST_USER_SET_FEATURES,
            body: { kind: 'raw', data: new Uint8Array(4) },
          }),
        text: /message size:4/,
      },
      {
        send: (fe) =>
          fe.send({
            request: R.VHOST_USER_SET_VRING_ENABLE,
            body: { kind: 'state', state: { index: 7, num: 1 } },
          }),
        text: /^Invalid vring_enable index: 7$/,
      },
      {
        send: (fe) =>
          fe.send({
            request: R.VHOST_USER_SET_VRING_ADDR,
            body: {
              kind: 'addr',
              addr: {
                index: 0,
                flags: 0,
                descUserAddr: 1n,
                usedUserAddr: 2n,
                availUserAddr: 3n,
                logGuestAddr: 0n,
              },
            },
          }),
        text: /^Invalid vring_addr message$/,
      },
      {
        send: (fe) => {
          const fd = os.open('/dev/null', 0);
          fe.send({ request: R.VHOST_USER_SET_OWNER, fds: [fd] });
          os.close(fd);
        },
        text: /received 1 fds/,
      },
      {
        send: (fe) =>
          fe.send({ request: R.VHOST_USER_SET_FEATURES, body: { kind: 'u64', u64: 0n } }),
        text: /^virtio legacy devices aren't supported by libvhost-user$/,
      },
      {
        send: (fe) => fe.sendRaw(Buffer.from([1, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0])),
        text: /Flags 0x10 instead of 0x1/,
      },
    ];
    const fdsBefore = fdCount();
    for (const c of cases) {
      const { fe, be, errors } = rig();
      c.send(fe);
      await be.whenClosed;
      t.true(be.broken);
      t.is(errors.length, 1, errors.join('; '));
      t.regex(errors[0], c.text);
      t.is(await fe.next(), null);
      await fe.closed;
    }
    t.is(fdCount(), fdsBefore);
  },
);

test.serial(
  'a request split over many writes, and several per write, are all answered',
  async (t) => {
    const { fe, be } = rig();
    const one = encodeVhostUserMsg({ request: R.VHOST_USER_GET_QUEUE_NUM }).data;
    const many = Buffer.concat([one, one, one]);
    fe.sendRaw(many);
    for (let i = 0; i < 3; i++) t.is((await fe.next())!.payload.readBigUInt64LE(0), 2n);
    for (const b of one) {
      fe.sendRaw(Uint8Array.of(b));
      await sleep(1);
    }
    t.is((await fe.next())!.hdr.request, R.VHOST_USER_GET_QUEUE_NUM);
    fe.close();
    await be.whenClosed;
  },
);

test.serial('the connection closing mid-message releases its fds', async (t) => {
  const fdsBefore = fdCount();
  const { fe, be } = rig();
  const ram = makeGuestRam([{ gpa: 0n, size: 0x1000 }]);
  const w = encodeVhostUserMsg({
    request: R.VHOST_USER_SET_MEM_TABLE,
    body: { kind: 'memory', memory: { regions: ram.regions } },
    fds: ram.fds,
  });
  fe.sendRaw(w.data.subarray(0, 20), ram.fds);
  await sleep(20);
  fe.close();
  await be.whenClosed;
  ram.dispose();
  t.is(fdCount(), fdsBefore);
});

test.serial('the server serves connections, refuses beyond its limit and cleans up', async (t) => {
  const fdsBefore = fdCount();
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-vub-'));
  const path = join(dir, 'be.sock');
  let made = 0;
  const server = VhostUserBackendServer.listen(
    path,
    () => {
      made++;
      return reverser();
    },
    { maxConnections: 1, onError: () => undefined },
  );
  const connected: VhostUserBackend[] = [];
  const gone: VhostUserBackend[] = [];
  server.on('connection', (b) => connected.push(b));
  server.on('disconnect', (b) => gone.push(b));
  const one = new ScriptedFrontend(await UnixStream.connect(path));
  t.is((await one.request({ request: R.VHOST_USER_GET_QUEUE_NUM })).payload.readBigUInt64LE(0), 2n);
  t.is(connected.length, 1);
  t.is(server.connections.size, 1);
  // A second front-end is over the limit: closed at once.
  const two = new ScriptedFrontend(await UnixStream.connect(path));
  t.is(await two.next(), null);
  t.is(made, 1);
  one.close();
  await connected[0].whenClosed;
  await sleep(5);
  t.deepEqual(gone, connected);
  t.is(server.connections.size, 0);
  // adopt() serves a socket handed over by someone else.
  const { frontend, backendFd } = ScriptedFrontend.pair();
  const adopted = server.adopt(backendFd)!;
  t.is((await frontend.request({ request: R.VHOST_USER_GET_QUEUE_NUM })).hdr.size, 8);
  server.close();
  t.true(server.closed);
  t.true(adopted.closed, 'close() also ends the connections');
  t.false(existsSync(path));
  await frontend.closed;
  await rm(dir, { recursive: true, force: true });
  t.is(fdCount(), fdsBefore);
});

test.serial('a device with a bad queue count is refused and its socket closed', (t) => {
  const fdsBefore = fdCount();
  const { frontend, backendFd } = ScriptedFrontend.pair();
  t.throws(() => VhostUserBackend.fromFd(backendFd, { numQueues: 0 }), { instanceOf: RangeError });
  t.throws(
    () => new VhostUserBackend({ send: () => true, close: () => undefined }, { numQueues: 257 }),
    {
      instanceOf: RangeError,
    },
  );
  frontend.close();
  t.is(fdCount(), fdsBefore);
});
