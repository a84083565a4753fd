/**
 * Sets up a tsqom vhost-user-device against a {@link FakeBackend} in the
 * same process: guest RAM (a memfd backend at guest address 0), a chardev
 * connected to a listening fake back-end, the device, and a report sink
 * that captures what the front-end reports. `close()` removes all of it.
 *
 * Machine RAM is one per process: tests using `ram` must run serially.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userCreatableAddType, userCreatableDel } from '../../../src/qom/index.js';
import '../../../src/backends/hostmem-memfd.js';
import '../../../src/backends/hostmem-shm.js';
import '../../../src/backends/hostmem-ram.js';
import { qemuChrDelete, qemuChrFind, qemuChrNewFromString } from '../../../src/chardev/index.js';
import { qdevDeviceAdd, qdevUnplug, qemuDeviceOpts } from '../../../src/hw/core/index.js';
import '../../../src/hw/virtio/vhost-user-base.js';
import type { VHostUserBase } from '../../../src/hw/virtio/vhost-user-base.js';
import { UnixListener } from '../../../src/io/unix-stream.js';
import { CapturingErrorReportSink, setErrorReportSink } from '../../../src/util/error-report.js';
import {
  machineClearMemoryBackend,
  machineSetMemoryBackend,
} from '../../../src/hw/core/machine-memory.js';
import { FAKE_PROTOCOL_FEATURES, FakeBackend, type FakeBackendOptions } from './fake-backend.js';

let seq = 0;

/** A unique id prefix for this process. */
export function uniqueId(prefix: string): string {
  return `${prefix}${process.pid}x${seq++}`;
}

/** A private temp directory, removed by the returned function. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-vu-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Number of open descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * The descriptors of this process that vhost-user can leak, by kind
 * (sockets, eventfds, memfds, /dev/shm objects), ignoring pipes and files
 * that the test runner or child processes open and close on their own.
 */
export function vhostFds(exclude: readonly number[] = []): Record<string, number> {
  const out: Record<string, number> = { socket: 0, eventfd: 0, memfd: 0, shm: 0 };
  for (const f of readdirSync('/proc/self/fd')) {
    if (exclude.includes(Number(f))) continue;
    let l: string;
    try {
      l = readlinkSync(`/proc/self/fd/${f}`);
    } catch {
      continue;
    }
    if (l.startsWith('socket:')) out.socket++;
    else if (l === 'anon_inode:[eventfd]') out.eventfd++;
    else if (l.startsWith('/memfd:')) out.memfd++;
    else if (l.startsWith('/dev/shm/')) out.shm++;
  }
  return out;
}

/** What {@link setupFakeDevice} returns. */
export interface FakeSetup {
  /** The device. */
  dev: VHostUserBase;
  /** The fake back-end. */
  be: FakeBackend;
  /** The captured reports. */
  reports: CapturingErrorReportSink;
  /** The chardev id. */
  chr: string;
  /** The device id. */
  id: string;
  /** The RAM backend id, if RAM was set up. */
  ram: string | null;
  /** Removes everything. */
  close(): Promise<void>;
}

/** Options of {@link setupFakeDevice}. */
export interface FakeSetupOptions {
  /** The fake back-end's answers. */
  backend?: FakeBackendOptions;
  /** Extra `-device` properties, e.g. `num_vqs=2,config_size=60`. */
  props?: string;
  /** Guest RAM size (default 4 MiB; 0: no RAM). */
  ramSize?: number;
  /** RAM backend type (default memfd). */
  memdev?: 'memfd' | 'shm' | 'ram';
  /** Extra backend properties. */
  ramProps?: Record<string, string | number | boolean>;
}

/** Guest RAM at address 0 from a new memory backend; returns its id. */
export async function setupRam(
  size: number,
  memdev: 'memfd' | 'shm' | 'ram' = 'memfd',
  props: Record<string, string | number | boolean> = {},
): Promise<string> {
  const id = uniqueId('ram');
  // The tree keeps the backend alive; drop the reference we are handed.
  (await userCreatableAddType(`memory-backend-${memdev}`, id, { size, ...props })).unref();
  machineSetMemoryBackend(id);
  return id;
}

/** Removes RAM made by {@link setupRam}. */
export function removeRam(id: string): void {
  machineClearMemoryBackend();
  userCreatableDel(id);
}

/**
 * A device realized against a fake back-end. The report sink is installed
 * on the device before realize.
 */
export async function setupFakeDevice(opts: FakeSetupOptions = {}): Promise<FakeSetup> {
  const t = tempDir();
  const path = join(t.dir, 'be.sock');
  const listener = UnixListener.listen(path);
  // Without a config space, the fake does not offer CONFIG (QEMU would warn).
  const beOpts: FakeBackendOptions = { ...opts.backend };
  if (beOpts.protocolFeatures === undefined && !/config_size=[1-9]/.test(opts.props ?? '')) {
    beOpts.protocolFeatures = FAKE_PROTOCOL_FEATURES & ~(1n << 9n);
  }
  const beP = new Promise<FakeBackend>((resolve) =>
    listener.once('connection', (s) => resolve(new FakeBackend(s, beOpts))),
  );
  const ramSize = opts.ramSize ?? 4 * 2 ** 20;
  const ram = ramSize ? await setupRam(ramSize, opts.memdev, opts.ramProps) : null;
  const chr = uniqueId('chr');
  const id = uniqueId('vu');
  const reports = new CapturingErrorReportSink();
  let be: FakeBackend | null = null;
  const close = async (): Promise<void> => {
    const d = qemuChrFind(chr);
    try {
      const devObj = d?.frontend as VHostUserBase | null | undefined;
      if (devObj && !devObj.finalized && devObj.parent) qdevUnplug(devObj);
    } catch {
      // Already gone.
    }
    await new Promise((r) => setImmediate(r));
    if (qemuChrFind(chr)) {
      try {
        qemuChrDelete(chr);
      } catch {
        // Still claimed: released when the device is finalized.
      }
    }
    be?.close();
    listener.close();
    if (ram) removeRam(ram);
    t.remove();
  };
  try {
    await qemuChrNewFromString(`socket,id=${chr},path=${path}`);
    be = await beP;
    // Reports made while realizing go to the capture too.
    const prev = setErrorReportSink(reports.sink);
    let dev: VHostUserBase;
    try {
      dev = (await qdevDeviceAdd(
        qemuDeviceOpts.parse(
          `vhost-user-device,id=${id},chardev=${chr},virtio-id=2${opts.props ? `,${opts.props}` : ''}`,
        ),
      )) as VHostUserBase;
    } finally {
      setErrorReportSink(prev);
    }
    dev.report = reports.sink;
    return { dev, be, reports, chr, id, ram, close };
  } catch (e) {
    await close();
    throw e;
  }
}
