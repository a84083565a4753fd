/**
 * tsqom's object model: QEMU's QOM (types, classes, objects, properties,
 * the composition tree, user-creatable objects) and the QAPI visitors and
 * JSON values its properties speak. Behaviour and error texts follow
 * QEMU's qom/object.c, qom/object_interfaces.c and qapi/*visitor*.c; the
 * typed surface follows QEMU's Rust QOM bindings: a type is its class,
 * creation and casts are by class, hooks see their own types.
 *
 * The recipe, for a device type (`DeviceState` / `DeviceClass` /
 * `qdevRealize` come from the device layer, `tsqom/qdev`):
 *
 * ```ts
 * // 1. A class struct: class data and "virtual methods" (slots).
 * class UartClass extends DeviceClass {
 *   fifoSize = 16;
 *   transmit: ((uart: DemoUart, byte: number) => void) | null = null;
 *   // instance classes fill these slots with their own methods
 *   static override readonly instanceMethods = ['transmit'];
 * }
 *
 * // 2. The type: the decorated class is the instance type; the parent is
 * //    the type of the class it extends (here `device`).
 * @QomType({ name: 'demo-uart' })
 * export class DemoUart extends DeviceState {
 *   static override readonly classType = UartClass; // the type's class struct
 *   baud = 115200;
 *   readonly sent: number[] = [];
 *
 *   // class_init receives the own class struct: no cast
 *   static override classInit(uc: UartClass): void {
 *     const props = uc.propertiesOf(this);
 *     uc.desc = 'demo UART';
 *     props.propertyAddUint32('baud', (u) => u.baud, (u, v) => { u.baud = v; });
 *   }
 *   // lifecycle hooks are methods; never call super (QOM runs every level)
 *   override instanceInit(): void { this.sent.length = 0; }
 *   // DeviceClass.realize and UartClass.transmit: `this` is a DemoUart
 *   realize(): void {
 *     if (this.baud === 0) throw new QomError("Property 'baud' must not be 0");
 *   }
 *   transmit(byte: number): void { this.sent.push(byte); }
 * }
 *
 * // 3. Creation and casts, by class.
 * const uart = objectNew(DemoUart);            // DemoUart, reference count 1
 * uart.propertyParse('baud', '9600');          // a string (command line)
 * uart.propertySet('baud', 19200);             // a JSON value (qom-set)
 * await qdevRealize(uart);
 * objectGetClass(uart, UartClass).transmit!(uart, 0x41);
 * const obj = objectNew('demo-uart');          // by name (QEMU-style): QomObject
 * const u2 = objectCheck(obj, DemoUart);       // DemoUart, or QEMU's cast error
 * objectDynamicCast(obj, HostMemoryBackend);   // null
 * uart.unref(); u2.unref();
 *
 * // User-creatable types (`-object`, `object-add`): always a Promise, as
 * // completion may be asynchronous; a synchronous path for types whose
 * // complete() is (a memory backend's is not: prealloc=on).
 * const ram = await userCreatableAddType(HostMemoryBackendRam, 'mem0', { size: 1 << 20 });
 * const ram1 = await userCreatableAddType(HostMemoryBackendRam, 'mem1', { size: '1M' },
 *   { keyval: true });                         // keyval properties are strings
 * const tc = userCreatableAddTypeSync(ThreadContext, 'tc0', {}); // ThreadContext, no Promise
 * ```
 *
 * The same type without the decorator, as QEMU writes it (the decorator
 * builds exactly this TypeInfo; {@link typeRegister} stays for ports):
 *
 * ```ts
 * typeRegister<UartClass, DemoUart>({
 *   name: 'demo-uart', parent: TYPE_DEVICE, instanceType: DemoUart, classType: UartClass,
 *   classInit(uc) { uc.realize = (dev) => { ... }; },
 * });
 * ```
 *
 * Integers: `bigint` for the 64-bit QAPI kinds (int, uint64, size:
 * {@link QomObject.propertyGetInt}, `propertyAddUint64`,
 * `propertyAddSize`), `number` for the narrower ones (uint8/16/32). JSON
 * values (qom-get/qom-set) are `number` when safe and `bigint` beyond, so
 * uint64 values above 2^53 survive exactly. Errors are {@link QomError}s
 * carrying the QMP error class and QEMU's message.
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
