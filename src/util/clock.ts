/**
 * The clock tsqom reads: QMP event timestamps, qtest's `clock_step`, and
 * timeouts. It is a host service (see {@link MachineContext}), so a test
 * can run a machine on a fixed or stepped clock.
 * @module
 */
import type { InjectionToken } from 'tsyringe';

/** A source of time. */
export interface Clock {
  /** Wall-clock time in microseconds since the epoch (QMP event timestamps). */
  realtimeUs(): bigint;
  /** A monotonic time in nanoseconds (intervals, timeouts). */
  monotonicNs(): bigint;
}

/** The host's clocks (`performance.timeOrigin + performance.now()`, `process.hrtime`). */
export class HostClock implements Clock {
  /** @inheritDoc */
  realtimeUs(): bigint {
    return BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  }

  /** @inheritDoc */
  monotonicNs(): bigint {
    return process.hrtime.bigint();
  }
}

/** The injection token of the {@link Clock} service. */
export const CLOCK: InjectionToken<Clock> = Symbol.for('tsqom:Clock');
