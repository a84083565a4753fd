/**
 * QEMU's util/memfd.c: memfd creation with size, huge pages and seals, with
 * QEMU's error texts.
 * @module
 */
import { hostOs } from '../util/machine-context.js';
import 'reflect-metadata';
import { QomError } from '../qom/index.js';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_HUGETLB, MFD_HUGE_SHIFT } from '../native/index.js';
import { isErrno } from '../native/errors.js';

function why(e: unknown): string {
  return isErrno(e) ? e.strerror : (e as Error).message;
}

/** Count of trailing zero bits of a non-zero 64-bit value. */
function ctz64(v: bigint): number {
  let n = 0;
  while ((v & 1n) === 0n) {
    v >>= 1n;
    n++;
  }
  return n;
}

/**
 * QEMU's qemu_memfd_create: a close-on-exec memfd called `name`, resized to
 * `size`, on huge pages of `hugetlbsize` (0: the default huge page size)
 * when `hugetlb`, with `seals` (F_SEAL_*) added. Throws QEMU's texts:
 * `Hugepage size must be a power of 2`,
 * `failed to create memfd with flags 0x%x: <strerror>`,
 * `failed to resize memfd to %zu: <strerror>`,
 * `failed to add seals 0x%x: <strerror>`; nothing is left open then.
 */
export function qemuMemfdCreate(
  name: string,
  size: bigint,
  hugetlb: boolean,
  hugetlbsize: bigint,
  seals: number,
): number {
  const htsize = hugetlbsize ? ctz64(hugetlbsize) : 0;
  if (htsize && 1n << BigInt(htsize) !== hugetlbsize) {
    throw new QomError('Hugepage size must be a power of 2');
  }
  let flags = MFD_CLOEXEC;
  if (seals) flags |= MFD_ALLOW_SEALING;
  if (hugetlb) flags = (flags | MFD_HUGETLB | (htsize << MFD_HUGE_SHIFT)) >>> 0;
  const os = hostOs();
  let fd: number;
  try {
    fd = os.memfdCreate(name, flags);
  } catch (e) {
    throw new QomError(`failed to create memfd with flags 0x${flags.toString(16)}: ${why(e)}`);
  }
  try {
    try {
      // size_t to off_t, as C converts it: huge values fail with EINVAL.
      os.ftruncate(fd, BigInt.asUintN(64, size));
    } catch (e) {
      throw new QomError(`failed to resize memfd to ${BigInt.asUintN(64, size)}: ${why(e)}`);
    }
    if (seals) {
      try {
        os.addSeals(fd, seals);
      } catch (e) {
        throw new QomError(`failed to add seals 0x${seals.toString(16)}: ${why(e)}`);
      }
    }
  } catch (e) {
    os.close(fd);
    throw e;
  }
  return fd;
}

/** QEMU's qemu_memfd_check: whether memfd_create accepts `flags` here. */
export function qemuMemfdCheck(flags: number): boolean {
  const os = hostOs();
  try {
    os.close(os.memfdCreate('test', (flags | MFD_CLOEXEC) >>> 0));
    return true;
  } catch {
    return false;
  }
}
