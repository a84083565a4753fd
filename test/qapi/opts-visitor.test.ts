import test from 'ava';
import { optsVisit } from '../../src/qapi/opts-visitor.js';
import { QemuOptsList } from '../../src/util/qemu-option.js';
import type { QapiFlatUnion, QapiMembers } from '../../src/qapi/qapi.js';

// The shape of QEMU's ObjectOptions for one memory backend, enough to check
// the visitor's rules; the real schema comes from src/backends.
const backend: QapiMembers = {
  '*dump': 'bool',
  '*host-nodes': ['uint16'],
  '*merge': 'bool',
  '*policy': { enum: ['default', 'preferred', 'bind', 'interleave'] },
  '*prealloc': 'bool',
  '*prealloc-threads': 'uint32',
  '*share': 'bool',
  '*reserve': 'bool',
  size: 'size',
};
const objectOptions: QapiFlatUnion = {
  base: { 'qom-type': { enum: ['memory-backend-ram'] }, id: 'str' },
  discriminator: 'qom-type',
  branches: (tag) => (tag === 'memory-backend-ram' ? backend : undefined),
};
const visit = (s: string) =>
  optsVisit(objectOptions, new QemuOptsList('object', 'qom-type').parse(s));

test('typed values in schema order; the last of repeated scalars wins', (t) => {
  t.deepEqual(
    visit('memory-backend-ram,id=m,size=1M,share=on,merge=on,merge=off,prealloc-threads=0x2'),
    {
      'qom-type': 'memory-backend-ram',
      id: 'm',
      merge: false,
      'prealloc-threads': 2,
      share: true,
      size: 1048576,
    },
  );
});

test('integer lists from repeated keys and a-b ranges', (t) => {
  t.deepEqual(
    visit('memory-backend-ram,id=m,size=1,host-nodes=0-2,host-nodes=5')['host-nodes'],
    [0, 1, 2, 5],
  );
  t.throws(() => visit('memory-backend-ram,id=m,size=1,host-nodes=2-1'), {
    message: "Parameter 'host-nodes' expects a uint64 value or range",
  });
  t.throws(() => visit('memory-backend-ram,id=m,size=1,host-nodes=0-65536'), {
    message: "Parameter 'host-nodes' expects a uint64 value or range",
  });
  t.throws(() => visit('memory-backend-ram,id=m,size=1,host-nodes=65536'), {
    message: "Parameter 'host-nodes' expects uint16_t",
  });
});

test("QEMU 7.2's texts for -object errors (observed)", (t) => {
  const cases: Array<[string, string]> = [
    ['memory-backend-ram,id=x', "Parameter 'size' is missing"],
    ['memory-backend-ram,id=x,size=1M,bogus=1', "Invalid parameter 'bogus'"],
    ['memory-backend-ram,id=x,size=1Q', "Parameter 'size' expects a size value"],
    ['memory-backend-ram,id=x,size=-1', "Parameter 'size' expects a size value"],
    ['id=x', "Parameter 'qom-type' is missing"],
    ['nosuch,id=x', "Parameter 'qom-type' does not accept value 'nosuch'"],
    [',id=x', "Parameter 'qom-type' does not accept value ''"],
    ['memory-backend-ram,size=1M', "Parameter 'id' is missing"],
    ['memory-backend-ram,id=x,size=1M,share=maybe', "Parameter 'share' expects 'on' or 'off'"],
    [
      'memory-backend-ram,id=x,size=1M,policy=nope',
      "Parameter 'policy' does not accept value 'nope'",
    ],
    ['memory-backend-ram,id=x,a.b=1,a=2', "Parameter 'size' is missing"],
    ['memory-backend-ram,id=x,size=1M,x.1=2', "Invalid parameter 'x.1'"],
    [
      'memory-backend-ram,id=x,size=1M,prealloc-threads=4294967296',
      "Parameter 'prealloc-threads' expects uint32_t",
    ],
    [
      'memory-backend-ram,id=x,size=1M,prealloc-threads=1x',
      "Parameter 'prealloc-threads' expects a uint64 value",
    ],
  ];
  for (const [input, message] of cases) t.throws(() => visit(input), { message }, input);
});

test('short-form booleans become on/off values', (t) => {
  const v = visit('memory-backend-ram,id=x,size=1M,noshare,merge');
  t.is(v.share, false);
  t.is(v.merge, true);
});

test('sizes keep 64-bit precision; 2^64 does not fit', (t) => {
  t.is(visit('memory-backend-ram,id=x,size=18446744073709551615').size, 18446744073709551615n);
  t.is(visit('memory-backend-ram,id=x,size=1T').size, 1099511627776);
  t.is(visit('memory-backend-ram,id=x,size=15E').size, 15n << 60n);
  t.throws(() => visit('memory-backend-ram,id=x,size=16E'), {
    message: "Parameter 'size' expects a size value",
  });
});
