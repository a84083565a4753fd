/**
 * Mappings seen from outside the object model: /proc/self/maps and
 * /proc/self/fd, references held across unmap, reset and finalize, views
 * after unmap, and bytes shared with another process through the system
 * address space.
 */
import test from 'ava';
import 'reflect-metadata';
import { readlinkSync } from 'node:fs';
import { container } from 'tsyringe';
import { HostOs, MFD_CLOEXEC, isErrno } from '../../../src/native/index.js';
import { deviceColdReset, qdevNew, qdevRealize } from '../../../src/hw/core/qdev.js';
import { qdevDeviceAdd, qemuDeviceOpts, qmpDeviceDel } from '../../../src/hw/core/qdev-monitor.js';
import {
  TYPE_VIRTIO_DEVICE,
  VirtIODevice,
  type VirtioDeviceClass,
  virtioInit,
  virtioSetStatus,
} from '../../../src/hw/virtio/virtio.js';
import {
  type VirtioSharedMemoryMapping,
  virtioNewShmemRegion,
  virtioShmemLookup,
  virtioShmemMap,
  virtioShmemUnmap,
} from '../../../src/hw/virtio/virtio-shmem.js';
import {
  MEMTX_ACCESS_ERROR,
  MEMTX_OK,
  addressSpaceMemory,
  addressSpaceRead,
  addressSpaceWrite,
} from '../../../src/system/index.js';
import { fdCount, mapsLineAt, procMaps, runChild } from '../../helpers/native/util.js';
import { objectCheck, typeRegister } from '../../../src/qom/index.js';

const os = container.resolve(HostOs);
const PAGE = 4096;
const MEMFD_SIZE = 16 * PAGE;

class LifeDev extends VirtIODevice {
  resets = 0;
}
typeRegister<VirtioDeviceClass, LifeDev>({
  name: 'life-virtio',
  parent: TYPE_VIRTIO_DEVICE,
  instanceType: LifeDev,
  classInit(vdc) {
    vdc.vdevRealize = (vdev) => {
      virtioInit(vdev, 16, 0);
      virtioNewShmemRegion(vdev, 0, 1 << 20);
      virtioNewShmemRegion(vdev, 1, 1 << 20);
    };
    vdc.vdevReset = (vdev) => {
      (vdev as LifeDev).resets++;
    };
  },
});

async function device(): Promise<LifeDev> {
  const d = objectCheck(qdevNew('life-virtio'), LifeDev);
  await qdevRealize(d);
  return d;
}

function drop(d: LifeDev): void {
  d.unparent();
  d.unref();
}

function memfd(name = 'life', size = MEMFD_SIZE): number {
  const fd = os.memfdCreate(name, MFD_CLOEXEC);
  os.ftruncate(fd, size);
  return fd;
}

/** Mappings of this file's memfds (V8's own mappings come and go with its heap). */
function mappingCount(): number {
  return procMaps().filter((l) => l.path.startsWith('/memfd:life')).length;
}

function fdTarget(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

function map(
  dev: LifeDev,
  fd: number,
  offset: number,
  len: number,
  rw: boolean,
  shmid = 0,
): VirtioSharedMemoryMapping {
  return virtioShmemMap(dev, fd, { shmid, fdOffset: 0, shmOffset: offset, len, flags: rw ? 1 : 0 });
}

test.serial(
  'map: a shared mapping with the right permissions and size, and a duplicate fd',
  async (t) => {
    const dev = await device();
    const fd = memfd('life-perm');
    const fds = fdCount();
    const maps = mappingCount();
    try {
      const ro = virtioShmemMap(dev, fd, {
        shmid: 0,
        fdOffset: PAGE,
        shmOffset: 0x2000,
        len: 2 * PAGE,
      });
      const rw = map(dev, fd, 0x10000, 3 * PAGE, true);
      t.is(fdCount(), fds + 2);
      t.is(mappingCount(), maps + 2);
      const lro = mapsLineAt(ro.hostAddress)!;
      const lrw = mapsLineAt(rw.hostAddress)!;
      t.is(lro.perms, 'r--s');
      t.is(lrw.perms, 'rw-s');
      t.is(lro.end - lro.start, BigInt(2 * PAGE));
      t.is(lrw.end - lrw.start, BigInt(3 * PAGE));
      t.is(lro.path, '/memfd:life-perm (deleted)');
      // Each mapping holds its own duplicate of the descriptor.
      t.not(ro.fd, fd);
      t.not(rw.fd, ro.fd);
      t.is(fdTarget(ro.fd), fdTarget(fd));
      t.is(ro.mr!.name, 'virtio-shmem-0-2000');
      t.is(ro.mr!.canonicalPath(), null); // the mapping object is in no tree
      t.is(ro.mr!.parent, ro);
      t.is(ro.canonicalPath(), null);
      // No properties of its own: its region child and `type`.
      t.deepEqual(
        [...ro.properties()].map((p) => p.name),
        ['virtio-shmem-0-2000[0]', 'type'],
      );
      const roFd = ro.fd;
      const rwFd = rw.fd;
      virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0x2000, len: 2 * PAGE });
      t.true(ro.finalized);
      t.is(mapsLineAt(lro.start), undefined);
      t.is(fdTarget(roFd), null);
      t.is(fdCount(), fds + 1);
      virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0x10000, len: 3 * PAGE });
      t.is(fdTarget(rwFd), null);
      t.is(mappingCount(), maps);
      t.is(fdCount(), fds);
    } finally {
      os.close(fd);
      drop(dev);
    }
  },
);

test.serial('a reference held across unmap keeps the memory until it is released', async (t) => {
  const dev = await device();
  const fd = memfd();
  const maps = mappingCount();
  const fds = fdCount();
  try {
    const m = map(dev, fd, 0, PAGE, true);
    m.write(0, new Uint8Array([7, 8, 9]));
    const addr = m.hostAddress;
    const dupfd = m.fd;
    {
      using held = virtioShmemLookup(dev, 0, 0, PAGE)!;
      t.is(held.value, m);
      t.is(m.refcount, 3); // region list + container + this
      virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0, len: PAGE });
      t.false(m.finalized);
      t.is(m.region, null);
      t.is(dev.shmemList[0].mappingCount, 0);
      t.is(m.mr!.container, null); // out of the guest's view
      t.truthy(mapsLineAt(addr));
      t.not(fdTarget(dupfd), null);
      t.deepEqual([...m.read(0, 3)], [7, 8, 9]);
      // The offset is free again for a new mapping.
      const again = map(dev, fd, 0, PAGE, false);
      t.not(again, m);
      virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0, len: PAGE });
    }
    t.true(m.finalized);
    t.is(mapsLineAt(addr), undefined);
    t.is(fdTarget(dupfd), null);
    t.is(mappingCount(), maps);
    t.is(fdCount(), fds);
    t.is(virtioShmemLookup(dev, 0, 0, PAGE), null);
    t.is(virtioShmemLookup(dev, 5, 0, PAGE), null);
    // hold() works the same way.
    const n = map(dev, fd, PAGE, PAGE, true);
    const h = n.hold();
    virtioShmemUnmap(dev, { shmid: 0, shmOffset: PAGE, len: PAGE });
    t.true(n.isMapped);
    h[Symbol.dispose]();
    t.false(n.isMapped);
  } finally {
    os.close(fd);
    drop(dev);
  }
});

test.serial('device reset drops every mapping of every region', async (t) => {
  const dev = await device();
  const fd = memfd();
  const maps = mappingCount();
  const fds = fdCount();
  try {
    const ms = [
      map(dev, fd, 0, PAGE, true),
      map(dev, fd, 0x8000, PAGE, false),
      map(dev, fd, 0, 2 * PAGE, true, 1),
    ];
    const kept = ms[1].hold();
    virtioSetStatus(dev, 0x0f);
    t.is(mappingCount(), maps + 3);
    deviceColdReset(dev);
    t.is(dev.resets, 1);
    t.is(dev.status, 0);
    t.is(dev.shmemList[0].mappingCount, 0);
    t.is(dev.shmemList[1].mappingCount, 0);
    t.is(dev.shmemList[0].mr.subregions.length, 0);
    t.true(ms[0].finalized && ms[2].finalized);
    t.false(ms[1].finalized);
    t.is(mappingCount(), maps + 1);
    kept[Symbol.dispose]();
    t.is(mappingCount(), maps);
    t.is(fdCount(), fds);
    // The regions stay, empty and usable.
    map(dev, fd, 0, PAGE, true);
    t.is(dev.shmemList[0].mappingCount, 1);
  } finally {
    os.close(fd);
    drop(dev);
  }
  t.is(mappingCount(), maps);
});

test.serial('device finalize (device_del) drops every mapping and the regions', async (t) => {
  const fd = memfd();
  const maps = mappingCount();
  const fds = fdCount();
  try {
    const dev = (await qdevDeviceAdd(qemuDeviceOpts.parse('life-virtio,id=fin'))) as LifeDev;
    const shmem = dev.shmemList[0];
    const container0 = shmem.mr;
    const a = map(dev, fd, 0, PAGE, true);
    const b = map(dev, fd, PAGE, PAGE, true);
    const held = b.hold();
    for (let i = 0; i < 10; i++) map(dev, fd, 0x10000 + i * PAGE, PAGE, i % 2 === 0, 1);
    t.is(mappingCount(), maps + 12);
    qmpDeviceDel('fin');
    t.true(dev.finalized);
    t.true(container0.finalized);
    t.true(a.finalized);
    t.false(b.finalized);
    t.is(b.mr!.container, null);
    t.is(mappingCount(), maps + 1);
    held[Symbol.dispose]();
    t.is(mappingCount(), maps);
    t.is(fdCount(), fds);
  } finally {
    os.close(fd);
  }
});

test.serial('foreign memory gives no raw views; reads fail cleanly after unmap', async (t) => {
  const dev = await device();
  const fd = memfd();
  try {
    const rw = map(dev, fd, 0, 2 * PAGE, true);
    // The back-end can shrink its file: only guarded copies reach it.
    t.throws(() => rw.view(), { message: /EPERM/ });
    rw.write(5, new Uint8Array([42]));
    t.is(rw.read(5, 1)[0], 42);
    t.throws(() => rw.read(PAGE, PAGE + 1), { instanceOf: RangeError });
    const ro = map(dev, fd, 0x10000, PAGE, false);
    t.is(ro.read(5, 1)[0], 42); // same file page
    t.throws(() => ro.write(0, new Uint8Array([1])), { message: /EACCES/ });
    virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0, len: 2 * PAGE });
    const e = t.throws(() => rw.read(0, 1));
    t.true(isErrno(e, 'EFAULT'));
    t.throws(() => rw.view(0, 1));
    t.false(rw.isMapped);
  } finally {
    os.close(fd);
    drop(dev);
  }
});

test.serial("another process's bytes, read through the system address space", async (t) => {
  const BASE = 0x2_0000_0000n;
  const X = 0x3000;
  const dev = (await qdevDeviceAdd(
    qemuDeviceOpts.parse(`life-virtio,id=data,shmem-base=0x${BASE.toString(16)}`),
  )) as LifeDev;
  const fd = memfd('life-data');
  try {
    const filled = await runChild(
      ['fill', String(MEMFD_SIZE), String(PAGE), String(PAGE), '165'],
      fd,
    );
    t.deepEqual(filled.lines, ['filled']);
    // Region 0 sits at BASE, region 1 right after it (1 MiB later).
    virtioShmemMap(dev, fd, { shmid: 0, fdOffset: PAGE, shmOffset: X, len: PAGE });
    const r = addressSpaceRead(addressSpaceMemory(), BASE + BigInt(X), PAGE);
    t.is(r.result, MEMTX_OK);
    t.true(r.data.every((b) => b === 165));
    // The guest cannot write through a read-only mapping.
    t.is(
      addressSpaceWrite(addressSpaceMemory(), BASE + BigInt(X), new Uint8Array([1])),
      MEMTX_ACCESS_ERROR,
    );
    t.is(addressSpaceRead(addressSpaceMemory(), BASE + BigInt(X), 1).data[0], 165);
    // A read-write mapping of another part of the file, in region 1.
    virtioShmemMap(dev, fd, { shmid: 1, fdOffset: 2 * PAGE, shmOffset: 0, len: PAGE, flags: 1 });
    const where = BASE + 0x10_0000n;
    t.is(
      addressSpaceWrite(addressSpaceMemory(), where + 100n, new Uint8Array(50).fill(0x5a)),
      MEMTX_OK,
    );
    const checked = await runChild(
      ['check', String(MEMFD_SIZE), String(2 * PAGE + 100), '50', String(0x5a)],
      fd,
    );
    t.deepEqual(checked.lines, ['matching 50']);
    // Unmapped: the guest reads a hole.
    virtioShmemUnmap(dev, { shmid: 0, shmOffset: X, len: PAGE });
    t.not(addressSpaceRead(addressSpaceMemory(), BASE + BigInt(X), 1).result, MEMTX_OK);
  } finally {
    os.close(fd);
    qmpDeviceDel('data');
  }
  t.true(dev.finalized);
});

test.serial('100,000 map/unmap cycles leave descriptors and mappings as they were', async (t) => {
  const dev = await device();
  const fd = memfd('life-cycles', PAGE);
  const fds = fdCount();
  const maps = mappingCount();
  try {
    for (let i = 0; i < 100_000; i++) {
      const off = (i % 256) * PAGE;
      virtioShmemMap(dev, fd, { shmid: 0, fdOffset: 0, shmOffset: off, len: PAGE, flags: i & 1 });
      virtioShmemUnmap(dev, { shmid: 0, shmOffset: off, len: PAGE });
    }
    t.is(fdCount(), fds);
    t.is(mappingCount(), maps);
    t.is(dev.shmemList[0].mappingCount, 0);
    t.is(dev.shmemList[0].mr.subregions.length, 0);
  } finally {
    os.close(fd);
    drop(dev);
  }
});
