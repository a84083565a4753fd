import test from 'ava';
import { qapiInputVisit } from '../../src/qapi/qapi.js';
import {
  BACKEND_OBJECT_OPTIONS,
  MemoryBackendFileProperties,
  MemoryBackendMemfdProperties,
  MemoryBackendProperties,
  MemoryBackendShmProperties,
  TYPE_MEMORY_BACKEND,
  TYPE_MEMORY_BACKEND_FILE,
  TYPE_MEMORY_BACKEND_RAM,
} from '../../src/backends/index.js';

const BASE = [
  '*dump',
  '*host-nodes',
  '*merge',
  '*policy',
  '*prealloc',
  '*prealloc-threads',
  '*prealloc-context',
  '*share',
  '*reserve',
  'size',
  '*x-use-canonical-path-for-ramblock-id',
];

test('the schemas list QEMU qapi/qom.json members in order', (t) => {
  t.deepEqual(Object.keys(MemoryBackendProperties), BASE);
  t.deepEqual(Object.keys(MemoryBackendFileProperties), [
    ...BASE,
    '*align',
    '*offset',
    '*discard-data',
    'mem-path',
    '*pmem',
    '*readonly',
    '*rom',
  ]);
  t.deepEqual(Object.keys(MemoryBackendMemfdProperties), [
    ...BASE,
    '*hugetlb',
    '*hugetlbsize',
    '*seal',
  ]);
  t.deepEqual(Object.keys(MemoryBackendShmProperties), BASE);
  t.deepEqual(MemoryBackendProperties['*host-nodes'], ['uint16']);
  t.deepEqual(MemoryBackendProperties['*policy'], {
    enum: ['default', 'preferred', 'bind', 'interleave'],
  });
  t.deepEqual(MemoryBackendFileProperties['*rom'], { enum: ['auto', 'on', 'off'] });
  t.deepEqual(Object.keys(BACKEND_OBJECT_OPTIONS).sort(), [
    'memory-backend-file',
    'memory-backend-memfd',
    'memory-backend-ram',
    'memory-backend-shm',
    'thread-context',
  ]);
  t.false(TYPE_MEMORY_BACKEND in BACKEND_OBJECT_OPTIONS);
});

test('checked like QEMU: missing members, unexpected ones, JSON types, -1 wraps', (t) => {
  const ram = BACKEND_OBJECT_OPTIONS[TYPE_MEMORY_BACKEND_RAM];
  const file = BACKEND_OBJECT_OPTIONS[TYPE_MEMORY_BACKEND_FILE];
  t.throws(() => qapiInputVisit(ram, {}), { message: "Parameter 'size' is missing" });
  t.throws(() => qapiInputVisit(file, { size: 1 }), { message: "Parameter 'mem-path' is missing" });
  t.throws(() => qapiInputVisit(ram, { size: '1M' }), {
    message: "Parameter 'size' expects uint64",
  });
  t.throws(() => qapiInputVisit(ram, { size: 1, bogus: 1 }), {
    message: "Parameter 'bogus' is unexpected",
  });
  t.throws(() => qapiInputVisit(ram, { size: 1, policy: 'x' }), {
    message: "Parameter 'policy' does not accept value 'x'",
  });
  t.deepEqual(qapiInputVisit(ram, { size: -1 }), { size: 2n ** 64n - 1n });
  t.deepEqual(qapiInputVisit(file, { size: '1M', 'mem-path': '/x', rom: 'on' }, { keyval: true }), {
    size: 1 << 20,
    'mem-path': '/x',
    rom: 'on',
  });
});
