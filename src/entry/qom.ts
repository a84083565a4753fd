/**
 * QEMU's object model (QOM) and the values its properties speak.
 *
 * - **Types and objects**: {@link TypeInfo} / {@link typeRegister} (QEMU's
 *   way) or the {@link QomType} decorator, lazy class initialisation,
 *   interfaces, `ref`/`unref`, {@link objectNew} and
 *   {@link objectNewOwned} (disposed with `using`).
 * - **Properties**: QEMU's property kinds with JSON input (`qom-set`),
 *   string input (the command line) and QEMU's error texts.
 * - **The composition tree**: absolute and partial paths
 *   ({@link objectResolvePath}), containers, `/objects`.
 * - **User-creatable objects**: `-object` / `object-add` /
 *   `object-del` ({@link userCreatableAddType}, {@link userCreatableDel}).
 * - **Values**: JSON values with exact 64-bit integers
 *   ({@link JsonValue}), QEMU's JSON parser and writer, QAPI visitors,
 *   keyval and QemuOpts parsing, {@link QomError} with QMP's error class.
 *
 * A device-less type with one property, declared with the decorator and
 * created the way `-object` creates it:
 *
 * ```ts
 * import { QomObject, QomType, TYPE_USER_CREATABLE, type ObjectClass,
 *          userCreatableAddType, userCreatableDel } from 'tsqom/qom';
 *
 * @QomType({ name: 'demo-greeter', interfaces: [TYPE_USER_CREATABLE] })
 * class DemoGreeter extends QomObject {
 *   greeting = 'hello';
 *   static override classInit(oc: ObjectClass): void {
 *     const props = oc.propertiesOf(this);
 *     props.propertyAddStr('greeting', (o) => o.greeting, (o, v) => { o.greeting = v; });
 *   }
 * }
 *
 * await userCreatableAddType('demo-greeter', 'g0', { greeting: 'hi' }); // object-add
 * userCreatableDel('g0');                                               // object-del
 * ```
 *
 * Process-wide state: like QEMU, the type table and the composition root
 * (`/`) are global to the process.
 * @module tsqom/qom
 * @categoryDescription Objects
 * Types, classes, instances and the composition tree.
 */
import 'reflect-metadata';

export * from '../qom/index.js';
export * from '../qobject/qdict.js';
export * from '../qobject/json-parser.js';
export * from '../qobject/qjson.js';
export * from '../qapi/qapi.js';
export * from '../qapi/keyval.js';
export * from '../util/unicode.js';
export {
  QemuOptsList,
  QemuOptsError,
  qemuOptGet,
  type QemuOpts,
  type QemuOpt,
} from '../util/qemu-option.js';
export { TSQOM_VERSION } from '../util/version.js';
