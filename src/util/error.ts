/**
 * QEMU's `Error` objects, as exceptions: every failure in the object model
 * is a {@link QomError} carrying the QMP error class and QEMU's message text.
 * All of tsqom's errors share the root {@link TsqomError} (class + stable
 * `code`); QomError's code is `ERR_QOM`.
 * @module
 */

import { type QmpErrorClass, TsqomError } from '../native/errors.js';

export { type QmpErrorClass, TsqomError, type TsqomErrorOptions } from '../native/errors.js';

/**
 * An error as QEMU reports it: `message` is the text QEMU's `error_setg()`
 * would produce (a single phrase, no trailing punctuation), `errorClass` is
 * what QMP puts in `error.class`, and `hint` is the optional human hint QEMU
 * appends with `error_append_hint()` (printed on the command line, never
 * sent over QMP).
 */
export class QomError extends TsqomError {
  /** Extra help for humans (QEMU's error hint), with its trailing newline. */
  hint?: string;

  /**
   * @param message - QEMU's error text.
   * @param errorClass - QMP error class, `GenericError` unless given.
   * @param hint - optional hint, as `error_append_hint()` adds it.
   */
  constructor(message: string, errorClass: QmpErrorClass = 'GenericError', hint?: string) {
    super(message, 'ERR_QOM', { errorClass });
    if (hint !== undefined) this.hint = hint;
  }

  /** The message followed by the hint, as QEMU prints errors on stderr. */
  pretty(): string {
    return this.hint === undefined ? this.message : `${this.message}\n${this.hint}`;
  }
}

/**
 * QEMU's `error_prepend()`: returns a {@link QomError} whose message is
 * `prefix` followed by the original message. The error class and hint are
 * kept; a non-QomError is wrapped as a `GenericError`.
 */
export function errorPrepend(err: unknown, prefix: string): QomError {
  if (err instanceof QomError) {
    const e = new QomError(prefix + err.message, err.errorClass, err.hint);
    e.cause = err;
    return e;
  }
  const e = new QomError(prefix + (err instanceof Error ? err.message : String(err)));
  e.cause = err;
  return e;
}

/** QEMU's `error_append_hint()`: adds `hint` to the error's hint text. */
export function errorAppendHint(err: QomError, hint: string): QomError {
  err.hint = (err.hint ?? '') + hint;
  return err;
}

/**
 * QERR_INVALID_PARAMETER_VALUE, the most common QEMU message:
 * `Parameter '<name>' expects <what>`.
 */
export function invalidParameterValue(name: string, expected: string): QomError {
  return new QomError(`Parameter '${name}' expects ${expected}`);
}
