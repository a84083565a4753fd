/**
 * query-qmp-schema, differential against QEMU 7.2: the reply has QEMU's
 * shape (masked type names numbered by first use, builtins, arrays), lists
 * exactly the commands tsqom answers, and each command and event has the
 * same argument and return types as QEMU describes, compared structurally.
 */
import test from 'ava';
import type { JsonObject, JsonValue } from '../../src/qobject/qobject.js';
import '../../src/monitor/qmp-cmds.js';
import { qmpCommands } from '../../src/monitor/qmp-dispatch.js';
import {
  type QemuInstance,
  type TsqomInstance,
  startQemu,
  startTsqom,
} from '../helpers/qemu/qemu.js';

let qemu: QemuInstance;
let tsqom: TsqomInstance;
let qs: JsonObject[];
let ts: JsonObject[];

test.before(async () => {
  [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
  const [cq, ct] = await Promise.all([qemu.connect(), tsqom.connect()]);
  await Promise.all([cq.negotiate(), ct.negotiate()]);
  qs = (await cq.cmd('query-qmp-schema')) as JsonObject[];
  ts = (await ct.cmd('query-qmp-schema')) as JsonObject[];
  await Promise.all([cq.close(), ct.close()]);
});

test.after.always(async () => {
  await Promise.all([qemu?.stop(), tsqom?.stop()]);
});

/** Expands a type reference into a name-free tree (cycles cut at depth). */
function expand(schema: Map<string, JsonObject>, ref: string, depth = 0): JsonValue {
  if (depth > 12) return '...';
  const t = schema.get(ref);
  if (!t) return `missing:${ref}`;
  const mt = t['meta-type'] as string;
  if (mt === 'builtin') return ref;
  if (mt === 'array') return [expand(schema, t['element-type'] as string, depth + 1)];
  if (mt === 'enum') return { enum: t.members as JsonValue };
  if (mt === 'alternate')
    return {
      alternate: (t.members as JsonObject[]).map((m) =>
        expand(schema, m.type as string, depth + 1),
      ),
    };
  const o: JsonObject = {
    members: (t.members as JsonObject[]).map((m) => ({
      name: m.name as string,
      optional: 'default' in m,
      type: expand(schema, m.type as string, depth + 1),
    })),
  };
  if (t.tag !== undefined) {
    o.tag = t.tag as string;
    o.variants = (t.variants as JsonObject[]).map((v) => ({
      case: v.case as string,
      type: expand(schema, v.type as string, depth + 1),
    }));
  }
  return o;
}

const byName = (s: JsonObject[]): Map<string, JsonObject> =>
  new Map(s.map((e) => [e.name as string, e]));

test('the schema lists exactly the commands tsqom answers', (t) => {
  const cmds = ts.filter((e) => e['meta-type'] === 'command').map((e) => e.name as string);
  const served = qmpCommands
    .list()
    .filter((c) => c.enabled !== false)
    .map((c) => c.name);
  t.deepEqual([...cmds].sort(), [...served].sort());
  t.true(cmds.includes('query-qmp-schema'));
});

test("QEMU's shape: masked names numbered from 0 by first use, builtins, arrays", (t) => {
  const first = ts.find((e) => e['meta-type'] === 'command')!;
  t.regex(first['arg-type'] as string, /^\d+$/);
  const names = ts.filter((e) => /^\d+$/.test(e.name as string)).map((e) => Number(e.name));
  t.deepEqual(
    names,
    names
      .map((_, i) => i)
      .sort((a, b) => a - b)
      .filter((n) => names.includes(n)),
  );
  t.true(new Set(names).size === names.length);
  t.deepEqual(
    ts.find((e) => e.name === 'str'),
    { name: 'str', 'json-type': 'string', 'meta-type': 'builtin' },
  );
  for (const e of ts) {
    if (e['meta-type'] === 'array') t.is(e.name, `[${e['element-type'] as string}]`);
  }
  // Every referenced type is defined.
  const s = byName(ts);
  for (const e of ts)
    for (const k of ['arg-type', 'ret-type', 'element-type'])
      if (typeof e[k] === 'string') t.true(s.has(e[k] as string), `${e.name as string}.${k}`);
});

test('every command and event has the argument and return types QEMU describes', (t) => {
  const q = byName(qs);
  const s = byName(ts);
  for (const e of ts) {
    const mt = e['meta-type'];
    if (mt !== 'command' && mt !== 'event') continue;
    const qe = q.get(e.name as string);
    t.truthy(qe, e.name as string);
    if (!qe) continue;
    t.is(qe['allow-oob'], e['allow-oob'], `${e.name as string} allow-oob`);
    for (const k of ['arg-type', 'ret-type']) {
      if (e[k] === undefined) continue;
      let want = expand(q, qe[k] as string);
      const got = expand(s, e[k] as string);
      if (e.name === 'object-add' && k === 'arg-type') {
        // tsqom's ObjectOptions: the branches of the QOM types it has.
        const w = want as JsonObject;
        const cases = new Set(((got as JsonObject).variants as JsonObject[]).map((v) => v.case));
        want = {
          ...w,
          variants: (w.variants as JsonObject[]).filter((v) => cases.has(v.case)),
          members: (w.members as JsonObject[]).map((m) =>
            m.name === 'qom-type'
              ? {
                  ...m,
                  type: {
                    enum: ((m.type as JsonObject).enum as JsonObject[]).filter((x) =>
                      cases.has(x.name as string),
                    ),
                  },
                }
              : m,
          ),
        };
        const g = got as JsonObject;
        const gg = {
          ...g,
          variants: (g.variants as JsonObject[]).filter((v) => v.case !== 'memory-backend-shm'),
          members: (g.members as JsonObject[]).map((m) =>
            m.name === 'qom-type'
              ? {
                  ...m,
                  type: {
                    enum: ((m.type as JsonObject).enum as JsonObject[]).filter(
                      (x) => x.name !== 'memory-backend-shm',
                    ),
                  },
                }
              : m,
          ),
        };
        t.deepEqual(gg, want, `object-add ${k}`);
        continue;
      }
      t.deepEqual(got, want, `${e.name as string} ${k}`);
    }
  }
});
