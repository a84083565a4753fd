/**
 * Scoped ownership of object references, in the spirit of QEMU's Rust
 * `Owned<T>`: upcasts are free (TypeScript subtyping), downcasts are
 * checked ({@link objectDynamicCast} returns null, {@link objectCheck} throws), and a reference is
 * dropped exactly once, by `unref()` or at the end of a `using` scope.
 * @module
 */
import { QomError } from '../util/error.js';
import { type InstanceConstructor, type QomObject, objectNew } from './object.js';

/** One owned reference to a QOM object; disposing it drops the reference. */
export class Owned<T extends QomObject> implements Disposable {
  #obj: T | null;

  /** Takes over one existing reference of `obj` (use {@link Owned.from} to take a new one). */
  constructor(obj: T) {
    this.#obj = obj;
  }

  /** Takes a new reference on `obj`. */
  static from<T extends QomObject>(obj: T): Owned<T> {
    return new Owned(obj.ref());
  }

  /** The object; throws after the reference was dropped. */
  get value(): T {
    if (!this.#obj) throw new QomError('Owned reference used after it was released');
    return this.#obj;
  }

  /** Whether the reference is still held. */
  get held(): boolean {
    return this.#obj !== null;
  }

  /** Another owned reference to the same object (QEMU's `Clone` = `object_ref`). */
  clone(): Owned<T> {
    return Owned.from(this.value);
  }

  /** Gives the reference back to the caller without dropping it. */
  release(): T {
    const o = this.value;
    this.#obj = null;
    return o;
  }

  /** Drops the reference (idempotent). */
  [Symbol.dispose](): void {
    const o = this.#obj;
    this.#obj = null;
    o?.unref();
  }
}

/**
 * `objectNew` returning an {@link Owned} reference, for `using`. Given an
 * instance class the reference has its type; given a name, QomObject.
 */
export function objectNewOwned<T extends QomObject>(type: InstanceConstructor<T>): Owned<T>;
export function objectNewOwned(typename: string): Owned<QomObject>;
export function objectNewOwned<T extends QomObject>(
  type: string | InstanceConstructor<T>,
): Owned<QomObject> {
  return new Owned(typeof type === 'string' ? objectNew(type) : objectNew(type));
}
