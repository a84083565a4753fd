/**
 * Helpers for differential tests: run the same exchange against QEMU and
 * tsqom and compare what came back, with the parts that legitimately
 * differ (version, timestamps) masked.
 */
import type { QmpClient } from './qmp-client.js';
import type { QmpPeer } from './qemu.js';

/** Masks the version object and event timestamps in a raw reply line. */
export function normalizeLine(line: string): string {
  return line
    .replace(
      /\{"qemu": \{"micro": \d+, "minor": \d+, "major": \d+\}, "package": "(?:[^"\\]|\\.)*"\}/g,
      '<version>',
    )
    .replace(/"timestamp": \{"seconds": \d+, "microseconds": \d+\}/g, '"timestamp": <time>');
}

/** Masks version and timestamps in pretty output. */
export function normalizePretty(text: string): string {
  return text
    .replace(/"micro": \d+/g, '"micro": N')
    .replace(/"minor": \d+/g, '"minor": N')
    .replace(/"major": \d+/g, '"major": N')
    .replace(/"package": "(?:[^"\\]|\\.)*"/g, '"package": P')
    .replace(/"seconds": \d+/g, '"seconds": N')
    .replace(/"microseconds": \d+/g, '"microseconds": N');
}

/** Connects to both peers, runs `fn` on each, closes, and returns both results. */
export async function onBoth<T>(
  a: QmpPeer,
  b: QmpPeer,
  fn: (c: QmpClient, peer: QmpPeer) => Promise<T>,
  monitor = 0,
): Promise<[T, T]> {
  const [ca, cb] = await Promise.all([a.connect(monitor), b.connect(monitor)]);
  try {
    return await Promise.all([fn(ca, a), fn(cb, b)]);
  } finally {
    await Promise.all([ca.close(), cb.close()]);
  }
}

/** Sends raw input, then {@link QmpClient.sync}s; returns the normalised reply lines. */
export async function exchange(
  c: QmpClient,
  input: string | Uint8Array,
  byteByByte = false,
): Promise<string[]> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (byteByByte) await c.sendChunks([...bytes].map((x) => Uint8Array.of(x)));
  else c.sendRaw(bytes);
  return (await c.sync()).map(normalizeLine);
}

/** A small deterministic PRNG (xorshift32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}
