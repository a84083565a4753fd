/**
 * Hostile front-ends against the back-end library's memory table: regions
 * that do not fit their file are refused at SET_MEM_TABLE, and a file that
 * shrinks under a running ring breaks the ring (reported), never the
 * process. Serial: the tests count this process's fds and mappings.
 */
import test from 'ava';
import {
  VhostUserBackend,
  type VhostUserBackendDevice,
  type VhostUserBackendQueue,
} from '../../src/hw/virtio/vhost-user/backend/backend.js';
import {
  VhostUserProtocolFeature as PF,
  VhostUserRequest as R,
  VHOST_USER_F_PROTOCOL_FEATURES,
} from '../../src/hw/virtio/vhost-user/index.js';
import { VIRTIO_F_VERSION_1 } from '../../src/hw/virtio/standard-headers.js';
import { VirtQueueDriver, vringLayout } from '../../src/hw/virtio/virtqueue.js';
import { MFD_CLOEXEC } from '../../src/native/index.js';
import {
  ScriptedFrontend,
  makeGuestRam,
  os,
  sleep,
  waitEventfd,
} from '../helpers/guest/scripted-frontend.js';
import { fdCount, procMaps } from '../helpers/native/util.js';

const bit = (n: number): bigint => 1n << BigInt(n);
const memfdMaps = (): number => procMaps().filter((l) => l.path.includes('memfd:tsqom-')).length;

function echo(): VhostUserBackendDevice & { kicks: number } {
  const dev = {
    numQueues: 1,
    features: bit(VIRTIO_F_VERSION_1),
    kicks: 0,
    onKick(q: VhostUserBackendQueue): void {
      dev.kicks++;
      for (let e = q.pop(); e !== null; e = q.pop()) {
        const n = q.write(e, q.read(e));
        q.push(e, n);
      }
      q.notify();
    },
  };
  return dev;
}

async function connect(device: VhostUserBackendDevice = echo()) {
  const { frontend: fe, backendFd } = ScriptedFrontend.pair();
  const errors: string[] = [];
  const be = VhostUserBackend.fromFd(backendFd, device, { onError: (m) => errors.push(m) });
  await fe.request({ request: R.VHOST_USER_GET_FEATURES });
  await fe.request({ request: R.VHOST_USER_GET_PROTOCOL_FEATURES });
  fe.send({
    request: R.VHOST_USER_SET_PROTOCOL_FEATURES,
    body: { kind: 'u64', u64: bit(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK) },
  });
  fe.send({ request: R.VHOST_USER_SET_OWNER });
  const ack = await fe.requestAck({
    request: R.VHOST_USER_SET_FEATURES,
    body: { kind: 'u64', u64: bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES) },
  });
  if (ack !== 0n) throw new Error('SET_FEATURES failed');
  return { fe, be, errors };
}

function memfd(size: number): number {
  const fd = os.memfdCreate('tsqom-hostile', MFD_CLOEXEC);
  os.ftruncate(fd, size);
  return fd;
}

const cases: [string, number, bigint, bigint, RegExp][] = [
  [
    'a 1 MiB region over a 16 KiB memfd',
    0x4000,
    0x10_0000n,
    0n,
    /past the end of the 0x4000-byte file/,
  ],
  [
    'mmap_offset 1 GiB on a 4 KiB memfd',
    0x1000,
    0x1000n,
    0x4000_0000n,
    /past the end of the 0x1000-byte file/,
  ],
  ['an mmap_offset + size that wraps past 2^64', 0x1000, 0x2000n, 0xffff_ffff_ffff_f000n, /wraps/],
];

for (const [name, fileSize, size, mmapOffset, message] of cases) {
  test.serial(`SET_MEM_TABLE refuses ${name}, and leaks nothing`, async (t) => {
    const fds = fdCount();
    const maps = memfdMaps();
    const fd = memfd(fileSize);
    const { fe, be, errors } = await connect();
    fe.send({
      request: R.VHOST_USER_SET_MEM_TABLE,
      body: {
        kind: 'memory',
        memory: {
          regions: [
            { guestPhysAddr: 0n, memorySize: size, userspaceAddr: 0x7000_0000n, mmapOffset },
          ],
        },
      },
      fds: [fd],
    });
    // libvhost-user's answer to a table it cannot use: a panic, the connection ends.
    await be.whenClosed;
    t.true(be.broken);
    t.regex(errors.join('\n'), message);
    t.is(be.memory, null);
    fe.close();
    os.close(fd);
    t.is(fdCount(), fds);
    t.is(memfdMaps(), maps);
  });
}

test.serial(
  'a front-end truncating its memfd under a running ring breaks the ring, not the process',
  async (t) => {
    const fds = fdCount();
    const maps = memfdMaps();
    const dev = echo();
    const { fe, be, errors } = await connect(dev);
    const ram = makeGuestRam([{ gpa: 0n, size: 0x4_0000 }]);
    await fe.requestAck({
      request: R.VHOST_USER_SET_MEM_TABLE,
      body: { kind: 'memory', memory: { regions: ram.regions } },
      fds: ram.fds,
    });
    const layout = vringLayout(0x1000n, 8);
    const driver = new VirtQueueDriver<string>(ram.memory, layout, {
      features: bit(VIRTIO_F_VERSION_1),
    });
    const kick = os.eventfd();
    const call = os.eventfd();
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
    await waitEventfd(call);
    await fe.requestAck({
      request: R.VHOST_USER_SET_VRING_ENABLE,
      body: { kind: 'state', state: { index: 0, num: 1 } },
    });
    // One request served normally.
    ram.memory.write(0x8000n, Buffer.from('ping'));
    driver.add([{ addr: 0x8000n, len: 4 }], [{ addr: 0x8100n, len: 4 }], 'one');
    os.eventfdWrite(kick, 1n);
    await waitEventfd(call);
    t.is(driver.getUsed()?.token, 'one');
    t.is(Buffer.from(ram.memory.read(0x8100n, 4)).toString(), 'ping');
    // The front-end shrinks the file under the ring, then kicks.
    os.ftruncate(ram.fds[0]!, 0);
    os.eventfdWrite(kick, 1n);
    const deadline = Date.now() + 5000;
    while (!be.queue(0).broken && Date.now() < deadline) await sleep(10);
    t.true(be.queue(0).broken);
    t.regex(errors.join('\n'), /Cannot map descriptor ring/);
    // The connection still answers.
    const f = await fe.request({ request: R.VHOST_USER_GET_FEATURES });
    t.is(f.payload.readBigUInt64LE(0) & bit(VIRTIO_F_VERSION_1), bit(VIRTIO_F_VERSION_1));
    fe.close();
    await be.whenClosed;
    ram.dispose();
    os.close(kick);
    os.close(call);
    t.is(fdCount(), fds);
    t.is(memfdMaps(), maps);
  },
);
