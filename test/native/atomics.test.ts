import 'reflect-metadata';
import test from 'ava';
import { container } from 'tsyringe';
import {
  HostOs,
  MAP_ANONYMOUS,
  MAP_SHARED,
  MFD_CLOEXEC,
  OsError,
  PROT_READ,
  PROT_WRITE,
} from '../../src/native/index.js';
import { mapsLineAt, runChild, startChild } from '../helpers/native/util.js';

const os = container.resolve(HostOs);
const SIZE = 4096;

test('32- and 64-bit atomics on mapped memory', (t) => {
  using m = os.mapMemory(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  os.atomicStore32(m, 0, 5);
  t.is(os.atomicLoad32(m, 0), 5);
  t.is(os.atomicAdd32(m, 0, 3), 5);
  t.is(os.atomicOr32(m, 0, 0xf0), 8);
  t.is(os.atomicAnd32(m, 0, 0x0f), 0xf8);
  t.is(os.atomicExchange32(m, 0, 0xffffffff), 8);
  t.is(os.atomicLoad32(m, 0), 0xffffffff);
  t.is(os.atomicAdd32(m, 0, 1), 0xffffffff); // wraps
  t.is(os.atomicLoad32(m, 0), 0);
  t.is(os.atomicCompareExchange32(m, 0, 1, 7), 0); // fails: previous value
  t.is(os.atomicLoad32(m, 0), 0);
  t.is(os.atomicCompareExchange32(m, 0, 0, 7), 0); // succeeds
  t.is(m.readU32(0), 7);

  os.atomicStore64(m, 8, 2n ** 63n);
  t.is(os.atomicLoad64(m, 8), 2n ** 63n);
  t.is(os.atomicAdd64(m, 8, 1n), 2n ** 63n);
  t.is(os.atomicCompareExchange64(m, 8, 2n ** 63n + 1n, 42n), 2n ** 63n + 1n);
  t.is(m.readU64(8), 42n);

  t.throws(() => os.atomicLoad32(m, 2), { instanceOf: RangeError });
  t.throws(() => os.atomicLoad64(m, 4), { instanceOf: RangeError });
  t.throws(() => os.atomicLoad32(m, SIZE), { instanceOf: RangeError });
});

test('futex: not-equal, timed-out, and woken in the same process', async (t) => {
  using m = os.mapMemory(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  t.is(await os.futexWait(m, 0, 1, 1000), 'not-equal');
  t.is(await os.futexWait(m, 0, 0, 20), 'timed-out');
  const p = os.futexWait(m, 4, 0);
  let woken = 0;
  for (let i = 0; i < 500 && woken === 0; i++) {
    woken = os.futexWake(m, 4, 1);
    if (!woken) await new Promise((r) => setTimeout(r, 5));
  }
  t.is(woken, 1);
  t.is(await p, 'ok');
});

test('futex: a pending wait keeps the memory; unmap cancels it, then unmaps', async (t) => {
  const m = os.mapMemory(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  const address = m.address;
  const p = os.futexWait(m, 0, 0);
  t.true(m.unmap());
  t.false(m.isMapped);
  const e = await t.throwsAsync(p, { instanceOf: OsError });
  t.is(e?.code, 'ECANCELED');
  t.is(e?.syscall, 'futex');
  t.is(mapsLineAt(address), undefined);
  const late = t.throws(() => os.futexWait(m, 0, 0), { instanceOf: OsError });
  t.is(late?.code, 'EFAULT');
});

test('futex wait/wake across two processes sharing a memfd', async (t) => {
  const fd = os.memfdCreate('tsqom-futex', MFD_CLOEXEC);
  os.ftruncate(fd, SIZE);
  const m = os.mapMemory(SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  try {
    // The child waits, we wake it.
    os.atomicStore32(m, 64, 77);
    const waiter = startChild(['futex-wait', String(SIZE), '64', '77'], fd);
    t.is(await waiter.line(), 'waiting');
    let woken = 0;
    for (let i = 0; i < 500 && woken === 0; i++) {
      woken = os.futexWake(m, 64, 1);
      if (!woken) await new Promise((r) => setTimeout(r, 10));
    }
    t.is(woken, 1);
    t.is(await waiter.line(), 'result ok value 77');
    t.is((await waiter.exit).code, 0);

    // We wait, the child wakes us.
    const waker = startChild(['futex-wake', String(SIZE), '128'], fd);
    t.is(await waker.line(), 'ready');
    const p = os.futexWait(m, 128, 0, 20_000);
    waker.send('go');
    t.is(await waker.line(), 'woken 1');
    t.is(await p, 'ok');
    t.is((await waker.exit).code, 0);
  } finally {
    m.unmap();
    os.close(fd);
  }
});

test('futex: a wait with keepAlive false lets the process exit', async (t) => {
  const r = await runChild(['futex-unref']);
  t.is(r.code, 0, r.stderr);
  t.is(r.signal, null);
  t.deepEqual(r.lines, ['waiting']);
});
