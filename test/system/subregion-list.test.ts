import test from 'ava';
import { SubregionList } from '../../src/system/subregion-list.js';

interface R {
  name: string;
  priority: number;
}

// QEMU's algorithm over a plain array, as the model: insert before the first
// region whose priority is lower or equal.
function modelInsert(list: R[], r: R): void {
  const at = list.findIndex((o) => r.priority >= o.priority);
  if (at < 0) list.push(r);
  else list.splice(at, 0, r);
}

test('keeps QEMU order: higher priority first, the newest first among equals', (t) => {
  const l = new SubregionList<R>();
  const mk = (name: string, priority: number): R => ({ name, priority });
  const a = mk('a', 0);
  const b = mk('b', 0);
  const c = mk('c', 2);
  const d = mk('d', -1);
  const e = mk('e', 2);
  for (const r of [a, b, c, d, e]) l.insert(r, r.priority);
  t.deepEqual(
    l.toArray().map((r) => r.name),
    ['e', 'c', 'b', 'a', 'd'],
  );
  t.is(l.at(0), e);
  t.is(l.at(-1), d);
  t.is(l.at(2), b);
  t.is(l.at(5), undefined);
  t.true(l.remove(c));
  t.false(l.remove(c));
  t.deepEqual(
    l.toArray().map((r) => r.name),
    ['e', 'b', 'a', 'd'],
  );
  t.throws(() => l.insert(a, 0), { message: 'subregion already listed' });
});

test('matches the array model under random inserts and removes', (t) => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const l = new SubregionList<R>();
  const model: R[] = [];
  for (let i = 0; i < 5000; i++) {
    if (model.length > 0 && rand(3) === 0) {
      const victim = model[rand(model.length)];
      model.splice(model.indexOf(victim), 1);
      l.remove(victim);
    } else {
      const r = { name: `r${i}`, priority: rand(5) - 2 };
      modelInsert(model, r);
      l.insert(r, r.priority);
    }
  }
  t.is(l.length, model.length);
  t.deepEqual(l.toArray(), model);
});

test('iteration survives removing the current item', (t) => {
  const l = new SubregionList<R>();
  const rs = [0, 1, 2, 3].map((i) => ({ name: `${i}`, priority: 0 }));
  for (const r of rs) l.insert(r, 0);
  const seen: string[] = [];
  for (const r of l) {
    seen.push(r.name);
    l.remove(r);
  }
  t.deepEqual(seen, ['3', '2', '1', '0']);
  t.is(l.length, 0);
});
