/**
 * The benchmark contract: every `bench/<name>/index.ts` exports `run()`,
 * which returns rows; `bench/run.ts` prints them all as one table. Speed
 * goals are ratios against a peer or a limit measured in the same run.
 */

/** One line of the benchmark table. */
export interface BenchRow {
  /** Benchmark name, e.g. `qom`. */
  bench: string;
  /** What was measured, e.g. `create+3 props+release`. */
  metric: string;
  /** tsqom's figure. */
  value: number;
  /** Unit of `value` (and `reference`), e.g. `ops/s`. */
  unit: string;
  /** The peer's or limit's figure, measured in the same run. */
  reference?: number;
  /** What `reference` is, e.g. `plain JS class`. */
  referenceName?: string;
  /** The figure the goal is stated in: usually value/reference or its inverse. */
  ratio?: number;
  /** The goal, in words, e.g. `ratio <= 3`. */
  goal?: string;
  /** Whether the goal was met in this run. */
  met?: boolean;
}

/** Runs `fn` repeatedly for about `ms` milliseconds; returns operations per second. */
export function opsPerSecond(fn: () => void, ms = 500, batch = 100): number {
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  const start = process.hrtime.bigint();
  let n = 0;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

/** The median of some numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
