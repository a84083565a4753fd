// The host side of vdev-shmem: the shared header, dead holders, leftovers
// of killed processes, and who removes a region.
import test from 'ava';
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { container } from 'tsyringe';
import {
  HostOs,
  MAP_SHARED,
  O_CREAT,
  O_EXCL,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
} from '../../../src/native/index.js';
import { GuestShmStatus } from '../../../src/hw/misc/guest-shm.js';
import {
  VDEV_SHMEM_HEADER_SIZE,
  VDEV_SHMEM_MAGIC,
  VdevShmemHeader as H,
  type VdevShmemClient,
  vdevShmemAnchor,
  vdevShmemAttach,
  vdevShmemObjectName,
  vdevShmemSweep,
} from '../../../src/hw/misc/vdev-shmem-host.js';
import {
  vdevShmemAlive,
  vdevShmemProcessToken,
  vdevShmemSelf,
  vdevShmemWatchExit,
} from '../../../src/hw/misc/vdev-shmem-liveness.js';
import { vdevShmemDoorbellName } from '../../../src/hw/misc/vdev-shmem-doorbell.js';
import { shmEntries } from '../../helpers/vdev-shmem/guest.js';

const P = `h${process.pid}`;
const lockHolderScript = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../helpers/hostile/lock-holder.js',
);
const holderScript = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../helpers/vdev-shmem/holder.js',
);

interface Holder {
  child: ChildProcess;
  idx: number;
  exited: Promise<void>;
}

async function startHolder(
  kind: 'client' | 'anchor',
  name: string,
  pages: number,
): Promise<Holder> {
  const child = spawn(process.execPath, [holderScript, kind, name, String(pages)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
    });
    child.on('exit', () => reject(new Error(`holder exited: ${buf}`)));
  });
  const m = /^ready (-?\d+)$/.exec(line);
  if (!m) throw new Error(line);
  return { child, idx: Number(m[1]), exited };
}

async function kill(h: Holder): Promise<void> {
  h.child.kill('SIGKILL');
  await h.exited;
}

function attach(name: string, pages = 1): VdevShmemClient {
  const r = vdevShmemAttach(name, { create: true, pages });
  if (!r.client) throw new Error(`attach ${name}: ${r.status} ${r.reason}`);
  return r.client;
}

function word(c: VdevShmemClient, off: number): number {
  return container.resolve(HostOs).atomicLoad32(c.mapping, off) >>> 0;
}

test('liveness: this process, a running child, a killed one', async (t) => {
  const me = vdevShmemSelf();
  t.is(me.pid, process.pid);
  t.is(vdevShmemProcessToken(process.pid), me.token);
  t.true(vdevShmemAlive(me.pid, me.token));
  t.false(vdevShmemAlive(me.pid, me.token + 1), 'same pid, another start time: a previous process');
  const h = await startHolder('anchor', `${P}live`, 1);
  const pid = h.child.pid!;
  const token = vdevShmemProcessToken(pid)!;
  t.true(vdevShmemAlive(pid, token));
  await kill(h);
  t.false(vdevShmemAlive(pid, token));
  t.is(vdevShmemProcessToken(pid), undefined);
  // The anchor it left is swept by the next look at the name.
  t.true(vdevShmemSweep(`${P}live`));
  t.deepEqual([...shmEntries(`${P}live`)], []);
});

test.serial(
  'exit watch: fires once when the process exits, not for the living, leaves no fd',
  async (t) => {
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const h = await startHolder('anchor', `${P}watch`, 1);
    const pid = h.child.pid!;
    const token = vdevShmemProcessToken(pid)!;
    t.is(
      vdevShmemWatchExit({ pid, token: token + 1 }, () => t.fail()),
      null,
      'another start time',
    );
    let fired = 0;
    const w = vdevShmemWatchExit({ pid, token }, () => fired++);
    t.truthy(w);
    await new Promise((r) => setTimeout(r, 50));
    t.is(fired, 0, 'alive');
    await kill(h);
    const t0 = Date.now();
    while (Date.now() - t0 < 1000 && fired === 0) await new Promise((r) => setTimeout(r, 5));
    t.is(fired, 1);
    w!.close();
    t.is(
      vdevShmemWatchExit({ pid, token }, () => t.fail()),
      null,
      'dead',
    );
    vdevShmemSweep(`${P}watch`);
    t.is(readdirSync('/proc/self/fd').length, fdsBefore);
  },
);

test('the header: slots, pending bits, active set, generation', (t) => {
  const name = `${P}hdr`;
  const a = attach(name, 2);
  const b = attach(name, 5);
  t.teardown(() => {
    a.detach();
    b.detach();
  });
  const me = vdevShmemSelf();
  t.is(word(a, H.MAGIC), VDEV_SHMEM_MAGIC);
  t.is(word(a, H.PAGES), 2);
  t.is(b.pages, 2);
  t.is(word(a, H.ACTIVE), 0b11);
  t.is(word(a, H.LOCK), 0, 'the lock is free between operations');
  t.is(word(a, H.SLOTS + H.SLOT_SIZE + H.SLOT_PID), me.pid);
  t.is(word(a, H.SLOTS + H.SLOT_SIZE + H.SLOT_TOKEN), me.token);
  const events: string[] = [];
  a.onEvent = () => events.push('a');
  b.onEvent = () => events.push('b');
  t.is(a.notify(0xffffffff), 0b10);
  t.is(word(a, H.SLOTS + H.SLOT_SIZE + H.SLOT_PENDING), 0b01);
  t.deepEqual(events, ['b']);
  t.is(b.peekStatus(), 0x0003_0001);
  t.is(b.readStatus(), 0x0003_0001);
  t.is(b.readStatus(), 0x0003_0000);
  // The same bytes through the data mapping of both.
  a.mapping.write(VDEV_SHMEM_HEADER_SIZE + 10, new Uint8Array([1, 2, 3]));
  t.deepEqual([...b.mapping.read(VDEV_SHMEM_HEADER_SIZE + 10, 3)], [1, 2, 3]);
});

test.serial(
  'a killed client: its peer notices at once, reclaims its slot and socket',
  async (t) => {
    const name = `${P}kill`;
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const a = attach(name);
    const h = await startHolder('client', name, 1);
    t.is(h.idx, 1);
    const pid = h.child.pid!;
    const sock = vdevShmemDoorbellName({ pid, token: vdevShmemProcessToken(pid)! });
    t.true(existsSync(join(tmpdir(), sock)));
    let events = 0;
    a.onEvent = () => events++;
    await kill(h);
    // No attach or detach follows: the survivor hears of the death by itself
    // (its watch on the peer's process, or the hang-up), reclaims the slot
    // and the socket file, and tells its clients.
    const t0 = Date.now();
    while (Date.now() - t0 < 1000 && (a.peekStatus() >>> 16 !== 1 || events < 1))
      await new Promise((r) => setTimeout(r, 5));
    t.is(a.peekStatus() >>> 16, 1, 'only a is active');
    t.true(events >= 1, 'a heard of it');
    t.is(word(a, H.ACTIVE), 0b1, 'slot 1 is free');
    t.false(readdirSync(tmpdir()).includes(sock), 'the dead socket file is gone');
    const b = attach(name);
    t.is(b.idx, 1, 'the slot is reused');
    b.detach();
    a.detach();
    t.is(readdirSync('/proc/self/fd').length, fdsBefore, 'no descriptor left behind');
  },
);

test.serial(
  'a killed client while another process holds the lock: reclaimed once it lets go',
  async (t) => {
    const name = `${P}klock`;
    const a = attach(name);
    t.teardown(() => a.detach());
    const h = await startHolder('client', name, 1);
    const locker = spawn(process.execPath, [lockHolderScript, name], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    t.teardown(() => {
      locker.kill('SIGKILL');
    });
    let out = '';
    locker.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const say = async (cmd: string, answer: string): Promise<void> => {
      locker.stdin!.write(`${cmd}\n`);
      const deadline = Date.now() + 5000;
      while (!out.includes(answer) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
    };
    await say('lock', 'locked');
    let events = 0;
    a.onEvent = () => events++;
    const cpu0 = process.cpuUsage();
    await kill(h);
    await new Promise((r) => setTimeout(r, 300));
    const cpu = process.cpuUsage(cpu0);
    t.is(word(a, H.ACTIVE), 0b11, 'nothing changes while the lock is held');
    // Waiting for the lock is a timer, not a loop of reconnects and sweeps.
    t.true(cpu.user + cpu.system < 150_000, `${cpu.user + cpu.system} us of CPU in 300 ms`);
    await say('unlock', 'unlocked');
    const t0 = Date.now();
    while (Date.now() - t0 < 2000 && (word(a, H.ACTIVE) !== 0b1 || events < 1))
      await new Promise((r) => setTimeout(r, 5));
    t.is(word(a, H.ACTIVE), 0b1, 'reclaimed once the lock is free');
    t.true(events >= 1);
  },
);

test.serial('a member that joined and died before anyone looked is noticed too', async (t) => {
  // Killed the moment its slot shows, the holder may die before it rings
  // anyone. It connected to our doorbell before taking the slot, so that
  // connection hangs up after the slot is there, and we look again.
  const name = `${P}kill2`;
  const a = attach(name);
  t.teardown(() => a.detach());
  for (let round = 0; round < 5; round++) {
    const child = spawn(process.execPath, [holderScript, 'client', name, '1'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Killed as soon as its slot is taken (the header says so), not when it reports.
    while (word(a, H.ACTIVE) === 0b1 && child.exitCode === null)
      await new Promise((r) => setImmediate(r));
    child.kill('SIGKILL');
    await exited;
    const t0 = Date.now();
    while (Date.now() - t0 < 1000 && word(a, H.ACTIVE) !== 0b1)
      await new Promise((r) => setTimeout(r, 5));
    t.is(word(a, H.ACTIVE), 0b1, `round ${round}: the dead member's slot is reclaimed`);
  }
});

test('slots of dead processes written into the header are reclaimed at attach', async (t) => {
  const name = `${P}fake`;
  const a = attach(name);
  t.teardown(() => a.detach());
  // A process that has exited: its pid is dead.
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = await new Promise<number>((resolve) => gone.on('exit', () => resolve(gone.pid!)));
  const os = container.resolve(HostOs);
  for (let i = 1; i < 16; i++) {
    os.atomicStore32(a.mapping, H.SLOTS + i * H.SLOT_SIZE + H.SLOT_TOKEN, 12345);
    os.atomicStore32(a.mapping, H.SLOTS + i * H.SLOT_SIZE + H.SLOT_PID, pid);
  }
  os.atomicStore32(a.mapping, H.ACTIVE, 0xffff);
  // A lock left by a dead process is taken over too.
  os.atomicStore32(a.mapping, H.LOCK, pid);
  const b = vdevShmemAttach(name, { create: true, pages: 1 });
  t.is(b.status, GuestShmStatus.GSS_OK);
  t.teardown(() => b.client?.detach());
  t.is(b.client!.idx, 1);
  t.is(word(a, H.ACTIVE), 0b11);
});

test('leftovers of killed processes: find says it does not exist, create starts afresh, sweep removes', async (t) => {
  // A client killed: nobody left.
  const h1 = await startHolder('client', `${P}left1`, 3);
  await kill(h1);
  t.deepEqual(
    [...shmEntries(`${P}left1`)],
    [[`${P}left1`, 0o600]],
    'killed processes cannot clean up',
  );
  const f = vdevShmemAttach(`${P}left1`, { create: false });
  t.is(f.status, GuestShmStatus.GSS_DOES_NOT_EXIST);
  t.deepEqual([...shmEntries(`${P}left1`)], [], 'the look removed it');

  // An anchor killed: a create gets a fresh region of its own size.
  const h2 = await startHolder('anchor', `${P}left2`, 3);
  await kill(h2);
  const c = attach(`${P}left2`, 1);
  t.is(c.pages, 1, 'not the 3 pages of the dead region');
  t.is(c.idx, 0);
  c.detach();
  t.deepEqual([...shmEntries(`${P}left2`)], []);

  // sweep: only when every holder is dead.
  const h3 = await startHolder('anchor', `${P}left3`, 1);
  t.false(vdevShmemSweep(`${P}left3`), 'its holder lives');
  await kill(h3);
  t.true(vdevShmemSweep(`${P}left3`));
  t.false(vdevShmemSweep(`${P}left3`), 'nothing left');
});

test('a half-initialised object whose creator died is replaced', async (t) => {
  const name = `${P}half`;
  const os = container.resolve(HostOs);
  const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = await new Promise<number>((resolve) => gone.on('exit', () => resolve(gone.pid!)));
  const fd = os.shmOpen(vdevShmemObjectName(name), O_RDWR | O_CREAT | O_EXCL, 0o600);
  os.ftruncate(fd, VDEV_SHMEM_HEADER_SIZE + 4096);
  const m = os.mapMemory(VDEV_SHMEM_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  os.atomicStore32(m, H.CREATOR_PID, pid);
  m.unmap();
  os.close(fd);
  const c = attach(name, 2);
  t.is(c.pages, 2);
  c.detach();
  t.deepEqual([...shmEntries(name)], []);
});

test('anchors and clients: the last holder removes the region', (t) => {
  const name = `${P}last`;
  const anchor = vdevShmemAnchor(name, { pages: 4, mode: 0o640 });
  t.deepEqual([...shmEntries(name)], [[name, 0o640]]);
  const c = attach(name, 1);
  t.is(c.pages, 4);
  anchor.release();
  t.true(shmEntries(name).has(name), 'the client still holds it');
  t.false(anchor.held);
  c.detach();
  t.false(c.attached);
  t.deepEqual([...shmEntries(name)], []);
  t.throws(() => c.readStatus(), { message: 'vdev-shmem client is detached' });
  // Illegal host names never reach shm_open.
  t.is(vdevShmemAttach('a/b', { create: true, pages: 1 }).status, GuestShmStatus.GSS_ILLEGAL_NAME);
  t.throws(() => vdevShmemAnchor('', { pages: 1 }), { message: 'empty name' });
});
