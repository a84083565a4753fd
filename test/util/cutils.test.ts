// QEMU's number parsers (util/cutils.c), with cases from QEMU's
// tests/unit/test-cutils.c (the endptr == NULL variants).
import test from 'ava';
import {
  EINVAL,
  ERANGE,
  idWellformed,
  parseUintFull,
  qemuStrtodFinite,
  qemuStrtoi64,
  qemuStrtosz,
  qemuStrtoszMetric,
  qemuStrtoszMiB,
  qemuStrtou64,
  sizeToStr,
} from '../../src/qom/index.js';

const KiB = 1024n;
const MiB = KiB * KiB;
const GiB = MiB * KiB;
const TiB = GiB * KiB;
const PiB = TiB * KiB;
const EiB = PiB * KiB;
const zeros = '0'.repeat(350);

test('qemu_strtosz', (t) => {
  const rows: [string, number, bigint][] = [
    ['0', 0, 0n],
    ['08', 0, 8n],
    [' +12345', 0, 12345n],
    ['9007199254740991', 0, 0x1fffffffffffffn],
    ['9007199254740992', 0, 0x20000000000000n],
    ['9007199254740993', 0, 0x20000000000001n],
    ['18446744073709549568', 0, 0xfffffffffffff800n],
    ['18446744073709550591', 0, 0xfffffffffffffbffn],
    ['18446744073709551615', 0, 0xffffffffffffffffn],
    ['0x0', 0, 0n],
    ['0xab', 0, 171n],
    [' +0xae', 0, 174n],
    ['1', 0, 1n],
    ['1B', 0, 1n],
    ['1K', 0, KiB],
    ['1k', 0, KiB],
    ['1M', 0, MiB],
    ['1m', 0, MiB],
    ['1G', 0, GiB],
    ['1T', 0, TiB],
    ['1P', 0, PiB],
    ['1E', 0, EiB],
    ['1e', 0, EiB],
    ['0.5E', 0, EiB / 2n],
    ['1.0B', 0, 1n],
    ['1.k', 0, 1024n],
    [' .5k', 0, 512n],
    ['12.345M', 0, 12944671n],
    ['1.9999k', 0, 2048n],
    ['1.9999999999999999999999999999999999999999999999999999k', 0, 2048n],
    [`1.${zeros}1k`, 0, 1024n],
    ['', EINVAL, 0n],
    [' \t ', EINVAL, 0n],
    ['.', EINVAL, 0n],
    [' .', EINVAL, 0n],
    [' .k', EINVAL, 0n],
    ['inf', EINVAL, 0n],
    ['NaN', EINVAL, 0n],
    ['k', EINVAL, 0n],
    [' M', EINVAL, 0n],
    ['1.1B', EINVAL, 0n],
    ['1.1', EINVAL, 0n],
    ['1.00001B', EINVAL, 0n],
    ['1.00000000000000000001B', EINVAL, 0n],
    [`1.${zeros}1B`, EINVAL, 0n],
    ['0x1.8k', EINVAL, 0n],
    ['0x1.k', EINVAL, 0n],
    ['0x18M', EINVAL, 0n],
    ['0x1p1', EINVAL, 0n],
    ['1.1.k', EINVAL, 0n],
    ['1.1.', EINVAL, 0n],
    ['1k ', EINVAL, 0n],
    ['123xxx', EINVAL, 0n],
    ['1kiB', EINVAL, 0n],
    ['0x', EINVAL, 0n],
    ['00x1', EINVAL, 0n],
    ['0b1000', EINVAL, 0n],
    ['0.NaN', EINVAL, 0n],
    ['123-45', EINVAL, 0n],
    [' 123 - 45', EINVAL, 0n],
    ['1.5e1k', EINVAL, 0n],
    ['1.5E+0k', EINVAL, 0n],
    ['1.5E999', EINVAL, 0n],
    [' -0', ERANGE, 0n],
    ['-1', ERANGE, 0n],
    ['-2M', EINVAL, 0n],
    [' -.0', ERANGE, 0n],
    ['-.1k', EINVAL, 0n],
    [`-.${zeros}1M`, EINVAL, 0n],
    ['18446744073709551616', ERANGE, 0n],
    ['20E', ERANGE, 0n],
    ['15.9999999999999999999999999999999999999999999999999999E', ERANGE, 0n],
    ['100000Pjunk', EINVAL, 0n],
  ];
  for (const [s, err, value] of rows) {
    t.deepEqual(qemuStrtosz(s), { err, value }, JSON.stringify(s));
  }
  t.deepEqual(qemuStrtoszMiB('1'), { err: 0, value: MiB });
  t.deepEqual(qemuStrtoszMiB('1B'), { err: 0, value: 1n });
  t.deepEqual(qemuStrtoszMiB('0.5'), { err: 0, value: MiB / 2n });
  t.deepEqual(qemuStrtoszMetric('1K'), { err: 0, value: 1000n });
  t.deepEqual(qemuStrtoszMetric('12345k'), { err: 0, value: 12345000n });
  t.deepEqual(qemuStrtoszMetric('12.345M'), { err: 0, value: 12345000n });
  t.deepEqual(qemuStrtoszMetric('18.446744073709550591E'), { err: 0, value: 0xfffffffffffffc0cn });
});

test('qemu_strtoi64 / qemu_strtou64 / parse_uint_full', (t) => {
  t.deepEqual(qemuStrtoi64('-42'), { err: 0, value: -42n });
  t.deepEqual(qemuStrtoi64('0x10'), { err: 0, value: 16n });
  t.deepEqual(qemuStrtoi64('010'), { err: 0, value: 8n });
  t.deepEqual(qemuStrtoi64('9223372036854775807'), { err: 0, value: 2n ** 63n - 1n });
  t.deepEqual(qemuStrtoi64('9223372036854775808'), { err: ERANGE, value: 2n ** 63n - 1n });
  t.deepEqual(qemuStrtoi64('-9223372036854775809'), { err: ERANGE, value: -(2n ** 63n) });
  t.is(qemuStrtoi64('').err, EINVAL);
  t.is(qemuStrtoi64('12x').err, EINVAL);
  t.is(qemuStrtoi64('9223372036854775808x').err, EINVAL, 'EINVAL has priority');
  t.is(qemuStrtoi64('10', 16).value, 16n);
  t.deepEqual(qemuStrtou64('-1'), { err: 0, value: 2n ** 64n - 1n });
  t.deepEqual(qemuStrtou64('-18446744073709551615'), { err: 0, value: 1n });
  t.deepEqual(qemuStrtou64('18446744073709551616'), { err: ERANGE, value: 2n ** 64n - 1n });
  t.deepEqual(qemuStrtou64(' \t0XfF'), { err: 0, value: 255n });
  t.deepEqual(parseUintFull('-1'), { err: ERANGE, value: 0n });
  t.deepEqual(parseUintFull('42'), { err: 0, value: 42n });
  t.deepEqual(parseUintFull('42 '), { err: EINVAL, value: 0n });
});

test('qemu_strtod_finite', (t) => {
  t.deepEqual(qemuStrtodFinite('3.14'), { err: 0, value: 3.14, end: 4 });
  t.is(qemuStrtodFinite('1e3').value, 1000);
  t.is(qemuStrtodFinite('0x10').value, 16);
  t.is(qemuStrtodFinite('NaN').err, EINVAL);
  t.is(qemuStrtodFinite('inf').err, EINVAL);
  t.is(qemuStrtodFinite('1e999').err, EINVAL);
  t.is(qemuStrtodFinite('').err, EINVAL);
  t.is(qemuStrtodFinite('1.5x').err, EINVAL);
  t.deepEqual(qemuStrtodFinite('1.5x', 0, true), { err: 0, value: 1.5, end: 3 });
});

test('id_wellformed', (t) => {
  for (const ok of ['a', 'dev0', 'a-b.c_d', 'Z9']) t.true(idWellformed(ok), ok);
  for (const bad of ['', '0bad', '-a', '_a', 'a b', 'a/b', 'a,b', 'é'])
    t.false(idWellformed(bad), bad);
});

test('size_to_str', (t) => {
  t.is(sizeToStr(0), '0 B');
  t.is(sizeToStr(999), '999 B');
  t.is(sizeToStr(1000), '0.977 KiB');
  t.is(sizeToStr(1024), '1 KiB');
  t.is(sizeToStr(1536), '1.5 KiB');
  t.is(sizeToStr(2n ** 30n), '1 GiB');
  t.is(sizeToStr(2n ** 64n - 1n), '16 EiB');
});
