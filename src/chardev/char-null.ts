/**
 * The `chardev-null` type (QEMU's chardev/char-null.c): a character device
 * that discards what is written and never has input. `-chardev
 * null,id=ID` and the `null` shorthand of `-serial` create it.
 * @module
 */
import { typeRegister } from '../qom/index.js';
import { Chardev, ChardevClass, TYPE_CHARDEV } from './char.js';

/** QEMU's TYPE_CHARDEV_NULL. */
export const TYPE_CHARDEV_NULL = 'chardev-null';

/** A null chardev: open from creation, never connected to anything. */
export class NullChardev extends Chardev {}

typeRegister<ChardevClass, NullChardev>({
  name: TYPE_CHARDEV_NULL,
  parent: TYPE_CHARDEV,
  instanceType: NullChardev,
  classInit(cc) {
    cc.parse = () => ({});
    cc.open = (chr) => {
      chr.filename = 'null';
      chr.beOpen = true;
    };
  },
});
