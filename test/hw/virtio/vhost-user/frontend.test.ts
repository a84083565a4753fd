import test from 'ava';
import { join } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import {
  objectClassByName,
  objectGetRoot,
  userCreatableAddType,
  userCreatableDel,
} from '../../../../src/qom/index.js';
import {
  qemuChrDelete,
  qemuChrFind,
  qemuChrInfoList,
  qemuChrNewFromString,
} from '../../../../src/chardev/index.js';
import { qdevDeviceAdd, qemuDeviceOpts } from '../../../../src/hw/core/index.js';
import {
  TYPE_VHOST_USER_DEVICE,
  type VHostUserBase,
  vhostUserBaseGetConfig,
} from '../../../../src/hw/virtio/vhost-user-base.js';
import { UnixListener, UnixStream } from '../../../../src/io/unix-stream.js';
import {
  VHOST_USER_FRONTEND_PROTOCOL_FEATURES,
  VhostUserFrontend,
} from '../../../../src/hw/virtio/vhost-user/frontend/frontend.js';
import { CapturingErrorReportSink } from '../../../../src/util/error-report.js';
import { machineSetMemoryBackend } from '../../../../src/hw/core/machine-memory.js';
import {
  GuestRamAllocator,
  VhostUserDeviceDriver,
} from '../../../../src/hw/virtio/driver/vhost-user-driver.js';
import {
  VHOST_USER_NEED_REPLY_MASK,
  VhostUserProtocolFeature as PF,
  VhostUserRequest as R,
  encodeVhostUserMsg,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import { VhostUserStreamFramer } from '../../../../src/hw/virtio/vhost-user/protocol/stream-framer.js';
import { FAKE_PROTOCOL_FEATURES, FakeBackend } from '../../../helpers/vhost-user/fake-backend.js';
import {
  fdCount,
  removeRam,
  setupFakeDevice,
  setupRam,
  tempDir,
  uniqueId,
} from '../../../helpers/vhost-user/setup.js';

const F_VERSION_1 = 1n << 32n;

async function chrError(
  t: { throwsAsync: (...a: any[]) => any },
  arg: string,
  message: string,
): Promise<void> {
  await t.throwsAsync(qemuChrNewFromString(arg), { message });
}

// --- chardev ---------------------------------------------------------------

test('-chardev errors use QEMU 7.2 texts', async (t) => {
  const d = tempDir();
  try {
    const p = join(d.dir, 's');
    const id = uniqueId('c');
    await chrError(t, `socket,id=${id},path=${p},bogus=1`, "Invalid parameter 'bogus'");
    await chrError(
      t,
      `socket,id=${id},path=${p},server=maybe`,
      "Parameter 'server' expects 'on' or 'off'",
    );
    await chrError(t, `socket,id=${id},host=localhost`, 'chardev: socket: no port given');
    await chrError(t, `nosuch,id=${id}`, "'nosuch' is not a valid char driver name");
    await chrError(t, `id=${id}`, `chardev: "${id}" missing backend`);
    await chrError(t, `socket,path=${p}`, 'chardev: no id specified');
    await chrError(
      t,
      `socket,id=${id},path=${p},wait=off`,
      "'wait' option is incompatible with socket in client connect mode",
    );
    await chrError(
      t,
      `socket,id=${id},path=${p},host=x`,
      "None or one of 'path', 'fd' or 'host' option required.",
    );
    await chrError(
      t,
      `socket,id=${id},path=${p}`,
      `Failed to connect to '${p}': No such file or directory`,
    );
    await chrError(
      t,
      `socket,id=${id},path=/nonexistentdir/x,server=on,wait=off`,
      'Failed to bind socket to /nonexistentdir/x: No such file or directory',
    );
    const long = `/tmp/${'a'.repeat(120)}`;
    const e = await t.throwsAsync(qemuChrNewFromString(`socket,id=${id},path=${long}`));
    t.is(e?.message, `UNIX socket path '${long}' is too long`);
    t.is((e as { hint?: string }).hint, 'Path must be less than 108 bytes\n');
    // A failed creation leaves nothing behind and the id free.
    t.is(qemuChrFind(id), null);
  } finally {
    d.remove();
  }
});

test('a server chardev sits in /chardevs with QEMU properties and serves one client at a time', async (t) => {
  const d = tempDir();
  const id = uniqueId('srv');
  const p = join(d.dir, 'srv.sock');
  try {
    const chr = await qemuChrNewFromString(`socket,id=${id},path=${p},server=on,wait=off`);
    t.is(objectGetRoot().resolvePathComponent('chardevs')?.resolvePathComponent(id), chr);
    t.is(chr.typeName, 'chardev-socket');
    t.deepEqual(chr.propertyGet('addr'), { path: p, type: 'unix' });
    t.is(chr.propertyGet('connected'), false);
    t.is(chr.propertyGetType('addr'), 'SocketAddress');
    t.is(chr.filename, `disconnected:unix:${p},server=on`);
    t.deepEqual(
      qemuChrInfoList().find((i) => i.label === id),
      { label: id, filename: `disconnected:unix:${p},server=on`, 'frontend-open': false },
    );
    await chrError(t, `socket,id=${id},path=${p}x`, `Duplicate ID '${id}' for chardev`);
    const c1 = await UnixStream.connect(p);
    await chr.waitConnected();
    t.is(chr.propertyGet('connected'), true);
    t.is(chr.filename, `unix:${p},server=on`);
    // A second client waits in the backlog while the first is connected
    // (QEMU stops accepting), and is served once the first leaves.
    const c2 = await UnixStream.connect(p);
    let c2Closed = false;
    c2.once('close', () => (c2Closed = true)).resume();
    await new Promise((r) => setTimeout(r, 50));
    t.false(c2Closed);
    const closed = new Promise<void>((r) => chr.events.once('closed', () => r()));
    const reopened = new Promise<void>((r) => chr.events.once('opened', () => r()));
    c1.close();
    await closed;
    await reopened;
    t.is(chr.propertyGet('connected'), true);
    c2.close();
    await new Promise<void>((r) => chr.events.once('closed', () => r()));
    t.is(chr.propertyGet('connected'), false);
    qemuChrDelete(id);
    t.is(qemuChrFind(id), null);
    t.false(existsSync(p), 'the listening socket path is removed');
    t.throws(() => qemuChrDelete(id), { message: `Chardev '${id}' not found` });
  } finally {
    d.remove();
  }
});

test('a client chardev connects at creation; Connection refused is reported as QEMU does', async (t) => {
  const d = tempDir();
  const p = join(d.dir, 'l.sock');
  const l = UnixListener.listen(p);
  const id = uniqueId('cli');
  try {
    const accepted = new Promise<UnixStream>((r) => l.once('connection', r));
    const chr = await qemuChrNewFromString(`socket,id=${id},path=${p}`);
    const peer = await accepted;
    t.true(chr.connected);
    t.is(chr.filename, `unix:${p}`);
    peer.close();
    await new Promise<void>((r) => chr.events.once('closed', () => r()));
    t.is(chr.filename, `disconnected:unix:${p}`);
    qemuChrDelete(id);
    // Something that is not a listening socket refuses the connection.
    const f = join(d.dir, 'plain-file');
    writeFileSync(f, '');
    await chrError(
      t,
      `socket,id=${id},path=${f}`,
      `Failed to connect to '${f}': Connection refused`,
    );
  } finally {
    l.close();
    d.remove();
  }
  t.false(existsSync(p));
});

// --- machine RAM -------------------------------------------------------------

test.serial('-machine memory-backend: QEMU texts for a missing or reused backend', async (t) => {
  t.throws(() => machineSetMemoryBackend('nope'), { message: "Memory backend 'nope' not found" });
  const ram = await setupRam(2 ** 20);
  try {
    t.throws(() => machineSetMemoryBackend(ram), {
      message: `memory backend ${ram} can't be used multiple times.`,
    });
    // The backend is in use: object-del refuses.
    t.throws(() => userCreatableDel(ram));
  } finally {
    removeRam(ram);
  }
  const priv = uniqueId('priv');
  (await userCreatableAddType('memory-backend-ram', priv, { size: 2 ** 20 })).unref();
  try {
    t.throws(() => machineSetMemoryBackend(priv, { requireShared: true }), {
      message: `memory backend '${priv}' must be shared (share=on) to be used by vhost-user`,
    });
  } finally {
    userCreatableDel(priv);
  }
});

// --- the device type ---------------------------------------------------------

test('vhost-user-device has QEMU generic device properties and defaults', (t) => {
  const oc = objectClassByName(TYPE_VHOST_USER_DEVICE)!;
  t.truthy(oc);
  t.is(oc.parent?.typeName, 'vhost-user-base');
  t.true(oc.parent!.isAbstract);
  const want: [string, string, unknown][] = [
    ['chardev', 'str', undefined],
    ['virtio-id', 'uint16', 0],
    ['vq_size', 'uint32', 64],
    ['num_vqs', 'uint32', 1],
    ['config_size', 'uint32', 0],
  ];
  for (const [name, type, def] of want) {
    const p = oc.propertyFind(name);
    t.truthy(p, name);
    t.is(p!.type, type, name);
    t.is(p!.defval, def as number | undefined, name);
  }
  t.is(oc.propertyFind('chardev')!.description, 'ID of a chardev to use as a backend');
});

test('vhost-user-device realize errors use QEMU texts', async (t) => {
  const add = (s: string): Promise<unknown> => qdevDeviceAdd(qemuDeviceOpts.parse(s));
  await t.throwsAsync(add(`vhost-user-device,id=${uniqueId('d')},virtio-id=2`), {
    message: 'vhost-user-base: missing chardev',
  });
  await t.throwsAsync(add(`vhost-user-device,id=${uniqueId('d')},chardev=nochr`), {
    message: "Property 'vhost-user-device.chardev' can't find value 'nochr'",
  });
  const d = tempDir();
  const p = join(d.dir, 's');
  const chr = uniqueId('chr');
  await qemuChrNewFromString(`socket,id=${chr},path=${p},server=on,wait=off`);
  try {
    await t.throwsAsync(add(`vhost-user-device,id=${uniqueId('d')},chardev=${chr}`), {
      message: 'vhost-user-base: need to define device id',
    });
  } finally {
    qemuChrDelete(chr);
    d.remove();
  }
});

test.serial(
  'realize speaks QEMU order: handshake, back-end channel, owner, notifiers, shmem config',
  async (t) => {
    const s = await setupFakeDevice({
      props: 'num_vqs=2,config_size=60',
      backend: { shmemSizes: [0n, 0x200000n, 0n, 0x1000n] },
    });
    try {
      t.deepEqual(s.be.requests, [
        R.VHOST_USER_GET_FEATURES,
        R.VHOST_USER_GET_PROTOCOL_FEATURES,
        R.VHOST_USER_SET_PROTOCOL_FEATURES,
        R.VHOST_USER_GET_QUEUE_NUM,
        R.VHOST_USER_SET_BACKEND_REQ_FD,
        R.VHOST_USER_SET_OWNER,
        R.VHOST_USER_GET_FEATURES,
        R.VHOST_USER_SET_VRING_CALL,
        R.VHOST_USER_SET_VRING_ERR,
        R.VHOST_USER_SET_VRING_CALL,
        R.VHOST_USER_SET_VRING_ERR,
        R.VHOST_USER_GET_SHMEM_CONFIG,
      ]);
      const log = s.be.log;
      // The back-end channel and the notifiers carry one fd and ask for an ack (REPLY_ACK).
      for (const m of log.filter((m) =>
        [
          R.VHOST_USER_SET_BACKEND_REQ_FD,
          R.VHOST_USER_SET_VRING_CALL,
          R.VHOST_USER_SET_VRING_ERR,
        ].includes(m.request),
      )) {
        t.is(m.nfds, 1);
        t.true((m.flags & VHOST_USER_NEED_REPLY_MASK) !== 0);
      }
      t.is(s.be.protocolFeatures, VHOST_USER_FRONTEND_PROTOCOL_FEATURES & s.be.protocolFeatures);
      t.true((s.be.protocolFeatures >> BigInt(PF.VHOST_USER_PROTOCOL_F_SHMEM)) & 1n ? true : false);
      // One VIRTIO Shared Memory Region per non-zero size.
      t.deepEqual(
        s.dev.shmemList.map((r) => [r.shmid, r.size]),
        [
          [1, 0x200000n],
          [3, 0x1000n],
        ],
      );
      t.is(
        s.dev.hostFeatures,
        F_VERSION_1,
        'the protocol-features bit is not offered to the guest',
      );
      t.is(s.dev.propertyGet('chardev'), s.chr);
      t.throws(() => s.dev.propertySet('chardev', 'x'), {
        message: `Attempt to set property 'chardev' on device '${s.id}' (type 'vhost-user-device') after it was realized`,
      });
    } finally {
      await s.close();
    }
  },
);

test.serial(
  'a back-end region size that is not a page multiple fails realize with QEMU text',
  async (t) => {
    const e = await t.throwsAsync(setupFakeDevice({ backend: { shmemSizes: [0x1000n, 0x1800n] } }));
    t.is(e?.message, 'Shared memory 1 size must be a power of 2 no smaller than the page size');
  },
);

test.serial('config_size without the back-end CONFIG feature fails with QEMU text', async (t) => {
  const e = await t.throwsAsync(
    setupFakeDevice({ props: 'config_size=8', backend: { protocolFeatures: 1n << 3n } }),
  );
  t.is(
    e?.message,
    'vhost-user device expecting VHOST_USER_PROTOCOL_F_CONFIG but the vhost-user backend does not support it.',
  );
});

test.serial(
  'a back-end that offers CONFIG to a config-less device gets a QEMU warning',
  async (t) => {
    const s = await setupFakeDevice({ backend: { protocolFeatures: FAKE_PROTOCOL_FEATURES } });
    await s.close();
    t.deepEqual(s.reports.lines, [
      {
        message: 'vhost-user backend supports VHOST_USER_PROTOCOL_F_CONFIG but QEMU does not.',
        level: 'warning',
      },
    ]);
    t.false(
      ((s.be.protocolFeatures >> BigInt(PF.VHOST_USER_PROTOCOL_F_CONFIG)) & 1n) === 1n,
      'CONFIG is not acked',
    );
  },
);

test.serial(
  'start and stop speak QEMU order; the memory table carries the RAM fd and offsets',
  async (t) => {
    const s = await setupFakeDevice({ props: 'config_size=60,vq_size=128' });
    const drv = new VhostUserDeviceDriver(s.dev);
    try {
      await drv.negotiate(F_VERSION_1);
      t.deepEqual([...(await vhostUserBaseGetConfig(s.dev))], [...new Uint8Array(60)]);
      const alloc = new GuestRamAllocator(0x1000n, 0x100000n);
      drv.setupQueue(0, alloc.alloc(0x4000, 4096), { num: 64 });
      const before = s.be.log.length;
      await drv.driverOk();
      const started = s.be.log.slice(before);
      t.deepEqual(
        started.map((m) => m.request),
        [
          R.VHOST_USER_SET_FEATURES,
          R.VHOST_USER_SET_MEM_TABLE,
          R.VHOST_USER_SET_VRING_NUM,
          R.VHOST_USER_SET_VRING_BASE,
          R.VHOST_USER_SET_VRING_ADDR,
          R.VHOST_USER_SET_VRING_KICK,
          R.VHOST_USER_SET_VRING_CALL,
          R.VHOST_USER_SET_VRING_ENABLE,
          R.VHOST_USER_SET_VRING_CALL,
        ],
      );
      const feat = started[0].body;
      t.deepEqual(feat, { kind: 'u64', u64: F_VERSION_1 | (1n << 30n) });
      const mt = started[1];
      t.is(mt.nfds, 1);
      t.true((mt.flags & VHOST_USER_NEED_REPLY_MASK) !== 0);
      const table = mt.body.kind === 'memory' ? mt.body.memory.regions : [];
      t.is(table.length, 1);
      t.is(table[0].guestPhysAddr, 0n);
      t.is(table[0].memorySize, 4n * 2n ** 20n);
      t.is(table[0].mmapOffset, 0n);
      t.true(table[0].userspaceAddr > 0n);
      t.deepEqual(started[2].body, { kind: 'state', state: { index: 0, num: 64 } });
      const addr = started[4].body;
      t.true(addr.kind === 'addr' && addr.addr.descUserAddr === table[0].userspaceAddr + 0x1000n);
      // Stop: disable, then fetch the ring base.
      s.be.base.set(0, 42);
      const b2 = s.be.log.length;
      await drv.reset();
      t.deepEqual(
        s.be.log.slice(b2).map((m) => m.request),
        [R.VHOST_USER_SET_VRING_ENABLE, R.VHOST_USER_GET_VRING_BASE],
      );
      t.deepEqual(s.be.log[s.be.log.length - 2].body, {
        kind: 'state',
        state: { index: 0, num: 0 },
      });
      t.is(s.dev.vqs[0].desc, 0n, 'reset forgets the rings');
    } finally {
      drv.close();
      await s.close();
    }
  },
);

test.serial('GET_CONFIG returns the back-end config space', async (t) => {
  const cfg = Uint8Array.from({ length: 60 }, (_, i) => i * 3);
  const s = await setupFakeDevice({ props: 'config_size=60', backend: { config: cfg } });
  try {
    t.deepEqual([...(await vhostUserBaseGetConfig(s.dev))], [...cfg]);
  } finally {
    await s.close();
  }
});

test.serial(
  'a back-end without protocol features gets no SET_VRING_ENABLE and no back-end channel',
  async (t) => {
    const s = await setupFakeDevice({ backend: { features: F_VERSION_1 } });
    const drv = new VhostUserDeviceDriver(s.dev);
    try {
      // Nothing asks for a reply: wait until the back-end has read everything.
      await s.be.waitFor((m) => m.request === R.VHOST_USER_SET_VRING_ERR);
      t.deepEqual(s.be.requests, [
        R.VHOST_USER_GET_FEATURES,
        R.VHOST_USER_SET_OWNER,
        R.VHOST_USER_GET_FEATURES,
        R.VHOST_USER_SET_VRING_CALL,
        R.VHOST_USER_SET_VRING_ERR,
      ]);
      await drv.negotiate(F_VERSION_1);
      drv.setupQueue(0, 0x1000n, { num: 16 });
      const n = s.be.log.length;
      await drv.driverOk();
      await s.be.waitCount(n + 8);
      t.false(s.be.requests.slice(n).includes(R.VHOST_USER_SET_VRING_ENABLE));
      t.deepEqual(s.be.log[n].body, { kind: 'u64', u64: F_VERSION_1 });
      // Without REPLY_ACK nothing asks for an ack.
      t.true(s.be.log.every((m) => (m.flags & VHOST_USER_NEED_REPLY_MASK) === 0));
    } finally {
      drv.close();
      await s.close();
    }
  },
);

test.serial(
  'a failing ack makes start fail with QEMU reports; the device stays usable',
  async (t) => {
    const s = await setupFakeDevice({
      backend: { failAck: new Set([R.VHOST_USER_SET_MEM_TABLE]) },
    });
    const drv = new VhostUserDeviceDriver(s.dev);
    try {
      await drv.negotiate(F_VERSION_1);
      drv.setupQueue(0, 0x1000n, { num: 16 });
      await t.throwsAsync(drv.driverOk(), {
        message: 'vhost_set_mem_table failed: Input/output error (5)',
      });
      t.deepEqual(s.reports.messages, [
        'vhost_set_mem_table failed: Input/output error (5)',
        'Error starting vhost-user-base: 5',
      ]);
      t.false(s.dev.vhostStarted);
    } finally {
      drv.close();
      await s.close();
    }
  },
);

test.serial('rings outside shared RAM cannot start (ENOMEM, as QEMU)', async (t) => {
  const s = await setupFakeDevice({});
  const drv = new VhostUserDeviceDriver(s.dev);
  try {
    await drv.negotiate(F_VERSION_1);
    s.dev.setQueueRings(0, 0x10000000n, 0x10001000n, 0x10002000n);
    await t.throwsAsync(drv.driverOk());
    t.deepEqual(s.reports.messages, ['Error starting vhost-user-base: 12']);
  } finally {
    drv.close();
    await s.close();
  }
});

test('the front-end rejects a reply with a wrong request id or flags with QEMU texts', async (t) => {
  const [a, b] = UnixStream.pair();
  const cap = new CapturingErrorReportSink();
  const fe = new VhostUserFrontend(a, { nvqs: 1, report: cap.sink });
  b.on('data', () => {
    // Answer GET_FEATURES with a GET_PROTOCOL_FEATURES reply.
    const buf = Buffer.alloc(20);
    buf.writeUInt32LE(R.VHOST_USER_GET_PROTOCOL_FEATURES, 0);
    buf.writeUInt32LE(5, 4);
    buf.writeUInt32LE(8, 8);
    b.send(buf);
  });
  b.resume();
  await t.throwsAsync(fe.init(), { message: 'vhost_backend_init failed: Protocol error' });
  t.deepEqual(cap.messages, ['Received unexpected msg type. Expected 1 received 15']);
  fe.close();
  b.close();
});

test.serial('a back-end that hangs up during the handshake fails init cleanly', async (t) => {
  const before = fdCount();
  const [a, b] = UnixStream.pair();
  const cap = new CapturingErrorReportSink();
  const fe = new VhostUserFrontend(a, { nvqs: 1, report: cap.sink });
  b.on('data', () => b.close());
  b.resume();
  let disconnected = false;
  fe.on('disconnect', () => (disconnected = true));
  await t.throwsAsync(fe.init(), { message: 'vhost_backend_init failed: Protocol error' });
  t.true(disconnected);
  t.deepEqual(cap.messages, [
    'Failed to read msg header. Read 0 instead of 12. Original request 1.',
  ]);
  fe.close();
  t.is(fdCount(), before);
});

test('a fake back-end pair: init with the default mask acks only what both sides know', async (t) => {
  const [a, be] = FakeBackend.pair({ protocolFeatures: (1n << 64n) - 1n });
  const fe = new VhostUserFrontend(a, { nvqs: 1, supportsConfig: true, report: () => undefined });
  try {
    await fe.init();
    t.is(fe.protocolFeatures, VHOST_USER_FRONTEND_PROTOCOL_FEATURES);
    t.is(be.protocolFeatures, VHOST_USER_FRONTEND_PROTOCOL_FEATURES);
    t.truthy(fe.backendChannel);
  } finally {
    fe.close();
    be.close();
  }
});

test.serial('device_del closes the connection and every descriptor it opened', async (t) => {
  const ram = await setupRam(2 ** 20);
  removeRam(ram);
  const before = fdCount();
  const s = await setupFakeDevice({});
  const drv = new VhostUserDeviceDriver(s.dev);
  await drv.negotiate(F_VERSION_1);
  drv.setupQueue(0, 0x1000n, { num: 16 });
  await drv.driverOk();
  drv.close();
  const dev: VHostUserBase = s.dev;
  await s.close();
  await new Promise((r) => setTimeout(r, 20));
  t.true(dev.finalized || !dev.realized);
  t.is(fdCount(), before);
});

test('fds read together with an earlier message go to the message that starts last in the read', (t) => {
  const a = encodeVhostUserMsg({
    request: 10,
    flags: 9,
    body: { kind: 'mmap', mmap: { shmid: 0, fdOffset: 0n, shmOffset: 0n, len: 4096n, flags: 0n } },
  }).data;
  const b = encodeVhostUserMsg({
    request: 9,
    flags: 9,
    body: { kind: 'mmap', mmap: { shmid: 0, fdOffset: 0n, shmOffset: 0n, len: 4096n, flags: 1n } },
  }).data;
  // One read returning A (sent without fds) and B with B's fd, as Linux does.
  const f = new VhostUserStreamFramer();
  const out = f.feed(Buffer.concat([a, b]), [77]);
  t.deepEqual(
    out.messages.map((m) => [m.hdr.request, m.fds]),
    [
      [10, []],
      [9, [77]],
    ],
  );
  // B split across reads: its fds came with its first part.
  const g = new VhostUserStreamFramer();
  const o1 = g.feed(Buffer.concat([a, b.subarray(0, 20)]), [78]);
  const o2 = g.feed(b.subarray(20));
  t.deepEqual(
    o1.messages.map((m) => m.fds),
    [[]],
  );
  t.deepEqual(
    o2.messages.map((m) => m.fds),
    [[78]],
  );
  // A read inside one message keeps its fds on that message.
  const h = new VhostUserStreamFramer();
  const p1 = h.feed(a.subarray(0, 30), [79]);
  const p2 = h.feed(a.subarray(30));
  t.deepEqual(
    [...p1.messages, ...p2.messages].map((m) => m.fds),
    [[79]],
  );
});
