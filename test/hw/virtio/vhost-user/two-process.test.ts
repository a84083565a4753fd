/**
 * tsqom on both sides of vhost-user, in two processes: this process is the
 * front-end (a vhost-user-device with a VIRTIO Shared Memory Region mapped
 * into system memory), a child process runs a back-end written with
 * tsqom's back-end library that maps memfds into that region.
 */
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mtreeInfo, addressSpaceMemory } from '../../../../src/system/memory.js';
import { qemuChrDelete, qemuChrNewFromString } from '../../../../src/chardev/index.js';
import { qdevDeviceAdd, qdevUnplug, qemuDeviceOpts } from '../../../../src/hw/core/index.js';
import type { VHostUserBase } from '../../../../src/hw/virtio/vhost-user-base.js';
import {
  AddressSpaceGuestMemory,
  VhostUserDeviceDriver,
} from '../../../../src/hw/virtio/driver/vhost-user-driver.js';
import { CapturingErrorReportSink } from '../../../../src/util/error-report.js';
import { procMaps } from '../../../helpers/native/util.js';
import {
  removeRam,
  setupRam,
  tempDir,
  uniqueId,
  vhostFds,
} from '../../../helpers/vhost-user/setup.js';

const BASE = 0x40000000n;
const childScript = fileURLToPath(
  new URL('../../../helpers/vhost-user/backend-child.js', import.meta.url),
);

interface Child {
  proc: ChildProcess;
  cmd(line: string): Promise<string>;
  exited: Promise<void>;
}

function startChild(sock: string): Promise<Child> {
  const proc = spawn(process.execPath, [childScript, sock], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: ((s: string) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const next = (): Promise<string> =>
    lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return next().then((ready) => {
    if (ready !== 'ready') throw new Error(`child said ${ready}`);
    return {
      proc,
      exited,
      cmd: (line: string) => {
        proc.stdin!.write(`${line}\n`);
        return next();
      },
    };
  });
}

test.serial(
  'two processes: the back-end maps memfds into region 0; RO and RW; data both ways; unmap, reset and death remove them',
  async (t) => {
    const d = tempDir();
    const sock = join(d.dir, 'be.sock');
    const child = await startChild(sock);
    const ram = await setupRam(8 * 2 ** 20, 'shm');
    // The child's stdio are socketpairs too: leave them out of the count.
    const stdio = [child.proc.stdin, child.proc.stdout].map(
      (s) => (s as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1,
    );
    const baseline = vhostFds(stdio);
    const chr = uniqueId('chr');
    const id = uniqueId('vu');
    const reports = new CapturingErrorReportSink();
    let dev: VHostUserBase | null = null;
    try {
      await qemuChrNewFromString(`socket,id=${chr},path=${sock}`);
      dev = (await qdevDeviceAdd(
        qemuDeviceOpts.parse(
          `vhost-user-device,id=${id},chardev=${chr},virtio-id=41,shmem-base=${BASE}`,
        ),
      )) as VHostUserBase;
      dev.report = reports.sink;
      t.deepEqual(
        dev.shmemList.map((r) => [r.shmid, r.size]),
        [[0, 0x400000n]],
      );
      const drv = new VhostUserDeviceDriver<string>(dev);
      await drv.negotiate(1n << 32n);
      const q = drv.setupQueue(0, 0x1000n, { num: 64 });
      await drv.driverOk();

      // A request through the virtqueue: the back-end echoes it upper-cased.
      const guest = drv.mem;
      guest.write(0x10000n, Buffer.from('hello, back-end'));
      q.add([{ addr: 0x10000n, len: 15 }], [{ addr: 0x11000n, len: 15 }], 'r1');
      drv.kickIfNeeded(0);
      const used = await drv.getUsed(0);
      t.is(used.token, 'r1');
      t.is(used.len, 15);
      t.is(Buffer.from(guest.read(0x11000n, 15)).toString(), 'HELLO, BACK-END');

      // SHMEM_MAP from the other process, RW and RO.
      t.is(await child.cmd('map 0 65536 rw 17'), 'ok');
      t.is(await child.cmd('map 1048576 65536 ro 34'), 'ok');
      const region = dev.shmemRegion(0)!;
      const [rw, ro] = [...region.mappings()];
      const mtree = mtreeInfo();
      t.regex(mtree, /0000000040000000-000000004000ffff \(prio 0, ram\): virtio-shmem-0-0\n/);
      t.regex(mtree, /0000000040100000-000000004010ffff \(prio 0, ram\): virtio-shmem-0-100000\n/);
      const maps = procMaps();
      const lrw = maps.find((l) => l.start === rw.hostAddress);
      const lro = maps.find((l) => l.start === ro.hostAddress);
      t.is(lrw?.perms, 'rw-s');
      t.is(lro?.perms, 'r--s');
      t.regex(lrw?.path ?? '', /^\/memfd:backend-child/);
      // Data both ways, through guest physical addresses.
      const as = new AddressSpaceGuestMemory(addressSpaceMemory());
      t.is(as.read(BASE, 2).join(), '17,17');
      t.is(as.read(BASE + 0x100000n, 2).join(), '34,34');
      as.write(BASE + 4n, Buffer.from('cafe', 'hex'));
      t.is(await child.cmd('peek 0 6'), '11111111cafe');
      t.is(await child.cmd('poke 1048576 beef'), 'ok');
      t.is(Buffer.from(as.read(BASE + 0x100000n, 2)).toString('hex'), 'beef');

      // SHMEM_UNMAP removes one; a device reset removes the rest.
      t.is(await child.cmd('unmap 1048576 65536'), 'ok');
      t.notRegex(mtreeInfo(), /virtio-shmem-0-100000/);
      t.falsy(procMaps().find((l) => l.start === ro.hostAddress));
      await drv.reset();
      t.is(region.mappingCount, 0);
      t.notRegex(mtreeInfo(), /virtio-shmem-0-0\n/);
      t.falsy(procMaps().find((l) => l.start === rw.hostAddress));

      // Running again, mapped again, then the back-end is killed mid-stream.
      await drv.negotiate(1n << 32n);
      const q2 = drv.setupQueue(0, 0x1000n, { num: 64 });
      await drv.driverOk();
      t.is(await child.cmd('map 0 65536 rw 51'), 'ok');
      t.is(await child.cmd('hold'), 'ok');
      q2.add([{ addr: 0x10000n, len: 15 }], [{ addr: 0x11000n, len: 15 }], 'r2');
      drv.kickIfNeeded(0);
      const pending = drv.getUsed(0);
      const gone = new Promise<void>((r) => dev!.events.once('disconnect', () => r()));
      child.proc.kill('SIGKILL');
      await child.exited;
      await gone;
      await t.throwsAsync(pending, { message: `vhost-user device '${id}' has no back-end` });
      t.is(region.mappingCount, 0);
      t.is(
        reports.messages.at(-1),
        `vhost-user back-end on chardev '${chr}' disconnected while running; dropped 1 VIRTIO Shared Memory mapping`,
      );
      await new Promise((r) => setImmediate(r));
      // Nothing of the connection is left: mappings, sockets, eventfds.
      t.deepEqual(vhostFds(stdio), baseline);
      // tsqom keeps running: the memory map still renders.
      t.regex(mtreeInfo(), /virtio-shmem-bar/);
    } finally {
      if (dev && !dev.finalized && dev.parent) qdevUnplug(dev);
      await new Promise((r) => setImmediate(r));
      try {
        qemuChrDelete(chr);
      } catch {
        // Already gone.
      }
      removeRam(ram);
      if (child.proc.exitCode === null && child.proc.signalCode === null)
        child.proc.kill('SIGKILL');
      await child.exited;
      d.remove();
    }
  },
);
