/**
 * tsqom's object model: QEMU's QOM (types, classes, objects, properties,
 * the composition tree, user-creatable objects) and the QAPI visitors and
 * JSON values its properties speak. Behaviour and error texts follow
 * QEMU's qom/object.c, qom/object_interfaces.c and qapi/*visitor*.c.
 *
 * ```ts
 * // A type, the QEMU way:
 * class Dummy extends QomObject { bv = false; sv = ''; }
 * typeRegister<ObjectClass, Dummy>({
 *   name: 'qemu-dummy',
 *   parent: TYPE_OBJECT,
 *   instanceType: Dummy,
 *   interfaces: [TYPE_USER_CREATABLE],
 *   classInit(oc) {
 *     // class properties: accessors get the instance first
 *     oc.propertyAddStr<Dummy>('sv', (o) => o.sv, (o, v) => { o.sv = v; });
 *   },
 *   instanceInit(obj) {
 *     // instance properties: closures
 *     obj.propertyAddBool('bv', () => obj.bv, (v) => { obj.bv = v; });
 *   },
 * });
 *
 * // The same with the decorator (hooks are methods; never call super):
 * @QomType({ name: 'qemu-dummy2', interfaces: [TYPE_USER_CREATABLE] })
 * class Dummy2 extends QomObject {
 *   sv = '';
 *   static override classInit(oc: ObjectClass): void {
 *     oc.propertyAddStr<Dummy2>('sv', (o) => o.sv, (o, v) => { o.sv = v; });
 *   }
 *   complete(): void {}            // user-creatable complete, may be async
 * }
 *
 * const o = objectNew<Dummy>('qemu-dummy');       // refcount 1
 * o.propertySet('bv', true);                       // JSON (qom-set)
 * o.propertyParse('sv', 'Hiss');                   // string (command line)
 * o.unref();                                       // finalized
 * await userCreatableAddType('qemu-dummy', 'd0', { bv: true }); // object-add
 * userCreatableDel('d0');                          // object-del
 * ```
 *
 * Integers in JSON values are `number` when safe and `bigint` beyond, so
 * uint64 values survive exactly. Errors are {@link QomError}s carrying the
 * QMP error class and QEMU's message.
 * @module
 */
export * from '../util/error.js';
export * from '../qobject/qobject.js';
export * from '../util/cutils.js';
export * from '../qapi/visitor.js';
export * from './object.js';
export * from './container.js';
export * from './object_interfaces.js';
export * from './decorator.js';
export * from './owned.js';
export * from '../util/machine-context.js';
export * from '../util/error-report.js';
export * from '../util/clock.js';
export * from '../util/trace.js';
