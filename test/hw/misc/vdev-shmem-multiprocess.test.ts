// vdev-shmem across tsqom processes, each a guest driven over qtest.
import test, { type ExecutionContext } from 'ava';
import 'reflect-metadata';
import { qdevDeviceAdd, qemuDeviceOpts } from '../../../src/hw/core/qdev-monitor.js';
import { GuestShmStatus } from '../../../src/hw/misc/guest-shm.js';
import '../../../src/hw/misc/vdev-shmem.js';
import type { VdevShmemState } from '../../../src/hw/misc/vdev-shmem.js';
import { TYPE_VDEV_SHMEM } from '../../../src/hw/misc/vdev-shmem-config.js';
import {
  GuestProcess,
  ShmGuest,
  doorbellSockets,
  localBus,
  shmEntries,
} from '../../helpers/vdev-shmem/guest.js';

const P = `m${process.pid}`;
const LOC = 0x1000_0000n;

function cleanup(t: ExecutionContext, procs: GuestProcess[]): void {
  t.teardown(async () => {
    await Promise.all(procs.map((p) => p.stop().catch(() => {})));
  });
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

test('two guests: subst to one host name, shared data, notifications, detach, clean exit', async (t) => {
  const procs: GuestProcess[] = [];
  cleanup(t, procs);
  // Guest A calls the region "data", guest B calls it "vm2data": both are
  // the host's "<P>_data".
  const [a, b] = await Promise.all([
    GuestProcess.start({ loc: LOC, intr: 5, extra: `subst.prefix=${P}a_,umask=077` }),
    GuestProcess.start({
      loc: LOC,
      intr: 6,
      extra: `subst.match=vm2,subst.prefix=${P}a_,umask=077`,
    }),
  ]);
  procs.push(a!, b!);
  const ra = await a!.guest.create('data', 4);
  t.deepEqual(ra, { status: GuestShmStatus.GSS_OK, shmem: LOC + 0x1000n, size: 4 });
  t.deepEqual([...shmEntries(`${P}a_`)], [[`${P}a_data`, 0o600]]);
  const rb = await b!.guest.create('vm2data', 1);
  t.deepEqual(rb, { status: GuestShmStatus.GSS_OK, shmem: LOC + 0x1000n, size: 4 });
  t.deepEqual([...shmEntries(`${P}a_`)], [[`${P}a_data`, 0o600]], 'one region, mode 0600');

  // A hears of B's arrival.
  await a!.qtest.waitRaised(1);
  t.deepEqual(a!.qtest.raised, [5]);
  t.deepEqual(await a!.guest.status(ra.shmem), { pending: 0, active: 0b11 });
  t.is(await b!.guest.idx(rb.shmem), 1);

  // Data both ways, across a page boundary.
  await a!.guest.writeData(ra.shmem, 0x0ffc, text('from A to B'));
  t.is(str(await b!.guest.readData(rb.shmem, 0x0ffc, 11)), 'from A to B');
  await b!.guest.writeData(rb.shmem, 0x3ff0, text('B writes the last bytes'.slice(0, 16)));
  t.is(str(await a!.guest.readData(ra.shmem, 0x3ff0, 16)), 'B writes the las');

  // B notifies A: A's interrupt (line 5), A's pending bit for B.
  await b!.qtest.sync();
  const bRaised = b!.qtest.raised.length;
  await b!.guest.notify(rb.shmem, 0b01);
  await a!.qtest.waitRaised(2);
  t.deepEqual(a!.qtest.raised, [5, 5]);
  t.deepEqual(await a!.guest.status(ra.shmem), { pending: 0b10, active: 0b11 });
  t.deepEqual(await a!.guest.status(ra.shmem), { pending: 0, active: 0b11 });
  // A answers with "everybody but me": B (line 6).
  await a!.guest.notify(ra.shmem, 0xffffffff);
  await b!.qtest.waitRaised(bRaised + 1);
  t.is(b!.qtest.raised.at(-1), 6);
  t.deepEqual(await b!.guest.status(rb.shmem), { pending: 0b01, active: 0b11 });
  await a!.qtest.sync();
  t.is(a!.qtest.raised.length, 2, 'the notifier is not interrupted');

  // B detaches: A hears of it; the region stays for A.
  await b!.guest.detach(rb.shmem);
  await a!.qtest.waitRaised(3);
  t.deepEqual(await a!.guest.status(ra.shmem), { pending: 0, active: 0b01 });
  t.deepEqual([...shmEntries(`${P}a_`)], [[`${P}a_data`, 0o600]]);
  // B's pages are gone from its address space.
  t.deepEqual([...(await b!.qtest.read(rb.shmem + 0x1000n, 4))], [0, 0, 0, 0]);

  // Both exit: nothing is left in /dev/shm or the temporary directory.
  const pids = [a!.pid, b!.pid];
  t.deepEqual(await b!.stop(), { code: 0, signal: null });
  t.deepEqual([...shmEntries(`${P}a_`)], [[`${P}a_data`, 0o600]]);
  t.deepEqual(await a!.stop(), { code: 0, signal: null });
  t.deepEqual([...shmEntries(`${P}a_`)], []);
  for (const pid of pids) t.deepEqual(doorbellSockets(pid), []);
});

test('three guests: notifications reach exactly the named clients; a killed client is reclaimed; a 17th is refused', async (t) => {
  const procs: GuestProcess[] = [];
  cleanup(t, procs);
  const devs: VdevShmemState[] = [];
  t.teardown(() => {
    for (const d of devs) if (!d.finalized) d.unparent();
  });
  const extra = `subst.prefix=${P}b_,umask=077`;
  const started = await Promise.all(
    [5, 6, 7].map((intr) => GuestProcess.start({ loc: LOC, intr, extra })),
  );
  procs.push(...started);
  const [a, b, c] = started as [GuestProcess, GuestProcess, GuestProcess];
  const ctl: bigint[] = [];
  for (const g of [a, b, c]) {
    const r = await g.guest.create('ring', 2);
    t.is(r.status, GuestShmStatus.GSS_OK);
    ctl.push(r.shmem);
  }
  t.deepEqual(await Promise.all([a, b, c].map((g, i) => g.guest.idx(ctl[i]!))), [0, 1, 2]);
  // Membership interrupts: A saw B and C arrive, B saw C.
  await a.qtest.waitRaised(1);
  await b.qtest.waitRaised(1);
  await Promise.all([a, b, c].map((g, i) => g.guest.status(ctl[i]!)));
  await Promise.all([a, b, c].map((g) => g.qtest.sync()));
  const base = [a, b, c].map((g) => g.qtest.raised.length);
  const since = (g: GuestProcess, i: number): number => g.qtest.raised.length - base[i]!;

  // A notifies C only.
  await a.guest.notify(ctl[0]!, 1 << 2);
  await c.qtest.waitRaised(base[2]! + 1);
  t.deepEqual(await c.guest.status(ctl[2]!), { pending: 0b001, active: 0b111 });
  // A marker from C to B: when it arrives, anything A sent B would have too.
  await c.guest.notify(ctl[2]!, 1 << 1);
  await b.qtest.waitRaised(base[1]! + 1);
  t.deepEqual(await b.guest.status(ctl[1]!), { pending: 0b100, active: 0b111 }, 'nothing from A');
  await a.qtest.sync();
  t.deepEqual([since(a, 0), since(b, 1), since(c, 2)], [0, 1, 1]);
  t.true(b.qtest.raised.every((n) => n === 6) && c.qtest.raised.every((n) => n === 7));

  // B notifies everybody but itself.
  await b.guest.notify(ctl[1]!, 0xffffffff);
  await a.qtest.waitRaised(base[0]! + 1);
  await c.qtest.waitRaised(base[2]! + 2);
  t.deepEqual(await a.guest.status(ctl[0]!), { pending: 0b010, active: 0b111 });
  t.deepEqual(await c.guest.status(ctl[2]!), { pending: 0b010, active: 0b111 });

  // C is killed: A and B are told, C's slot is reclaimed.
  const cPid = c.pid;
  await c.kill();
  procs.splice(procs.indexOf(c), 1);
  await a.qtest.waitRaised(base[0]! + 2);
  await b.qtest.waitRaised(base[1]! + 2);
  t.deepEqual(await a.guest.status(ctl[0]!), { pending: 0, active: 0b011 });
  t.deepEqual(doorbellSockets(cPid), [], "the dead client's socket file is removed");
  const d = await GuestProcess.start({ loc: LOC, intr: 8, extra });
  procs.push(d);
  const rd = await d.guest.create('ring', 9);
  t.deepEqual(rd, { status: GuestShmStatus.GSS_OK, shmem: LOC + 0x1000n, size: 2 });
  t.is(await d.guest.idx(rd.shmem), 2, "C's slot");
  // Data written before C died is still there.
  await a.guest.writeData(ctl[0]!, 0, text('still here'));
  t.is(str(await d.guest.readData(rd.shmem, 0, 10)), 'still here');

  // 3 processes + 13 devices of this process are 16 clients; the 17th is refused.
  for (let i = 0; i < 14; i++) {
    const loc = 0x4000_0000n + BigInt(i) * 0x100_0000n;
    devs.push(
      (await qdevDeviceAdd(
        qemuDeviceOpts.parse(
          `${TYPE_VDEV_SHMEM},id=mp${process.pid}x${i},loc=0x${loc.toString(16)},intr=9,${extra}`,
        ),
      )) as VdevShmemState,
    );
  }
  const local = devs.map((dev) => new ShmGuest(localBus, dev.config!.loc!));
  for (let i = 0; i < 13; i++)
    t.is((await local[i]!.create('ring', 1)).status, GuestShmStatus.GSS_OK);
  t.is((await local[13]!.create('ring', 1)).status, GuestShmStatus.GSS_CLIENT_MAX);
  await a.qtest.sync();
  t.deepEqual(await a.guest.status(ctl[0]!), { pending: 0, active: 0xffff });
  // The in-process clients leave; the processes exit; nothing is left.
  for (const dev of devs) dev.unparent();
  for (const p of [...procs]) t.deepEqual(await p.stop(), { code: 0, signal: null });
  procs.length = 0;
  t.deepEqual([...shmEntries(`${P}b_`)], []);
});
