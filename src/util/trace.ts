/**
 * Tracing with Node's `util.debuglog`: where QEMU has trace events, tsqom
 * has debuglog sections named `tsqom:<subsystem>`. Enable them with the
 * `NODE_DEBUG` environment variable, e.g. `NODE_DEBUG=tsqom:memory,tsqom:qmp`
 * or `NODE_DEBUG=tsqom:*`; each line is printed by Node as
 * `TSQOM:MEMORY <pid>: <text>`. Disabled sections cost one property read at
 * each trace point.
 * @module
 */
import { debuglog, type DebugLogger } from 'node:util';

/** The trace sections and what they cover. */
export type TraceSection =
  /** Object creation and finalization (QEMU's object_* events). */
  | 'qom'
  /** Memory transactions, region add/del, flat view rendering. */
  | 'memory'
  /** Backend allocation and preallocation. */
  | 'backends'
  /** vhost-user messages on both sides (QEMU's vhost_user_* events). */
  | 'vhost-user'
  /** VIRTIO status, shared memory mappings (QEMU's virtio_* events). */
  | 'virtio'
  /** QMP commands in and replies out (QEMU's monitor_qmp_* events). */
  | 'qmp'
  /** qtest commands. */
  | 'qtest'
  /** Character devices. */
  | 'chardev'
  /** Inter-guest shared memory attach, detach and notifications. */
  | 'vdev-shmem';

/** A trace function with an `enabled` flag to test before building costly arguments. */
export type Tracer = DebugLogger;

const tracers = new Map<TraceSection, Tracer>();

/** The tracer of a section (`util.debuglog('tsqom:<section>')`), made once. */
export function trace(section: TraceSection): Tracer {
  let t = tracers.get(section);
  if (t === undefined) {
    t = debuglog(`tsqom:${section}`);
    tracers.set(section, t);
  }
  return t;
}
