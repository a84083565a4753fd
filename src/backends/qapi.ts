/**
 * The QAPI schemas of the memory backends' `object-add` / `-object`
 * arguments (QEMU's qapi/qom.json), member by member in schema order:
 * a leading `*` marks an optional member. tsqom follows current QEMU, so
 * it accepts members QEMU 7.2 lacks (`offset` and `rom` for files, the
 * shm backend).
 * @module
 */
import type { QapiMembers } from '../qapi/qapi.js';
import { HostMemPolicyLookup } from './hostmem.js';
import { OnOffAutoLookup, TYPE_MEMORY_BACKEND_FILE } from './hostmem-file.js';
import { TYPE_MEMORY_BACKEND_MEMFD } from './hostmem-memfd.js';
import { TYPE_MEMORY_BACKEND_RAM } from './hostmem-ram.js';
import { TYPE_MEMORY_BACKEND_SHM } from './hostmem-shm.js';
import { TYPE_THREAD_CONTEXT } from './thread-context.js';

/** QAPI `MemoryBackendProperties` (memory-backend-ram takes exactly these). */
export const MemoryBackendProperties: QapiMembers = Object.freeze({
  '*dump': 'bool',
  '*host-nodes': ['uint16'] as const,
  '*merge': 'bool',
  '*policy': { enum: HostMemPolicyLookup.values },
  '*prealloc': 'bool',
  '*prealloc-threads': 'uint32',
  '*prealloc-context': 'str',
  '*share': 'bool',
  '*reserve': 'bool',
  size: 'size',
  '*x-use-canonical-path-for-ramblock-id': 'bool',
});

/** QAPI `MemoryBackendFileProperties`: the base members, then these. */
export const MemoryBackendFileProperties: QapiMembers = Object.freeze({
  ...MemoryBackendProperties,
  '*align': 'size',
  '*offset': 'size',
  '*discard-data': 'bool',
  'mem-path': 'str',
  '*pmem': 'bool',
  '*readonly': 'bool',
  '*rom': { enum: OnOffAutoLookup.values },
});

/** QAPI `MemoryBackendMemfdProperties`. */
export const MemoryBackendMemfdProperties: QapiMembers = Object.freeze({
  ...MemoryBackendProperties,
  '*hugetlb': 'bool',
  '*hugetlbsize': 'size',
  '*seal': 'bool',
});

/** QAPI `MemoryBackendShmProperties`: no members of its own. */
export const MemoryBackendShmProperties: QapiMembers = Object.freeze({
  ...MemoryBackendProperties,
});

/** QAPI `ThreadContextProperties`. */
export const ThreadContextProperties: QapiMembers = Object.freeze({
  '*cpu-affinity': ['uint16'] as const,
  '*node-affinity': ['uint16'] as const,
});

/**
 * The `ObjectOptions` branch of each type defined here, keyed by QOM type
 * (the abstract `memory-backend` has none: it is not an `ObjectType`).
 */
export const BACKEND_OBJECT_OPTIONS: Readonly<Record<string, QapiMembers>> = Object.freeze({
  [TYPE_MEMORY_BACKEND_FILE]: MemoryBackendFileProperties,
  [TYPE_MEMORY_BACKEND_MEMFD]: MemoryBackendMemfdProperties,
  [TYPE_MEMORY_BACKEND_RAM]: MemoryBackendProperties,
  [TYPE_MEMORY_BACKEND_SHM]: MemoryBackendShmProperties,
  [TYPE_THREAD_CONTEXT]: ThreadContextProperties,
});
