/**
 * QMP throughput: `qom-get` per second, and `object-add` + `object-del`
 * pairs per second (a 1 MiB memory-backend-ram), tsqom against QEMU 7.2 in
 * the same run, with the same client, one request in flight at a time,
 * rounds interleaved. Goal: tsqom at least 1.5x QEMU.
 */
import { type BenchRow, median } from '../harness.js';
import type { QmpClient } from '../../test/helpers/qemu/qmp-client.js';
import { hasType, startPeers } from './peers.js';

const ROUNDS = 5;
const ROUND_MS = 300;

/** Runs `op` back to back for `ms`; returns operations per second. */
async function rate(op: () => Promise<void>, ms: number): Promise<number> {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) {
    await op();
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

async function interleaved(
  clients: { tsqom: QmpClient; qemu: QmpClient },
  make: (c: QmpClient) => () => Promise<void>,
): Promise<{ tsqom: number; qemu: number }> {
  const t: number[] = [];
  const q: number[] = [];
  const opT = make(clients.tsqom);
  const opQ = make(clients.qemu);
  await rate(opT, 50);
  await rate(opQ, 50);
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      t.push(await rate(opT, ROUND_MS));
      q.push(await rate(opQ, ROUND_MS));
    } else {
      q.push(await rate(opQ, ROUND_MS));
      t.push(await rate(opT, ROUND_MS));
    }
  }
  return { tsqom: median(t), qemu: median(q) };
}

function row(metric: string, r: { tsqom: number; qemu: number }): BenchRow {
  const ratio = r.tsqom / r.qemu;
  return {
    bench: 'qmp',
    metric,
    value: r.tsqom,
    unit: 'ops/s',
    reference: r.qemu,
    referenceName: 'QEMU 7.2',
    ratio,
    goal: 'ratio >= 1.5',
    met: ratio >= 1.5,
  };
}

/** The benchmark (see the module notes). */
export async function run(): Promise<BenchRow[]> {
  const peers = await startPeers(1);
  const rows: BenchRow[] = [];
  try {
    const clients = { tsqom: await peers.tsqom.connect(), qemu: await peers.qemu.connect() };
    await clients.tsqom.negotiate();
    await clients.qemu.negotiate();

    rows.push(
      row(
        'qom-get / type',
        await interleaved(clients, (c) => async () => {
          const r = await c.execute('qom-get', { path: '/', property: 'type' });
          if (r.return !== 'container') throw new Error(`qom-get failed: ${JSON.stringify(r)}`);
        }),
      ),
    );

    if (await hasType(clients.tsqom, 'memory-backend-ram')) {
      let n = 0;
      rows.push(
        row(
          'object-add+object-del memory-backend-ram 1M',
          await interleaved(clients, (c) => async () => {
            const id = `b${n++}`;
            await c.cmd('object-add', { 'qom-type': 'memory-backend-ram', id, size: 1048576 });
            await c.cmd('object-del', { id });
          }),
        ),
      );
    } else {
      rows.push({
        bench: 'qmp',
        metric: 'object-add+object-del: skipped, tsqom has no memory-backend-ram yet',
        value: NaN,
        unit: 'ops/s',
      });
    }
    await Promise.all([clients.tsqom.close(), clients.qemu.close()]);
  } finally {
    await Promise.all([peers.tsqom.stop(), peers.qemu.stop()]);
  }
  return rows;
}
