/**
 * QMP protocol, differential: the same bytes to QEMU 7.2 and to tsqom,
 * the same replies back (version and timestamps masked).
 */
import test from 'ava';
import net from 'node:net';
import {
  type QemuInstance,
  type TsqomInstance,
  startQemu,
  startTsqom,
} from '../helpers/qemu/qemu.js';
import { exchange, normalizeLine, normalizePretty, onBoth, prng } from '../helpers/qemu/compare.js';
import type { QmpClient } from '../helpers/qemu/qmp-client.js';
import type { JsonObject } from '../../src/qobject/qobject.js';

let qemu: QemuInstance;
let tsqom: TsqomInstance;

test.before(async () => {
  [qemu, tsqom] = await Promise.all([startQemu(), startTsqom()]);
});

test.after.always(async () => {
  await Promise.all([qemu?.stop(), tsqom?.stop()]);
});

const negotiated = async (c: QmpClient): Promise<QmpClient> => {
  await c.negotiate();
  return c;
};

/** Inputs and what kind of trouble they are; each goes to both peers. */
const MALFORMED: Array<string | number[]> = [
  // Framing and syntax.
  '}',
  ']\n',
  ':',
  '{"execute":"query-version",}',
  '{"execute" "query-version"}',
  '{"execute":"query-version"]',
  '[1 2]',
  '{1:2}',
  '{"execute":"query-version","id":tru}',
  '{"execute":"query-version","id":True}',
  '{"execute":"query-version","id":01}',
  '{"execute":"query-version","id":-}',
  '{"execute":"query-version","id":1.}',
  '{"execute":"query-version","id":1.5e}',
  '{"execute":"query-version","id":%d}',
  '[[[]]]x{"execute":"query-version"}',
  'abc{"execute":"query-version"}',
  '{"execute":"query-version","execute":"query-version"}',
  // Not a command.
  '[1]',
  '"hello"',
  '42 ',
  'null ',
  '{}',
  '{"foo":1}',
  '{"id":1}',
  '{"execute":1}',
  '{"execute":"query-version","arguments":[]}',
  '{"execute":"query-version","arguments":null}',
  '{"exec-oob":"query-version"}',
  '{"execute":"query-version","exec-oob":"query-version"}',
  '{"execute":"query-version","foo":1,"bar":2,"baz":3}',
  // Commands and arguments.
  '{"execute":"nosuch","id":"x"}',
  '{"execute":"query-version","arguments":{"x":1}}',
  '{"execute":"query-version","arguments":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}}',
  '{"execute":"human-monitor-command","arguments":{}}',
  '{"execute":"human-monitor-command","arguments":{"command-line":1}}',
  '{"execute":"human-monitor-command","arguments":{"command-line":"info","cpu-index":"x"}}',
  '{"execute":"human-monitor-command","arguments":{"command-line":"info","cpu-index":1.0}}',
  '{"execute":"human-monitor-command","arguments":{"command-line":"info","cpu-index":0}}',
  '{"execute":"qmp_capabilities","id":"again"}',
  // Invalid UTF-8 and strange strings.
  [0xff],
  [0xfe],
  [0x00],
  [0x22, 0x61, 0x00, 0x22],
  [0x22, 0xc3, 0x22],
  [0x22, 0xc3, 0x28, 0x22],
  [0x22, 0xed, 0xa0, 0x80, 0x22],
  [0x22, 0xf8, 0x88, 0x80, 0x80, 0x80, 0x22],
  [0x22, 0xc0, 0xaf, 0x22],
  [0x22, 0xef, 0xbf, 0xbf, 0x22],
  [0x7b, 0x22, 0xe2, 0x82, 0x27, 0x7d],
  '"\\ud800"',
  '"\\ud83d\\ud000"',
  '"\\u12"',
  '"\\x"',
  '"a\x01b"',
  '"\\uFDD0"',
  'a'.repeat(1100) + ' ',
];

const ID_ECHO = [
  '1',
  '-1',
  '"s"',
  "'sq'",
  '{"a":[1,2.5,"x",null,true,{}]}',
  '[]',
  'null',
  'false',
  '1.0',
  '1e17',
  '1E+2',
  '0.1',
  '-0',
  '-0.0',
  '100000000000000000',
  '9223372036854775807',
  '-9223372036854775808',
  '18446744073709551615',
  '18446744073709551616',
  '-9223372036854775809',
  '1e400',
  '-1e400',
  '5e-324',
  '"\\u0000\\u00e9\\ud83d\\ude00\x7f\\/"',
  '"\xc3\xa9\xe2\x82\xac"',
  '{"\\u0000":1,"z":2,"id":3,"return":4}',
];

test.serial('greeting: same structure, capabilities ["oob"]', async (t) => {
  const [gq, gt] = await onBoth(qemu, tsqom, async (c) => c.greetingLine);
  t.is(normalizeLine(gt), normalizeLine(gq));
  t.is(normalizeLine(gq), '{"QMP": {"version": <version>, "capabilities": ["oob"]}}');
  const [vq, vt] = await onBoth(qemu, tsqom, async (c) => c.greeting);
  const v = ((vt.QMP as JsonObject).version as JsonObject).qemu as JsonObject;
  t.deepEqual(
    Object.keys(v).sort(),
    Object.keys(((vq.QMP as JsonObject).version as JsonObject).qemu as JsonObject).sort(),
  );
  t.regex(String(((vt.QMP as JsonObject).version as JsonObject).package), /tsqom/);
});

test.serial('capability negotiation', async (t) => {
  const script = async (c: QmpClient): Promise<string[]> => {
    const out: string[] = [];
    const step = async (s: string): Promise<void> => {
      out.push(...(await exchange(c, s)));
    };
    await step('{"execute":"query-version","id":1}');
    await step('{"execute":"nosuch"}');
    await step('{"exec-oob":"query-version"}');
    await step('{"execute":"qmp_capabilities","arguments":{"enable":["foo"]}}');
    await step('{"execute":"qmp_capabilities","arguments":{"enable":"oob"}}');
    await step('{"execute":"qmp_capabilities","arguments":{"enable":[1]}}');
    await step('{"execute":"qmp_capabilities","arguments":{"bogus":1}}');
    await step('{"execute":"qmp_capabilities","arguments":{"enable":["oob"]},"id":"neg"}');
    await step('{"execute":"qmp_capabilities"}');
    await step('{"exec-oob":"query-version","id":"o1"}');
    await step('{"exec-oob":"nosuch","id":"o2"}');
    await step('{"execute":"query-version","exec-oob":"query-version"}');
    await step('{"exec-oob":"query-version","execute":"query-version"}');
    await step('{"exec-oob":"qmp_capabilities"}');
    await step('{"exec-oob":1}');
    await step('{"execute":"query-version","id":2}');
    return out;
  };
  const [q, ts] = await onBoth(qemu, tsqom, script);
  t.deepEqual(ts, q);
  t.true(q.some((l) => l.includes("Expecting capabilities negotiation with 'qmp_capabilities'")));
  t.true(
    q.some((l) => l.includes('Capabilities negotiation is already complete, command ignored')),
  );
});

test.serial('malformed input: one reply per message, QEMU text for each', async (t) => {
  const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
    await negotiated(c);
    const all: string[][] = [];
    for (const m of MALFORMED)
      all.push(await exchange(c, typeof m === 'string' ? m : Uint8Array.from(m)));
    return all;
  });
  MALFORMED.forEach((m, i) => t.deepEqual(ts[i], q[i], JSON.stringify(m)));
  t.true(q.flat().some((l) => l.includes('QMP input must be a JSON object')));
  t.true(q.flat().some((l) => l.includes("QMP input lacks member 'execute'")));
});

test.serial('id is echoed verbatim whatever its type', async (t) => {
  const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
    await negotiated(c);
    const all: string[][] = [];
    for (const id of ID_ECHO) {
      all.push(await exchange(c, `{"execute":"query-version","id":${id}}`));
      all.push(await exchange(c, `{"execute":"nosuch","id":${id}}`));
    }
    return all;
  });
  t.deepEqual(ts, q);
  t.true(q.flat().includes('{"return": <version>, "id": 1e+17}'));
  t.true(q.flat().includes('{"return": <version>, "id": inf}'));
});

test.serial('input split across reads, down to single bytes', async (t) => {
  const inputs = [
    '{"execute":"query-version","id":[1,"two",{"3":4.5}]}',
    '{"execute":"query-version","id":"\\ud83d\\ude00"}{"execute":"nosuch"}',
    '{"execute":"query-version","id":True}',
    '12 ["x"] {"foo":1}',
    '{"execute":"query-version","id":"\xc3\xa9"}',
  ];
  const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
    await negotiated(c);
    const all: string[][] = [];
    for (const s of inputs) all.push(await exchange(c, s, true));
    return all;
  });
  t.deepEqual(ts, q);
  t.is(q[0][0], '{"return": <version>, "id": [1, "two", {"3": 4.5}]}');
});

test.serial('nesting limit', async (t) => {
  const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
    await negotiated(c);
    return [
      await exchange(c, '['.repeat(1024) + ']'.repeat(1024)),
      await exchange(c, '{"a":'.repeat(1025) + '1' + '}'.repeat(1025)),
    ];
  });
  t.deepEqual(ts, q);
  t.is(
    q[1][0],
    '{"error": {"class": "GenericError", "desc": "JSON nesting depth limit exceeded"}}',
  );
});

function randomInput(rnd: () => number): Buffer {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
  const atoms = [
    '"execute"',
    '"query-version"',
    '"arguments"',
    '"id"',
    "'sq'",
    '1',
    '-0',
    '1.5',
    '1e5',
    '0.0',
    '18446744073709551616',
    'true',
    'null',
    'nul',
    '"\\u0041"',
    '"\\ud83d\\ude00"',
    '"\\uFFFF"',
    '"\\u0000"',
    '"exec-oob"',
    '"qmp_capabilities"',
    '"enable"',
    '["oob"]',
    '"human-monitor-command"',
    '"command-line"',
  ];
  const val = (d: number): string => {
    const r = rnd();
    if (d > 3 || r < 0.5) return pick(atoms);
    const n = Math.floor(rnd() * 4);
    const m: string[] = [];
    if (r < 0.75) {
      for (let i = 0; i < n; i++)
        m.push(`${pick(atoms.filter((a) => a.startsWith('"')))}:${val(d + 1)}`);
      return `{${m.join(',')}}`;
    }
    for (let i = 0; i < n; i++) m.push(val(d + 1));
    return `[${m.join(',')}]`;
  };
  const req = (): string =>
    rnd() < 0.4
      ? `{"execute":${pick(['"query-version"', '"qmp_capabilities"', '"nosuch"', '1'])}${rnd() < 0.5 ? ',"id":' + val(2) : ''}${rnd() < 0.3 ? ',"arguments":' + val(1) : ''}}`
      : val(0);
  const bytes = [
    0x00, 0x09, 0x0a, 0x22, 0x27, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x25, 0x7f, 0x80, 0xc0,
    0xc3, 0xe2, 0xed, 0xa0, 0xf0, 0xfe, 0xff, 0x61, 0x30, 0x2d, 0x2e,
  ];
  const parts: Buffer[] = [];
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) {
    const b = [...Buffer.from(req())];
    if (rnd() < 0.6) {
      for (let i = Math.floor(rnd() * 4); i > 0; i--) {
        const pos = Math.floor(rnd() * (b.length + 1));
        const op = rnd();
        if (op < 0.4) b.splice(pos, 0, pick(bytes));
        else if (op < 0.7) b.splice(pos, 1);
        else if (pos < b.length) b[pos] = pick(bytes);
      }
    }
    parts.push(Buffer.from(b));
  }
  return Buffer.concat(parts);
}

test.serial('differential fuzz: random and mutated requests', async (t) => {
  const rnd = prng(20250101);
  const inputs = Array.from({ length: 250 }, () => randomInput(rnd));
  const [q, ts] = await onBoth(qemu, tsqom, async (c) => {
    await negotiated(c);
    const all: string[][] = [];
    for (const inp of inputs) all.push(await exchange(c, inp));
    return all;
  });
  let same = 0;
  inputs.forEach((inp, i) => {
    t.deepEqual(ts[i], q[i], JSON.stringify(inp.toString('latin1')));
    if (JSON.stringify(ts[i]) === JSON.stringify(q[i])) same++;
  });
  t.is(same, inputs.length);
});

test.serial('pretty output, byte for byte', async (t) => {
  const [pq, pt] = await Promise.all([startQemu({ pretty: true }), startTsqom({ pretty: true })]);
  try {
    const grab = async (path: string): Promise<string> => {
      const s = net.createConnection(path);
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString('latin1')));
      const expect = (n: number): Promise<void> =>
        new Promise((resolve, reject) => {
          const deadline = Date.now() + 5000;
          const poll = (): void => {
            if ((data.match(/\r\n}\r\n/g) ?? []).length >= n) resolve();
            else if (Date.now() > deadline) reject(new Error('timeout'));
            else setTimeout(poll, 5);
          };
          poll();
        });
      await expect(1);
      s.write(
        '{"execute":"qmp_capabilities"}{"execute":"query-version","id":[1,{}]}{"execute":"nosuch","id":{"a":[]}}',
      );
      await expect(4);
      s.destroy();
      return data;
    };
    const [dq, dt] = [await grab(pq.sockets[0]), await grab(pt.sockets[0])];
    t.is(normalizePretty(dt), normalizePretty(dq));
    t.true(dq.includes('{\r\n    "return": {\r\n    }\r\n}\r\n'));
  } finally {
    await Promise.all([pq.stop(), pt.stop()]);
  }
});

test.serial('quit: SHUTDOWN event first, then the reply, then the connection closes', async (t) => {
  const [q2, t2] = await Promise.all([
    startQemu({ monitors: 2 }),
    startTsqom({ monitors: 2, onShutdown: undefined }),
  ]);
  try {
    const run = async (peer: typeof q2 | typeof t2): Promise<{ a: string[]; b: string[] }> => {
      const a = await peer.connect(0);
      const b = await peer.connect(1);
      await a.negotiate();
      // b stays in negotiation mode: it gets no events.
      a.sendRaw('{"execute":"quit","id":"bye"}');
      const la: string[] = [];
      for (;;) {
        try {
          la.push(normalizeLine(await a.readLine()));
        } catch {
          break;
        }
      }
      const lb: string[] = [];
      for (;;) {
        try {
          lb.push(normalizeLine(await b.readLine()));
        } catch {
          break;
        }
      }
      await Promise.all([a.close(), b.close()]);
      return { a: la, b: lb };
    };
    const [rq, rt] = [await run(q2), await run(t2)];
    t.deepEqual(rt, rq);
    t.deepEqual(rq.a, [
      '{"timestamp": <time>, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}',
      '{"return": {}, "id": "bye"}',
    ]);
  } finally {
    await Promise.all([q2.stop(), t2.stop()]);
  }
});
