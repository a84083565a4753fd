/**
 * The memory release after a connection that queued a lot: the policy
 * (threshold, coalescing, spacing) with a substituted OS layer, and the
 * real native calls it makes.
 */
import 'reflect-metadata';
import test from 'ava';
import { HostOs } from '../../src/native/host.js';
import {
  MEMORY_RELEASE_DELAY_MS,
  MEMORY_RELEASE_MIN_INTERVAL_MS,
  MEMORY_RELEASE_THRESHOLD,
  connectionReleased,
} from '../../src/util/memory-release.js';

class CountingOs extends HostOs {
  releases: number[] = [];
  override releaseFreedMemory(): boolean {
    this.releases.push(performance.now());
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test.serial('a connection that queued little releases nothing', async (t) => {
  const os = new CountingOs();
  connectionReleased(MEMORY_RELEASE_THRESHOLD - 1, os);
  connectionReleased(0, os);
  await sleep(MEMORY_RELEASE_DELAY_MS * 3);
  t.deepEqual(os.releases, []);
});

test.serial('closes that come together make one release, and releases are spaced', async (t) => {
  const os = new CountingOs();
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) connectionReleased(MEMORY_RELEASE_THRESHOLD, os);
  await sleep(MEMORY_RELEASE_DELAY_MS * 3);
  t.is(os.releases.length, 1);
  t.true(os.releases[0] - t0 >= MEMORY_RELEASE_DELAY_MS - 1);
  connectionReleased(4 * MEMORY_RELEASE_THRESHOLD, os);
  await sleep(MEMORY_RELEASE_DELAY_MS * 3);
  t.is(os.releases.length, 1, 'not yet: the previous release was too recent');
  await sleep(MEMORY_RELEASE_MIN_INTERVAL_MS);
  t.is(os.releases.length, 2);
  t.true(os.releases[1] - os.releases[0] >= MEMORY_RELEASE_MIN_INTERVAL_MS - 1);
});

test.serial('a scheduled release does not keep the process alive', async (t) => {
  const os = new CountingOs();
  const timers = (): number =>
    process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  connectionReleased(MEMORY_RELEASE_THRESHOLD, os);
  t.is(timers(), before);
  await sleep(MEMORY_RELEASE_MIN_INTERVAL_MS + MEMORY_RELEASE_DELAY_MS * 3);
  t.is(os.releases.length, 1);
});

test.serial('the real release collects and trims', (t) => {
  const os = new HostOs();
  // Garbage for the collection and freed malloc memory for the trim.
  let junk: Buffer[] | null = Array.from({ length: 64 }, () => Buffer.alloc(256 * 1024, 1));
  t.is(junk.length, 64);
  junk = null;
  const t0 = performance.now();
  t.is(typeof os.releaseFreedMemory(), 'boolean');
  t.true(performance.now() - t0 < 2000);
});
