/**
 * The layout of report lines (QEMU's vreport): `-msg timestamp=on` and
 * `guest-name=on` prefixes, the program name and the location, and what a
 * monitor command leaves out.
 */
import test from 'ava';
import { CLOCK, type Clock } from '../../src/util/clock.js';
import { MachineContext } from '../../src/util/machine-context.js';
import {
  ERROR_REPORT_SINK,
  type ErrorReportFormat,
  errorReport,
  errorReportInMonitor,
  formatErrorReport,
  formattingErrorReportSink,
  realTimeIso8601,
  warnReport,
} from '../../src/util/error-report.js';

const fixed: Clock = {
  realtimeUs: () => 1796310000000007n,
  monotonicNs: () => 0n,
};

test('real_time_iso8601: UTC with six-digit microseconds', (t) => {
  t.is(realTimeIso8601(1796310000000007n), '2026-12-03T15:00:00.000007Z');
  t.is(realTimeIso8601(0n), '1970-01-01T00:00:00.000000Z');
  t.is(realTimeIso8601(1796310000123456n), '2026-12-03T15:00:00.123456Z');
});

test('lines: time, guest name, program, location, level', (t) => {
  const ctx = new MachineContext().register(CLOCK, fixed);
  const fmt: ErrorReportFormat = { program: 'tsqom', timestamp: true, guestName: true, name: 'g' };
  ctx.run(() => {
    t.is(
      formatErrorReport('boom', 'error', '-m 1', fmt),
      '2026-12-03T15:00:00.000007Z g tsqom: -m 1: boom\n',
    );
    t.is(
      formatErrorReport('w', 'warning', undefined, fmt),
      '2026-12-03T15:00:00.000007Z g tsqom: warning: w\n',
    );
    // guest-name=on without a name, and no program name.
    t.is(
      formatErrorReport('i', 'info', 'x', { timestamp: false, guestName: true }),
      'x: info: i\n',
    );
    t.is(formatErrorReport('e', 'error', undefined, { timestamp: false, guestName: false }), 'e\n');
    // Inside a monitor command: only the location and the level.
    t.is(
      errorReportInMonitor(() => formatErrorReport('w', 'warning', '-device x', fmt)),
      '-device x: warning: w\n',
    );
  });
});

test('a formatting sink reads its format at each report; a command scope ends with the command', async (t) => {
  const lines: string[] = [];
  const fmt: ErrorReportFormat = { program: 'p', timestamp: false, guestName: false };
  const ctx = new MachineContext().register(
    ERROR_REPORT_SINK,
    formattingErrorReportSink((l) => lines.push(l), fmt),
  );
  await ctx.run(async () => {
    errorReport('one');
    fmt.guestName = true;
    fmt.name = 'vm';
    warnReport('two', '-global a.b=c');
    let later: Promise<void> | undefined;
    await errorReportInMonitor(async () => {
      await new Promise((r) => setTimeout(r, 1));
      warnReport('three');
      // A callback the command leaves behind reports as the program does.
      later = new Promise((r) => setTimeout(r, 20)).then(() => warnReport('five'));
    });
    errorReport('four');
    await later;
  });
  t.deepEqual(lines, [
    'p: one\n',
    'vm p: -global a.b=c: warning: two\n',
    'warning: three\n',
    'vm p: four\n',
    'vm p: warning: five\n',
  ]);
});
