/**
 * SHMEM_MAP / SHMEM_UNMAP validation: every rejection of QEMU's handlers
 * (v11 vhost-user.c + virtio.c), with its text, and the boundaries.
 */
import test from 'ava';
import 'reflect-metadata';
import { container } from 'tsyringe';
import { HostOs, MFD_CLOEXEC, O_CLOEXEC, O_RDONLY } from '../../../src/native/index.js';
import { qdevNew, qdevRealize } from '../../../src/hw/core/qdev.js';
import {
  TYPE_VIRTIO_DEVICE,
  VirtIODevice,
  type VirtioDeviceClass,
  virtioInit,
} from '../../../src/hw/virtio/virtio.js';
import {
  type VirtioShmemMapRequest,
  virtioAddShmemMap,
  virtioFindShmemMap,
  virtioNewShmemRegion,
  virtioSharedMemoryMappingNew,
  virtioShmemMap,
  virtioShmemUnmap,
} from '../../../src/hw/virtio/virtio-shmem.js';
import { fdCount, procMaps } from '../../helpers/native/util.js';
import { objectCheck, QomError, typeRegister } from '../../../src/qom/index.js';

const os = container.resolve(HostOs);
const PAGE = 4096n;
const REGION = 16n * PAGE; // 0x10000
const U64_MAX = (1n << 64n) - 1n;

class ValDev extends VirtIODevice {
  withRegions = true;
}
typeRegister<VirtioDeviceClass, ValDev>({
  name: 'val-virtio',
  parent: TYPE_VIRTIO_DEVICE,
  instanceType: ValDev,
  classInit(vdc) {
    vdc.vdevRealize = (vdev) => {
      virtioInit(vdev, 16, 0);
      if (!(vdev as ValDev).withRegions) return;
      virtioNewShmemRegion(vdev, 0, REGION);
      virtioNewShmemRegion(vdev, 2, U64_MAX); // 2^64 bytes
    };
  },
});

async function device(withRegions = true): Promise<ValDev> {
  const d = objectCheck(qdevNew('val-virtio'), ValDev);
  d.withRegions = withRegions;
  await qdevRealize(d);
  return d;
}

function drop(d: ValDev): void {
  d.unparent();
  d.unref();
}

/** Mappings of this file's memfds (V8's own mappings come and go with its heap). */
function mappingCount(): number {
  return procMaps().filter((l) => l.path === '/memfd:val (deleted)').length;
}

function memfd(size: bigint = REGION): number {
  const fd = os.memfdCreate('val', MFD_CLOEXEC);
  os.ftruncate(fd, size);
  return fd;
}

function req(
  shmOffset: bigint,
  len: bigint,
  extra: Partial<VirtioShmemMapRequest> = {},
): VirtioShmemMapRequest {
  return { shmid: 0, fdOffset: 0n, shmOffset, len, flags: 1n, ...extra };
}

test.serial('map rejections, in QEMU order, with QEMU texts', async (t) => {
  const noRegions = await device(false);
  const dev = await device();
  const fd = memfd();
  const fds = fdCount();
  const maps = mappingCount();
  try {
    // An existing mapping to collide with: [0x4000, 0x6000).
    virtioShmemMap(dev, fd, req(0x4000n, 0x2000n));
    const ro = os.open(`/proc/self/fd/${fd}`, O_RDONLY | O_CLOEXEC);
    const small = memfd(PAGE);
    const closed = memfd();
    os.close(closed);
    const cases: [string, () => unknown, string][] = [
      // 1. the fd comes first, even before the device's regions.
      ['no fd', () => virtioShmemMap(noRegions, -1, req(0n, PAGE)), 'Bad fd for map'],
      [
        'no fd, bad region',
        () => virtioShmemMap(dev, -1, req(0n, PAGE, { shmid: 9 })),
        'Bad fd for map',
      ],
      // 2.
      [
        'no regions',
        () => virtioShmemMap(noRegions, fd, req(0n, PAGE, { shmid: 7 })),
        'Device has no VIRTIO Shared Memory Regions. Requested ID: 7',
      ],
      // 3.
      [
        'unknown region',
        () => virtioShmemMap(dev, fd, req(0n, PAGE, { shmid: 1 })),
        'VIRTIO Shared Memory Region at ID 1 not found or uninitialized',
      ],
      // 4. overflow and end of region
      [
        'offset+len overflows 2^64',
        () => virtioShmemMap(dev, fd, req(U64_MAX - 0xfffn, 0x2000n, { shmid: 2 })),
        'Bad offset/len for mmap fffffffffffff000+2000',
      ],
      [
        'offset+len is exactly 2^64',
        () => virtioShmemMap(dev, fd, req(1n, U64_MAX, { shmid: 2 })),
        'Bad offset/len for mmap 1+ffffffffffffffff',
      ],
      [
        'one byte past the end',
        () => virtioShmemMap(dev, fd, req(0xf000n, 0x1001n)),
        'Bad offset/len for mmap f000+1001',
      ],
      [
        'offset past the end',
        () => virtioShmemMap(dev, fd, req(0x10001n, 0n)),
        'Bad offset/len for mmap 10001+0',
      ],
      // 5. overlap with [0x4000, 0x6000)
      [
        'overlap by one byte below',
        () => virtioShmemMap(dev, fd, req(0x3000n, 0x1001n)),
        'VIRTIO Shared Memory mapping overlap',
      ],
      [
        'overlap by one byte above',
        () => virtioShmemMap(dev, fd, req(0x5fffn, 0x1000n)),
        'VIRTIO Shared Memory mapping overlap',
      ],
      [
        'same range',
        () => virtioShmemMap(dev, fd, req(0x4000n, 0x2000n)),
        'VIRTIO Shared Memory mapping overlap',
      ],
      [
        'inside',
        () => virtioShmemMap(dev, fd, req(0x5000n, 0x10n)),
        'VIRTIO Shared Memory mapping overlap',
      ],
      [
        'covering',
        () => virtioShmemMap(dev, fd, req(0n, REGION)),
        'VIRTIO Shared Memory mapping overlap',
      ],
      // ranges_overlap's arithmetic for len 0: last byte = offset - 1.
      [
        'len 0 at offset 0 (wraps)',
        () => virtioShmemMap(dev, fd, req(0n, 0n)),
        'VIRTIO Shared Memory mapping overlap',
      ],
      [
        'len 0 inside a mapping',
        () => virtioShmemMap(dev, fd, req(0x5000n, 0n)),
        'VIRTIO Shared Memory mapping overlap',
      ],
      // 6. the mapping's own checks
      [
        'len 0 at a mapping start',
        () => virtioShmemMap(dev, fd, req(0x4000n, 0n)),
        'Shared memory mapping size cannot be zero',
      ],
      [
        'len 0 at the region end',
        () => virtioShmemMap(dev, fd, req(REGION, 0n)),
        'Shared memory mapping size cannot be zero',
      ],
      [
        'len 0, no mapping yet',
        () => virtioShmemMap(noRegions, fd, req(0n, 0n)),
        'Device has no VIRTIO Shared Memory Regions. Requested ID: 0',
      ],
      [
        'closed fd',
        () => virtioShmemMap(dev, closed, req(0n, PAGE)),
        'Failed to duplicate fd: Bad file descriptor',
      ],
      [
        'read-write map of a read-only fd',
        () => virtioShmemMap(dev, ro, req(0n, PAGE, { flags: 1n })),
        'unable to map backing store for guest RAM: Permission denied',
      ],
      [
        'fd offset not page aligned',
        () => virtioShmemMap(dev, fd, req(0n, PAGE, { fdOffset: 0x100n })),
        'offset 0x100 must be multiples of page size 0x1000',
      ],
      [
        'file too small',
        () => virtioShmemMap(dev, small, req(0n, 2n * PAGE)),
        "virtio-shmem-0-0 backing store size 0x1000 is too small for 'size' option 0x2000 plus 'offset' option 0x0",
      ],
    ];
    for (const [what, fn, msg] of cases) {
      const e = t.throws(fn, { message: msg }, what);
      t.true(e instanceof QomError, what);
    }
    // Nothing leaked: one mapping (and its duplicate fd) plus the fds opened here.
    t.is(dev.shmemList[0].mappingCount, 1);
    t.is(fdCount(), fds + 1 + 2);
    t.is(mappingCount(), maps + 1);
    os.close(ro);
    os.close(small);
  } finally {
    os.close(fd);
    drop(dev);
    drop(noRegions);
  }
  t.is(mappingCount(), maps);
  t.is(fdCount(), fds - 1);
});

test.serial('boundaries that are accepted', async (t) => {
  const dev = await device();
  const fd = memfd();
  try {
    // Exactly up to the end of the region.
    const last = virtioShmemMap(dev, fd, req(REGION - PAGE, PAGE));
    t.is(last.offset + last.len, REGION);
    // Adjacent on both sides.
    virtioShmemMap(dev, fd, req(0x4000n, 0x1000n));
    virtioShmemMap(dev, fd, req(0x5000n, 0x1000n));
    virtioShmemMap(dev, fd, req(0x3000n, 0x1000n));
    // Not page-sized lengths are not QEMU's business either.
    const odd = virtioShmemMap(dev, fd, req(0x8000n, 0x10n));
    t.is(odd.len, 0x10n);
    t.is(odd.mr!.size, 0x10n);
    // High in a 2^64-byte region (the last page is out of reach: offset+len
    // would be 2^64, which the u64 overflow check refuses, as in QEMU).
    const top = virtioShmemMap(dev, fd, req(U64_MAX - 0x1fffn, 0x1000n, { shmid: 2 }));
    t.is(top.offset, 0xffffffffffffe000n);
    t.is(top.mr!.name, 'virtio-shmem-2-ffffffffffffe000');
    // Unknown flag bits are ignored, as in QEMU; bit 0 is RW.
    const ro = virtioShmemMap(dev, fd, req(0x9000n, PAGE, { flags: 0xfen }));
    t.false(ro.writable);
    t.deepEqual(
      [...dev.shmemList[0].mappings()].map((m) => m.offset),
      [0x3000n, 0x4000n, 0x5000n, 0x8000n, 0x9000n, 0xf000n],
    );
  } finally {
    os.close(fd);
    drop(dev);
  }
});

test.serial('unmap rejections and exact matching', async (t) => {
  const noRegions = await device(false);
  const dev = await device();
  const fd = memfd();
  try {
    virtioShmemMap(dev, fd, req(0x4000n, 0x2000n));
    const cases: [string, () => unknown, string][] = [
      [
        'no regions',
        () => virtioShmemUnmap(noRegions, { shmid: 3, shmOffset: 0n, len: PAGE }),
        'Device has no VIRTIO Shared Memory Regions. Requested ID: 3',
      ],
      [
        'unknown region',
        () => virtioShmemUnmap(dev, { shmid: 1, shmOffset: 0x4000n, len: 0x2000n }),
        'VIRTIO Shared Memory Region at ID 1 not found or uninitialized',
      ],
      [
        'overflow',
        () => virtioShmemUnmap(dev, { shmid: 2, shmOffset: U64_MAX, len: 2n }),
        'Bad offset/len for unmmap ffffffffffffffff+2',
      ],
      [
        'past the end',
        () => virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0xf000n, len: 0x1001n }),
        'Bad offset/len for unmmap f000+1001',
      ],
      [
        'partial (shorter)',
        () => virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0x4000n, len: 0x1000n }),
        'Shared memory mapping not found at offset 4000 with length 1000',
      ],
      [
        'partial (inside)',
        () => virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0x5000n, len: 0x1000n }),
        'Shared memory mapping not found at offset 5000 with length 1000',
      ],
      [
        'longer',
        () => virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0x4000n, len: 0x3000n }),
        'Shared memory mapping not found at offset 4000 with length 3000',
      ],
      [
        'nothing there',
        () => virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0n, len: 0n }),
        'Shared memory mapping not found at offset 0 with length 0',
      ],
    ];
    for (const [what, fn, msg] of cases) t.throws(fn, { message: msg, instanceOf: QomError }, what);
    t.is(dev.shmemList[0].mappingCount, 1);
    virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0x4000n, len: 0x2000n });
    t.is(dev.shmemList[0].mappingCount, 0);
    t.throws(() => virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0x4000n, len: 0x2000n }), {
      message: 'Shared memory mapping not found at offset 4000 with length 2000',
    });
  } finally {
    os.close(fd);
    drop(dev);
    drop(noRegions);
  }
});

test.serial('the building blocks keep their own QEMU texts', async (t) => {
  const dev = await device();
  const fd = memfd();
  try {
    const shmem = dev.shmemList[0];
    t.throws(() => virtioAddShmemMap(shmem, null), {
      message: 'VirtioSharedMemoryMapping cannot be NULL',
    });
    t.throws(() => virtioSharedMemoryMappingNew(0, fd, 0, 0, 0, true), {
      message: 'Shared memory mapping size cannot be zero',
    });
    const far = virtioSharedMemoryMappingNew(0, fd, 0, REGION, PAGE, true);
    t.throws(() => virtioAddShmemMap(shmem, far), {
      message: 'Memory exceeds the shared memory boundaries',
    });
    far.unref();
    const a = virtioSharedMemoryMappingNew(0, fd, 0, 0, PAGE, true);
    virtioAddShmemMap(shmem, a);
    const b = virtioSharedMemoryMappingNew(0, fd, 0, 0x800, PAGE, true);
    // QEMU leaves this check to its caller; the ordered index needs it.
    t.throws(() => virtioAddShmemMap(shmem, b), {
      message: 'VIRTIO Shared Memory mapping overlap',
    });
    t.throws(() => virtioAddShmemMap(dev.shmemList[1], a), {
      message: 'VirtioSharedMemoryMapping is already in a region',
    });
    b.unref();
    t.is(virtioFindShmemMap(shmem, 0, PAGE), a);
    t.is(virtioFindShmemMap(shmem, 0, PAGE - 1n), null);
    t.is(shmem.mappingAt(0xfffn), a);
    t.is(shmem.mappingAt(0x1000n), null);
    t.throws(() => virtioNewShmemRegion(dev, 0, PAGE), {
      message: 'VIRTIO Shared Memory Region at ID 0 already exists',
    });
    t.throws(() => virtioNewShmemRegion(dev, 256, PAGE), { instanceOf: RangeError });
    t.throws(() => virtioShmemMap(dev, fd, req(-1n, PAGE)), { instanceOf: RangeError });
  } finally {
    os.close(fd);
    drop(dev);
  }
});
