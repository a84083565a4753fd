// Runs the consumer against the installed package.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useEverything } from './main.js';

const dir = mkdtempSync(join(tmpdir(), 'tsqom-consumer-'));
try {
  const out = await useEverything(dir);
  process.stdout.write(
    `${JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
