/**
 * The monitor's JSON output: QEMU's writer (src/qom/json-writer.ts) with
 * members in QDict order, so replies match QEMU's byte for byte.
 * @module
 */
import type { JsonValue } from './qobject.js';
import { qobjectToJson as writeJson } from './json-writer.js';
import { qdictKeys } from './qdict.js';

export { quoteString, jsonWriterDouble, formatNumber } from './json-writer.js';

/** Serialises a JSON value as QEMU's monitor does: QDict member order, optional pretty layout. */
export function qobjectToJson(v: JsonValue, pretty = false): string {
  return writeJson(v, pretty, qdictKeys);
}
