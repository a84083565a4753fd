/**
 * `-object` and `-device` in JSON form with bad input, against QEMU 7.2:
 * the same exit status and the same text, option location included, and
 * trailing text after the JSON value refused as QEMU refuses it.
 */
import test from 'ava';
import { runBriefly as run } from '../helpers/cli/differential.js';

const RAM = '"qom-type":"memory-backend-ram","id":"m"';

const bad: string[][] = [
  ['-object', `{${RAM},"size":1048576} x`],
  ['-object', `{${RAM},"size":1048576}}`],
  ['-object', `{${RAM},"size":1048576} "`],
  ['-object', `{'qom-type':'memory-backend-ram','id':'m','size':1} x`],
  ['-object', `{${RAM}`],
  ['-object', '{'],
  ['-object', `{${RAM},"size":1,"size":2}`],
  ['-object', '{}'],
  ['-object', '{"id":"m"}'],
  ['-object', '{"qom-type":"nosuch","id":"m"}'],
  ['-object', '{"qom-type":1,"id":"m"}'],
  ['-object', `{${RAM}}`],
  ['-object', `{${RAM},"size":"x"}`],
  ['-object', `{${RAM},"size":1048576,"bogus":1}`],
  ['-object', `{${RAM},"size":1048576,"prealloc":"on"}`],
  // Checked when the object is created, after parsing: no location.
  ['-object', '{"qom-type":"memory-backend-ram","id":"1m","size":1}'],
  // thread-context on this host: affinity errors come at completion.
  ['-object', 'thread-context,id=t,cpu-affinity=4000'],
  ['-object', 'thread-context,id=t,node-affinity=9'],
  ['-object', 'thread-context,id=t,cpu-affinity=0,node-affinity=0'],
  ['-object', '{"qom-type":"thread-context","id":"t","cpu-affinity":[4000]}'],
  ['-object', '{"qom-type":"thread-context","id":"t","cpu-affinity":9}'],
  ['-device', '{"driver":"nosuch"} x'],
  ['-device', '{"driver":"nosuch"}'],
];

test('bad JSON options fail with QEMU 7.2 text and location', async (t) => {
  // A few at a time: each tsqom is a Node.js start-up.
  const results = [];
  for (let i = 0; i < bad.length; i += 6) {
    results.push(
      ...(await Promise.all(
        bad.slice(i, i + 6).map(async (args) => {
          const [q, s] = await Promise.all([run('qemu', args), run('tsqom', args, 10000)]);
          return { args, q, s };
        }),
      )),
    );
  }
  for (const { args, q, s } of results) {
    t.is(q.code, 1, `QEMU: ${args.join(' ')}`);
    t.is(s.code, q.code, args.join(' '));
    t.is(s.stderr, q.stderr, args.join(' '));
  }
});

test('accepted as in QEMU 7.2: white space after JSON, thread-context affinities', async (t) => {
  const cases = [
    ['-object', `{${RAM},"size":1048576} \n\t`],
    ['-object', 'thread-context,id=t,cpu-affinity=0-1'],
    ['-object', 'thread-context,id=t,node-affinity=0'],
  ];
  const runs = await Promise.all(
    cases.map((args) => Promise.all([run('qemu', args, 2500), run('tsqom', args, 4000)])),
  );
  for (const [q, s] of runs) {
    t.true(q.running, q.stderr);
    t.true(s.running, s.stderr);
    t.is(s.stderr, q.stderr);
  }
});
