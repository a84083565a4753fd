/**
 * The abstract virtio-device: properties, features, status, config space,
 * reset, shared memory regions in qom-list and in `info mtree`.
 */
import test from 'ava';
import 'reflect-metadata';
import { container } from 'tsyringe';
import { HostOs, MFD_CLOEXEC } from '../../../src/native/index.js';
import { deviceColdReset, qdevNew, qdevRealize } from '../../../src/hw/core/qdev.js';
import { qdevDeviceAdd, qemuDeviceOpts, qmpDeviceDel } from '../../../src/hw/core/qdev-monitor.js';
import {
  TYPE_VIRTIO_DEVICE,
  VIRTIO_NO_VECTOR,
  VirtIODevice,
  type VirtioDeviceClass,
  virtioConfigReadb,
  virtioConfigReadl,
  virtioConfigReadw,
  virtioConfigWriteb,
  virtioConfigWritel,
  virtioConfigWritew,
  virtioHostHasFeature,
  virtioIdToName,
  virtioInit,
  virtioReset,
  virtioSetFeatures,
  virtioSetStatus,
  virtioShmemMapBar,
  virtioShmemUnmapBar,
  virtioVdevHasFeature,
} from '../../../src/hw/virtio/virtio.js';
import {
  virtioFindShmemRegion,
  virtioNewShmemRegion,
  virtioShmemMap,
} from '../../../src/hw/virtio/virtio-shmem.js';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_VERSION_1,
  VIRTIO_ID_GPU,
  virtioAddFeature,
  virtioClearFeature,
} from '../../../src/hw/virtio/standard-headers.js';
import {
  addressSpaceMemory,
  getSystemMemory,
  memoryRegionInit,
  memoryRegionNew,
  mtreeInfo,
} from '../../../src/system/index.js';
import { objectCheck, objectNew, objectResolvePath, typeRegister } from '../../../src/qom/index.js';

const os = container.resolve(HostOs);
const log: string[] = [];

class GpuDev extends VirtIODevice {
  cfg = new Uint8Array(8);
  validate = 0;
}

typeRegister<VirtioDeviceClass, GpuDev>({
  name: 'test-virtio-gpu',
  parent: TYPE_VIRTIO_DEVICE,
  instanceType: GpuDev,
  classInit(vdc) {
    vdc.vdevRealize = (vdev) => {
      virtioInit(vdev, VIRTIO_ID_GPU, 8);
      virtioNewShmemRegion(vdev, 0, 0x40000);
      virtioNewShmemRegion(vdev, 3, 0x10000);
      log.push('realize');
    };
    vdc.vdevUnrealize = () => log.push('unrealize');
    vdc.getFeatures = (_vdev, requested) => virtioAddFeature(requested, VIRTIO_F_VERSION_1) | 1n;
    vdc.setFeatures = (_vdev, val) => log.push(`features ${val.toString(16)}`);
    vdc.validateFeatures = (vdev) => (vdev as GpuDev).validate;
    vdc.getConfig = (vdev, config) => config.set((vdev as GpuDev).cfg);
    vdc.setConfig = (vdev, config) => (vdev as GpuDev).cfg.set(config);
    vdc.vdevReset = () => log.push('reset');
    vdc.setStatus = (_vdev, val) => {
      log.push(`status ${val}`);
      return 0;
    };
  },
});

// A device that talks to someone while it realizes.
class SlowDev extends VirtIODevice {}
typeRegister<VirtioDeviceClass, SlowDev>({
  name: 'test-virtio-slow',
  parent: TYPE_VIRTIO_DEVICE,
  instanceType: SlowDev,
  classInit(vdc) {
    vdc.vdevRealize = async (vdev) => {
      await new Promise((r) => setTimeout(r, 5));
      virtioInit(vdev, 26, 0);
      virtioNewShmemRegion(vdev, 0, 0x2000);
    };
  },
});

test.serial('virtio-device is abstract, with QEMU 7.2 virtio properties and defaults', (t) => {
  t.throws(() => objectNew(TYPE_VIRTIO_DEVICE), {
    message: "object type 'virtio-device' is abstract",
  });
  const dev = objectCheck(qdevNew('test-virtio-gpu'), GpuDev);
  const props = Object.fromEntries(
    [...dev.properties()].map((p) => [p.name, [p.type, p.defval === undefined ? null : p.defval]]),
  );
  t.deepEqual(props['indirect_desc'], ['bool', true]);
  t.deepEqual(props['event_idx'], ['bool', true]);
  t.deepEqual(props['notify_on_empty'], ['bool', true]);
  t.deepEqual(props['any_layout'], ['bool', true]);
  t.deepEqual(props['iommu_platform'], ['bool', false]);
  t.deepEqual(props['packed'], ['bool', false]);
  t.deepEqual(props['queue_reset'], ['bool', true]);
  t.deepEqual(props['use-started'], ['bool', true]);
  t.deepEqual(props['use-disabled-flag'], ['bool', true]);
  t.deepEqual(props['x-disable-legacy-check'], ['bool', false]);
  t.deepEqual(props['shmem-base'], ['uint64', 0xffffffffffffffffn]);
  t.deepEqual(props['realized'], ['bool', null]);
  // The feature properties are bits of host_features: 24, 27, 28, 29, 40.
  t.is(dev.hostFeatures, (1n << 24n) | (1n << 27n) | (1n << 28n) | (1n << 29n) | (1n << 40n));
  dev.propertyParse('packed', 'on');
  t.true(virtioHostHasFeature(dev, 34));
  dev.unref();
});

test.serial('realize: virtio_init, regions, then the features of the plugged device', async (t) => {
  log.length = 0;
  const dev = objectCheck(qdevNew('test-virtio-gpu'), GpuDev);
  await qdevRealize(dev);
  t.deepEqual(log, ['realize']);
  t.is(dev.name, 'virtio-gpu');
  t.is(dev.deviceId, VIRTIO_ID_GPU);
  t.is(dev.configLen, 8);
  t.is(dev.configVector, VIRTIO_NO_VECTOR);
  t.true(virtioHostHasFeature(dev, VIRTIO_F_VERSION_1));
  t.true(virtioHostHasFeature(dev, 0));
  // The regions: containers owned by the device, QOM children virtio-shmem-<id>[0].
  t.deepEqual(
    dev.shmemList.map((s) => [s.shmid, s.size, s.mr.name, s.mr.canonicalPathComponent()]),
    [
      [0, 0x40000n, 'virtio-shmem-0', 'virtio-shmem-0[0]'],
      [3, 0x10000n, 'virtio-shmem-3', 'virtio-shmem-3[0]'],
    ],
  );
  t.is(virtioFindShmemRegion(dev, 3), dev.shmemList[1]);
  t.is(virtioFindShmemRegion(dev, 1), null);
  t.is(dev.propertyGetType('virtio-shmem-0[0]'), 'child<memory-region>');
  t.is(dev.resolvePathComponent('virtio-shmem-3[0]'), dev.shmemList[1].mr);
  t.is(dev.shmemList[0].mr.owner, dev);
  t.is(dev.shmemBar, null); // no shmem-base: not mapped anywhere
  dev.unparent();
  t.deepEqual(log, ['realize', 'unrealize']);
  dev.unref();
});

test.serial('features and status, as virtio.c does them', async (t) => {
  log.length = 0;
  const dev = objectCheck(qdevNew('test-virtio-gpu'), GpuDev);
  await qdevRealize(dev);
  // Bits the device does not offer are dropped and reported.
  t.is(virtioSetFeatures(dev, 1n | (1n << 50n)), -1);
  t.is(dev.guestFeatures, 1n);
  t.false(dev.startOnKick); // only a successful legacy negotiation sets it
  t.is(virtioSetFeatures(dev, 1n), 0);
  t.true(dev.startOnKick);
  t.is(virtioSetFeatures(dev, 1n | (1n << 32n)), 0);
  t.true(virtioVdevHasFeature(dev, VIRTIO_F_VERSION_1));
  t.is(virtioSetStatus(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER), 0);
  // FEATURES_OK is validated for VIRTIO 1.0 drivers.
  dev.validate = -22;
  t.is(virtioSetStatus(dev, 3 | VIRTIO_CONFIG_S_FEATURES_OK), -22);
  t.is(dev.status, 3);
  dev.validate = 0;
  t.is(virtioSetStatus(dev, 3 | VIRTIO_CONFIG_S_FEATURES_OK), 0);
  t.is(virtioSetFeatures(dev, 1n), -22); // too late
  t.false(dev.started);
  virtioSetStatus(dev, 0xf);
  t.true(dev.started);
  t.is(dev.status, 0xf);
  t.deepEqual(
    log.filter((l) => l.startsWith('features')),
    ['features 1', 'features 1', 'features 100000001'],
  );
  // Reset: status 0, the device's reset, features and state cleared.
  log.length = 0;
  deviceColdReset(dev);
  t.deepEqual(log, ['status 0', 'reset', 'features 0']);
  t.is(dev.status, 0);
  t.is(dev.guestFeatures, 0n);
  t.false(dev.started);
  t.is(virtioSetStatus(dev, VIRTIO_CONFIG_S_DRIVER_OK), 0);
  virtioReset(dev);
  t.is(dev.status, 0);
  t.is(virtioAddFeature(0n, 63), 1n << 63n);
  t.is(virtioClearFeature(0xffn, 0), 0xfen);
  dev.unparent();
  dev.unref();
});

test.serial('configuration space accessors go through get/set_config', async (t) => {
  const dev = objectCheck(qdevNew('test-virtio-gpu'), GpuDev);
  await qdevRealize(dev);
  dev.cfg.set([1, 2, 3, 4, 5, 6, 7, 8]);
  t.is(virtioConfigReadb(dev, 0), 1);
  t.is(virtioConfigReadw(dev, 2), 0x0403);
  t.is(virtioConfigReadl(dev, 4), 0x08070605);
  t.is(virtioConfigReadl(dev, 5), 0xffffffff); // past the end
  t.is(virtioConfigReadb(dev, 8), 0xffffffff);
  virtioConfigWritew(dev, 0, 0xbeef);
  virtioConfigWritel(dev, 4, 0xdeadbeef);
  virtioConfigWriteb(dev, 7, 0x11);
  virtioConfigWriteb(dev, 8, 0x22); // ignored
  t.deepEqual([...dev.cfg], [0xef, 0xbe, 3, 4, 0xef, 0xbe, 0xad, 0x11]);
  dev.unparent();
  dev.unref();
});

test.serial('virtioInit refuses IDs QEMU has no name for', (t) => {
  t.is(virtioIdToName(1), 'virtio-net');
  t.is(virtioIdToName(26), 'virtio-user-fs');
  t.is(virtioIdToName(14), null);
  const dev = objectCheck(qdevNew('test-virtio-gpu'), GpuDev);
  t.throws(() => virtioInit(dev, 14, 0), { message: 'VIRTIO device ID 14 has no device name' });
  dev.unref();
});

test.serial('shmem-base maps the regions into system memory, as info mtree shows', async (t) => {
  const fd = os.memfdCreate('mtree', MFD_CLOEXEC);
  os.ftruncate(fd, 0x10000);
  const dev = (await qdevDeviceAdd(
    qemuDeviceOpts.parse('test-virtio-gpu,id=gpu0,shmem-base=0x100000000'),
  )) as GpuDev;
  try {
    virtioShmemMap(dev, fd, { shmid: 0, fdOffset: 0, shmOffset: 0x20000, len: 0x10000, flags: 1 });
    virtioShmemMap(dev, fd, { shmid: 3, fdOffset: 0, shmOffset: 0, len: 0x1000 });
    const mtree = mtreeInfo({}, [addressSpaceMemory()]);
    t.is(
      mtree,
      'address-space: memory\n' +
        '  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n' +
        '    0000000100000000-000000010004ffff (prio 1, i/o): virtio-shmem-bar\n' +
        '      0000000100000000-000000010003ffff (prio 0, i/o): virtio-shmem-0\n' +
        '        0000000100020000-000000010002ffff (prio 0, ram): virtio-shmem-0-20000\n' +
        '      0000000100040000-000000010004ffff (prio 0, i/o): virtio-shmem-3\n' +
        '        0000000100040000-0000000100040fff (prio 0, ram): virtio-shmem-3-0\n\n',
    );
    t.regex(
      mtreeInfo({ owner: true }, [addressSpaceMemory()]),
      / virtio-shmem-0 owner:\{dev id=gpu0\}\n.*virtio-shmem-0-20000 owner:\{obj type=virtio-shared-memory-mapping\}/s,
    );
    t.is(objectResolvePath('/machine/peripheral/gpu0/virtio-shmem-bar[0]').obj, dev.shmemBar);
    t.throws(() => dev.propertySetUint('shmem-base', 0n), {
      message:
        "Attempt to set property 'shmem-base' on device 'gpu0' (type 'test-virtio-gpu') after it was realized",
    });
  } finally {
    os.close(fd);
    qmpDeviceDel('gpu0');
  }
  t.true(dev.finalized);
  t.is(
    mtreeInfo({}, [addressSpaceMemory()]),
    'address-space: memory\n  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n\n',
  );
});

test.serial(
  'the regions can be mapped by hand, anywhere, and an async realize works',
  async (t) => {
    const dev = (await qdevDeviceAdd(qemuDeviceOpts.parse('test-virtio-slow,id=fs0'))) as SlowDev;
    t.is(dev.name, 'virtio-user-fs');
    const parent = memoryRegionInit(memoryRegionNew(), null, 'test-bus', 0x100000);
    const bar = virtioShmemMapBar(dev, 0x8000, parent, 2)!;
    t.is(bar.container, parent);
    t.is(bar.addr, 0x8000n);
    t.is(bar.priority, 2);
    t.is(bar.size, 0x2000n);
    t.throws(() => virtioShmemMapBar(dev, 0), {
      message: 'VIRTIO Shared Memory Regions are already mapped',
    });
    virtioShmemUnmapBar(dev);
    t.is(dev.shmemBar, null);
    t.is(parent.subregions.length, 0);
    t.is(dev.shmemList[0].mr.container, null);
    // Mapping again into system memory works too.
    virtioShmemMapBar(dev, 0x5_0000_0000n);
    t.is(dev.shmemBar!.container, getSystemMemory());
    qmpDeviceDel('fs0');
    t.true(dev.finalized);
    parent.unparent();
  },
);
