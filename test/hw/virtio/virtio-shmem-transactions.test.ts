/**
 * Map and unmap change the memory map inside transactions: the caller can
 * reply to its peer before the change commits, a caller's transaction is
 * committed once, and error paths never commit a transaction they did not
 * begin. Counted with a memory listener.
 */
import test from 'ava';
import 'reflect-metadata';
import { container } from 'tsyringe';
import { HostOs, MFD_CLOEXEC } from '../../../src/native/index.js';
import { deviceColdReset, qdevNew, qdevRealize } from '../../../src/hw/core/qdev.js';
import {
  TYPE_VIRTIO_DEVICE,
  VirtIODevice,
  type VirtioDeviceClass,
  virtioInit,
} from '../../../src/hw/virtio/virtio.js';
import {
  virtioNewShmemRegion,
  virtioShmemMap,
  virtioShmemUnmap,
} from '../../../src/hw/virtio/virtio-shmem.js';
import {
  type MemoryListener,
  type MemoryRegionSection,
  addressSpaceMemory,
  memoryListenerRegister,
  memoryListenerUnregister,
  memoryRegionTransactionBegin,
  memoryRegionTransactionCommit,
  memoryRegionTransactionDepth,
} from '../../../src/system/index.js';
import { objectCheck, typeRegister } from '../../../src/qom/index.js';

const os = container.resolve(HostOs);
const PAGE = 4096;
const BASE = 0x4_0000_0000n;

class TxDev extends VirtIODevice {}
typeRegister<VirtioDeviceClass, TxDev>({
  name: 'tx-virtio',
  parent: TYPE_VIRTIO_DEVICE,
  instanceType: TxDev,
  classInit(vdc) {
    vdc.vdevRealize = (vdev) => {
      virtioInit(vdev, 16, 0);
      virtioNewShmemRegion(vdev, 0, 1 << 20);
    };
  },
});

interface Counter {
  commits: number;
  added: string[];
  removed: string[];
}

function listen(): { c: Counter; l: MemoryListener } {
  const c: Counter = { commits: 0, added: [], removed: [] };
  const name = (s: MemoryRegionSection): string =>
    `${s.mr.name}@${s.offsetWithinAddressSpace.toString(16)}`;
  const l: MemoryListener = {
    commit: () => c.commits++,
    regionAdd: (s) => c.added.push(name(s)),
    regionDel: (s) => c.removed.push(name(s)),
  };
  memoryListenerRegister(l, addressSpaceMemory());
  c.commits = 0;
  c.added.length = 0;
  return { c, l };
}

async function setup(): Promise<{ dev: TxDev; fd: number; c: Counter; done: () => void }> {
  const dev = objectCheck(qdevNew('tx-virtio'), TxDev);
  dev.propertySetUint('shmem-base', BASE);
  await qdevRealize(dev);
  const fd = os.memfdCreate('tx', MFD_CLOEXEC);
  os.ftruncate(fd, 16 * PAGE);
  const { c, l } = listen();
  return {
    dev,
    fd,
    c,
    done: () => {
      memoryListenerUnregister(l);
      os.close(fd);
      dev.unparent();
      dev.unref();
    },
  };
}

test.serial('map on its own: the reply hook runs before the one commit', async (t) => {
  const { dev, fd, c, done } = await setup();
  try {
    const seen: [Error | null, number, number][] = [];
    const m = virtioShmemMap(
      dev,
      fd,
      { shmid: 0, fdOffset: 0, shmOffset: 0x1000, len: PAGE, flags: 1 },
      { beforeCommit: (e) => seen.push([e, c.commits, memoryRegionTransactionDepth()]) },
    );
    t.deepEqual(seen, [[null, 0, 1]]);
    t.is(c.commits, 1);
    t.deepEqual(c.added, [`virtio-shmem-0-1000@${(BASE + 0x1000n).toString(16)}`]);
    t.is(memoryRegionTransactionDepth(), 0);
    seen.length = 0;
    virtioShmemUnmap(
      dev,
      { shmid: 0, shmOffset: 0x1000, len: PAGE },
      { beforeCommit: (e) => seen.push([e, c.commits, dev.shmemList[0].mappingCount]) },
    );
    // The reply goes out while the mapping is still there.
    t.deepEqual(seen, [[null, 1, 1]]);
    t.is(c.commits, 2);
    t.deepEqual(c.removed, [`virtio-shmem-0-1000@${(BASE + 0x1000n).toString(16)}`]);
    t.true(m.finalized);
  } finally {
    done();
  }
});

test.serial(
  "map and unmap inside the caller's transaction commit once, at the caller's commit",
  async (t) => {
    const { dev, fd, c, done } = await setup();
    try {
      memoryRegionTransactionBegin();
      let replied = 0;
      for (let i = 0; i < 4; i++) {
        virtioShmemMap(
          dev,
          fd,
          { shmid: 0, fdOffset: 0, shmOffset: i * PAGE, len: PAGE },
          { beforeCommit: () => replied++ },
        );
      }
      virtioShmemUnmap(
        dev,
        { shmid: 0, shmOffset: 0, len: PAGE },
        { beforeCommit: () => replied++ },
      );
      t.is(replied, 5);
      t.is(c.commits, 0);
      t.is(memoryRegionTransactionDepth(), 1);
      memoryRegionTransactionCommit();
      t.is(c.commits, 1);
      t.is(c.added.length, 3);
      // Reset drops the rest in one transaction.
      deviceColdReset(dev);
      t.is(c.commits, 2);
      t.is(c.removed.length, 3);
    } finally {
      done();
    }
  },
);

test.serial('failed checks begin nothing and commit nothing', async (t) => {
  const { dev, fd, c, done } = await setup();
  try {
    virtioShmemMap(dev, fd, { shmid: 0, fdOffset: 0, shmOffset: 0, len: PAGE });
    c.commits = 0;
    const errors: string[] = [];
    const hook = {
      beforeCommit: (e: Error | null) => {
        errors.push(`${e?.message ?? 'ok'} @depth ${memoryRegionTransactionDepth()}`);
      },
    };
    const bad: [number, bigint, bigint][] = [
      [-1, 0x1000n, 0x1000n], // bad fd
      [fd, 0n, 0x1000n], // overlap
      [fd, 0xff000n, 0x2000n], // past the end
    ];
    for (const [f, off, len] of bad) {
      t.throws(() => virtioShmemMap(dev, f, { shmid: 0, fdOffset: 0, shmOffset: off, len }, hook));
    }
    t.throws(() => virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0x1000, len: PAGE }, hook));
    t.deepEqual(errors, [
      'Bad fd for map @depth 0',
      'VIRTIO Shared Memory mapping overlap @depth 0',
      'Bad offset/len for mmap ff000+2000 @depth 0',
      'Shared memory mapping not found at offset 1000 with length 1000 @depth 0',
    ]);
    t.is(c.commits, 0);
    // Inside the caller's transaction: still nothing committed, depth untouched.
    memoryRegionTransactionBegin();
    errors.length = 0;
    t.throws(() =>
      virtioShmemMap(dev, fd, { shmid: 0, fdOffset: 0, shmOffset: 0, len: PAGE }, hook),
    );
    t.deepEqual(errors, ['VIRTIO Shared Memory mapping overlap @depth 1']);
    t.is(memoryRegionTransactionDepth(), 1);
    t.is(c.commits, 0);
    memoryRegionTransactionCommit();
    t.is(c.commits, 0); // nothing changed, so listeners hear nothing
  } finally {
    done();
  }
});

test.serial('a failure after the checks commits only the transaction map began', async (t) => {
  const { dev, c, done } = await setup();
  try {
    const closed = os.memfdCreate('tx-closed', MFD_CLOEXEC);
    os.close(closed);
    const seen: string[] = [];
    t.throws(
      () =>
        virtioShmemMap(
          dev,
          closed,
          { shmid: 0, fdOffset: 0, shmOffset: 0, len: PAGE },
          {
            beforeCommit: (e) =>
              seen.push(`${e?.message} @depth ${memoryRegionTransactionDepth()}`),
          },
        ),
      { message: 'Failed to duplicate fd: Bad file descriptor' },
    );
    // The hook ran inside map's own transaction, which then committed (empty).
    t.deepEqual(seen, ['Failed to duplicate fd: Bad file descriptor @depth 1']);
    t.is(memoryRegionTransactionDepth(), 0);
    t.is(c.commits, 0);
    // With the caller's transaction open, the caller's stays open.
    memoryRegionTransactionBegin();
    t.throws(() => virtioShmemMap(dev, closed, { shmid: 0, fdOffset: 0, shmOffset: 0, len: PAGE }));
    t.is(memoryRegionTransactionDepth(), 1);
    memoryRegionTransactionCommit();
    t.is(c.commits, 0);
  } finally {
    done();
  }
});

test.serial('a reply hook that throws: map stays done, unmap is not done', async (t) => {
  const { dev, fd, c, done } = await setup();
  try {
    const boom = {
      beforeCommit: () => {
        throw new Error('peer went away');
      },
    };
    t.throws(
      () => virtioShmemMap(dev, fd, { shmid: 0, fdOffset: 0, shmOffset: 0, len: PAGE }, boom),
      {
        message: 'peer went away',
      },
    );
    t.is(memoryRegionTransactionDepth(), 0);
    t.is(c.commits, 1);
    t.is(dev.shmemList[0].mappingCount, 1);
    t.throws(() => virtioShmemUnmap(dev, { shmid: 0, shmOffset: 0, len: PAGE }, boom), {
      message: 'peer went away',
    });
    t.is(dev.shmemList[0].mappingCount, 1);
    t.is(c.commits, 1);
  } finally {
    done();
  }
});
