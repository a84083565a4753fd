import test from 'ava';
import { keyvalParse } from '../../src/qapi/keyval.js';

const err = (s: string, implied: string | null = null): string => {
  try {
    keyvalParse(s, implied);
    return 'no error';
  } catch (e) {
    return (e as Error).message;
  }
};

test('keys, nesting, lists, escapes, implied key', (t) => {
  t.deepEqual(keyvalParse('a=1,b.c=2,b.d=x,,y').dict, { a: '1', b: { c: '2', d: 'x,y' } });
  t.deepEqual(keyvalParse('l.0=a,l.1=b').dict, { l: ['a', 'b'] });
  t.deepEqual(keyvalParse('l.1=b,l.0=a').dict, { l: ['a', 'b'] });
  t.deepEqual(keyvalParse('memory-backend-ram,id=m,size=1M', 'qom-type').dict, {
    'qom-type': 'memory-backend-ram',
    id: 'm',
    size: '1M',
  });
  t.deepEqual(keyvalParse('a=1,a=2').dict, { a: '2' });
  t.deepEqual(keyvalParse('a=,').dict, { a: '' });
  t.deepEqual(keyvalParse('').dict, {});
  t.deepEqual(keyvalParse('__com.redhat_x=1').dict, { '__com.redhat_x': '1' });
  t.true(keyvalParse('x,help', 'qom-type').help);
  t.true(keyvalParse('?').help);
  t.false(keyvalParse('helpme=1').help);
});

test('errors as QEMU words them', (t) => {
  t.is(err('a'), "Expected '=' after parameter 'a'");
  t.is(err('=x'), "Invalid parameter ''");
  t.is(err(','), "Invalid parameter ''");
  t.is(err('0=1'), "Invalid parameter '0'");
  t.is(err('a.b=1,a=2'), "Parameters 'a.*' used inconsistently");
  t.is(err('a=1,a.b=2'), "Parameters 'a.*' used inconsistently");
  t.is(err('a.0=1,a.x=2'), "Parameters 'a.*' used inconsistently");
  t.is(err('a.1=x'), "Parameter 'a.0' missing");
  t.is(err('a.0=x,a.2=y'), "Parameter 'a.1' missing");
  t.is(err('a..b=1'), "Invalid parameter 'a..b'");
  t.is(err('a-$=1'), "Invalid parameter 'a-$'");
  t.is(err('k'.repeat(128) + '=1'), `Parameter '${'k'.repeat(128)}' is too long`);
  t.is(err('a.' + 'k'.repeat(128) + '=1'), `Parameter fragment '${'k'.repeat(128)}' is too long`);
  t.is(err('x,y', 'qom-type'), "Expected '=' after parameter 'y'");
});
