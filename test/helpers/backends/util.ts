/**
 * What the backend tests look at from outside: smaps flags of a mapping,
 * the shared memory names this process owns, and a child process that maps
 * a descriptor it is handed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type HostMemoryBackend, hostMemoryBackendGetMemory } from '../../../src/backends/index.js';
import { memoryRegionGetRamBlock } from '../../../src/system/index.js';
import { procMaps, type MapsLine } from '../native/util.js';

/** The address of a backend's mapping in this process. */
export function backendAddress(b: HostMemoryBackend): bigint {
  const mr = hostMemoryBackendGetMemory(b);
  const block = mr ? memoryRegionGetRamBlock(mr) : null;
  if (!block) throw new Error('backend not allocated');
  return block.hostAddress(0);
}

/** The /proc/self/maps line of a backend's mapping. */
export function backendMapsLine(b: HostMemoryBackend): MapsLine {
  const at = backendAddress(b);
  const line = procMaps().find((l) => l.start === at);
  if (!line) throw new Error(`no mapping at 0x${at.toString(16)}`);
  return line;
}

/** The smaps block (all lines) of the mapping starting at `address`. */
function smapsBlock(address: bigint): string {
  const smaps = readFileSync('/proc/self/smaps', 'utf8');
  const head = `${address.toString(16)}-`;
  const at = smaps.startsWith(head) ? 0 : smaps.indexOf(`\n${head}`) + 1;
  if (at <= 0 && !smaps.startsWith(head))
    throw new Error(`no mapping at 0x${address.toString(16)}`);
  const next = smaps.slice(at).search(/\n[0-9a-f]+-[0-9a-f]+ /);
  return next < 0 ? smaps.slice(at) : smaps.slice(at, at + next);
}

/** The VmFlags of the mapping at `address` (e.g. `dd` = MADV_DONTDUMP, `mg` = MADV_MERGEABLE). */
export function vmFlags(address: bigint): string[] {
  const m = /\nVmFlags:((?: \w\w)*)/.exec(smapsBlock(address));
  if (!m) throw new Error('no VmFlags line');
  return m[1].trim().split(' ');
}

/** Resident bytes (smaps Rss) of the mapping at `address`. */
export function rss(address: bigint): number {
  const m = /\nRss:\s+(\d+) kB/.exec(smapsBlock(address));
  if (!m) throw new Error('no Rss line');
  return Number(m[1]) * 1024;
}

/** How many mappings carry MADV_DONTDUMP (`dd`): backends made with `dump=off` are among them. */
export function dontDumpMappings(): number {
  return (readFileSync('/proc/self/smaps', 'utf8').match(/\nVmFlags:[^\n]* dd\b/g) ?? []).length;
}

/** Names in /dev/shm that this process's shm backends would use. */
export function ourShmNames(pid = process.pid): string[] {
  return readdirSync('/dev/shm').filter((n) => n.startsWith(`qemu-${pid}-shm-`));
}

/** Mappings that only memory backends make: memfd, shm and shared anonymous memory. */
export function backendMappings(pid = process.pid): MapsLine[] {
  return procMaps().filter(
    (l) =>
      l.path.startsWith('/memfd:memory-backend-memfd') ||
      l.path.startsWith(`/dev/shm/qemu-${pid}-shm-`) ||
      l.path.startsWith('/dev/zero'),
  );
}

const childScript = fileURLToPath(new URL('./child.js', import.meta.url));

/** What the child reported. */
export interface ChildResult {
  /** Its stdout lines. */
  lines: string[];
  /** Exit code. */
  code: number | null;
  /** Its stderr. */
  stderr: string;
}

/** Runs test/helpers/backends/child with `fd` as its descriptor 3. */
export function runChild(args: string[], fd: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [childScript, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', fd],
    });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.once('error', reject);
    proc.once('close', (code) => {
      resolve({ lines: out.split('\n').filter((l) => l !== ''), code, stderr: err });
    });
  });
}

export { pattern } from './pattern.js';
