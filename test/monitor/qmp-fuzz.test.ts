/**
 * Bounded, seeded fuzz of one tsqom QMP server: 20,000 random and
 * mutated inputs (split across reads at random, some huge, some deeply
 * nested, some with invalid UTF-8). The server must never fail, must
 * answer every message with exactly one well-formed reply, and must still
 * answer `query-version` afterwards.
 */
import test from 'ava';
import { startTsqom } from '../helpers/qemu/qemu.js';
import { prng } from '../helpers/qemu/compare.js';
import { parseLine } from '../helpers/qemu/qmp-client.js';
import { JsonMessageParser } from '../../src/qobject/json-parser.js';
import type { JsonObject } from '../../src/qobject/qobject.js';

const TOTAL = 20000;
const BATCH = 250;

function generator(seed: number): () => Buffer {
  const rnd = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
  const keys = [
    '"execute"',
    '"arguments"',
    '"id"',
    '"exec-oob"',
    "'execute'",
    '"command-line"',
    '"enable"',
    '"x"',
  ];
  const cmds = [
    '"query-version"',
    '"qmp_capabilities"',
    '"query-commands"',
    '"nosuch"',
    '"human-monitor-command"',
  ];
  const scalars = [
    '0',
    '-1',
    '1.5e300',
    '18446744073709551615',
    '18446744073709551616',
    '-0.0',
    'true',
    'false',
    'null',
    '"\\u0000"',
    '"\\ud83d\\ude00"',
    '"\\ud800"',
    '"a\\"b"',
    "'s'",
    '"help"',
    '"info"',
    '"qom-list /"',
    '["oob"]',
  ];
  const value = (d: number): string => {
    const r = rnd();
    if (d > 4 || r < 0.45) return pick([...scalars, ...cmds]);
    const n = Math.floor(rnd() * 5);
    const parts: string[] = [];
    if (r < 0.75) {
      for (let i = 0; i < n; i++) parts.push(`${pick(keys)}:${value(d + 1)}`);
      return `{${parts.join(',')}}`;
    }
    for (let i = 0; i < n; i++) parts.push(value(d + 1));
    return `[${parts.join(',')}]`;
  };
  const request = (): string => {
    const members = [`"execute":${pick(cmds)}`];
    if (rnd() < 0.5) members.push(`"id":${value(2)}`);
    if (rnd() < 0.4)
      members.push(`"arguments":${rnd() < 0.3 ? '{"command-line":"info"}' : value(1)}`);
    if (rnd() < 0.05) members.push(`${pick(keys)}:${value(2)}`);
    return `{${members.join(',')}}`;
  };
  const noise = [
    0x00, 0x01, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x25, 0x27, 0x2c, 0x3a, 0x5b, 0x5c, 0x5d, 0x7b, 0x7d,
    0x7f,
  ];
  const high = [
    0x80, 0xbf, 0xc0, 0xc1, 0xc3, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xf8, 0xfc, 0xfd, 0xfe, 0xff,
  ];
  return () => {
    const r = rnd();
    let s: string;
    if (r < 0.0005) {
      // Huge: a long string member.
      s = `{"execute":"query-version","id":"${'x'.repeat(200000 + Math.floor(rnd() * 800000))}"}`;
    } else if (r < 0.002) {
      // Deep: around the nesting limit.
      const depth = 1000 + Math.floor(rnd() * 60);
      s = '['.repeat(depth) + ']'.repeat(depth);
    } else if (r < 0.35) {
      s = request();
    } else {
      s = value(0);
    }
    const b = [...Buffer.from(s)];
    if (b.length < 5000 && rnd() < 0.5) {
      for (let i = 1 + Math.floor(rnd() * 4); i > 0; i--) {
        const pos = Math.floor(rnd() * (b.length + 1));
        const byte = rnd() < 0.5 ? pick(noise) : pick(high);
        const op = rnd();
        if (op < 0.4) b.splice(pos, 0, byte);
        else if (op < 0.7) b.splice(pos, 1);
        else if (pos < b.length) b[pos] = byte;
      }
    }
    return Buffer.from(b);
  };
}

/** How many messages (hence replies) a byte stream holds, per QMP's parser. */
function countMessages(bytes: Buffer): number {
  let n = 0;
  const p = new JsonMessageParser(() => n++);
  p.feed(bytes);
  return n;
}

const ERROR_CLASSES = new Set(['GenericError', 'CommandNotFound', 'DeviceNotFound']);

test('20,000 random inputs: one well-formed reply each, no crash', async (t) => {
  const peer = await startTsqom();
  t.teardown(() => peer.stop());
  const c = await peer.connect();
  await c.negotiate();
  const next = generator(0x5eed);
  const rnd = prng(42);
  let replies = 0;
  let errors = 0;
  const bad: string[] = [];
  for (let sent = 0; sent < TOTAL; sent += BATCH) {
    const batch = Buffer.concat(Array.from({ length: BATCH }, () => next()));
    // The 0xFF that sync() sends first always ends what is pending, so
    // the batch's own messages are those of the batch plus that byte.
    const expected = countMessages(Buffer.concat([batch, Buffer.from([0xff])])) - 1;
    const chunks: Buffer[] = [];
    for (let i = 0; i < batch.length;) {
      const n = 1 + Math.floor(rnd() * (rnd() < 0.1 ? 65536 : 64));
      chunks.push(batch.subarray(i, i + n));
      i += n;
    }
    await c.sendChunks(chunks.length > 400 ? [batch] : chunks);
    const lines = await c.sync(30000);
    t.is(lines.length, expected);
    // Checked by hand, one assertion per batch: ava's per-assertion cost
    // would dominate otherwise.
    for (const line of lines) {
      const m = parseLine(line);
      const keys = Object.keys(m).filter((k) => k !== 'id');
      const e = m.error as JsonObject | undefined;
      if (
        !/^[\x20-\x7e]*$/.test(line) ||
        keys.length !== 1 ||
        (keys[0] !== 'return' && keys[0] !== 'error') ||
        (e !== undefined &&
          (Object.keys(e).sort().join() !== 'class,desc' ||
            !ERROR_CLASSES.has(e.class as string) ||
            typeof e.desc !== 'string'))
      ) {
        bad.push(line.slice(0, 300));
      }
      if (e) errors++;
    }
    replies += lines.length;
  }
  t.deepEqual(bad, []);
  t.true(replies > TOTAL / 2);
  t.true(errors > 0 && errors < replies);
  t.truthy((await c.execute('query-version')).return);
  t.is(peer.server.monitors.length, 1);
  await c.close();
});
