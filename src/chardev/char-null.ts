/**
 * The `chardev-null` type (QEMU's chardev/char-null.c): a character device
 * that discards what is written and never has input. `-chardev
 * null,id=ID` and the `null` shorthand of `-serial` create it.
 * @module
 */
import { QomType } from '../qom/index.js';
import { Chardev, type ChardevClass, TYPE_CHARDEV } from './char.js';

/** QEMU's TYPE_CHARDEV_NULL. */
export const TYPE_CHARDEV_NULL = 'chardev-null';

/** A null chardev: open from creation, never connected to anything. */
@QomType({ name: TYPE_CHARDEV_NULL, parent: TYPE_CHARDEV })
export class NullChardev extends Chardev {
  /** It takes no options. */
  static override classInit(cc: ChardevClass): void {
    cc.parse = () => ({});
  }

  /** Opening only marks it open. */
  open(): void {
    this.filename = 'null';
    this.beOpen = true;
  }
}
