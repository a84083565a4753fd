import test from 'ava';
import { ESLint } from 'eslint';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/lint -> the repository root
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function lint(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [res] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (res?.messages ?? []).filter((m) => m.ruleId === 'tsqom/layers').map((m) => m.message);
}

test('an upward import fails the lint', async (t) => {
  const msgs = await lint('src/qom/fixture-upward.ts', "export * from '../monitor/index.js';\n");
  t.is(msgs.length, 1);
  t.regex(msgs[0]!, /'qom' \(layer 2\) may not import '\.\.\/monitor\/index\.js' from 'monitor'/);
});

test('a dynamic upward import fails too', async (t) => {
  const msgs = await lint(
    'src/system/fixture-dyn.ts',
    "export async function f(): Promise<unknown> { return import('../hw/core/index.js'); }\n",
  );
  t.is(msgs.length, 1);
});

test('downward and peer imports pass', async (t) => {
  t.deepEqual(await lint('src/monitor/fixture-down.ts', "export * from '../qom/index.js';\n"), []);
  t.deepEqual(
    await lint('src/qapi/fixture-peer.ts', "export * from '../qobject/qobject.js';\n"),
    [],
  );
  t.deepEqual(await lint('src/hw/misc/fixture-hw.ts', "export * from '../core/qdev.js';\n"), []);
});

test('a layer below cli may not reach the package root', async (t) => {
  const msgs = await lint('src/cli/fixture-root.ts', "import '../index.js';\n");
  t.is(msgs.length, 1);
});

test('the source tree itself has no upward import', async (t) => {
  const eslint = new ESLint({ cwd: root });
  const results = await eslint.lintFiles(['src/**/*.ts']);
  const bad = results.flatMap((r) =>
    r.messages.filter((m) => m.ruleId === 'tsqom/layers').map((m) => `${r.filePath}: ${m.message}`),
  );
  t.deepEqual(bad, []);
});
