/**
 * tsqom: QEMU's object model (QOM), host memory backends and VIRTIO
 * shared-memory plumbing for Node.js.
 *
 * The package root is a prelude: the names most programs need, from
 * every subsystem. Each subsystem has its own entry point with
 * everything it offers:
 *
 * | Entry point          | What it holds                                               |
 * | -------------------- | ----------------------------------------------------------- |
 * | `tsqom/qom`          | types, objects, properties, the composition tree, JSON/QAPI |
 * | `tsqom/memory`       | memory regions, address spaces, `info mtree`                |
 * | `tsqom/backends`     | `memory-backend-ram`, `-file`, `-memfd`, `-shm`             |
 * | `tsqom/qdev`         | devices, the machine, character devices                     |
 * | `tsqom/virtio`       | VIRTIO devices, virtqueues, shared memory regions           |
 * | `tsqom/vhost-user`   | the protocol, the back-end library, the front-end           |
 * | `tsqom/vdev-shmem`   | inter-guest named shared memory                             |
 * | `tsqom/qmp`          | the QMP server, client, dispatch and commands               |
 * | `tsqom/cli`          | the `tsqom` program as a library (`qemuInit`)               |
 * | `tsqom/native`       | the native addon, Linux's and VIRTIO's raw constants        |
 *
 * Importing the root registers every QOM type tsqom implements.
 * @module tsqom
 */
import 'reflect-metadata';

// Objects: types, classes, instances, properties, the composition tree.
export {
  QomObject,
  ObjectClass,
  InterfaceClass,
  type UserCreatableClass,
  type TypeInfo,
  type ObjectProperty,
  TYPE_OBJECT,
  TYPE_INTERFACE,
  TYPE_CONTAINER,
  TYPE_USER_CREATABLE,
  typeRegister,
  objectNew,
  objectDynamicCast,
  objectCheck,
  objectClassByName,
  objectGetRoot,
  objectGetObjectsRoot,
  objectResolvePath,
  objectResolvePathType,
} from './qom/object.js';
export {
  QomInterface,
  type QomInterfaceOptions,
  QomType,
  type QomTypeOptions,
} from './qom/decorator.js';
export { objectNewOwned, type Owned } from './qom/owned.js';
export { containerGet } from './qom/container.js';
export {
  userCreatableAddType,
  userCreatableDel,
  objectNewWithProps,
  objectNewWithPropsAsync,
  objectInitializeChild,
} from './qom/object_interfaces.js';
export { type Visitor } from './qapi/visitor.js';
export { QomError, TsqomError, type QmpErrorClass } from './util/error.js';
export { setErrorReportSink, type ErrorReportSink } from './util/error-report.js';
export { MachineContext } from './util/machine-context.js';
export { type JsonValue, type JsonObject } from './qobject/qobject.js';
export { TSQOM_VERSION } from './util/version.js';

// Memory.
export {
  MemoryRegion,
  AddressSpace,
  type MemoryRegionOps,
  type MemoryListener,
  type Hwaddr,
  TYPE_MEMORY_REGION,
  memoryRegionInit,
  memoryRegionInitIo,
  memoryRegionInitAlias,
  memoryRegionAddSubregion,
  memoryRegionAddSubregionOverlap,
  memoryRegionDelSubregion,
  memoryRegionTransaction,
  getSystemMemory,
  addressSpaceMemory,
  mtreeInfo,
} from './system/index.js';

// Host memory backends.
export {
  HostMemoryBackend,
  HostMemoryBackendRam,
  HostMemoryBackendFile,
  HostMemoryBackendMemfd,
  HostMemoryBackendShm,
  TYPE_MEMORY_BACKEND,
  TYPE_MEMORY_BACKEND_RAM,
  TYPE_MEMORY_BACKEND_FILE,
  TYPE_MEMORY_BACKEND_MEMFD,
  TYPE_MEMORY_BACKEND_SHM,
  hostMemoryBackendGetFd,
  hostMemoryBackendGetMemory,
  hostMemoryBackendGetView,
} from './backends/index.js';

// Devices and the machine.
export {
  DeviceState,
  DeviceClass,
  TYPE_DEVICE,
  qdevNew,
  qdevRealize,
  qdevUnrealize,
  MachineState,
  TYPE_MACHINE,
  TYPE_NONE_MACHINE,
  machineCreate,
  qdevDeviceAdd,
} from './hw/core/index.js';
export { machineSetMemoryBackend, machineGetRam } from './hw/core/machine-memory.js';

// VIRTIO and the vhost-user back-end library.
export { type GuestMemory, VirtQueue, type VirtQueueElement, iovSize } from './entry/virtio.js';
export {
  VhostUserBackendServer,
  type VhostUserBackendServerOptions,
  VhostUserBackend,
  type VhostUserBackendDevice,
  type VhostUserBackendOptions,
  VhostUserBackendQueue,
  VhostUserFrontend,
} from './hw/virtio/vhost-user/index.js';

// QMP: server and client.
export {
  QmpServer,
  type QmpServerOptions,
  type QmpAddress,
  type QmpListener,
  registerCommand,
} from './entry/qmp.js';
export {
  QmpClient,
  QmpCommandError,
  QmpClientError,
  type QmpClientEndpoint,
  type QmpClientOptions,
  type QmpEvent,
} from './monitor/qmp-client.js';

// The program as a library.
export { qemuInit, TsqomInstance } from './cli/vl.js';

// Every type, registered.
import './backends/index.js';
import './chardev/index.js';
import './hw/core/index.js';
import './hw/misc/index.js';
import './hw/virtio/index.js';
import './monitor/index.js';
