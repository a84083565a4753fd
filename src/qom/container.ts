/**
 * Containers (QEMU's qom/container.c): objects of type `container` that
 * only hold children, like `/objects` or `/machine/peripheral`.
 * @module
 */
import { QomError } from '../util/error.js';
import { type QomObject, TYPE_CONTAINER, objectPropertyAddNewContainer } from './object.js';

export { TYPE_CONTAINER, objectPropertyAddNewContainer };

/**
 * QEMU's former `container_get`: walks `path` (slash-separated, relative to
 * `root`), creating missing containers on the way; returns the last one.
 */
export function containerGet(root: QomObject, path: string): QomObject {
  let obj = root;
  for (const part of path.split('/')) {
    if (part === '') continue;
    const child = obj.resolvePathComponent(part);
    if (child) {
      obj = child;
      continue;
    }
    obj = objectPropertyAddNewContainer(obj, part);
  }
  if (!obj.isA(TYPE_CONTAINER) && obj !== root) throw new QomError(`'${path}' is not a container`);
  return obj;
}
