/**
 * The package as a consumer gets it: `npm pack`'s tarball, installed into
 * a fresh TypeScript project with the strictest settings
 * (`skipLibCheck: false` included), must compile a consumer that uses the
 * prelude, every subpath, typed creation and casts; a wrong cast must be
 * a compile error; the compiled consumer and the `tsqom` bin must run.
 * No network: dependencies come from this checkout's node_modules.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  readFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
/** The checkout (this file runs from dist/test/package). */
const repo = resolve(here, '../../..');
const consumerSrc = join(repo, 'test/package/consumer');
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

function readdirSyncDeep(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? readdirSyncDeep(join(dir, d.name)) : [join(dir, d.name)],
  );
}

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023', 'ESNext.Disposable'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noImplicitOverride: true,
    skipLibCheck: false,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    rootDir: 'src',
    outDir: 'out',
    types: ['node'],
    typeRoots: [join(repo, 'node_modules/@types')],
  },
};

async function tscRun(cwd: string, project: string): Promise<{ code: number; output: string }> {
  try {
    const r = await run(process.execPath, [tsc, '-p', project], { cwd });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

test('the packed tarball installs into a strict project, compiles a consumer, refuses a wrong cast, and runs', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'tsqom-tarball-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  // Pack (dist/ is already built: ava runs from it).
  await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], {
    cwd: repo,
  });
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (tgz === undefined) throw new Error('npm pack made no tarball');
  const listing = (await run('tar', ['-tzf', join(work, tgz)])).stdout.split('\n').filter(Boolean);
  t.true(listing.includes('package/dist/src/index.d.ts'));
  t.true(listing.includes('package/binding.gyp'));
  t.true(listing.includes('package/README.md'));
  t.true(listing.some((f) => f.startsWith('package/native/')));
  t.deepEqual(
    listing.filter(
      (f) =>
        /^package\/(dist\/)?(test|bench|tools|examples|docs)\//.test(f) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    ),
    [],
  );

  // The declarations carry no TypeScript-private members (they are
  // #private, which .d.ts files do not show; private constructors stay
  // private) and no `any`.
  const dts = readdirSyncDeep(join(repo, 'dist/src')).filter((f) => f.endsWith('.d.ts'));
  const privates: string[] = [];
  const anys: string[] = [];
  for (const f of dts) {
    const lines = readFileSync(f, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const where = `${f.slice(repo.length + 1)}:${i + 1}: ${line.trim()}`;
      if (/^\s*private (?!constructor\b)/.test(line)) privates.push(where);
      const code = line.replace(/\/\*.*?\*\/|\/\/.*$|'[^']*'/g, '');
      if (!/^\s*\*/.test(line) && /\bany\b/.test(code)) anys.push(where);
    });
  }
  t.deepEqual(privates, []);
  t.deepEqual(anys, []);

  // A fresh project; the runtime dependencies are copied in so that npm
  // finds them satisfied and needs nothing from the registry.
  const app = join(work, 'app');
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  for (const dep of ['reflect-metadata', 'tsyringe', 'tslib', 'node-addon-api']) {
    cpSync(join(repo, 'node_modules', dep), join(app, 'node_modules', dep), { recursive: true });
  }
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'app',
      version: '1.0.0',
      private: true,
      type: 'module',
      dependencies: { tsqom: `file:../${tgz}` },
    }),
  );
  await run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: app,
  });
  t.true(existsSync(join(app, 'node_modules/tsqom/dist/src/index.d.ts')));

  // The consumer.
  mkdirSync(join(app, 'src'));
  for (const f of ['main.ts', 'run.ts']) copyFileSync(join(consumerSrc, f), join(app, 'src', f));
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ ...TSCONFIG, include: ['src/main.ts', 'src/run.ts'] }),
  );
  const ok = await tscRun(app, 'tsconfig.json');
  t.is(ok.code, 0, ok.output);

  // A wrong cast is a compile error, and the one expected.
  {
    copyFileSync(join(consumerSrc, 'wrong-cast.ts'), join(app, 'src/wrong-cast.ts'));
    writeFileSync(
      join(app, 'tsconfig.wrong.json'),
      JSON.stringify({
        ...TSCONFIG,
        compilerOptions: { ...TSCONFIG.compilerOptions, noEmit: true },
        include: ['src/wrong-cast.ts'],
      }),
    );
    const wrong = await tscRun(app, 'tsconfig.wrong.json');
    t.not(wrong.code, 0);
    t.regex(
      wrong.output,
      /wrong-cast\.ts\(\d+,\d+\): error TS2322: Type 'MemoryRegion \| null' is not assignable to type 'HostMemoryBackend \| null'/,
    );
    t.is(wrong.output.match(/error TS/g)?.length, 1, wrong.output);
  }

  // It runs with this checkout's native addon (the tarball's install
  // script would build it; scripts are off here).
  const addon = join(app, 'node_modules/tsqom/build/Release');
  mkdirSync(addon, { recursive: true });
  copyFileSync(join(repo, 'build/Release/tsqom_native.node'), join(addon, 'tsqom_native.node'));
  const out = await run(process.execPath, [join(app, 'out/run.js')], { cwd: app });
  const values = JSON.parse(out.stdout) as unknown[];
  t.true(values.includes('CommandNotFound'), out.stdout);
  t.is(values[1], true, 'the memfd backend has an fd');
  const version = await run(join(app, 'node_modules/.bin/tsqom'), ['--version'], { cwd: app });
  t.regex(version.stdout, /tsqom/);
});
