/**
 * Where the vhost-user front-end reports problems that have no caller to
 * throw to (QEMU's error_report / warn_report): a malformed request on the
 * back-end channel, a back-end that went away, a failed memory table
 * update. The sink is stderr by default; tests and embedders install their
 * own to capture or route the lines.
 * @module
 */

/** How serious a reported line is (QEMU's error_report, warn_report, info_report). */
export type VhostUserReportLevel = 'error' | 'warning' | 'info';

/** Receives one report: QEMU's text, without prefix or newline. */
export type VhostUserReportSink = (message: string, level: VhostUserReportLevel) => void;

/** The default sink: one line on stderr, with `warning: ` / `info: ` prefixes as QEMU prints them. */
export const stderrReportSink: VhostUserReportSink = (message, level) => {
  const prefix = level === 'warning' ? 'warning: ' : level === 'info' ? 'info: ' : '';
  process.stderr.write(`${prefix}${message}\n`);
};

let globalSink: VhostUserReportSink = stderrReportSink;

/**
 * Sets the process-wide sink used by front-ends created without their own
 * (`null` restores stderr). Returns the previous sink so callers can put
 * it back.
 */
export function vhostUserSetReportSink(sink: VhostUserReportSink | null): VhostUserReportSink {
  const prev = globalSink;
  globalSink = sink ?? stderrReportSink;
  return prev;
}

/** The process-wide sink in use. */
export function vhostUserReportSink(): VhostUserReportSink {
  return globalSink;
}

/** One report a {@link CapturingReportSink} kept. */
export interface VhostUserReport {
  /** QEMU's text. */
  message: string;
  /** How serious it is. */
  level: VhostUserReportLevel;
}

/** A sink that keeps every report in memory (for tests). */
export class CapturingReportSink {
  /** The reports received so far, oldest first. */
  readonly lines: VhostUserReport[] = [];

  /** The function to install as a sink. */
  readonly sink: VhostUserReportSink = (message, level) => {
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
