/**
 * The error every failing system call turns into, and glibc's texts for
 * errno values (QEMU appends them to its messages).
 * @module
 */
import { constants } from 'node:os';
import { native } from './index.js';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value)) names.set(value, name);
}

const texts = new Map<number, string>();

/**
 * glibc's English text for an errno, exactly as `strerror(3)` gives it in
 * the C locale ("No such file or directory"); QEMU appends these texts to
 * its error messages.
 */
export function strerror(errno: number): string {
  let t = texts.get(errno);
  if (t === undefined) {
    try {
      t = native().strerror(errno);
    } catch {
      return `Unknown error ${errno}`;
    }
    texts.set(errno, t);
  }
  return t;
}

/** The symbolic name of an errno ("ENOENT"), or `E<number>` if unknown. */
export function errnoName(errno: number): string {
  return names.get(errno) ?? `E${errno}`;
}

/**
 * The QMP error classes (`qapi/error.json` `QapiErrorClass`). Almost
 * everything is `GenericError`; the others exist for compatibility.
 */
export type QmpErrorClass =
  'GenericError' | 'CommandNotFound' | 'DeviceNotActive' | 'DeviceNotFound' | 'KVMMissingCap';

/** What {@link TsqomError}'s constructor takes besides the message. */
export interface TsqomErrorOptions {
  /** What QMP puts in `error.class`; `GenericError` unless given. */
  errorClass?: QmpErrorClass;
  /** The error that caused this one. */
  cause?: unknown;
}

/**
 * The root of every error tsqom throws or rejects with. It carries what QMP
 * needs (`errorClass`) and a stable, documented `code` a program can test
 * without parsing the message (the message is QEMU's text and may carry
 * values). Each subsystem's errors are subclasses with their own codes.
 *
 * It is defined in the lowest layer so that OS errors share the root too.
 */
export class TsqomError extends Error {
  /** The QMP error class. */
  readonly errorClass: QmpErrorClass;
  /** A stable identifier of the kind of failure, e.g. `ERR_QOM` or `ENOENT`. */
  readonly code: string;

  /**
   * @param message - the text (QEMU's where QEMU has one).
   * @param code - the stable code.
   * @param options - the QMP class and the cause.
   */
  constructor(message: string, code: string, options: TsqomErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.errorClass = options.errorClass ?? 'GenericError';
  }
}

/**
 * A failed system call: the kernel's `errno`, its symbolic name as `code`
 * and the `syscall` that failed. The message is `<syscall>: <strerror>
 * (<code>)`; higher layers build QEMU's messages from the fields instead.
 */
export class OsError extends TsqomError {
  /** The errno value (a positive number, e.g. 2). */
  readonly errno: number;
  /** The system call (or library function) that failed, e.g. `shm_open`. */
  readonly syscall: string;

  /** Makes the error for `syscall` failing with `errno`; tests use this to inject faults. */
  constructor(errno: number, syscall: string, code?: string) {
    const c = code ?? errnoName(errno);
    super(`${syscall}: ${strerror(errno)} (${c})`, c);
    this.errno = errno;
    this.syscall = syscall;
  }

  /** glibc's text for this error's errno. */
  get strerror(): string {
    return strerror(this.errno);
  }
}

/** True if `e` is an OS error (from the addon or a substitute) with the given code, e.g. `EAGAIN`. */
export function isErrno(e: unknown, code?: string): e is OsError {
  if (!(e instanceof Error)) return false;
  const o = e as Partial<OsError>;
  return (
    typeof o.errno === 'number' &&
    typeof o.code === 'string' &&
    (code === undefined || o.code === code)
  );
}
