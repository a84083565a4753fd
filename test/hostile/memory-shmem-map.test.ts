/**
 * Hostile back-ends against the front-end's VIRTIO Shared Memory Regions:
 * SHMEM_MAP of descriptors that do not hold the range is refused with
 * QEMU's text (and the descriptor is never grown), a back-end shrinking its
 * file after mapping turns guest accesses into MEMTX errors, a window that
 * would wrap past 2^64 is refused, and 20,000 map/unmap pairs leak nothing.
 *
 * Descriptor, mapping and RSS counts are per process: every test is serial.
 */
import test from 'ava';
import 'reflect-metadata';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import { HostOs } from '../../src/native/host.js';
import { MFD_CLOEXEC, O_CLOEXEC, O_RDONLY } from '../../src/native/constants.js';
import { MEMTX_ERROR, MEMTX_OK, addressSpaceMemory } from '../../src/system/memory.js';
import { addressSpaceRead, addressSpaceWrite } from '../../src/system/physmem.js';
import { fdCount, procMaps } from '../helpers/native/util.js';
import { setupFakeDevice, type FakeSetup } from '../helpers/vhost-user/setup.js';

const os = container.resolve(HostOs);
const BASE = 0x40000000n;
const REGION = 0x400000n;

const map = (shmOffset: bigint, len: bigint, flags = 1n, fdOffset = 0n) => ({
  shmid: 0,
  fdOffset,
  shmOffset,
  len,
  flags,
});

function setup(): Promise<FakeSetup> {
  return setupFakeDevice({ props: `shmem-base=${BASE}`, backend: { shmemSizes: [REGION] } });
}

const hostileMaps = (): number => procMaps().filter((l) => l.path.includes('tsqom-hostile')).length;

/**
 * Resident size once what is garbage has been collected and trimmed (what
 * tsqom does after a hostile connection): what is left is what is held.
 */
function rssKiB(): number {
  os.releaseFreedMemory();
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m![1]);
}

/** Runs `fn` with stderr captured. */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ value: T; text: string }> {
  let text = '';
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), text };
  } finally {
    process.stderr.write = orig;
  }
}

test.serial('SHMEM_MAP of an O_RDONLY fd on an empty file is refused, not grown', async (t) => {
  const s = await setup();
  const path = join(tmpdir(), `tsqom-hostile-${process.pid}-ro`);
  writeFileSync(path, '');
  const fd = os.open(path, O_RDONLY | O_CLOEXEC);
  const fds = fdCount();
  try {
    const { value: reply, text } = await captureStderr(() =>
      s.be.shmemMap(map(0x10000n, 0x1000n, 0n), fd),
    );
    t.is(reply, 1n);
    t.deepEqual(s.reports.messages, [
      "virtio-shmem-0-10000 backing store size 0x0 is too small for 'size' option 0x1000 plus 'offset' option 0x0",
    ]);
    t.notRegex(text, /ftruncate/);
    t.is(s.dev.shmemRegion(0)!.mappingCount, 0);
    t.is(os.fstat(fd).size, 0);
    // Nothing was mapped: a guest read is a hole, not a fault.
    t.is(addressSpaceRead(addressSpaceMemory(), BASE + 0x10000n, 4).result !== MEMTX_OK, true);
    t.is(fdCount(), fds);
    t.is(hostileMaps(), 0);
  } finally {
    os.close(fd);
    rmSync(path, { force: true });
    await s.close();
  }
});

test.serial('SHMEM_MAP never grows a read-write empty memfd, nor maps past its end', async (t) => {
  const s = await setup();
  const fd = os.memfdCreate('tsqom-hostile-rw', MFD_CLOEXEC);
  try {
    t.is(await s.be.shmemMap(map(0n, 0x2000n), fd), 1n);
    t.is(os.fstat(fd).size, 0);
    os.ftruncate(fd, 0x1000);
    // One page of file, two asked for; then a file offset past the end.
    t.is(await s.be.shmemMap(map(0n, 0x2000n), fd), 1n);
    t.is(await s.be.shmemMap(map(0n, 0x1000n, 1n, 0x1000n), fd), 1n);
    // A file offset whose end wraps past 2^64.
    t.is(await s.be.shmemMap(map(0n, 0x2000n, 1n, 0xffff_ffff_ffff_f000n), fd), 1n);
    t.deepEqual(s.reports.messages, [
      "virtio-shmem-0-0 backing store size 0x0 is too small for 'size' option 0x2000 plus 'offset' option 0x0",
      "virtio-shmem-0-0 backing store size 0x1000 is too small for 'size' option 0x2000 plus 'offset' option 0x0",
      "virtio-shmem-0-0 backing store size 0x1000 is too small for 'size' option 0x1000 plus 'offset' option 0x1000",
      "virtio-shmem-0-0 backing store size 0x1000 is too small for 'size' option 0x2000 plus 'offset' option 0xfffffffffffff000",
    ]);
    t.is(os.fstat(fd).size, 0x1000);
    t.is(s.dev.shmemRegion(0)!.mappingCount, 0);
    // What fits is still mapped.
    t.is(await s.be.shmemMap(map(0n, 0x1000n), fd), 0n);
    t.is(s.dev.shmemRegion(0)!.mappingCount, 1);
  } finally {
    os.close(fd);
    await s.close();
  }
});

test.serial(
  'a back-end truncating its memfd after mapping: guest accesses fail, tsqom runs on',
  async (t) => {
    const s = await setup();
    const fds = fdCount();
    const fd = os.memfdCreate('tsqom-hostile-shrink', MFD_CLOEXEC);
    try {
      os.ftruncate(fd, 0x4000);
      t.is(await s.be.shmemMap(map(0x10000n, 0x4000n), fd), 0n);
      const as = addressSpaceMemory();
      t.is(addressSpaceWrite(as, BASE + 0x10000n, Uint8Array.of(1, 2, 3)), MEMTX_OK);
      t.deepEqual([...addressSpaceRead(as, BASE + 0x10000n, 3).data], [1, 2, 3]);
      // The back-end shrinks the file: every page of the mapping is gone.
      os.ftruncate(fd, 0);
      const { value, text } = await captureStderr(async () => ({
        read: addressSpaceRead(as, BASE + 0x10000n, 16),
        write: addressSpaceWrite(as, BASE + 0x12000n, Uint8Array.of(9)),
      }));
      t.is(value.read.result, MEMTX_ERROR);
      t.deepEqual([...value.read.data], new Array(16).fill(0));
      t.is(value.write, MEMTX_ERROR);
      t.regex(
        text,
        /memory region 'virtio-shmem-0-10000': access to \[0x0, \+0x10\) failed: Bad address \(the memory's owner shrank it\)/,
      );
      // Said once, not per access.
      t.is(text.split('\n').filter(Boolean).length, 1);
      // The back-end can still unmap it, and nothing stays behind.
      t.is(await s.be.shmemUnmap(map(0x10000n, 0x4000n)), 0n);
      os.close(fd);
      t.is(fdCount(), fds);
      t.is(hostileMaps(), 0);
    } finally {
      await s.close();
    }
  },
);

test.serial('a shared memory window that would wrap past 2^64 is refused', async (t) => {
  await t.throwsAsync(
    setupFakeDevice({
      props: 'shmem-base=0xffffffffffe00000',
      backend: { shmemSizes: [REGION] },
    }),
    {
      message:
        'VIRTIO Shared Memory Regions (0x400000 bytes) at 0xffffffffffe00000 end past the end of the address space',
    },
  );
  // The last byte of the address space is fine.
  const s = await setupFakeDevice({
    props: 'shmem-base=0xffffffffffc00000',
    backend: { shmemSizes: [REGION] },
  });
  t.truthy(s.dev.shmemBar);
  await s.close();
});

test.serial('20,000 SHMEM_MAP/UNMAP pairs leave fds, maps and RSS as they were', async (t) => {
  const s = await setup();
  const fd = os.memfdCreate('tsqom-hostile-soak', MFD_CLOEXEC);
  os.ftruncate(fd, 0x10000);
  try {
    // Warm up (JIT, allocator), then measure.
    for (let i = 0; i < 500; i++) {
      await s.be.shmemMap(map(0n, 0x1000n), fd);
      await s.be.shmemUnmap(map(0n, 0x1000n));
    }
    const fds = fdCount();
    const rss = rssKiB();
    const N = 20_000;
    const BATCH = 32;
    let failures = 0;
    // Pipelined: BATCH maps at distinct offsets, then their unmaps; the
    // front-end answers in order.
    for (let i = 0; i < N; i += BATCH) {
      const maps: Promise<bigint | null>[] = [];
      for (let k = 0; k < BATCH; k++) {
        const off = BigInt(k) * 0x1000n;
        maps.push(s.be.shmemMap(map(off, 0x1000n, BigInt(k & 1), off % 0x10000n), fd));
      }
      const unmaps: Promise<bigint | null>[] = [];
      for (let k = 0; k < BATCH; k++)
        unmaps.push(s.be.shmemUnmap(map(BigInt(k) * 0x1000n, 0x1000n)));
      for (const r of await Promise.all([...maps, ...unmaps])) if (r !== 0n) failures++;
    }
    t.is(failures, 0);
    t.is(s.dev.shmemRegion(0)!.mappingCount, 0);
    t.is(fdCount(), fds);
    t.is(hostileMaps(), 0);
    const grown = rssKiB() - rss;
    t.log(`RSS grew by ${grown} KiB`);
    t.true(grown < 16 * 1024, `RSS grew by ${grown} KiB`);
  } finally {
    os.close(fd);
    await s.close();
  }
});
