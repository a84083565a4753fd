/**
 * Host memory backends (QEMU's backends/hostmem*.c): the abstract
 * `memory-backend` and its `memory-backend-ram`, `-file`, `-memfd` and
 * `-shm` subtypes, with QEMU's properties (`size`, `share`, `prealloc`,
 * `host-nodes`, `policy`, ...), a minimal `thread-context`, and their QAPI
 * schemas. The memory is real: a shared backend's fd
 * ({@link hostMemoryBackendGetFd}) can be passed to another process, which
 * maps the same pages.
 *
 * Importing this module registers the backend types.
 *
 * ```ts
 * import { objectResolvePathType, userCreatableAddType } from 'tsqom/qom';
 * import { HostMemoryBackend, TYPE_MEMORY_BACKEND, hostMemoryBackendGetFd } from 'tsqom/backends';
 *
 * await userCreatableAddType('memory-backend-memfd', 'ram0', { size: 64 << 20, share: true });
 * ```
 * @module tsqom/backends
 */
import 'reflect-metadata';

export * from '../backends/index.js';
