/**
 * Monitor responsiveness under a long command: while monitor 1 runs
 * `object-add` of a 2 GiB preallocated memory backend, monitor 2 sends
 * `query-version` back to back; the slowest of those replies is the
 * figure. tsqom against QEMU 7.2 (which blocks its main loop while it
 * preallocates), same run, same client. Goal: tsqom under 20 ms.
 */
import type { BenchRow } from '../harness.js';
import type { QmpClient } from '../../test/helpers/qemu/qmp-client.js';
import type { QmpPeer } from '../../test/helpers/qemu/qemu.js';
import { hasType, startPeers } from '../qmp/peers.js';

const SIZE = 2 * 1024 * 1024 * 1024;
const GOAL_MS = 20;

interface Probe {
  /** Slowest query-version round trip while object-add ran, in ms. */
  worst: number;
  /** Number of query-version replies meanwhile. */
  probes: number;
  /** How long object-add took, in ms. */
  addMs: number;
}

async function probe(peer: QmpPeer, type: string): Promise<Probe> {
  const a: QmpClient = await peer.connect(0);
  const b: QmpClient = await peer.connect(1);
  try {
    await a.negotiate();
    await b.negotiate();
    // Warm up (first-use costs are not what this measures).
    await a.cmd('object-add', {
      'qom-type': type,
      id: 'warm',
      size: 16 * 1024 * 1024,
      prealloc: true,
    });
    await a.cmd('object-del', { id: 'warm' });
    for (let i = 0; i < 100; i++) await b.execute('query-version');
    const t0 = performance.now();
    let done = false;
    // QEMU answers nothing while it preallocates, which can take many
    // seconds on a loaded machine: wait long, and never leave a rejection
    // unobserved.
    const LONG = 120_000;
    const add = a
      .execute(
        'object-add',
        { 'qom-type': type, id: 'big', size: SIZE, prealloc: true },
        'add',
        LONG,
      )
      .finally(() => {
        done = true;
      });
    add.catch(() => {});
    let worst = 0;
    let probes = 0;
    // Probe at least once, and for as long as the add runs.
    do {
      const s = performance.now();
      await b.execute('query-version', undefined, undefined, LONG);
      const took = performance.now() - s;
      worst = Math.max(worst, took);
      probes++;
      if (took < 1) await new Promise((r) => setTimeout(r, 1));
    } while (!done);
    const r = await add;
    const addMs = performance.now() - t0;
    if ('error' in r) throw new Error(`object-add failed: ${JSON.stringify(r.error)}`);
    await a.cmd('object-del', { id: 'big' });
    return { worst, probes, addMs };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

/** The benchmark (see the module notes). */
export async function run(): Promise<BenchRow[]> {
  const peers = await startPeers(2);
  try {
    const c = await peers.tsqom.connect(0);
    await c.negotiate();
    const type = (await hasType(c, 'memory-backend-memfd'))
      ? 'memory-backend-memfd'
      : (await hasType(c, 'memory-backend-ram'))
        ? 'memory-backend-ram'
        : null;
    await c.close();
    if (!type) {
      return [
        {
          bench: 'qmp-responsiveness',
          metric: 'skipped: tsqom has no memory-backend-memfd/-ram yet',
          value: NaN,
          unit: 'ms',
        },
      ];
    }
    const t = await probe(peers.tsqom, type);
    const q = await probe(peers.qemu, type);
    return [
      {
        bench: 'qmp-responsiveness',
        metric: `slowest query-version during 2G prealloc ${type} (${t.probes} probes, add ${t.addMs.toFixed(0)} ms)`,
        value: t.worst,
        unit: 'ms',
        reference: q.worst,
        referenceName: `QEMU 7.2 (${q.probes} probes, add ${q.addMs.toFixed(0)} ms)`,
        ratio: q.worst / t.worst,
        goal: `< ${GOAL_MS} ms`,
        met: t.worst < GOAL_MS,
      },
    ];
  } finally {
    await Promise.all([peers.tsqom.stop(), peers.qemu.stop()]);
  }
}
