/**
 * Runs every benchmark under bench/ (each directory with an index) and prints
 * one table. `npm run bench -- NAME...` runs only the named ones.
 */
import { readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchRow } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const names = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, 'index.js')))
  .map((d) => d.name)
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();

const rows: BenchRow[] = [];
// A benchmark's stray rejection must not end the whole run.
let stray: Error | undefined;
process.on('unhandledRejection', (e) => {
  stray ??= e instanceof Error ? e : new Error(String(e));
});
for (const name of names) {
  process.stderr.write(`bench ${name}...\n`);
  stray = undefined;
  try {
    const mod = (await import(pathToFileURL(join(here, name, 'index.js')).href)) as {
      run(): Promise<BenchRow[]>;
    };
    rows.push(...(await mod.run()));
    if (stray) throw stray;
  } catch (e) {
    rows.push({ bench: name, metric: `failed: ${(e as Error).message}`, value: NaN, unit: '' });
  }
}

const fmt = (x: number | undefined): string =>
  x === undefined
    ? ''
    : Number.isFinite(x)
      ? Math.abs(x) >= 100
        ? x.toFixed(0)
        : x.toPrecision(3)
      : String(x);
const table = rows.map((r) => [
  r.bench,
  r.metric,
  `${fmt(r.value)} ${r.unit}`.trim(),
  r.reference === undefined ? '' : `${fmt(r.reference)} (${r.referenceName ?? 'reference'})`,
  fmt(r.ratio),
  r.goal ?? '',
  r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
]);
const head = ['bench', 'metric', 'tsqom', 'reference', 'ratio', 'goal', ''];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]): string =>
  cells
    .map((c, i) => c.padEnd(widths[i]))
    .join('  ')
    .trimEnd();
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of table) console.log(line(r));
