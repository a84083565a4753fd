/**
 * Memory backend properties QEMU 7.2 lacks (`offset` and `rom` of
 * memory-backend-file, from QEMU 8, and the QEMU 9.1 page-multiple size
 * check): QEMU 7.2 refuses or accepts them as measured here, tsqom keeps
 * the newer behaviour on purpose (README, "Deliberate differences").
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBriefly } from '../helpers/cli/differential.js';

test('offset and rom: QEMU 7.2 refuses them, tsqom has them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-newer-'));
  try {
    const f = join(dir, 'f');
    writeFileSync(f, Buffer.alloc(2 << 20));
    const cases = [
      `memory-backend-file,id=m,size=1M,mem-path=${f},offset=1M`,
      `memory-backend-file,id=m,size=1M,mem-path=${f},rom=on,readonly=on`,
    ];
    const runs = await Promise.all(
      cases.map((opt) =>
        Promise.all([
          runBriefly('qemu', ['-object', opt], 2500),
          runBriefly('tsqom', ['-object', opt], 4000),
        ]),
      ),
    );
    for (const [i, [q, s]] of runs.entries()) {
      const opt = cases[i];
      const prop = opt.includes('offset') ? 'offset' : 'rom';
      t.is(q.code, 1);
      t.is(q.stderr, `tsqom: -object ${opt}: Invalid parameter '${prop}'\n`);
      t.true(s.running, s.stderr);
      t.is(s.stderr, '');
    }
    // A size that is not a multiple of the page size: QEMU 7.2 maps it,
    // tsqom refuses it as QEMU 9.1 does (mbind and madvise need pages).
    const odd = `memory-backend-file,id=m,size=1000,mem-path=${f}`;
    const [q, s] = await Promise.all([
      runBriefly('qemu', ['-object', odd], 2500),
      runBriefly('tsqom', ['-object', odd], 4000),
    ]);
    t.true(q.running, q.stderr);
    t.is(s.code, 1);
    t.is(s.stderr, "tsqom: backend 'memory-backend-file' memory size must be multiple of 4 KiB\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
