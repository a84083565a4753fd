/**
 * The front-end's back-end channel: SHMEM_MAP / SHMEM_UNMAP from a fake
 * back-end into a vhost-user-device's VIRTIO Shared Memory Region, with
 * QEMU's checks, texts, reply rules and transaction ordering.
 *
 * Machine RAM and descriptor counts are per process: every test is serial.
 */
import test from 'ava';
import 'reflect-metadata';
import { container } from 'tsyringe';
import { HostOs } from '../../../../src/native/host.js';
import {
  MAP_SHARED,
  MFD_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
} from '../../../../src/native/constants.js';
import {
  type MemoryListener,
  addressSpaceMemory,
  memoryListenerRegister,
  memoryListenerUnregister,
  mtreeInfo,
} from '../../../../src/system/memory.js';
import {
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_VERSION,
  VhostUserBackendRequest as B,
  VhostUserRequest as R,
  encodeVhostUserMsg,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import {
  AddressSpaceGuestMemory,
  VhostUserDeviceDriver,
} from '../../../../src/hw/virtio/driver/vhost-user-driver.js';
import { virtioReset } from '../../../../src/hw/virtio/virtio.js';
import { procMaps } from '../../../helpers/native/util.js';
import { fdCount, setupFakeDevice, type FakeSetup } from '../../../helpers/vhost-user/setup.js';

const os = container.resolve(HostOs);
const BASE = 0x40000000n;
const REGION = 0x400000n;

function memfd(size: number, fill = 0): { fd: number; close(): void; bytes: Uint8Array } {
  const fd = os.memfdCreate('tsqom-test', MFD_CLOEXEC);
  os.ftruncate(fd, size);
  const m = os.mapMemory(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  const bytes = m.view(0, size);
  bytes.fill(fill);
  return {
    fd,
    bytes,
    close: () => {
      m.unmap();
      os.close(fd);
    },
  };
}

function setup(extra = ''): Promise<FakeSetup> {
  return setupFakeDevice({
    props: `shmem-base=${BASE}${extra}`,
    backend: { shmemSizes: [REGION] },
  });
}

const map = (shmOffset: bigint, len: bigint, flags = 1n, fdOffset = 0n) => ({
  shmid: 0,
  fdOffset,
  shmOffset,
  len,
  flags,
});

test.serial(
  'SHMEM_MAP RW and RO map into region 0: reply 0, info mtree, /proc/self/maps, data both ways',
  async (t) => {
    const s = await setup();
    const rw = memfd(0x20000, 0xab);
    const ro = memfd(0x10000, 0xcd);
    try {
      t.is(await s.be.shmemMap(map(0x10000n, 0x20000n, 1n), rw.fd), 0n);
      t.is(await s.be.shmemMap(map(0x100000n, 0x10000n, 0n), ro.fd), 0n);
      const region = s.dev.shmemRegion(0)!;
      t.is(region.mappingCount, 2);
      const [m1, m2] = [...region.mappings()];
      const lines = procMaps();
      t.is(lines.find((l) => l.start === m1.hostAddress)?.perms, 'rw-s');
      t.is(lines.find((l) => l.start === m2.hostAddress)?.perms, 'r--s');
      const mtree = mtreeInfo();
      t.regex(mtree, /0000000040000000-00000000403fffff \(prio 1, i\/o\): virtio-shmem-bar/);
      t.regex(mtree, /0000000040010000-000000004002ffff \(prio 0, ram\): virtio-shmem-0-10000/);
      t.regex(mtree, /0000000040100000-000000004010ffff \(prio 0, ram\): virtio-shmem-0-100000/);
      // The guest sees the back-end's bytes, and the back-end sees the guest's.
      const guest = new AddressSpaceGuestMemory(addressSpaceMemory());
      t.is(guest.read(BASE + 0x10000n, 4).join(), '171,171,171,171');
      t.is(guest.read(BASE + 0x100000n, 2).join(), '205,205');
      guest.write(BASE + 0x10010n, Uint8Array.of(1, 2, 3));
      t.is(rw.bytes.subarray(0x10, 0x13).join(), '1,2,3');
      rw.bytes[0x1ffff] = 9;
      t.is(guest.read(BASE + 0x2ffffn, 1)[0], 9);
      t.deepEqual(s.reports.messages, []);
    } finally {
      await s.close();
      rw.close();
      ro.close();
    }
  },
);

test.serial(
  'every SHMEM_MAP check fails with QEMU text and reply 1, and the channel stays open',
  async (t) => {
    const s = await setup();
    const f = memfd(0x10000);
    try {
      t.is(await s.be.shmemMap(map(0x10000n, 0x10000n), f.fd), 0n);
      const cases: [() => Promise<bigint | null>, string][] = [
        [
          () => s.be.shmemMap({ ...map(0n, 0x1000n), shmid: 5 }, f.fd),
          'VIRTIO Shared Memory Region at ID 5 not found or uninitialized',
        ],
        [
          () => s.be.shmemMap(map(0xffffffffffff0000n, 0x20000n), f.fd),
          'Bad offset/len for mmap ffffffffffff0000+20000',
        ],
        [() => s.be.shmemMap(map(0x3ff000n, 0x2000n), f.fd), 'Bad offset/len for mmap 3ff000+2000'],
        [
          () => s.be.shmemMap(map(0x18000n, 0x10000n), f.fd),
          'VIRTIO Shared Memory mapping overlap',
        ],
        [() => s.be.shmemMap(map(0x8000n, 0x9000n), f.fd), 'VIRTIO Shared Memory mapping overlap'],
        [() => s.be.shmemMap(map(0x40000n, 0n), f.fd), 'Shared memory mapping size cannot be zero'],
        [
          () =>
            s.be.request(
              B.VHOST_USER_BACKEND_SHMEM_MAP,
              { kind: 'mmap', mmap: map(0x40000n, 0x1000n) },
              [],
            ),
          'Bad fd for map',
        ],
        [() => s.be.request(99, { kind: 'none' }), 'Received unexpected msg type: 99.'],
        [
          () =>
            s.be.request(
              B.VHOST_USER_BACKEND_SHMEM_MAP,
              { kind: 'raw', data: new Uint8Array(39) },
              [f.fd],
            ),
          'Invalid VHOST_USER_BACKEND_SHMEM_MAP message size:39',
        ],
      ];
      for (const [p, text] of cases) {
        s.reports.clear();
        t.is(await p(), 1n, text);
        t.deepEqual(s.reports.messages, [text]);
      }
      t.false(s.dev.frontend!.backendChannel!.closed);
      // Still serving: a good request after all the bad ones.
      t.is(await s.be.shmemMap(map(0x40000n, 0x10000n), f.fd), 0n);
      t.is(s.dev.shmemRegion(0)!.mappingCount, 2);
    } finally {
      await s.close();
      f.close();
    }
  },
);

test.serial('a device without regions refuses SHMEM_MAP with QEMU text', async (t) => {
  const s = await setupFakeDevice({});
  const f = memfd(0x1000);
  try {
    t.is(await s.be.shmemMap(map(0n, 0x1000n), f.fd), 1n);
    t.deepEqual(s.reports.messages, [
      'Device has no VIRTIO Shared Memory Regions. Requested ID: 0',
    ]);
  } finally {
    await s.close();
    f.close();
  }
});

test.serial('replies only when NEED_REPLY is set', async (t) => {
  const s = await setup();
  const f = memfd(0x10000);
  try {
    t.is(await s.be.shmemMap(map(0x10000n, 0x10000n), f.fd, false), null);
    const reply = s.be.nextReply();
    const w = encodeVhostUserMsg({
      request: B.VHOST_USER_BACKEND_SHMEM_UNMAP,
      flags: VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK,
      body: { kind: 'mmap', mmap: map(0x10000n, 0x10000n) },
    });
    s.be.sendRaw(w.data);
    const r = await reply;
    // The first reply is the UNMAP's: the MAP sent none.
    t.is(r?.hdr.request, B.VHOST_USER_BACKEND_SHMEM_UNMAP);
    t.deepEqual(r?.body, { kind: 'u64', u64: 0n });
    t.is(s.dev.shmemRegion(0)!.mappingCount, 0);
  } finally {
    await s.close();
    f.close();
  }
});

test.serial('SHMEM_UNMAP needs an exact match; texts as QEMU', async (t) => {
  const s = await setup();
  const f = memfd(0x10000);
  try {
    t.is(await s.be.shmemMap(map(0x10000n, 0x10000n), f.fd), 0n);
    const addr = [...s.dev.shmemRegion(0)!.mappings()][0].hostAddress;
    t.is(await s.be.shmemUnmap(map(0x10000n, 0x8000n)), 1n);
    t.is(await s.be.shmemUnmap(map(0x3ff000n, 0x2000n)), 1n);
    t.is(await s.be.shmemUnmap({ ...map(0n, 0x1000n), shmid: 3 }), 1n);
    t.deepEqual(s.reports.messages, [
      'Shared memory mapping not found at offset 10000 with length 8000',
      'Bad offset/len for unmmap 3ff000+2000',
      'VIRTIO Shared Memory Region at ID 3 not found or uninitialized',
    ]);
    t.is(await s.be.shmemUnmap(map(0x10000n, 0x10000n)), 0n);
    t.is(s.dev.shmemRegion(0)!.mappingCount, 0);
    t.falsy(procMaps().find((l) => l.start === addr));
    t.notRegex(mtreeInfo(), /virtio-shmem-0-10000/);
  } finally {
    await s.close();
    f.close();
  }
});

test.serial(
  'the reply goes out before the memory transaction commits; failed checks commit nothing',
  async (t) => {
    const s = await setup();
    const f = memfd(0x10000);
    const events: string[] = [];
    const listener: MemoryListener = {
      begin: () => events.push('begin'),
      commit: () => events.push('commit'),
    };
    memoryListenerRegister(listener, addressSpaceMemory());
    const stream = s.dev.frontend!.backendChannel!.stream;
    const send = stream.send.bind(stream);
    stream.send = (data, fds) => {
      events.push('reply');
      return send(data, fds);
    };
    try {
      events.length = 0;
      t.is(await s.be.shmemMap(map(0x10000n, 0x10000n), f.fd), 0n);
      t.deepEqual(events, ['reply', 'begin', 'commit']);
      events.length = 0;
      t.is(await s.be.shmemMap({ ...map(0n, 0x1000n), shmid: 9 }, f.fd), 1n);
      t.is(await s.be.shmemMap(map(0x10000n, 0x1000n), f.fd), 1n);
      t.deepEqual(events, ['reply', 'reply'], 'no transaction for requests that fail their checks');
      events.length = 0;
      // The map itself failing (zero length) happens inside a transaction: reply, then commit.
      t.is(await s.be.shmemMap(map(0x80000n, 0n), f.fd), 1n);
      t.deepEqual(events, ['reply']);
      events.length = 0;
      t.is(await s.be.shmemUnmap(map(0x10000n, 0x10000n)), 0n);
      t.deepEqual(
        events,
        ['reply', 'begin', 'commit'],
        'UNMAP frees the region only after the reply',
      );
    } finally {
      stream.send = send;
      memoryListenerUnregister(listener);
      await s.close();
      f.close();
    }
  },
);

test.serial(
  'received fds are closed after handling; the mapping keeps one duplicate until unmapped',
  async (t) => {
    const s = await setup();
    const f = memfd(0x10000);
    try {
      const before = fdCount();
      t.is(await s.be.shmemMap(map(0x10000n, 0x10000n), f.fd), 0n);
      t.is(fdCount(), before + 1, 'only the duplicate stays');
      t.is(await s.be.shmemMap(map(0x18000n, 0x1000n), f.fd), 1n);
      t.is(await s.be.request(99, { kind: 'none' }, [f.fd, f.fd]), 1n);
      t.is(fdCount(), before + 1, 'refused fds are closed');
      t.is(await s.be.shmemUnmap(map(0x10000n, 0x10000n)), 0n);
      t.is(fdCount(), before);
    } finally {
      await s.close();
      f.close();
    }
  },
);

test.serial('device reset drops every mapping and its descriptor', async (t) => {
  const s = await setup();
  const f = memfd(0x30000);
  try {
    const before = fdCount();
    for (const off of [0n, 0x10000n, 0x20000n]) {
      t.is(await s.be.shmemMap(map(off, 0x10000n, 1n, off), f.fd), 0n);
    }
    const addrs = [...s.dev.shmemRegion(0)!.mappings()].map((m) => m.hostAddress);
    t.is(fdCount(), before + 3);
    virtioReset(s.dev);
    await s.dev.settle();
    t.is(s.dev.shmemRegion(0)!.mappingCount, 0);
    t.is(fdCount(), before);
    const lines = procMaps();
    for (const a of addrs) t.falsy(lines.find((l) => l.start === a));
  } finally {
    await s.close();
    f.close();
  }
});

test.serial(
  'a running device re-sends SET_MEM_TABLE when a mapping changes the memory map',
  async (t) => {
    const s = await setup();
    const f = memfd(0x10000);
    const drv = new VhostUserDeviceDriver(s.dev);
    try {
      await drv.negotiate(1n << 32n);
      drv.setupQueue(0, 0x1000n, { num: 16 });
      await drv.driverOk();
      const tables = s.be.memTables;
      t.is(await s.be.shmemMap(map(0x10000n, 0x10000n), f.fd), 0n);
      await s.be.waitFor(() => s.be.memTables === tables + 1);
      const last = [...s.be.log].reverse().find((m) => m.request === R.VHOST_USER_SET_MEM_TABLE)!;
      t.is(last.nfds, 2);
      const regions = last.body.kind === 'memory' ? last.body.memory.regions : [];
      t.deepEqual(
        regions.map((r) => [r.guestPhysAddr, r.memorySize, r.mmapOffset]),
        [
          [0n, 0x400000n, 0n],
          [BASE + 0x10000n, 0x10000n, 0n],
        ],
      );
    } finally {
      drv.close();
      await s.close();
      f.close();
    }
  },
);

test.serial(
  'the back-end dying drops the mappings, is reported, and tsqom keeps running',
  async (t) => {
    const s = await setup();
    const f = memfd(0x10000);
    try {
      const before = fdCount();
      t.is(await s.be.shmemMap(map(0x10000n, 0x10000n), f.fd), 0n);
      const gone = new Promise<void>((r) => s.dev.events.once('disconnect', () => r()));
      s.be.close();
      await gone;
      t.is(s.dev.shmemRegion(0)!.mappingCount, 0);
      t.false(s.dev.connected);
      t.deepEqual(s.reports.messages, [
        `vhost-user back-end on chardev '${s.chr}' disconnected; dropped 1 VIRTIO Shared Memory mapping`,
      ]);
      await new Promise((r) => setImmediate(r));
      t.true(fdCount() <= before - 2, 'the mapping, the main socket and the channel are closed');
    } finally {
      await s.close();
      f.close();
    }
  },
);
