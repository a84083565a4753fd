/**
 * DAX through SHMEM_MAP: tsqom's own front-end (a vhost-user-device with
 * the cache window as VIRTIO Shared Memory Region 0) and a FUSE client
 * playing the Linux guest: INIT with MAP_ALIGNMENT, LOOKUP, OPEN,
 * SETUPMAPPING, the file's bytes read through the window in guest
 * physical memory, REMOVEMAPPING. Everything runs against a real
 * tsqom-virtiofsd process.
 *
 * Machine RAM is one per process: the tests are serial.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressSpaceMemory } from '../../../src/system/memory.js';
import { AddressSpaceGuestMemory } from '../../../src/hw/virtio/driver/vhost-user-driver.js';
import {
  FUSE_INIT,
  FUSE_SETUPMAPPING_FLAG_READ,
  FUSE_SETUPMAPPING_FLAG_WRITE,
} from '../../../src/tools/virtiofsd/fuse-kernel.js';
import { FuseSession } from '../../../src/tools/virtiofsd/fuse-lowlevel.js';
import { PassthroughFs } from '../../../src/tools/virtiofsd/passthrough-ll.js';
import {
  DAX_BASE,
  FuseClient,
  processFds,
  sessionTransport,
  setupFrontend,
} from '../../helpers/virtiofsd/fuse-client.js';

const MiB = 1n << 20n;

test.serial(
  'SETUPMAPPING maps file ranges into the DAX window; REMOVEMAPPING unmaps them',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tsqom-virtiofs-dax-'));
    // A whole number of pages: a partial last page cannot be mapped (see the README).
    const content = randomBytes(3 * 2 ** 20 + 8192);
    await writeFile(join(dir, 'data.bin'), content);
    const s = await setupFrontend(dir, ['--dax-window', '8M']);
    try {
      const pid = s.daemon.proc.pid!;
      const region = s.dev.shmemRegion(0);
      t.truthy(region, 'the device has the cache window');
      t.is(region!.size, 8n * MiB);
      const cfg = await s.drv.readConfig();
      t.is(Buffer.from(cfg.subarray(0, 7)).toString(), 'tsqomfs', 'the tag in the config space');
      t.is(new DataView(cfg.buffer, cfg.byteOffset).getUint32(36, true), 1, 'num_request_queues');

      const init = await s.client.init();
      t.is(init.error, 0);
      t.true((init.flags & FUSE_INIT.MAP_ALIGNMENT) !== 0n, 'MAP_ALIGNMENT negotiated');
      t.is(init.mapAlignment, 12);
      const fdsBefore = processFds(pid);

      const e = await s.client.lookup(1n, 'data.bin');
      if (typeof e === 'number') return t.fail(`lookup: errno ${e}`);
      t.is(e.attr.size, content.length);
      const o = await s.client.open(e.nodeid, 2 /* O_RDWR */);
      if (typeof o === 'number') return t.fail(`open: errno ${o}`);

      // Two 2 MiB chunks, as the kernel maps them; the second one covers the tail.
      const R = FUSE_SETUPMAPPING_FLAG_READ;
      const W = FUSE_SETUPMAPPING_FLAG_WRITE;
      t.is(await s.client.setupMapping(e.nodeid, o.fh, 0n, 2n * MiB, R, 0n), 0);
      // fh = -1, as Linux sends it: the server reopens the node itself.
      t.is(
        await s.client.setupMapping(
          e.nodeid,
          0xffffffffffffffffn,
          2n * MiB,
          2n * MiB,
          R | W,
          4n * MiB,
        ),
        0,
        s.reports.messages.join('\n'),
      );
      t.is(region!.mappingCount, 2);
      const guest = new AddressSpaceGuestMemory(addressSpaceMemory());
      const first = guest.read(DAX_BASE, 2 * 2 ** 20);
      t.true(
        Buffer.from(first).equals(content.subarray(0, 2 * 2 ** 20)),
        'the first chunk reads back',
      );
      const tail = content.length - 2 * 2 ** 20;
      const second = guest.read(DAX_BASE + 4n * MiB, tail);
      t.true(Buffer.from(second).equals(content.subarray(2 * 2 ** 20)), 'the tail reads back');
      // A writable mapping writes through to the host file.
      guest.write(DAX_BASE + 4n * MiB + 10n, Buffer.from('through the window'));
      const host = await readFile(join(dir, 'data.bin'));
      t.is(host.subarray(2 * 2 ** 20 + 10, 2 * 2 ** 20 + 28).toString(), 'through the window');

      // Bad requests: outside the window, unaligned, overlapping an unknown range to remove.
      t.is(await s.client.setupMapping(e.nodeid, o.fh, 0n, 2n * MiB, R, 7n * MiB), 22);
      t.is(await s.client.setupMapping(e.nodeid, o.fh, 1n, 2n * MiB, R, 0n), 22);
      t.is(await s.client.setupMapping(99999n, 0n, 0n, 2n * MiB, R, 0n), 9);
      t.is(await s.client.removeMapping(e.nodeid, [[2n * MiB, 2n * MiB]]), 22);
      t.is(region!.mappingCount, 2);

      t.is(
        await s.client.removeMapping(e.nodeid, [
          [0n, 2n * MiB],
          [4n * MiB, 2n * MiB],
        ]),
        0,
      );
      t.is(region!.mappingCount, 0);
      t.is(await s.client.release(e.nodeid, o.fh), 0);
      await s.client.forget(e.nodeid, 1);
      t.deepEqual(
        processFds(pid),
        fdsBefore,
        'the daemon holds no descriptor of the file any more',
      );
      t.deepEqual(s.reports.messages, []);
    } finally {
      await s.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test.serial(
  'without a DAX window, SETUPMAPPING gets ENOSYS and INIT offers no MAP_ALIGNMENT',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tsqom-virtiofs-dax-'));
    await writeFile(join(dir, 'f'), 'x');
    const fs = new PassthroughFs({ source: dir });
    try {
      const c = new FuseClient(sessionTransport(new FuseSession(fs)));
      const init = await c.init();
      t.is(init.flags & FUSE_INIT.MAP_ALIGNMENT, 0n);
      t.is(init.mapAlignment, 0);
      const e = await c.lookup(1n, 'f');
      if (typeof e === 'number') return t.fail();
      t.is(await c.setupMapping(e.nodeid, 0n, 0n, 4096n, FUSE_SETUPMAPPING_FLAG_READ, 0n), 38);
      t.is(await c.removeMapping(e.nodeid, [[0n, 4096n]]), 38);
    } finally {
      fs.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
