/**
 * Context threads and sched_setaffinity/sched_getaffinity: real threads of
 * this process, seen in /proc, errno as the kernel gives it.
 */
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { HostOs, OsError } from '../../src/native/index.js';

const os = new HostOs();

function cpusOf(tid: number): string {
  return /^Cpus_allowed_list:\s*(\S*)$/m.exec(
    readFileSync(`/proc/self/task/${tid}/status`, 'utf8'),
  )![1];
}

test('a context thread is a real thread until stopped', (t) => {
  const tid = os.contextThreadCreate();
  t.true(existsSync(`/proc/self/task/${tid}`));
  t.not(tid, process.pid);
  const all = os.schedGetaffinity(0);
  t.deepEqual(os.schedGetaffinity(tid), all);
  os.schedSetaffinity(tid, [all[0]]);
  t.is(cpusOf(tid), String(all[0]));
  t.deepEqual(os.schedGetaffinity(tid), [all[0]]);
  // The calling thread is untouched.
  t.deepEqual(os.schedGetaffinity(0), all);
  os.contextThreadStop(tid);
  t.false(existsSync(`/proc/self/task/${tid}`));
});

test('errno from the kernel: EINVAL for no usable CPU, ESRCH for no thread', (t) => {
  const tid = os.contextThreadCreate();
  try {
    const e = t.throws(() => os.schedSetaffinity(tid, [4000]), { instanceOf: OsError });
    t.is(e.code, 'EINVAL');
    t.is(e.syscall, 'sched_setaffinity');
    const empty = t.throws(() => os.schedSetaffinity(tid, []), { instanceOf: OsError });
    t.is(empty.code, 'EINVAL');
  } finally {
    os.contextThreadStop(tid);
  }
  t.is(t.throws(() => os.schedGetaffinity(tid), { instanceOf: OsError }).code, 'ESRCH');
  t.is(t.throws(() => os.contextThreadStop(tid), { instanceOf: OsError }).code, 'ESRCH');
  t.throws(() => os.schedSetaffinity(0, [-1]), { instanceOf: RangeError });
});
