/**
 * The README's "Library quick start" is a program: its code blocks,
 * joined, must compile under strict settings against the package (by its
 * name, as a consumer imports it) and run, printing what the text says.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');

/** The TypeScript code blocks of one README section, in order. */
function sectionCode(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const next = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

test('the README quick start compiles and runs', async (t) => {
  const code = sectionCode(readFileSync(join(repo, 'README.md'), 'utf8'), 'Library quick start');
  t.true(code.includes("from 'tsqom'"));
  // Inside the checkout, so that 'tsqom' resolves to this package through
  // its own `exports` (self-reference), as it would from node_modules.
  const dir = mkdtempSync(join(repo, 'dist', 'readme-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'quickstart.ts'), code);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023', 'ESNext.Disposable'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        experimentalDecorators: true,
        skipLibCheck: false,
        types: ['node'],
        rootDir: '.',
        outDir: '.',
      },
      files: ['quickstart.ts'],
    }),
  );
  const tsc = join(repo, 'node_modules/typescript/bin/tsc');
  try {
    await run(process.execPath, [tsc, '-p', dir], { cwd: dir });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    t.fail(`the quick start does not compile:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    return;
  }
  const { stdout } = await run(process.execPath, [join(dir, 'quickstart.js')], { cwd: repo });
  t.regex(stdout, /^led green true$/m);
  t.regex(stdout, /^child read: hello from tsqom$/m);
  t.regex(stdout, /^size: 2097152$/m);
});
