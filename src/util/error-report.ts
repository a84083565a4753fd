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
import type { InjectionToken } from 'tsyringe';
import { MachineContext } from './machine-context.js';

/** How serious a report is (QEMU's error_report, warn_report, info_report). */
export type ErrorReportLevel = 'error' | 'warning' | 'info';

/** Receives one report: QEMU's text, without prefix or newline. */
export type ErrorReportSink = (message: string, level: ErrorReportLevel) => void;

/** The injection token of the {@link ErrorReportSink} service. */
export const ERROR_REPORT_SINK: InjectionToken<ErrorReportSink> =
  Symbol.for('tsqom:ErrorReportSink');

/** QEMU's line prefix for a level (`warning: `, `info: `, nothing for errors). */
export function errorReportPrefix(level: ErrorReportLevel): string {
  return level === 'warning' ? 'warning: ' : level === 'info' ? 'info: ' : '';
}

/** The default sink: one line on stderr, prefixed as QEMU prefixes it. */
export const stderrErrorReportSink: ErrorReportSink = (message, level) => {
  process.stderr.write(`${errorReportPrefix(level)}${message}\n`);
};

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
  return (message, level) => ctx.resolve(ERROR_REPORT_SINK)(message, level);
}

/** QEMU's error_report(): reports an error through the current sink. */
export function errorReport(message: string): void {
  sink()(message, 'error');
}

/** QEMU's warn_report(). */
export function warnReport(message: string): void {
  sink()(message, 'warning');
}

/** QEMU's info_report(). */
export function infoReport(message: string): void {
  sink()(message, 'info');
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
}

/** A sink that keeps every report in memory (for tests and embedders). */
export class CapturingErrorReportSink {
  /** The reports received so far, oldest first. */
  readonly lines: ErrorReportRecord[] = [];

  /** The function to install as a sink. */
  readonly sink: ErrorReportSink = (message, level) => {
    this.lines.push({ message, level });
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
