/**
 * Giving memory back once a connection that made the process buffer a lot
 * has gone (a client that stopped reading its replies, a flood of input).
 *
 * What such a connection queued is freed when it closes, but two layers
 * keep the memory: V8 frees a Buffer's bytes only when a collection finds
 * the Buffer unreferenced, and an idle process may not collect for a long
 * time; glibc's allocator then keeps freed chunks that lie below its top
 * for reuse instead of returning them (measured: 4 to 12 MiB over a
 * 60 MiB process after a few non-reading QMP clients, for as long as the
 * process lives). So when a connection whose queues grew past
 * {@link MEMORY_RELEASE_THRESHOLD} closes, the process runs one full
 * collection and `malloc_trim(3)` shortly after, coalesced and at most
 * once per {@link MEMORY_RELEASE_MIN_INTERVAL_MS}, so clients coming and
 * going cannot make it spend its time collecting. QEMU has no such step:
 * its monitor stops reading sooner (it keeps one request queued), and its
 * own allocations are freed to the same allocator.
 * @module
 */
import { hostOs } from './machine-context.js';
import type { HostOs } from '../native/host.js';
import { trace } from './trace.js';

const traceMemory = trace('memory');

/** Queued bytes (input held plus output unsent, at their peak) that make a closing connection worth a release. */
export const MEMORY_RELEASE_THRESHOLD = 256 * 1024;

/** Milliseconds between the close and the release (the connection's last references go first). */
export const MEMORY_RELEASE_DELAY_MS = 50;

/** Releases are at least this many milliseconds apart. */
export const MEMORY_RELEASE_MIN_INTERVAL_MS = 1000;

let timer: NodeJS.Timeout | null = null;
let lastRelease = -Infinity;

/**
 * Tells the process that a connection closed after queueing
 * `peakQueuedBytes` at its worst; schedules a release (see the module
 * notes) when that is at least {@link MEMORY_RELEASE_THRESHOLD}. The
 * scheduled release does not keep the process alive.
 * @param os - the OS layer to release through (default: the machine context's).
 */
export function connectionReleased(peakQueuedBytes: number, os?: HostOs): void {
  if (peakQueuedBytes < MEMORY_RELEASE_THRESHOLD || timer !== null) return;
  const host = os ?? hostOs();
  const wait = Math.max(
    MEMORY_RELEASE_DELAY_MS,
    lastRelease + MEMORY_RELEASE_MIN_INTERVAL_MS - performance.now(),
  );
  timer = setTimeout(() => {
    timer = null;
    const t0 = performance.now();
    const trimmed = host.releaseFreedMemory();
    lastRelease = performance.now();
    if (traceMemory.enabled) {
      traceMemory(
        'memory_release peak=%d trimmed=%s ms=%s',
        peakQueuedBytes,
        trimmed,
        (lastRelease - t0).toFixed(1),
      );
    }
  }, wait);
  timer.unref();
}
