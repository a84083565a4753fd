// QOM types are reached by class, never by an unchecked cast: no `as X`
// where X is a QOM instance class or class struct declared in src/, no
// `typeRegister` outside src/qom (every type uses @QomType), and no
// explicit type argument on the string forms (`objectNew<X>('name')`).
import test from 'ava';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/lint -> the repository root
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const src = path.join(root, 'src');

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const files = walk(src).map((f) => ({
  file: path.relative(root, f),
  text: readFileSync(f, 'utf8'),
}));

// Classes that are QOM types (decorated) and class structs (declared with `classType`
// or extending another *Class that ends in Class).
function qomClassNames(): Set<string> {
  const names = new Set<string>();
  for (const { text } of files) {
    for (const m of text.matchAll(/@QomType\([^)]*\)\s*\n\s*export (?:abstract )?class (\w+)/g)) {
      names.add(m[1]!);
    }
    for (const m of text.matchAll(/export class (\w+Class) extends (\w+Class)\b/g))
      names.add(m[1]!);
  }
  return names;
}

test('the scan finds the QOM classes of src/', (t) => {
  const names = qomClassNames();
  for (const n of ['HostMemoryBackendFile', 'VHostUserBase', 'VdevShmemState', 'DeviceClass']) {
    t.true(names.has(n), n);
  }
  for (const n of ['DeviceState', 'Chardev', 'SocketChardev', 'VirtioDeviceClass']) {
    t.true(names.has(n), n);
  }
});

test('no `as <QOM class>` in src/', (t) => {
  const names = qomClassNames();
  const re = new RegExp(`\\bas (${[...names].join('|')})\\b`, 'g');
  const hits: string[] = [];
  for (const { file, text } of files) {
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return; // comments
      for (const m of line.matchAll(re)) hits.push(`${file}:${i + 1}: as ${m[1]}`);
    });
  }
  t.deepEqual(hits, []);
});

test('every QOM type in src/ is declared with @QomType', (t) => {
  const hits = files
    .filter(({ file }) => !file.startsWith(path.join('src', 'qom')))
    .filter(({ text }) => /\btypeRegister(Array)?\s*(<[^>]*>)?\(/.test(text))
    .map(({ file }) => file);
  t.deepEqual(hits, []);
});

test('no type argument on the string forms of creation and casts', (t) => {
  const re =
    /\b(objectNew|objectNewOwned|qdevNew|dynamicCast|objectDynamicCast|objectCheck|objectClassByName|objectNewWithProps)<\w+>\('/g;
  const hits: string[] = [];
  for (const { file, text } of files) {
    for (const m of text.matchAll(re)) hits.push(`${file}: ${m[0]}`);
  }
  t.deepEqual(hits, []);
});
