import test from 'ava';
import * as h from '../../../src/hw/virtio/standard-headers.js';

test('device ids, status bits and transport features', (t) => {
  t.is(h.VIRTIO_ID_NET, 1);
  t.is(h.VIRTIO_ID_BLOCK, 2);
  t.is(h.VIRTIO_ID_CONSOLE, 3);
  t.is(h.VIRTIO_ID_RNG, 4);
  t.is(h.VIRTIO_ID_GPU, 16);
  t.is(h.VIRTIO_ID_VSOCK, 19);
  t.is(h.VIRTIO_ID_FS, 26);
  t.is(h.VIRTIO_ID_GPIO, 41);
  t.is(h.VIRTIO_ID_SPI, 45);
  t.deepEqual(
    [
      h.VIRTIO_CONFIG_S_ACKNOWLEDGE,
      h.VIRTIO_CONFIG_S_DRIVER,
      h.VIRTIO_CONFIG_S_DRIVER_OK,
      h.VIRTIO_CONFIG_S_FEATURES_OK,
      h.VIRTIO_CONFIG_S_NEEDS_RESET,
      h.VIRTIO_CONFIG_S_FAILED,
    ],
    [1, 2, 4, 8, 0x40, 0x80],
  );
  t.is(h.VIRTIO_F_INDIRECT_DESC, 28);
  t.is(h.VIRTIO_F_EVENT_IDX, 29);
  t.is(h.VIRTIO_F_VERSION_1, 32);
  t.is(h.VIRTIO_F_ACCESS_PLATFORM, 33);
  t.is(h.VIRTIO_F_RING_PACKED, 34);
  t.deepEqual([h.VRING_DESC_F_NEXT, h.VRING_DESC_F_WRITE, h.VRING_DESC_F_INDIRECT], [1, 2, 4]);
  t.is(h.VIRTQ_USED_F_NO_NOTIFY, 1);
  t.is(h.VIRTQ_AVAIL_F_NO_INTERRUPT, 1);
});

test('feature helpers work on all 64 bits', (t) => {
  let f = h.virtioAddFeature(0n, h.VIRTIO_F_VERSION_1);
  f = h.virtioAddFeature(f, 63);
  t.is(f, (1n << 32n) | (1n << 63n));
  t.true(h.virtioHasFeature(f, 63));
  t.false(h.virtioHasFeature(f, 0));
  t.is(h.virtioClearFeature(f, 63), 1n << 32n);
});

test('vring_need_event over the 16-bit wrap', (t) => {
  t.true(h.vringNeedEvent(0, 1, 0));
  t.false(h.vringNeedEvent(1, 1, 0));
  t.true(h.vringNeedEvent(5, 10, 3));
  t.false(h.vringNeedEvent(10, 10, 3));
  t.true(h.vringNeedEvent(65535, 2, 65534));
  t.false(h.vringNeedEvent(3, 2, 65534));
});

test('virtio-blk request header and config layouts', (t) => {
  t.deepEqual(
    [h.VIRTIO_BLK_T_IN, h.VIRTIO_BLK_T_OUT, h.VIRTIO_BLK_T_FLUSH, h.VIRTIO_BLK_T_GET_ID],
    [0, 1, 4, 8],
  );
  t.deepEqual([h.VIRTIO_BLK_S_OK, h.VIRTIO_BLK_S_IOERR, h.VIRTIO_BLK_S_UNSUPP], [0, 1, 2]);
  const b = h.encodeVirtioBlkOuthdr({ type: h.VIRTIO_BLK_T_OUT, ioprio: 0, sector: 0x123456789n });
  t.deepEqual(b, Buffer.from('01000000 00000000 8967452301000000'.replace(/ /g, ''), 'hex'));
  t.deepEqual(h.decodeVirtioBlkOuthdr(b), { type: 1, ioprio: 0, sector: 0x123456789n });
  t.throws(() => h.decodeVirtioBlkOuthdr(b.subarray(0, 15)), { instanceOf: RangeError });
  t.throws(() => h.encodeVirtioBlkOuthdr({ type: -1, ioprio: 0, sector: 0n }), {
    instanceOf: RangeError,
  });
  const c = h.encodeVirtioBlkConfig({ capacity: 2048n, segMax: 126, blkSize: 512, numQueues: 1 });
  t.is(c.byteLength, 96);
  t.is(c.readBigUInt64LE(0), 2048n);
  t.is(c.readUInt32LE(12), 126);
  t.is(c.readUInt32LE(20), 512);
  t.is(c.readUInt16LE(34), 1);
  const d = h.decodeVirtioBlkConfig(c.subarray(0, 36));
  t.is(d.capacity, 2048n);
  t.is(d.numQueues, 1);
  t.is(d.maxDiscardSectors, 0);
});
