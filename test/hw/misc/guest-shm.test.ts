import test from 'ava';
import {
  GUEST_SHM_MAX_CLIENTS,
  GUEST_SHM_MAX_NAME,
  GUEST_SHM_PAGE_SIZE,
  GUEST_SHM_SIGNATURE,
  GuestShmControl,
  GuestShmFactory,
  GuestShmFactoryRegs,
  GuestShmStatus,
  PCI_DID_QNX_GUEST_SHM,
  PCI_VID_BLACKBERRY_QNX,
  bytesToPages,
  decodeControl,
  decodeFactory,
  decodeGuestShmName,
  encodeControl,
  encodeFactory,
  encodeGuestShmName,
  notifyTargets,
  packControlStatus,
  unpackControlStatus,
  type GuestShmFactoryRequest,
} from '../../../src/hw/misc/guest-shm.js';

test('constants are guest_shm.h values', (t) => {
  t.is(GUEST_SHM_SIGNATURE, 0x4d534732474d5651n);
  t.is(GUEST_SHM_MAX_CLIENTS, 16);
  t.is(GUEST_SHM_MAX_NAME, 32);
  t.is(GUEST_SHM_PAGE_SIZE, 4096);
  t.is(PCI_VID_BLACKBERRY_QNX, 0x1c05);
  t.is(PCI_DID_QNX_GUEST_SHM, 0x0001);
  t.deepEqual(
    [
      GuestShmStatus.GSS_OK,
      GuestShmStatus.GSS_UNKNOWN_FAILURE,
      GuestShmStatus.GSS_NOMEM,
      GuestShmStatus.GSS_CLIENT_MAX,
      GuestShmStatus.GSS_ILLEGAL_NAME,
      GuestShmStatus.GSS_NO_PERMISSION,
      GuestShmStatus.GSS_DOES_NOT_EXIST,
    ],
    [0, 1, 2, 3, 4, 5, 6],
  );
});

test('factory layout: offsets of struct guest_shm_factory', (t) => {
  t.deepEqual(
    [
      GuestShmFactory.SIGNATURE,
      GuestShmFactory.SHMEM,
      GuestShmFactory.VECTOR,
      GuestShmFactory.STATUS,
    ],
    [0x00, 0x08, 0x10, 0x14],
  );
  t.deepEqual(
    [GuestShmFactory.SIZE, GuestShmFactory.NAME, GuestShmFactory.FIND, GuestShmFactory.LENGTH],
    [0x18, 0x1c, 0x3c, 0x40],
  );
  t.deepEqual(
    [GuestShmControl.STATUS, GuestShmControl.IDX, GuestShmControl.NOTIFY, GuestShmControl.DETACH],
    [0, 4, 8, 12],
  );
});

test('factory encoding is little-endian, byte-exact, and round-trips', (t) => {
  const state = {
    signature: GUEST_SHM_SIGNATURE,
    shmem: 0x1122334455667788n,
    vector: 45,
    status: GuestShmStatus.GSS_NO_PERMISSION,
    size: 0x10,
    name: 'wombat',
    find: 7,
  };
  const bytes = encodeFactory(state);
  t.is(bytes.length, 0x40);
  t.is(Buffer.from(bytes.subarray(0, 8)).toString('latin1'), 'QVMG2GSM');
  t.deepEqual([...bytes.subarray(8, 16)], [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
  t.deepEqual(
    [...bytes.subarray(0x10, 0x20)],
    [45, 0, 0, 0, 5, 0, 0, 0, 0x10, 0, 0, 0, 0x77, 0x6f, 0x6d, 0x62],
  );
  t.deepEqual([...bytes.subarray(0x21, 0x23)], [0x74, 0]);
  t.deepEqual([...bytes.subarray(0x3c, 0x40)], [7, 0, 0, 0]);
  t.deepEqual(decodeFactory(bytes), state);
});

test('control encoding and status packing', (t) => {
  const status = packControlStatus(0b1010, 0b1111);
  t.is(status, 0x000f000a);
  t.deepEqual(unpackControlStatus(status), { pending: 0b1010, active: 0b1111 });
  t.is(packControlStatus(0x1ffff, 0x1ffff), 0xffffffff);
  t.deepEqual(unpackControlStatus(0xffffffff), { pending: 0xffff, active: 0xffff });
  const bytes = encodeControl({ status, idx: 3, notify: 0, detach: 0 });
  t.deepEqual([...bytes], [0x0a, 0, 0x0f, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  t.deepEqual(decodeControl(bytes), { status, idx: 3, notify: 0, detach: 0 });
});

test('notify: all ones means every other active client; other bits are limited to active clients', (t) => {
  const active = 0b1011; // clients 0, 1, 3
  t.is(notifyTargets(0xffffffff, 1, active), 0b1001);
  t.is(notifyTargets(-1, 0, active), 0b1010);
  t.is(notifyTargets(0b0100, 0, active), 0); // client 2 is not attached
  t.is(notifyTargets(0b1000, 0, active), 0b1000);
  t.is(notifyTargets(0b0010, 1, active), 0b0010); // a client may signal itself explicitly
  t.is(notifyTargets(0x10000 | 0b1, 3, active), 0b1);
});

test('names: NUL-terminated or a full 32 bytes, bytes as Latin-1', (t) => {
  t.is(decodeGuestShmName(encodeGuestShmName('abc')), 'abc');
  const full = 'x'.repeat(32);
  t.is(decodeGuestShmName(encodeGuestShmName(full)), full);
  t.is(decodeGuestShmName(Uint8Array.from([0x61, 0, 0x62])), 'a');
  t.is(decodeGuestShmName(Uint8Array.from([0xe9, 0xff])), '\u00e9\u00ff');
  t.is(decodeGuestShmName(new Uint8Array(40).fill(0x41)), 'A'.repeat(32));
  t.throws(() => encodeGuestShmName('x'.repeat(33)), { instanceOf: RangeError });
  t.throws(() => encodeGuestShmName('\u0100'), { instanceOf: RangeError });
});

test('bytesToPages rounds up', (t) => {
  t.is(bytesToPages(1n), 1n);
  t.is(bytesToPages(4096n), 1n);
  t.is(bytesToPages(4097n), 2n);
  t.is(bytesToPages(0xf0000n), 0xf0n);
});

test('factory registers: read-only fields, name writes of any width, size write triggers create', (t) => {
  const requests: GuestShmFactoryRequest[] = [];
  const regs = new GuestShmFactoryRegs(45, (req) => {
    requests.push(req);
    return req.name === 'wombat'
      ? { status: GuestShmStatus.GSS_OK, shmem: 0x80000000n, size: 4 }
      : { status: GuestShmStatus.GSS_NO_PERMISSION };
  });
  t.is(regs.read(GuestShmFactory.SIGNATURE, 8), GUEST_SHM_SIGNATURE);
  t.is(regs.read(GuestShmFactory.SIGNATURE, 4), 0x474d5651n);
  t.is(regs.read(GuestShmFactory.SIGNATURE + 4, 4), 0x4d534732n);
  t.is(regs.read(GuestShmFactory.VECTOR, 4), 45n);
  t.is(regs.read(0x800, 8), 0n);
  regs.write(GuestShmFactory.SIGNATURE, 8, 0n);
  regs.write(GuestShmFactory.VECTOR, 4, 99);
  regs.write(GuestShmFactory.STATUS, 4, 3);
  regs.write(0x800, 4, 0xdead);
  t.is(regs.read(GuestShmFactory.SIGNATURE, 8), GUEST_SHM_SIGNATURE);
  t.is(regs.read(GuestShmFactory.VECTOR, 4), 45n);
  t.is(regs.read(GuestShmFactory.STATUS, 4), 0n);
  t.is(regs.read(0x800, 4), 0n);
  t.is(requests.length, 0);

  // Byte by byte, as guests that cannot memcpy into MMIO do.
  for (const [i, c] of [...'wom'].entries())
    regs.write(GuestShmFactory.NAME + i, 1, c.charCodeAt(0));
  // Then a 4-byte store for the rest.
  regs.write(GuestShmFactory.NAME + 3, 4, 0x00746162n); // "bat\0"
  t.is(regs.state.name, 'wombat');
  regs.write(GuestShmFactory.SIZE, 4, 2);
  t.is(requests.length, 1);
  t.is(requests[0]!.kind, 'create');
  t.is(requests[0]!.name, 'wombat');
  t.is(requests[0]!.value, 2);
  t.is(requests[0]!.rawName.length, 32);
  t.is(regs.read(GuestShmFactory.STATUS, 4), 0n);
  t.is(regs.read(GuestShmFactory.SHMEM, 8), 0x80000000n);
  t.is(regs.read(GuestShmFactory.SIZE, 4), 4n, 'size reads back the actual size');

  // A failing request leaves shmem and size as they were.
  regs.write(GuestShmFactory.NAME, 4, 0x6f78656en); // "nexo"
  regs.write(GuestShmFactory.NAME + 4, 1, 0);
  regs.write(GuestShmFactory.FIND, 4, 1);
  t.is(requests[1]!.kind, 'find');
  t.is(requests[1]!.name, 'nexo');
  t.is(requests[1]!.value, 1);
  t.is(regs.read(GuestShmFactory.STATUS, 4), BigInt(GuestShmStatus.GSS_NO_PERMISSION));
  t.is(regs.read(GuestShmFactory.SHMEM, 8), 0x80000000n);
  t.is(regs.read(GuestShmFactory.SIZE, 4), 4n);
  t.is(regs.read(GuestShmFactory.FIND, 4), 1n);

  // One 8-byte store covering size and the start of name: the request
  // sees the new name bytes too.
  regs.write(GuestShmFactory.SIZE, 8, (0x626d6f77n << 32n) | 1n); // size=1, "womb"
  t.is(requests.length, 3);
  t.is(requests[2]!.name, 'womb');
  t.is(requests[2]!.value, 1);
});

test('factory registers reject accesses a bus cannot make', (t) => {
  const regs = new GuestShmFactoryRegs(0, () => ({ status: 0 }));
  t.throws(() => regs.read(0, 0), { instanceOf: RangeError });
  t.throws(() => regs.read(0, 9), { instanceOf: RangeError });
  t.throws(() => regs.read(4095, 2), { instanceOf: RangeError });
  t.throws(() => regs.write(-1, 1, 0), { instanceOf: RangeError });
  t.notThrows(() => regs.read(4088, 8));
});
