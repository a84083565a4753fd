/**
 * QEMU's error_report / warn_report / info_report: the one place where
 * library code reports what has no caller to throw to (a malformed request
 * from a peer, a failed background preallocation, a back-end that went
 * away). Library code never writes to stderr itself; it reports here, and
 * the sink decides. The default sink writes one line to stderr with QEMU's
 * `warning: ` / `info: ` prefixes; embedders and tests install their own
 * with {@link setErrorReportSink} (process-wide) or by registering
 * {@link ERROR_REPORT_SINK} in a {@link MachineContext} (one machine).
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { InjectionToken } from 'tsyringe';
import { MachineContext } from './machine-context.js';
import { CLOCK } from './clock.js';

/** How serious a report is (QEMU's error_report, warn_report, info_report). */
export type ErrorReportLevel = 'error' | 'warning' | 'info';

/**
 * Receives one report: QEMU's text, without prefix or newline, and where
 * it happened (a command-line option, as QEMU's Location), if anywhere.
 */
export type ErrorReportSink = (message: string, level: ErrorReportLevel, location?: string) => void;

/** The injection token of the {@link ErrorReportSink} service. */
export const ERROR_REPORT_SINK: InjectionToken<ErrorReportSink> =
  Symbol.for('tsqom:ErrorReportSink');

/** QEMU's line prefix for a level (`warning: `, `info: `, nothing for errors). */
export function errorReportPrefix(level: ErrorReportLevel): string {
  return level === 'warning' ? 'warning: ' : level === 'info' ? 'info: ' : '';
}

/**
 * How a {@link formattingErrorReportSink} starts each line: QEMU's
 * `-msg timestamp=on`, `-msg guest-name=on` with `-name`, and the program
 * name (`g_get_prgname()`). The sink reads it at each report, so the
 * command line may change it as its options are processed.
 */
export interface ErrorReportFormat {
  /** The program name printed before the location (`tsqom`); none when undefined. */
  program?: string;
  /** `-msg timestamp=on`: an ISO 8601 UTC time with microseconds first. */
  timestamp: boolean;
  /** `-msg guest-name=on`: the guest name next, when {@link name} is set. */
  guestName: boolean;
  /** The guest name (`-name [guest=]NAME`). */
  name?: string;
}

/** QEMU's real_time_iso8601: `2026-12-03T15:00:00.123456Z`. */
export function realTimeIso8601(us: bigint): string {
  const ms = Number(us / 1000n);
  const micro = String(us % 1000000n).padStart(6, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${micro}Z`;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function'
  );
}

/** The command a report belongs to; `active` ends when the command does. */
interface MonitorCommandScope {
  active: boolean;
  /** A human monitor's output: its command's reports go there, as in QEMU. */
  print?: (text: string) => void;
}

const monitorCur = new AsyncLocalStorage<MonitorCommandScope>();

/**
 * Runs `fn` as a monitor command (QEMU's `monitor_cur()` is set): reports
 * made until it returns (or, if it returns a promise, until that settles)
 * carry neither the program name nor the `-msg` prefixes, as QEMU's do.
 * With `print` (a human monitor's output), they are written there instead
 * of to the sink: QEMU prints a human monitor command's reports on that
 * monitor (`error_vprintf` to `monitor_cur()`), QMP commands' on stderr.
 * Callbacks it leaves behind (socket events, timers) report as usual once
 * the command is over.
 */
export function errorReportInMonitor<T>(fn: () => T, print?: (text: string) => void): T {
  const scope: MonitorCommandScope = { active: true, print };
  const end = (): void => {
    scope.active = false;
  };
  let r: T;
  try {
    r = monitorCur.run(scope, fn);
  } catch (e) {
    end();
    throw e;
  }
  if (isThenable(r)) r.then(end, end);
  else end();
  return r;
}

/** Whether the running code serves a monitor command (see {@link errorReportInMonitor}). */
export function errorReportMonitorCur(): boolean {
  return monitorCur.getStore()?.active === true;
}

/**
 * QEMU's vreport() layout of one report line, with its newline:
 * `[TIME ][GUEST ]PROGRAM:[ LOCATION:] [warning: |info: ]MESSAGE`. Inside a
 * monitor command the time, guest name and program name are left out.
 */
export function formatErrorReport(
  message: string,
  level: ErrorReportLevel,
  location: string | undefined,
  format: ErrorReportFormat,
): string {
  let line = '';
  let sep = '';
  if (!errorReportMonitorCur()) {
    if (format.timestamp) {
      line += `${realTimeIso8601(MachineContext.current().resolve(CLOCK).realtimeUs())} `;
    }
    if (format.guestName && format.name !== undefined) line += `${format.name} `;
    if (format.program !== undefined) {
      line += `${format.program}:`;
      sep = ' ';
    }
  }
  if (location !== undefined) {
    line += `${sep}${location}:`;
    sep = ' ';
  }
  line += sep;
  return `${line}${errorReportPrefix(level)}${message}\n`;
}

/**
 * A sink that writes each report as one line laid out by
 * {@link formatErrorReport} with `format` (read at each report).
 */
export function formattingErrorReportSink(
  write: (line: string) => void,
  format: ErrorReportFormat,
): ErrorReportSink {
  return (message, level, location) => write(formatErrorReport(message, level, location, format));
}

/** The default sink: one line on stderr, prefixed as QEMU prefixes it (no program name). */
export const stderrErrorReportSink: ErrorReportSink = formattingErrorReportSink(
  (line) => process.stderr.write(line),
  { timestamp: false, guestName: false },
);

function sink(): ErrorReportSink {
  return MachineContext.current().resolve(ERROR_REPORT_SINK);
}

/**
 * A sink that reports through `ctx`'s registered sink at the time of each
 * report (default: the current context). Objects take one when they are
 * created, so reports from their callbacks reach their machine's sink even
 * when the sink is replaced later.
 */
export function errorReportSinkOf(ctx: MachineContext = MachineContext.current()): ErrorReportSink {
  return (message, level, location) => ctx.resolve(ERROR_REPORT_SINK)(message, level, location);
}

/**
 * QEMU's error_report(): reports an error through the current sink;
 * `location` is the command-line option it concerns, if any.
 */
export function errorReport(message: string, location?: string): void {
  report(message, 'error', location);
}

/** QEMU's warn_report(). */
export function warnReport(message: string, location?: string): void {
  report(message, 'warning', location);
}

/** QEMU's info_report(). */
export function infoReport(message: string, location?: string): void {
  report(message, 'info', location);
}

function report(message: string, level: ErrorReportLevel, location: string | undefined): void {
  const scope = monitorCur.getStore();
  if (scope?.active && scope.print) {
    scope.print(
      formatErrorReport(message, level, location, { timestamp: false, guestName: false }),
    );
    return;
  }
  sink()(message, level, location);
}

/**
 * Sets the process-wide sink (the root context's; a machine context that
 * registered its own keeps it). `null` restores stderr. Returns the
 * previous sink so callers can put it back.
 */
export function setErrorReportSink(next: ErrorReportSink | null): ErrorReportSink {
  const root = MachineContext.root;
  const prev = root.resolve(ERROR_REPORT_SINK);
  root.register(ERROR_REPORT_SINK, next ?? stderrErrorReportSink);
  return prev;
}

/** One report a {@link CapturingErrorReportSink} kept. */
export interface ErrorReportRecord {
  /** QEMU's text. */
  message: string;
  /** How serious it is. */
  level: ErrorReportLevel;
  /** The command-line option it concerns, if any. */
  location?: string;
}

/** A sink that keeps every report in memory (for tests and embedders). */
export class CapturingErrorReportSink {
  /** The reports received so far, oldest first. */
  readonly lines: ErrorReportRecord[] = [];

  /** The function to install as a sink. */
  readonly sink: ErrorReportSink = (message, level, location) => {
    this.lines.push(location === undefined ? { message, level } : { message, level, location });
  };

  /** Just the messages. */
  get messages(): string[] {
    return this.lines.map((l) => l.message);
  }

  /** Forgets everything received so far. */
  clear(): void {
    this.lines.length = 0;
  }
}
