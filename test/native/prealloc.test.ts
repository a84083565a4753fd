import 'reflect-metadata';
import test from 'ava';
import { container } from 'tsyringe';
import {
  HostOs,
  MAP_SHARED,
  MFD_CLOEXEC,
  OsError,
  PROT_READ,
  PROT_WRITE,
} from '../../src/native/index.js';
import { rssOf } from '../helpers/native/util.js';

const os = container.resolve(HostOs);
const MiB = 1 << 20;

function memfdMapping(size: number): { fd: number; m: ReturnType<HostOs['mapMemory']> } {
  const fd = os.memfdCreate('tsqom-prealloc', MFD_CLOEXEC);
  os.ftruncate(fd, size);
  return { fd, m: os.mapMemory(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd) };
}

for (const threads of [1, 2]) {
  for (const method of ['auto', 'touch'] as const) {
    test(`prealloc (${method}, ${threads} thread${threads > 1 ? 's' : ''}) makes the whole mapping resident and reports progress`, async (t) => {
      const size = 32 * MiB;
      const { fd, m } = memfdMapping(size);
      try {
        t.is(rssOf(m.address), 0);
        const progress: [number, number][] = [];
        await os.prealloc(m, {
          threads,
          method,
          onProgress: (d, total) => progress.push([d, total]),
        });
        t.is(rssOf(m.address), size);
        t.true(progress.length >= 1);
        t.deepEqual(progress.at(-1), [size, size]);
        for (let i = 1; i < progress.length; i++) t.true(progress[i][0] >= progress[i - 1][0]);
      } finally {
        m.unmap();
        os.close(fd);
      }
    });
  }
}

test('prealloc keeps file contents (touching reads and writes the same value back)', async (t) => {
  const size = 4 * MiB;
  const { fd, m } = memfdMapping(size);
  try {
    const page = os.pageSize();
    for (let off = 0; off < size; off += page) m.writeU8(off, (off / page) & 0xff);
    // Drop the pages from this mapping (the file keeps them) so they fault again.
    os.madvise(m, 0, size, 4 /* MADV_DONTNEED */);
    await os.prealloc(m, { threads: 2, method: 'touch' });
    let same = 0;
    for (let off = 0; off < size; off += page) if (m.readU8(off) === ((off / page) & 0xff)) same++;
    t.is(same, size / page);
  } finally {
    m.unmap();
    os.close(fd);
  }
});

test('a subrange: only that range becomes resident', async (t) => {
  const { fd, m } = memfdMapping(8 * MiB);
  try {
    await os.prealloc(m, { offset: 2 * MiB, length: 3 * MiB, threads: 2 });
    t.is(rssOf(m.address), 3 * MiB);
  } finally {
    m.unmap();
    os.close(fd);
  }
});

test('the event loop keeps running during a 256 MiB preallocation; unmap is refused meanwhile', async (t) => {
  const size = 256 * MiB;
  const { fd, m } = memfdMapping(size);
  try {
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const p = os.prealloc(m, { threads: 2 });
    const busy = t.throws(() => m.unmap(), { instanceOf: OsError });
    t.is(busy?.code, 'EBUSY');
    t.is(busy?.syscall, 'munmap');
    t.true(m.isMapped);
    await p;
    running = false;
    t.true(ticks > 0);
    t.is(rssOf(m.address), size);
  } finally {
    t.true(m.unmap());
    os.close(fd);
  }
});

test('a SIGBUS while touching (mapping longer than the file) rejects with EFAULT, populate with its errno', async (t) => {
  const page = os.pageSize();
  const fd = os.memfdCreate('tsqom-short', MFD_CLOEXEC);
  try {
    os.ftruncate(fd, 2 * page);
    const m = os.mapMemory(8 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    try {
      const touch = await t.throwsAsync(os.prealloc(m, { method: 'touch' }), {
        instanceOf: OsError,
      });
      t.is(touch?.code, 'EFAULT');
      const populate = await t.throwsAsync(os.prealloc(m, { method: 'populate' }), {
        instanceOf: OsError,
      });
      t.is(populate?.code, 'EFAULT');
      t.is(populate?.syscall, 'madvise');
      // The part inside the file was allocated, and the process is fine.
      t.is(m.readU8(0), 0);
    } finally {
      m.unmap();
    }
  } finally {
    os.close(fd);
  }
});

test('prealloc of a read-only mapping is refused with EACCES', async (t) => {
  const fd = os.memfdCreate('tsqom-ro', MFD_CLOEXEC);
  try {
    os.ftruncate(fd, MiB);
    const m = os.mmap(MiB, PROT_READ, MAP_SHARED, fd, 0);
    const e = await t.throwsAsync(os.prealloc(m), { instanceOf: OsError });
    t.is(e?.code, 'EACCES');
    m.unmap();
  } finally {
    os.close(fd);
  }
});

test('the synchronous MADV_POPULATE_WRITE reference fills the mapping too', (t) => {
  const { fd, m } = memfdMapping(8 * MiB);
  try {
    os.populateWriteSync(m);
    t.is(rssOf(m.address), 8 * MiB);
  } finally {
    m.unmap();
    os.close(fd);
  }
});

test('prealloc threads can be pinned to CPUs; a CPU that does not exist fails with errno', async (t) => {
  const cpus = os.cpuAffinity();
  t.true(cpus.length >= 1);
  const { fd, m } = memfdMapping(8 * MiB);
  try {
    await os.prealloc(m, { threads: 2, cpus: [cpus[0]] });
    t.is(rssOf(m.address), 8 * MiB);
    const e = await t.throwsAsync(os.prealloc(m, { cpus: [4000] }), { instanceOf: OsError });
    t.is(e?.code, 'EINVAL');
    t.is(e?.syscall, 'pthread_setaffinity_np');
  } finally {
    m.unmap();
    os.close(fd);
  }
});
