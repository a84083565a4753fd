import test from 'ava';
import {
  CodecError,
  type CodecErrorReason,
  VHOST_USER_F_PROTOCOL_FEATURES,
  VHOST_USER_FLAG_MAP_RW,
  VHOST_USER_HDR_SIZE,
  VHOST_USER_PAYLOAD_SIZE,
  VHOST_USER_PROTOCOL_FEATURE_MASK,
  VHOST_USER_PROTOCOL_F_SHMEM_V11,
  VHOST_USER_VRING_NOFD_MASK,
  VHOST_MEMORY_BASELINE_NREGIONS,
  VhostUserBackendRequest as B,
  VhostUserProtocolFeature as F,
  VhostUserRequest as R,
  type VhostUserBody,
  type VhostUserChannel,
  type VhostUserMsg,
  decodeU64,
  decodeVhostIotlbMsg,
  decodeVhostUserConfig,
  decodeVhostUserHeader,
  decodeVhostUserInflight,
  decodeVhostUserLog,
  decodeVhostUserMemRegMsg,
  decodeVhostUserMemory,
  decodeVhostUserMMap,
  decodeVhostUserMsg,
  decodeVhostUserReply,
  decodeVhostUserShared,
  decodeVhostUserShMemConfig,
  decodeVhostUserTransferDeviceState,
  decodeVhostUserVringArea,
  decodeVhostUserVringFile,
  decodeVhostVringAddr,
  decodeVhostVringState,
  encodeU64,
  encodeVhostIotlbMsg,
  encodeVhostUserAck,
  encodeVhostUserBody,
  encodeVhostUserConfig,
  encodeVhostUserHeader,
  encodeVhostUserInflight,
  encodeVhostUserLog,
  encodeVhostUserMemRegMsg,
  encodeVhostUserMemory,
  encodeVhostUserMMap,
  encodeVhostUserMsg,
  encodeVhostUserReply,
  encodeVhostUserShared,
  encodeVhostUserShMemConfig,
  encodeVhostUserTransferDeviceState,
  encodeVhostUserVringArea,
  encodeVhostUserVringFile,
  encodeVhostVringAddr,
  encodeVhostVringState,
  vhostUserBackendRequestName,
  vhostUserKnownRequests,
  vhostUserMaxPayloadSize,
  vhostUserRequestName,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import { Prng } from '../../../helpers/hw/virtio/prng.js';
import {
  FIXED_SIZE,
  expectations,
  sampleBody,
  sampleFdCount,
} from '../../../helpers/hw/virtio/vhost-user-samples.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function codecError(
  t: import('ava').ExecutionContext,
  fn: () => unknown,
  reason: CodecErrorReason,
): CodecError {
  const err = t.throws(fn, { instanceOf: CodecError });
  t.is(err?.reason, reason);
  return err as CodecError;
}

function msg(request: number, flags: number, payload: Buffer, fds: number[] = []): VhostUserMsg {
  return { hdr: { request, flags, size: payload.byteLength }, payload, fds };
}

test('front-end request ids match the specification', (t) => {
  const ids: [string, number][] = [
    ['GET_FEATURES', 1],
    ['SET_FEATURES', 2],
    ['SET_OWNER', 3],
    ['RESET_OWNER', 4],
    ['SET_MEM_TABLE', 5],
    ['SET_LOG_BASE', 6],
    ['SET_LOG_FD', 7],
    ['SET_VRING_NUM', 8],
    ['SET_VRING_ADDR', 9],
    ['SET_VRING_BASE', 10],
    ['GET_VRING_BASE', 11],
    ['SET_VRING_KICK', 12],
    ['SET_VRING_CALL', 13],
    ['SET_VRING_ERR', 14],
    ['GET_PROTOCOL_FEATURES', 15],
    ['SET_PROTOCOL_FEATURES', 16],
    ['GET_QUEUE_NUM', 17],
    ['SET_VRING_ENABLE', 18],
    ['SEND_RARP', 19],
    ['NET_SET_MTU', 20],
    ['SET_BACKEND_REQ_FD', 21],
    ['IOTLB_MSG', 22],
    ['SET_VRING_ENDIAN', 23],
    ['GET_CONFIG', 24],
    ['SET_CONFIG', 25],
    ['CREATE_CRYPTO_SESSION', 26],
    ['CLOSE_CRYPTO_SESSION', 27],
    ['POSTCOPY_ADVISE', 28],
    ['POSTCOPY_LISTEN', 29],
    ['POSTCOPY_END', 30],
    ['GET_INFLIGHT_FD', 31],
    ['SET_INFLIGHT_FD', 32],
    ['GPU_SET_SOCKET', 33],
    ['RESET_DEVICE', 34],
    ['VRING_KICK', 35],
    ['GET_MAX_MEM_SLOTS', 36],
    ['ADD_MEM_REG', 37],
    ['REM_MEM_REG', 38],
    ['SET_STATUS', 39],
    ['GET_STATUS', 40],
    ['GET_SHARED_OBJECT', 41],
    ['SET_DEVICE_STATE_FD', 42],
    ['CHECK_DEVICE_STATE', 43],
    ['GET_SHMEM_CONFIG', 44],
  ];
  for (const [name, id] of ids) {
    t.is((R as unknown as Record<string, number>)[`VHOST_USER_${name}`], id, name);
    t.is(vhostUserRequestName(id), `VHOST_USER_${name}`);
  }
  t.is(R.VHOST_USER_MAX, 45);
  t.deepEqual(
    vhostUserKnownRequests('frontend'),
    ids.map(([, id]) => id),
  );
  t.is(vhostUserRequestName(0), undefined);
  t.is(vhostUserRequestName(45), undefined);
  t.is(vhostUserRequestName(1.5), undefined);
});

test('back-end request ids match the specification', (t) => {
  const ids: [string, number][] = [
    ['IOTLB_MSG', 1],
    ['CONFIG_CHANGE_MSG', 2],
    ['VRING_HOST_NOTIFIER_MSG', 3],
    ['VRING_CALL', 4],
    ['VRING_ERR', 5],
    ['SHARED_OBJECT_ADD', 6],
    ['SHARED_OBJECT_REMOVE', 7],
    ['SHARED_OBJECT_LOOKUP', 8],
    ['SHMEM_MAP', 9],
    ['SHMEM_UNMAP', 10],
  ];
  for (const [name, id] of ids) {
    t.is((B as unknown as Record<string, number>)[`VHOST_USER_BACKEND_${name}`], id, name);
    t.is(vhostUserBackendRequestName(id), `VHOST_USER_BACKEND_${name}`);
  }
  t.deepEqual(
    vhostUserKnownRequests('backend'),
    ids.map(([, id]) => id),
  );
  t.is(vhostUserBackendRequestName(11), undefined);
});

test('protocol feature bits, with SHMEM at 22 as upstream', (t) => {
  const bits: [string, number][] = [
    ['MQ', 0],
    ['LOG_SHMFD', 1],
    ['RARP', 2],
    ['REPLY_ACK', 3],
    ['NET_MTU', 4],
    ['BACKEND_REQ', 5],
    ['CROSS_ENDIAN', 6],
    ['CRYPTO_SESSION', 7],
    ['PAGEFAULT', 8],
    ['CONFIG', 9],
    ['BACKEND_SEND_FD', 10],
    ['HOST_NOTIFIER', 11],
    ['INFLIGHT_SHMFD', 12],
    ['RESET_DEVICE', 13],
    ['INBAND_NOTIFICATIONS', 14],
    ['CONFIGURE_MEM_SLOTS', 15],
    ['STATUS', 16],
    ['XEN_MMAP', 17],
    ['SHARED_OBJECT', 18],
    ['DEVICE_STATE', 19],
    ['GET_VRING_BASE_INFLIGHT', 20],
    ['GPA_ADDRESSES', 21],
    ['SHMEM', 22],
  ];
  for (const [name, bit] of bits) {
    t.is((F as unknown as Record<string, number>)[`VHOST_USER_PROTOCOL_F_${name}`], bit, name);
  }
  t.is(F.VHOST_USER_PROTOCOL_F_MAX, 23);
  t.is(VHOST_USER_PROTOCOL_FEATURE_MASK, 0x7fffffn);
  t.is(VHOST_USER_PROTOCOL_F_SHMEM_V11, 20);
  t.is(VHOST_USER_F_PROTOCOL_FEATURES, 30);
  t.is(VHOST_USER_FLAG_MAP_RW, 1);
  t.is(VHOST_USER_VRING_NOFD_MASK, 0x100);
  t.is(VHOST_USER_HDR_SIZE, 12);
  t.is(VHOST_MEMORY_BASELINE_NREGIONS, 8);
  t.is(VHOST_USER_PAYLOAD_SIZE, 2056);
});

test('header golden bytes and round trip', (t) => {
  const b = encodeVhostUserHeader({ request: 5, flags: 0x9, size: 40 });
  t.deepEqual(b, hex('05000000 09000000 28000000'));
  t.deepEqual(decodeVhostUserHeader(b), { request: 5, flags: 9, size: 40 });
  codecError(t, () => decodeVhostUserHeader(b.subarray(0, 11)), 'truncated');
  codecError(t, () => encodeVhostUserHeader({ request: -1, flags: 1, size: 0 }), 'bad-value');
  codecError(t, () => encodeVhostUserHeader({ request: 2 ** 32, flags: 1, size: 0 }), 'bad-value');
});

const region1 = {
  guestPhysAddr: 0n,
  memorySize: 0x40000000n,
  userspaceAddr: 0x7f0000000000n,
  mmapOffset: 0n,
};
const region2 = {
  guestPhysAddr: 0x100000000n,
  memorySize: 0x1000n,
  userspaceAddr: 0x7f1000000000n,
  mmapOffset: 0x2000n,
};
const region1Hex = '0000000000000000 0000004000000000 00000000007f0000 0000000000000000';
const region2Hex = '0000000001000000 0010000000000000 00000000107f0000 0020000000000000';

test('payload golden layouts (hand-computed) and round trips', (t) => {
  const cases: [string, Buffer, Buffer, () => unknown, unknown][] = [
    [
      'u64',
      encodeU64(0x0102030405060708n),
      hex('0807060504030201'),
      () => decodeU64(hex('0807060504030201')),
      0x0102030405060708n,
    ],
    [
      'vring state',
      encodeVhostVringState({ index: 1, num: 256 }),
      hex('01000000 00010000'),
      () => decodeVhostVringState(hex('01000000 00010000')),
      { index: 1, num: 256 },
    ],
    [
      'vring addr',
      encodeVhostVringAddr({
        index: 2,
        flags: 1,
        descUserAddr: 0x1122334455667788n,
        usedUserAddr: 0x1000n,
        availUserAddr: 0x2000n,
        logGuestAddr: 0xdeadbeefn,
      }),
      hex('02000000 01000000 8877665544332211 0010000000000000 0020000000000000 efbeadde00000000'),
      () =>
        decodeVhostVringAddr(
          hex(
            '02000000 01000000 8877665544332211 0010000000000000 0020000000000000 efbeadde00000000',
          ),
        ),
      {
        index: 2,
        flags: 1,
        descUserAddr: 0x1122334455667788n,
        usedUserAddr: 0x1000n,
        availUserAddr: 0x2000n,
        logGuestAddr: 0xdeadbeefn,
      },
    ],
    [
      'memory table (2 regions, 72 bytes)',
      encodeVhostUserMemory({ regions: [region1, region2] }),
      hex(`02000000 00000000 ${region1Hex} ${region2Hex}`),
      () => decodeVhostUserMemory(hex(`02000000 00000000 ${region1Hex} ${region2Hex}`)),
      { regions: [region1, region2] },
    ],
    [
      'single memory region',
      encodeVhostUserMemRegMsg({ region: region2 }),
      hex(`0000000000000000 ${region2Hex}`),
      () => decodeVhostUserMemRegMsg(hex(`ffffffffffffffff ${region2Hex}`)),
      { region: region2 },
    ],
    [
      'log',
      encodeVhostUserLog({ mmapSize: 0x10000n, mmapOffset: 0x20n }),
      hex('0000010000000000 2000000000000000'),
      () => decodeVhostUserLog(hex('0000010000000000 2000000000000000')),
      { mmapSize: 0x10000n, mmapOffset: 0x20n },
    ],
    [
      'iotlb',
      encodeVhostIotlbMsg({ iova: 0x1000n, size: 0x2000n, uaddr: 0x3000n, perm: 3, type: 2 }),
      hex('0010000000000000 0020000000000000 0030000000000000 0302 000000000000'),
      () =>
        decodeVhostIotlbMsg(
          hex('0010000000000000 0020000000000000 0030000000000000 0302 000000000000'),
        ),
      { iova: 0x1000n, size: 0x2000n, uaddr: 0x3000n, perm: 3, type: 2 },
    ],
    [
      'config',
      encodeVhostUserConfig({ offset: 0x10, flags: 1, region: hex('aabbcc') }),
      hex('10000000 03000000 01000000 aabbcc'),
      () => decodeVhostUserConfig(hex('10000000 03000000 01000000 aabbcc')),
      { offset: 0x10, size: 3, flags: 1, region: hex('aabbcc') },
    ],
    [
      'vring area',
      encodeVhostUserVringArea({ u64: 0x101n, size: 0x1000n, offset: 0x3000n }),
      hex('0101000000000000 0010000000000000 0030000000000000'),
      () => decodeVhostUserVringArea(hex('0101000000000000 0010000000000000 0030000000000000')),
      { u64: 0x101n, size: 0x1000n, offset: 0x3000n },
    ],
    [
      'inflight',
      encodeVhostUserInflight({ mmapSize: 0x4000n, mmapOffset: 0n, numQueues: 2, queueSize: 128 }),
      hex('0040000000000000 0000000000000000 0200 8000 00000000'),
      () => decodeVhostUserInflight(hex('0040000000000000 0000000000000000 0200 8000 00000000')),
      { mmapSize: 0x4000n, mmapOffset: 0n, numQueues: 2, queueSize: 128 },
    ],
    [
      'shared object',
      encodeVhostUserShared({ uuid: hex('000102030405060708090a0b0c0d0e0f') }),
      hex('000102030405060708090a0b0c0d0e0f'),
      () => decodeVhostUserShared(hex('000102030405060708090a0b0c0d0e0f')),
      { uuid: hex('000102030405060708090a0b0c0d0e0f') },
    ],
    [
      'transfer state',
      encodeVhostUserTransferDeviceState({ direction: 1, phase: 0 }),
      hex('01000000 00000000'),
      () => decodeVhostUserTransferDeviceState(hex('01000000 00000000')),
      { direction: 1, phase: 0 },
    ],
    [
      'mmap (40 bytes)',
      encodeVhostUserMMap({
        shmid: 3,
        fdOffset: 0x1000n,
        shmOffset: 0x200000n,
        len: 0x10000n,
        flags: 1n,
      }),
      hex('03 00000000000000 0010000000000000 0000200000000000 0000010000000000 0100000000000000'),
      () =>
        decodeVhostUserMMap(
          hex(
            '03 ffffffffffffff 0010000000000000 0000200000000000 0000010000000000 0100000000000000',
          ),
        ),
      { shmid: 3, fdOffset: 0x1000n, shmOffset: 0x200000n, len: 0x10000n, flags: 1n },
    ],
    [
      'vring file',
      encodeVhostUserVringFile({ index: 5, noFd: true }),
      hex('0501000000000000'),
      () => decodeVhostUserVringFile(hex('0501000000000000')),
      { index: 5, noFd: true },
    ],
  ];
  for (const [name, encoded, golden, decode, value] of cases) {
    t.deepEqual(encoded, golden, `${name}: encoding`);
    t.deepEqual(decode(), value, `${name}: decoding`);
  }
});

test('shmem config is 2056 bytes, indexed by shmid', (t) => {
  const b = encodeVhostUserShMemConfig({ memorySizes: [0x200000n, 0n, 0x100000n] });
  t.is(b.byteLength, 2056);
  t.deepEqual(
    b.subarray(0, 32),
    hex('02000000 00000000 0000200000000000 0000000000000000 0000100000000000'),
  );
  t.true(b.subarray(32).every((x) => x === 0));
  const d = decodeVhostUserShMemConfig(b);
  t.is(d.nregions, 2);
  t.is(d.memorySizes.length, 256);
  t.deepEqual(d.memorySizes.slice(0, 4), [0x200000n, 0n, 0x100000n, 0n]);
  const bad = Buffer.from(b);
  bad.writeUInt32LE(257, 0);
  codecError(t, () => decodeVhostUserShMemConfig(bad), 'bad-payload');
  codecError(t, () => decodeVhostUserShMemConfig(b.subarray(0, 2055)), 'bad-size');
  codecError(
    t,
    () => encodeVhostUserShMemConfig({ memorySizes: new Array<bigint>(257).fill(0n) }),
    'bad-value',
  );
});

test('payload decoders reject short buffers and encoders out-of-range values', (t) => {
  codecError(t, () => decodeU64(Buffer.alloc(7)), 'bad-size');
  codecError(t, () => decodeVhostVringAddr(Buffer.alloc(39)), 'bad-size');
  codecError(t, () => decodeVhostUserMMap(Buffer.alloc(39)), 'bad-size');
  codecError(t, () => decodeVhostUserMemory(hex('09000000 00000000')), 'bad-payload');
  codecError(t, () => decodeVhostUserMemory(hex('01000000 00000000')), 'bad-payload');
  codecError(t, () => decodeVhostUserConfig(hex('00000000 01010000 00000000')), 'bad-payload');
  codecError(t, () => decodeVhostUserConfig(hex('00000000 02000000 00000000 aa')), 'bad-payload');
  codecError(t, () => encodeU64(-1n), 'bad-value');
  codecError(t, () => encodeU64(1n << 64n), 'bad-value');
  codecError(t, () => encodeU64(0.5), 'bad-value');
  codecError(t, () => encodeVhostVringState({ index: 2 ** 32, num: 0 }), 'bad-value');
  codecError(
    t,
    () => encodeVhostUserMMap({ shmid: 256, fdOffset: 0n, shmOffset: 0n, len: 1n, flags: 0n }),
    'bad-value',
  );
  codecError(t, () => encodeVhostUserMemory({ regions: new Array(9).fill(region1) }), 'bad-value');
  codecError(t, () => encodeVhostUserConfig({ offset: 0, flags: 0, size: 257 }), 'bad-value');
  codecError(
    t,
    () => encodeVhostUserConfig({ offset: 0, flags: 0, size: 2, region: hex('aa') }),
    'bad-value',
  );
  codecError(t, () => encodeVhostUserShared({ uuid: Buffer.alloc(15) }), 'bad-value');
  codecError(
    t,
    () => encodeVhostUserBody({ kind: 'session', data: Buffer.alloc(10) }),
    'bad-value',
  );
  // A GET_CONFIG request carries a zeroed region of the size it asks for.
  t.deepEqual(
    encodeVhostUserConfig({ offset: 0, flags: 0, size: 4 }),
    hex('00000000 04000000 00000000 00000000'),
  );
});

test('whole messages: golden bytes for SET_VRING_CALL, SHMEM_MAP and an ack', (t) => {
  const call = encodeVhostUserMsg(
    {
      request: R.VHOST_USER_SET_VRING_CALL,
      body: { kind: 'vringFile', file: { index: 1, noFd: false } },
      fds: [42],
    },
    { channel: 'frontend' },
  );
  t.deepEqual(call.data, hex('0d000000 01000000 08000000 0100000000000000'));
  t.deepEqual(call.fds, [42]);

  const map = encodeVhostUserMsg(
    {
      request: B.VHOST_USER_BACKEND_SHMEM_MAP,
      flags: 0x9,
      body: {
        kind: 'mmap',
        mmap: { shmid: 0, fdOffset: 0n, shmOffset: 0x200000n, len: 0x1000n, flags: 1n },
      },
      fds: [7],
    },
    { channel: 'backend' },
  );
  t.deepEqual(
    map.data,
    hex(
      '09000000 09000000 28000000 00 00000000000000 0000000000000000 0000200000000000 0010000000000000 0100000000000000',
    ),
  );
  const ack = encodeVhostUserAck({ request: 9, flags: 0x9, size: 40 }, 1);
  t.deepEqual(ack.data, hex('09000000 05000000 08000000 0100000000000000'));
  t.deepEqual(ack.fds, []);

  const reply = encodeVhostUserReply(
    { request: R.VHOST_USER_GET_FEATURES, flags: 1, size: 0 },
    { kind: 'u64', u64: 1n << 30n },
    [],
    { channel: 'frontend' },
  );
  t.deepEqual(reply.data, hex('01000000 05000000 08000000 0000004000000000'));
});

test('encoder refuses what the wire cannot carry', (t) => {
  codecError(
    t,
    () => encodeVhostUserMsg({ request: 1, body: { kind: 'raw', data: Buffer.alloc(2057) } }),
    'oversized',
  );
  codecError(
    t,
    () => encodeVhostUserMsg({ request: 21, fds: [1, 2, 3, 4, 5, 6, 7, 8, 9] }),
    'bad-fds',
  );
  codecError(t, () => encodeVhostUserMsg({ request: 21, fds: [-1] }), 'bad-value');
  codecError(
    t,
    () => encodeVhostUserMsg({ request: 21, fds: [] }, { channel: 'frontend' }),
    'bad-fds',
  );
  // Without a channel nothing but the wire format is checked.
  t.notThrows(() =>
    encodeVhostUserMsg({ request: 999, body: { kind: 'raw', data: Buffer.alloc(3) } }),
  );
});

function fdList(n: number): number[] {
  return Array.from({ length: n }, (_, i) => 100 + i);
}

function fdRange(exp: { fds: unknown }, body: VhostUserBody): number[] {
  switch (exp.fds) {
    case 'optional':
      return [0, 1];
    case 'regions':
      return body.kind === 'memory' ? [body.memory.regions.length] : [0];
    case 'nofd': {
      const nofd =
        (body.kind === 'vringFile' && body.file.noFd) ||
        (body.kind === 'area' && (body.area.u64 & 0x100n) !== 0n);
      return nofd ? [0] : [1];
    }
    case 'nofdMaybe':
      return body.kind === 'u64' && (body.u64 & 0x100n) !== 0n ? [0] : [0, 1];
    default:
      return [exp.fds as number];
  }
}

for (const channel of ['frontend', 'backend'] as VhostUserChannel[]) {
  test(`${channel}: every request and reply layout decodes, and wrong sizes and fd counts are refused`, (t) => {
    const rng = new Prng(channel === 'frontend' ? 1 : 2);
    let checked = 0;
    for (const [request, reqAlts, replyAlts] of expectations(channel)) {
      for (const [reply, alts] of [
        [false, reqAlts],
        [true, replyAlts],
      ] as const) {
        for (const exp of alts) {
          for (const noFd of [false, true]) {
            const body = sampleBody(rng, exp.kind, noFd);
            const payload = encodeVhostUserBody(body);
            const flags = reply ? 0x5 : rng.chance(0.5) ? 0x9 : 0x1;
            const allowed = fdRange(exp, body);
            const n = sampleFdCount(rng, exp, body);
            t.true(allowed.includes(n));
            const d = decodeVhostUserMsg(msg(request, flags, payload, fdList(n)), channel);
            t.is(d.body.kind, exp.kind, `${channel} ${request} ${reply} ${exp.kind}`);
            t.deepEqual(encodeVhostUserBody(d.body), payload);
            t.is(d.reply, reply);
            t.is(d.needReply, flags === 0x9);
            t.deepEqual(d.fds, fdList(n));
            for (const bad of [0, 1, 2, 3, 9]) {
              if (allowed.includes(bad)) continue;
              const err = codecError(
                t,
                () => decodeVhostUserMsg(msg(request, flags, payload, fdList(bad)), channel),
                'bad-fds',
              );
              t.is(err.request, request);
              t.false(err.framing);
            }
            checked++;
          }
        }
        // Sizes that fit none of the layouts.
        const sizes = new Set<number>();
        for (const exp of alts) {
          const fixed = FIXED_SIZE[exp.kind];
          if (fixed !== undefined) {
            sizes.add(fixed + 1);
            if (fixed > 0) sizes.add(fixed - 1);
          }
        }
        for (const size of sizes) {
          const fits = alts.some((a) =>
            a.kind === 'memory'
              ? size >= 8 && size <= 264 && (size - 8) % 32 === 0
              : a.kind === 'config'
                ? size >= 12 && size <= 268
                : FIXED_SIZE[a.kind] === size,
          );
          if (fits) continue;
          const err = codecError(
            t,
            () => decodeVhostUserMsg(msg(request, reply ? 5 : 1, Buffer.alloc(size)), channel),
            'bad-size',
          );
          if (reply) t.is(err.message, 'Received bad msg size.');
        }
      }
    }
    t.true(checked >= expectations(channel).length * 4);
  });
}

test('flags: version must be 1, no reserved bits, no NEED_REPLY on replies', (t) => {
  const ok = msg(R.VHOST_USER_GET_FEATURES, 1, Buffer.alloc(0));
  t.notThrows(() => decodeVhostUserMsg(ok, 'frontend'));
  for (const flags of [0, 2, 3, 0x11, 0x80000001, 0xd]) {
    const err = codecError(
      t,
      () => decodeVhostUserMsg(msg(R.VHOST_USER_GET_FEATURES, flags, Buffer.alloc(0)), 'frontend'),
      'bad-flags',
    );
    t.regex(
      err.message,
      /^Failed to read msg header\. Flags 0x[0-9a-f]+ instead of 0x[0-9a-f]+\.$/,
    );
  }
  const err = codecError(
    t,
    () => decodeVhostUserMsg(msg(R.VHOST_USER_GET_FEATURES, 0xd, encodeU64(1n)), 'frontend'),
    'bad-flags',
  );
  t.is(err.message, 'Failed to read msg header. Flags 0xd instead of 0x5.');
});

test('unknown requests get QEMU / libvhost-user texts', (t) => {
  let err = codecError(
    t,
    () => decodeVhostUserMsg(msg(11, 1, Buffer.alloc(0)), 'backend'),
    'unknown-request',
  );
  t.is(err.message, 'Received unexpected msg type: 11.');
  err = codecError(
    t,
    () => decodeVhostUserMsg(msg(0, 1, Buffer.alloc(0)), 'frontend'),
    'unknown-request',
  );
  t.is(err.message, 'Unhandled request: 0');
  err = codecError(
    t,
    () => decodeVhostUserMsg(msg(45, 1, Buffer.alloc(0)), 'frontend'),
    'unknown-request',
  );
  t.is(err.request, 45);
});

test('peer texts for the classic fd mistakes', (t) => {
  const cases: [VhostUserChannel, number, Buffer, number, string][] = [
    ['frontend', R.VHOST_USER_SET_VRING_KICK, encodeU64(1n), 0, 'Invalid fds in request: 12'],
    ['frontend', R.VHOST_USER_SET_VRING_CALL, encodeU64(0x101n), 1, 'Invalid fds in request: 13'],
    [
      'frontend',
      R.VHOST_USER_SET_BACKEND_REQ_FD,
      Buffer.alloc(0),
      2,
      "Invalid backend_req_fd message (2 fd's)",
    ],
    ['frontend', R.VHOST_USER_SET_LOG_FD, Buffer.alloc(0), 0, 'Invalid log_fd message'],
    [
      'frontend',
      R.VHOST_USER_ADD_MEM_REG,
      encodeVhostUserMemRegMsg({ region: region1 }),
      0,
      'VHOST_USER_ADD_MEM_REG received 0 fds - only 1 fd should be sent for this message type',
    ],
    [
      'frontend',
      R.VHOST_USER_SET_INFLIGHT_FD,
      encodeVhostUserInflight({ mmapSize: 0n, mmapOffset: 0n, numQueues: 1, queueSize: 8 }),
      0,
      'Invalid set_inflight_fd message size:24 fds:0',
    ],
    [
      'backend',
      B.VHOST_USER_BACKEND_SHMEM_MAP,
      encodeVhostUserMMap({ shmid: 0, fdOffset: 0n, shmOffset: 0n, len: 4096n, flags: 0n }),
      0,
      'Bad fd for map',
    ],
  ];
  for (const [channel, request, payload, nfds, text] of cases) {
    const err = codecError(
      t,
      () => decodeVhostUserMsg(msg(request, 1, payload, fdList(nfds)), channel),
      'bad-fds',
    );
    t.is(err.message, text);
  }
  // SHMEM_MAP with two fds is refused too; SHMEM_UNMAP takes none.
  codecError(
    t,
    () =>
      decodeVhostUserMsg(
        msg(
          9,
          1,
          encodeVhostUserMMap({ shmid: 0, fdOffset: 0n, shmOffset: 0n, len: 1n, flags: 0n }),
          [3, 4],
        ),
        'backend',
      ),
    'bad-fds',
  );
  codecError(
    t,
    () =>
      decodeVhostUserMsg(
        msg(
          10,
          1,
          encodeVhostUserMMap({ shmid: 0, fdOffset: 0n, shmOffset: 0n, len: 1n, flags: 0n }),
          [3],
        ),
        'backend',
      ),
    'bad-fds',
  );
});

test('SET_MEM_TABLE: one fd per region, sizes as QEMU sends them', (t) => {
  const table = encodeVhostUserMemory({ regions: [region1, region2] });
  t.is(table.byteLength, 72);
  const d = decodeVhostUserMsg(msg(5, 1, table, [10, 11]), 'frontend');
  t.deepEqual(d.body, { kind: 'memory', memory: { regions: [region1, region2] } });
  codecError(t, () => decodeVhostUserMsg(msg(5, 1, table, [10]), 'frontend'), 'bad-fds');
  codecError(t, () => decodeVhostUserMsg(msg(5, 1, table, [10, 11, 12]), 'frontend'), 'bad-fds');
  // A full 264-byte struct with fewer regions in use is tolerated.
  const full = Buffer.alloc(264);
  table.copy(full);
  t.is(decodeVhostUserMsg(msg(5, 1, full, [10, 11]), 'frontend').body.kind, 'memory');
  // nregions disagreeing with the size, and more than 8 regions, are not.
  const lying = Buffer.from(table);
  lying.writeUInt32LE(1, 0);
  codecError(t, () => decodeVhostUserMsg(msg(5, 1, lying, [10]), 'frontend'), 'bad-payload');
  const nine = Buffer.alloc(264);
  nine.writeUInt32LE(9, 0);
  codecError(t, () => decodeVhostUserMsg(msg(5, 1, nine, fdList(8)), 'frontend'), 'bad-payload');
  codecError(t, () => decodeVhostUserMsg(msg(5, 1, Buffer.alloc(4)), 'frontend'), 'bad-size');
  codecError(t, () => decodeVhostUserMsg(msg(5, 1, Buffer.alloc(296)), 'frontend'), 'bad-size');
});

test('GET/SET_CONFIG: bounded variable size that must agree with the size field', (t) => {
  const c = encodeVhostUserConfig({ offset: 0, flags: 0, region: Buffer.alloc(256, 7) });
  t.is(c.byteLength, 268);
  const d = decodeVhostUserMsg(msg(R.VHOST_USER_SET_CONFIG, 1, c), 'frontend');
  t.is(d.body.kind === 'config' && d.body.config.region.byteLength, 256);
  const short = c.subarray(0, 100);
  const err = codecError(
    t,
    () => decodeVhostUserMsg(msg(25, 1, Buffer.from(short)), 'frontend'),
    'bad-payload',
  );
  t.is(err.request, 25);
  const over = Buffer.from(encodeVhostUserConfig({ offset: 0, flags: 0, size: 4 }));
  over.writeUInt32LE(2, 4);
  codecError(t, () => decodeVhostUserMsg(msg(24, 1, over), 'frontend'), 'bad-payload');
  codecError(t, () => decodeVhostUserMsg(msg(24, 1, Buffer.alloc(269)), 'frontend'), 'bad-size');
  codecError(t, () => decodeVhostUserMsg(msg(24, 1, Buffer.alloc(11)), 'frontend'), 'bad-size');
});

test('payload length must equal the header size', (t) => {
  const m: VhostUserMsg = {
    hdr: { request: 2, flags: 1, size: 8 },
    payload: Buffer.alloc(7),
    fds: [],
  };
  codecError(t, () => decodeVhostUserMsg(m, 'frontend'), 'bad-size');
});

test('maximum payload per request bounds what a receiver buffers', (t) => {
  t.is(vhostUserMaxPayloadSize(R.VHOST_USER_GET_FEATURES, 'frontend'), 8);
  t.is(vhostUserMaxPayloadSize(R.VHOST_USER_SET_MEM_TABLE, 'frontend'), 264);
  t.is(vhostUserMaxPayloadSize(R.VHOST_USER_SET_CONFIG, 'frontend'), 268);
  t.is(vhostUserMaxPayloadSize(R.VHOST_USER_CREATE_CRYPTO_SESSION, 'frontend'), 1072);
  t.is(vhostUserMaxPayloadSize(R.VHOST_USER_GET_SHMEM_CONFIG, 'frontend'), 2056);
  t.is(vhostUserMaxPayloadSize(B.VHOST_USER_BACKEND_SHMEM_MAP, 'backend'), 40);
  t.is(vhostUserMaxPayloadSize(B.VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 'backend'), 8);
  t.is(vhostUserMaxPayloadSize(1000, 'backend'), 2056);
  for (const channel of ['frontend', 'backend'] as const) {
    for (const r of vhostUserKnownRequests(channel)) {
      t.true(vhostUserMaxPayloadSize(r, channel) <= VHOST_USER_PAYLOAD_SIZE);
    }
  }
});

test('replies are checked against the request they answer, as QEMU does', (t) => {
  const reply = msg(R.VHOST_USER_GET_FEATURES, 5, encodeU64(1n << 30n));
  const d = decodeVhostUserReply(reply, R.VHOST_USER_GET_FEATURES, 'frontend');
  t.deepEqual(d.body, { kind: 'u64', u64: 1n << 30n });
  let err = codecError(
    t,
    () => decodeVhostUserReply(reply, R.VHOST_USER_GET_PROTOCOL_FEATURES, 'frontend'),
    'unexpected-reply',
  );
  t.is(err.message, 'Received unexpected msg type. Expected 15 received 1');
  err = codecError(
    t,
    () => decodeVhostUserReply(msg(1, 1, encodeU64(0n)), R.VHOST_USER_GET_FEATURES, 'frontend'),
    'bad-flags',
  );
  t.is(err.message, 'Failed to read msg header. Flags 0x1 instead of 0x5.');
  err = codecError(
    t,
    () => decodeVhostUserReply(msg(1, 5, Buffer.alloc(4)), R.VHOST_USER_GET_FEATURES, 'frontend'),
    'bad-size',
  );
  t.is(err.message, 'Received bad msg size.');
  // A SHMEM_MAP ack on the back-end channel.
  const ack = decodeVhostUserReply(
    msg(9, 5, encodeU64(0n)),
    B.VHOST_USER_BACKEND_SHMEM_MAP,
    'backend',
  );
  t.deepEqual(ack.body, { kind: 'u64', u64: 0n });
});
