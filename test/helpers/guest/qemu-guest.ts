/**
 * Boots a prepared guest ({@link prepareGuest}) in Debian's
 * qemu-system-x86_64 on the microvm machine, with the serial console on
 * stdout, and collects what the guest prints.
 */
import { spawn } from 'node:child_process';
import type { GuestImage } from './index.js';

/** Options of {@link bootGuest}. */
export interface BootOptions {
  /** Kernel and initramfs. */
  image: GuestImage;
  /** Guest RAM in MiB; default 256. */
  memoryMiB?: number;
  /** Extra kernel command line, appended to the console settings. */
  append?: string;
  /** Extra QEMU arguments (devices, chardevs, objects). */
  args?: readonly string[];
  /** Kill QEMU after this long; default 60 s. */
  timeoutMs?: number;
  /** Resolve as soon as the console shows this text (QEMU is then killed). */
  until?: string;
  /** The machine type (`-M`); default `microvm`. PCI devices need `q35`. */
  machine?: string;
}

/** What a guest run produced. */
export interface BootResult {
  /** Serial console output (and anything else QEMU printed on stdout). */
  console: string;
  /** QEMU's stderr. */
  stderr: string;
  /** Exit code, or null if QEMU was killed. */
  code: number | null;
  /** True if the run hit `timeoutMs`. */
  timedOut: boolean;
  /** The full command line, for error messages. */
  command: string;
}

/**
 * Runs the guest to completion (it powers itself off; `-no-reboot` turns
 * a panic reboot into an exit). Memory is a shared memfd backend, as
 * vhost-user needs. The accelerator is TCG (a nested /dev/kvm may exist
 * and still hang the guest); TSQOM_GUEST_ACCEL=kvm selects another.
 */
export function bootGuest(options: BootOptions): Promise<BootResult> {
  const mem = options.memoryMiB ?? 256;
  const args = [
    '-M',
    options.machine ?? 'microvm',
    '-accel',
    process.env.TSQOM_GUEST_ACCEL ?? 'tcg',
    '-m',
    `${mem}M`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-object',
    `memory-backend-memfd,id=mem,size=${mem}M,share=on`,
    '-machine',
    'memory-backend=mem',
    '-kernel',
    options.image.kernel,
    '-initrd',
    options.image.initrd,
    '-append',
    // A fixed TSC rate: calibrating it against the PIT fails now and then
    // under TCG, and the guest then hangs without a clock.
    `console=ttyS0 panic=-1 quiet tsc_early_khz=2000000 ${options.append ?? ''}`.trim(),
    '-no-reboot',
    ...(options.args ?? []),
  ];
  const command = ['qemu-system-x86_64', ...args].join(' ');
  return new Promise((resolve, reject) => {
    const proc = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    let done = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (options.until !== undefined && !done && out.includes(options.until)) {
        done = true;
        proc.kill('SIGTERM');
      }
    });
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ console: out, stderr: err, code, timedOut, command });
    });
  });
}
