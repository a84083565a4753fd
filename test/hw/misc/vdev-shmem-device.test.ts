// The vdev-shmem device in one process, driven as a guest drives it:
// through the system address space.
import test, { type ExecutionContext } from 'ava';
import 'reflect-metadata';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qdevDeviceAdd, qemuDeviceOpts } from '../../../src/hw/core/qdev-monitor.js';
import { qdevGetPeripheral } from '../../../src/hw/core/qdev.js';
import {
  GUEST_SHM_SIGNATURE,
  GuestShmControl,
  GuestShmFactory,
  GuestShmStatus,
} from '../../../src/hw/misc/guest-shm.js';
import {
  type VdevShmemState,
  vdevShmemConnectIrq,
  vdevShmemConnections,
  vdevShmemCreatedRegions,
} from '../../../src/hw/misc/vdev-shmem.js';
import { vdevShmemLocalState } from '../../../src/hw/misc/vdev-shmem-host.js';
import { vdevShmemDoorbellName } from '../../../src/hw/misc/vdev-shmem-doorbell.js';
import { vdevShmemSelf } from '../../../src/hw/misc/vdev-shmem-liveness.js';
import { machineIrqListen } from '../../../src/system/irq.js';
import { MEMTX_OK, addressSpaceMemory } from '../../../src/system/memory.js';
import { addressSpaceRead } from '../../../src/system/physmem.js';
import { ShmGuest, localBus, shmEntries } from '../../helpers/vdev-shmem/guest.js';
import { fdCount, procMaps } from '../../helpers/native/util.js';

// Region names unique to this test process, so test files can run in parallel.
const P = `d${process.pid}`;
const G = 0x1000_0000n; // each test gets its own 256 MiB of guest-physical space
let nextBase = 1n;

function base(): bigint {
  return G * nextBase++;
}

let ids = 0;

async function addDevice(loc: bigint, extra = '', intr = 9): Promise<VdevShmemState> {
  const spec = `vdev-shmem,id=vs${ids++},loc=0x${loc.toString(16)},intr=${intr},umask=077${
    extra ? `,${extra}` : ''
  }`;
  return (await qdevDeviceAdd(qemuDeviceOpts.parse(spec))) as VdevShmemState;
}

function guestOf(dev: VdevShmemState): ShmGuest {
  return new ShmGuest(localBus, dev.config!.loc!);
}

function irqCounter(dev: VdevShmemState): { n: number } {
  const c = { n: 0 };
  vdevShmemConnectIrq(dev, (level) => {
    if (level) c.n++;
  });
  return c;
}

function removeAll(t: ExecutionContext, devs: VdevShmemState[]): void {
  t.teardown(() => {
    for (const d of devs) if (!d.finalized && d.parent) d.unparent();
  });
}

test('realize errors are reported and leave nothing behind', async (t) => {
  const loc = base();
  const fail = async (spec: string, message: string | RegExp): Promise<void> => {
    await t.throwsAsync(qdevDeviceAdd(qemuDeviceOpts.parse(spec)), { message }, spec);
  };
  await fail('vdev-shmem,id=e0,intr=5', "Parameter 'loc' is missing");
  await fail(`vdev-shmem,id=e1,loc=0x${loc.toString(16)}`, "Parameter 'intr' is missing");
  await fail(`vdev-shmem,id=e2,loc=0x${(loc + 8n).toString(16)},intr=5`, /is not a 4 KiB aligned/);
  await fail(`vdev-shmem,id=e3,loc=0x${loc.toString(16)},intr=x`, /invalid intr 'x'/);
  await fail(
    `vdev-shmem,id=e4,loc=0x${loc.toString(16)},intr=5,nonsense=1`,
    "Property 'vdev-shmem.nonsense' not found",
  );
  await fail(
    `vdev-shmem,id=e5,loc=0x${loc.toString(16)},intr=5,create.0.name=${P}e5`,
    "Parameter 'create.0.size' is missing",
  );
  await fail(
    `vdev-shmem,id=e6,loc=0x${loc.toString(16)},intr=5,window=0x${loc.toString(16)}`,
    /overlaps the factory page/,
  );
  await fail(
    `vdev-shmem,id=e7,loc=0x${loc.toString(16)},intr=5,window-size=100`,
    /not a non-zero multiple of 4 KiB/,
  );
  await fail(
    `vdev-shmem,id=e8,loc=0x${loc.toString(16)},intr=5,config=/nonexistent/vdev.conf`,
    "Could not open '/nonexistent/vdev.conf': No such file or directory",
  );
  // The `create` regions made before a failing one are released again.
  await fail(
    `vdev-shmem,id=e9,loc=0x${loc.toString(16)},intr=5,create.0.name=${P}e9,create.0.size=4K,create.1.name=${P}e9b,create.1.size=4K,create.1.gid=no-such-group-x`,
    `vdev-shmem: cannot create region '${P}e9b': unknown group 'no-such-group-x'`,
  );
  t.deepEqual([...shmEntries(`${P}e`)], []);
  for (const id of ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9'])
    t.is(qdevGetPeripheral().propertyFind(id), null);
  const r = addressSpaceRead(addressSpaceMemory(), loc, 8);
  t.not(r.result, MEMTX_OK, 'nothing is mapped at loc');
});

test('properties: element properties appear on use, values are kept as given, frozen once realized', async (t) => {
  const loc = base();
  const dev = await addDevice(
    loc,
    `subst.prefix=${P}p_,rules.0.allow=ok*,create.0.name=c,create.0.size=8K`,
  );
  removeAll(t, [dev]);
  t.is(dev.propertyGet('loc'), `0x${loc.toString(16)}`);
  t.is(dev.propertyGet('create.0.size'), '8K');
  t.is(dev.propertyGet('rules.0.allow'), 'ok*');
  t.is(dev.propertyFind('create.1.name'), null, 'not created by a lookup after realize');
  t.throws(() => dev.propertyParse('intr', '7'), {
    message: `Attempt to set property 'intr' on device '${dev.id}' (type 'vdev-shmem') after it was realized`,
  });
  t.deepEqual(vdevShmemCreatedRegions(dev), [`${P}p_c`]);
});

test('factory page: signature, vector, create then attach, sizes and addresses', async (t) => {
  const locA = base();
  const locB = base();
  const a = await addDevice(locA);
  const b = await addDevice(locB, `window=0x${(locB + 0x100000n).toString(16)}`);
  removeAll(t, [a, b]);
  const ga = new ShmGuest(localBus, locA);
  const gb = new ShmGuest(localBus, locB);
  t.is(await localBus.readq(locA + BigInt(GuestShmFactory.SIGNATURE)), GUEST_SHM_SIGNATURE);
  t.is(await localBus.readl(locA + BigInt(GuestShmFactory.VECTOR)), 9);
  // Read-only registers ignore writes.
  await localBus.writel(locA + BigInt(GuestShmFactory.VECTOR), 77);
  t.is(await localBus.readl(locA + BigInt(GuestShmFactory.VECTOR)), 9);

  const r1 = await ga.create(`${P}f1`, 3);
  t.deepEqual(r1, { status: GuestShmStatus.GSS_OK, shmem: locA + 0x1000n, size: 3 });
  t.deepEqual([...shmEntries(`${P}f1`)], [[`${P}f1`, 0o600]]);
  // The first creator decided: a bigger request attaches with 3 pages.
  const r2 = await gb.create(`${P}f1`, 10);
  t.deepEqual(r2, { status: GuestShmStatus.GSS_OK, shmem: locB + 0x100000n, size: 3 });
  // The next region follows the first one's control page and data.
  const r3 = await ga.create(`${P}f2`, 1);
  t.deepEqual(r3, { status: GuestShmStatus.GSS_OK, shmem: locA + 0x1000n + 4n * 0x1000n, size: 1 });
  t.deepEqual(
    vdevShmemConnections(a).map((c) => [c.name, c.idx, c.address, c.pages]),
    [
      [`${P}f1`, 0, locA + 0x1000n, 3],
      [`${P}f2`, 0, locA + 0x5000n, 1],
    ],
  );
  // find: an existing connection is found again, not duplicated.
  const r4 = await ga.find(`${P}f1`);
  t.deepEqual(r4, { status: GuestShmStatus.GSS_OK, shmem: locA + 0x1000n, size: 3 });
  t.is(vdevShmemConnections(a).length, 2);
  // find of a region that does not exist: status 6, shmem and size unchanged.
  const r5 = await ga.find(`${P}none`);
  t.deepEqual(r5, { status: GuestShmStatus.GSS_DOES_NOT_EXIST, shmem: locA + 0x1000n, size: 3 });
  t.deepEqual([...shmEntries(`${P}none`)], []);
  // A size of 0 creates nothing: it only attaches.
  t.is((await ga.create(`${P}none`, 0)).status, GuestShmStatus.GSS_DOES_NOT_EXIST);
  t.deepEqual([...shmEntries(`${P}none`)], []);
  // The data is the same memory for both devices.
  await ga.writeData(r1.shmem, 0x1ff0, new TextEncoder().encode('across the page'));
  t.is(new TextDecoder().decode(await gb.readData(r2.shmem, 0x1ff0, 15)), 'across the page');
  // Beyond the data, the window is empty.
  t.not(addressSpaceRead(addressSpaceMemory(), r3.shmem + 0x2000n, 4).result, MEMTX_OK);
});

test('factory page: illegal names, rules and a full window', async (t) => {
  const loc = base();
  const dev = await addDevice(
    loc,
    `subst.prefix=${P}r_,rules.0.deny=pluto,rules.1.allow=pluto*,rules.2.allow=ok*,window-size=16K`,
  );
  removeAll(t, [dev]);
  const g = new ShmGuest(localBus, loc);
  t.is((await g.create('', 1)).status, GuestShmStatus.GSS_ILLEGAL_NAME);
  t.is((await g.create('a/b', 1)).status, GuestShmStatus.GSS_ILLEGAL_NAME);
  t.is((await g.create('..', 1)).status, GuestShmStatus.GSS_ILLEGAL_NAME);
  // The name plus the subst prefix must fit in 32 characters.
  t.is((await g.create(`ok${'x'.repeat(30)}`, 1)).status, GuestShmStatus.GSS_ILLEGAL_NAME);
  t.is((await g.create('pluto', 1)).status, GuestShmStatus.GSS_NO_PERMISSION);
  t.is((await g.create('other', 1)).status, GuestShmStatus.GSS_NO_PERMISSION);
  t.is((await g.find('other')).status, GuestShmStatus.GSS_NO_PERMISSION);
  const ok = await g.create('plutoplanet', 1);
  t.is(ok.status, GuestShmStatus.GSS_OK);
  t.deepEqual([...shmEntries(`${P}r_`)], [[`${P}r_plutoplanet`, 0o600]]);
  // 16K of window: control page + 1 page used, 2 pages left.
  t.is((await g.create('ok-big', 2)).status, GuestShmStatus.GSS_NOMEM);
  t.deepEqual([...shmEntries(`${P}r_ok`)], [], 'nothing created for a request that does not fit');
  t.is((await g.create('ok-small', 1)).status, GuestShmStatus.GSS_OK);
  // A failed create leaves shmem as it was and size as written.
  t.is((await g.create('pluto', 1)).shmem, ok.shmem + 0x2000n);
});

test('control page: status, idx, notifications, interrupts and detach', async (t) => {
  const devs = [await addDevice(base()), await addDevice(base()), await addDevice(base())];
  removeAll(t, devs);
  const [, b, c] = devs as [VdevShmemState, VdevShmemState, VdevShmemState];
  const irq = devs.map(irqCounter);
  const g = devs.map(guestOf);
  const name = `${P}ctl`;
  const ra = await g[0]!.create(name, 1);
  t.is(irq[0]!.n, 0, 'attaching does not interrupt the attaching guest');
  const rb = await g[1]!.create(name, 1);
  t.is(irq[0]!.n, 1, 'the other client hears of the new one');
  const rc = await g[2]!.create(name, 1);
  t.deepEqual(
    irq.map((x) => x.n),
    [2, 1, 0],
  );
  const ctl = [ra.shmem, rb.shmem, rc.shmem];
  t.deepEqual(await Promise.all(ctl.map((x, i) => g[i]!.idx(x))), [0, 1, 2]);
  t.deepEqual(await g[0]!.status(ctl[0]!), { pending: 0, active: 0b111 });

  // A notifies C only.
  await g[0]!.notify(ctl[0]!, 1 << 2);
  t.deepEqual(
    irq.map((x) => x.n),
    [2, 1, 1],
  );
  t.deepEqual(await g[1]!.status(ctl[1]!), { pending: 0, active: 0b111 });
  t.deepEqual(await g[2]!.status(ctl[2]!), { pending: 0b001, active: 0b111 });
  t.deepEqual(await g[2]!.status(ctl[2]!), { pending: 0, active: 0b111 }, 'the read cleared it');
  // All ones: everybody but the writer; bits of absent clients are ignored.
  await g[1]!.notify(ctl[1]!, 0xffffffff);
  await g[2]!.notify(ctl[2]!, 0b1000_0001);
  t.deepEqual(
    irq.map((x) => x.n),
    [4, 1, 2],
  );
  t.deepEqual(await g[0]!.status(ctl[0]!), { pending: 0b110, active: 0b111 });
  t.deepEqual(await g[2]!.status(ctl[2]!), { pending: 0b010, active: 0b111 });
  // Pending bits are set before the interrupt arrives.
  let seen = -1;
  vdevShmemConnectIrq(b, (level) => {
    if (level)
      seen = (Number(addressSpaceRead(addressSpaceMemory(), ctl[1]!, 4).data[0]) & 0xff) >>> 0;
  });
  await g[0]!.notify(ctl[0]!, 1 << 1);
  t.is(seen, 0b001);
  vdevShmemConnectIrq(b, (level) => {
    if (level) irq[1]!.n++;
  });
  // Other registers: notify and detach read as zero, other bytes too.
  t.is(await localBus.readl(ctl[0]! + BigInt(GuestShmControl.NOTIFY)), 0);
  t.is(await localBus.readl(ctl[0]! + 0x800n), 0);

  // B detaches: its pages vanish, the others hear of it.
  const before = irq.map((x) => x.n);
  await g[1]!.detach(ctl[1]!);
  t.not(addressSpaceRead(addressSpaceMemory(), ctl[1]!, 4).result, MEMTX_OK);
  t.deepEqual(vdevShmemConnections(b), []);
  t.deepEqual(
    irq.map((x, i) => x.n - before[i]!),
    [1, 0, 1],
  );
  t.deepEqual(await g[0]!.status(ctl[0]!), { pending: 0, active: 0b101 });
  // Its slot is reused by the next client.
  const again = await g[1]!.create(name, 1);
  t.is(await g[1]!.idx(again.shmem), 1);
  // Writing anything to detach detaches, even a byte.
  await localBus.write(ctl[2]! + BigInt(GuestShmControl.DETACH) + 3n, new Uint8Array([1]));
  t.deepEqual(vdevShmemConnections(c), []);
  t.deepEqual([...shmEntries(name)], [[name, 0o600]]);
  // The last client out removes the region.
  await g[0]!.detach(ctl[0]!);
  await g[1]!.detach(again.shmem);
  t.deepEqual([...shmEntries(name)], []);
});

test('sixteen devices of one process are the sixteen clients; a seventeenth is refused', async (t) => {
  const devs: VdevShmemState[] = [];
  removeAll(t, devs);
  for (let i = 0; i < 17; i++) devs.push(await addDevice(base()));
  const name = `${P}max`;
  const g = devs.map(guestOf);
  const r: bigint[] = [];
  for (let i = 0; i < 16; i++) {
    const x = await g[i]!.create(name, 1);
    t.is(x.status, GuestShmStatus.GSS_OK);
    t.is(await g[i]!.idx(x.shmem), i);
    r.push(x.shmem);
  }
  t.is((await g[16]!.create(name, 1)).status, GuestShmStatus.GSS_CLIENT_MAX);
  t.is((await g[16]!.find(name)).status, GuestShmStatus.GSS_CLIENT_MAX);
  t.deepEqual(await g[0]!.status(r[0]!), { pending: 0, active: 0xffff });
  // Everybody but 0 notifies 0.
  const irq0 = irqCounter(devs[0]!);
  for (let i = 1; i < 16; i++) await g[i]!.notify(r[i]!, 1);
  t.is(irq0.n, 15);
  t.deepEqual(await g[0]!.status(r[0]!), { pending: 0xfffe, active: 0xffff });
  await g[7]!.detach(r[7]!);
  const late = await g[16]!.create(name, 1);
  t.is(late.status, GuestShmStatus.GSS_OK);
  t.is(await g[16]!.idx(late.shmem), 7);
});

test('create options pre-create regions with their mode, held until unrealize', async (t) => {
  const locA = base();
  const a = await addDevice(
    locA,
    `umask=027,create.0.name=${P}cr0,create.0.size=12K,create.0.mode=640,create.1.name=${P}cr1,create.1.size=1,create.1.mode=600`,
  );
  const b = await addDevice(base(), `create.0.name=${P}cr0,create.0.size=4K`);
  removeAll(t, [a, b]);
  // Modes as configured (minus the umask); sizes round up to pages.
  t.deepEqual([...shmEntries(`${P}cr`)].sort(), [
    [`${P}cr0`, 0o640],
    [`${P}cr1`, 0o600],
  ]);
  const g = new ShmGuest(localBus, locA);
  const r = await g.find(`${P}cr0`);
  t.is(r.status, GuestShmStatus.GSS_OK);
  t.is(r.size, 3, 'the first creator decided the size');
  t.is((await g.find(`${P}cr1`)).size, 1);
  await g.detach(r.shmem);
  t.true(shmEntries(`${P}cr0`).has(`${P}cr0`), 'still held by the create options');
  a.unparent();
  t.deepEqual([...shmEntries(`${P}cr`)], [[`${P}cr0`, 0o640]], 'b still holds c0');
  b.unparent();
  t.deepEqual([...shmEntries(`${P}cr`)], []);
});

test('a config file in QNX syntax', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vdev-shmem-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'shmem.conf');
  writeFileSync(
    file,
    `vdev shmem\n  umask 077\n  subst ,${P}q_\n  create pre,8K\n  deny secret*\n`,
  );
  const loc = base();
  const dev = (await qdevDeviceAdd(
    qemuDeviceOpts.parse(`vdev-shmem,id=vsq,loc=0x${loc.toString(16)},intr=3,config=${file}`),
  )) as VdevShmemState;
  removeAll(t, [dev]);
  t.deepEqual([...shmEntries(`${P}q_`)], [[`${P}q_pre`, 0o600]]);
  const g = new ShmGuest(localBus, loc);
  t.is((await g.create('secret1', 1)).status, GuestShmStatus.GSS_NO_PERMISSION);
  t.deepEqual(await g.create('pre', 1), { status: 0, shmem: loc + 0x1000n, size: 2 });
  t.is(await localBus.readl(loc + BigInt(GuestShmFactory.VECTOR)), 3);
});

test('reset detaches what the guest attached and clears the factory page', async (t) => {
  const loc = base();
  const dev = await addDevice(loc);
  removeAll(t, [dev]);
  const g = new ShmGuest(localBus, loc);
  const r = await g.create(`${P}rst`, 1);
  t.is(r.status, 0);
  dev.deviceClass.reset!(dev);
  t.deepEqual(vdevShmemConnections(dev), []);
  t.deepEqual(await g.result(), { status: 0, shmem: 0n, size: 0 });
  t.deepEqual([...shmEntries(`${P}rst`)], []);
});

test('the default interrupt is the machine line named by intr', async (t) => {
  const locs = [base(), base()];
  const a = await addDevice(locs[0]!, '', 40);
  const b = await addDevice(locs[1]!, '', 41);
  removeAll(t, [a, b]);
  const levels: string[] = [];
  const unlisten = machineIrqListen((line, level) => {
    if (line === 41) levels.push(`${line}:${level}`);
  });
  t.teardown(unlisten);
  const ga = new ShmGuest(localBus, locs[0]!);
  const gb = new ShmGuest(localBus, locs[1]!);
  const ra = await ga.create(`${P}irq`, 1);
  await gb.create(`${P}irq`, 1);
  await ga.notify(ra.shmem, 0b10);
  t.deepEqual(levels, ['41:1', '41:0'], 'one pulse, for the notification to b');
});

// Serial tests run before the others: nothing else is open while this one counts.
test.serial(
  'unrealize and finalize leave no descriptor, mapping, socket or /dev/shm name',
  async (t) => {
    const fds = fdCount();
    const locs = [base(), base()];
    const a = await addDevice(locs[0]!, `create.0.name=${P}fin0,create.0.size=64K`);
    const b = await addDevice(locs[1]!);
    const ga = new ShmGuest(localBus, locs[0]!);
    const gb = new ShmGuest(localBus, locs[1]!);
    const r = await ga.create(`${P}fin1`, 4);
    await gb.create(`${P}fin1`, 4);
    await gb.find(`${P}fin0`);
    await ga.notify(r.shmem, 0b10);
    t.true(procMaps().some((m) => m.path.includes(`tsqom-shmem-${P}fin1`)));
    t.is(shmEntries(`${P}fin`).size, 2);
    t.true(readdirSync(tmpdir()).includes(vdevShmemDoorbellName(vdevShmemSelf())));
    a.unparent();
    b.unparent();
    t.true(a.finalized && b.finalized);
    t.deepEqual([...shmEntries(`${P}fin`)], []);
    t.false(procMaps().some((m) => m.path.includes(`tsqom-shmem-${P}fin`)));
    t.deepEqual(vdevShmemLocalState(), {
      regions: 0,
      clients: 0,
      anchors: 0,
      doorbell: false,
      peers: 0,
    });
    t.false(readdirSync(tmpdir()).includes(vdevShmemDoorbellName(vdevShmemSelf())));
    t.is(fdCount(), fds, 'no descriptor left over');
  },
);
