import 'reflect-metadata';
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { container } from 'tsyringe';
import {
  type JsonObject,
  QomError,
  objectGetObjectsRoot,
  objectNew,
  userCreatableAddType,
  userCreatableComplete,
  userCreatableDel,
  objectCheck,
} from '../../src/qom/index.js';
import {
  HostMemoryBackend,
  TYPE_MEMORY_BACKEND_FILE,
  TYPE_MEMORY_BACKEND_MEMFD,
  TYPE_MEMORY_BACKEND_RAM,
  TYPE_MEMORY_BACKEND_SHM,
  hostMemoryBackendGetFd,
  hostMemoryBackendGetMemory,
  hostMemoryBackendGetName,
  hostMemoryBackendGetView,
  hostMemoryBackendIsMapped,
  hostMemoryBackendMrInited,
  hostMemoryBackendPagesize,
  hostMemoryBackendSetMapped,
} from '../../src/backends/index.js';
import {
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  HostOs,
  MPOL_BIND,
  MPOL_INTERLEAVE,
  MPOL_PREFERRED,
  MPOL_PREFERRED_MANY,
} from '../../src/native/index.js';
import {
  memoryRegionGetRamBlock,
  memoryRegionSize,
  TYPE_MEMORY_REGION,
} from '../../src/system/index.js';
import { backendAddress, backendMapsLine, ourShmNames, vmFlags } from '../helpers/backends/util.js';

const os = (): HostOs => container.resolve(HostOs);
const dir = mkdtempSync(join(tmpdir(), 'tsqom-hostmem-alloc-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1 << 20;
const PAGE = os().pageSize();
let seq = 0;
const uid = (p: string): string => `${p}${seq++}`;

interface Made extends Disposable {
  obj: HostMemoryBackend;
  id: string;
}

async function make(type: string, props: JsonObject, id = uid('b')): Promise<Made> {
  const obj = (await userCreatableAddType(type, id, props)) as HostMemoryBackend;
  obj.unref();
  return {
    obj,
    id,
    [Symbol.dispose]: () => {
      if (!obj.finalized && obj.parent) userCreatableDel(id);
    },
  };
}

async function failsWith(
  t: import('ava').ExecutionContext,
  type: string,
  props: JsonObject,
  message: string | ((id: string) => string),
): Promise<void> {
  const id = uid('f');
  const e = await t.throwsAsync(userCreatableAddType(type, id, props), { instanceOf: QomError });
  t.is(e.message, typeof message === 'string' ? message : message(id));
  t.is(objectGetObjectsRoot().resolvePathComponent(id), null, 'nothing left in /objects');
}

test('ram: anonymous private memory; the region is the child <id>[0]', async (t) => {
  using b = await make(TYPE_MEMORY_BACKEND_RAM, { size: MiB });
  const mr = hostMemoryBackendGetMemory(b.obj)!;
  t.truthy(mr);
  t.is(mr.canonicalPath(), `/objects/${b.id}/${b.id}[0]`);
  t.is(mr.typeName, TYPE_MEMORY_REGION);
  t.is(b.obj.propertyGetType(`${b.id}[0]`), 'child<memory-region>');
  t.is(memoryRegionSize(mr), BigInt(MiB));
  t.is(hostMemoryBackendGetName(b.obj), b.id);
  t.is(hostMemoryBackendGetFd(b.obj), -1);
  t.is(hostMemoryBackendPagesize(b.obj), PAGE);
  const line = backendMapsLine(b.obj);
  t.is(line.perms, 'rw-p');
  t.is(line.path, '');
  t.is(line.end - line.start, BigInt(MiB));
  t.false(vmFlags(line.start).includes('nr'));
});

test('ram: share=on is a shared mapping, reserve=off adds MAP_NORESERVE', async (t) => {
  using b = await make(TYPE_MEMORY_BACKEND_RAM, { size: MiB, share: true, reserve: false });
  const line = backendMapsLine(b.obj);
  t.is(line.perms, 'rw-s');
  t.regex(line.path, /^\/dev\/zero \(deleted\)$/);
  t.true(vmFlags(line.start).includes('nr'));
});

test('ram: an odd size gives a region of that size over whole pages', async (t) => {
  using b = await make(TYPE_MEMORY_BACKEND_RAM, { size: 1000 });
  t.is(memoryRegionSize(hostMemoryBackendGetMemory(b.obj)!), 1000n);
  t.is(b.obj.view().length, 1000);
  const line = backendMapsLine(b.obj);
  t.is(line.end - line.start, BigInt(PAGE));
});

test('memfd: shared, named memory-backend-memfd, sealed against growing and shrinking', async (t) => {
  using b = await make(TYPE_MEMORY_BACKEND_MEMFD, { size: 2 * MiB });
  const fd = b.obj.fd;
  t.true(fd >= 0);
  t.is(hostMemoryBackendGetFd(b.obj), fd);
  t.is(os().getSeals(fd), F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  t.is(os().fstat(fd).size, 2 * MiB);
  t.throws(() => os().ftruncate(fd, 4 * MiB), { code: 'EPERM' });
  const line = backendMapsLine(b.obj);
  t.is(line.perms, 'rw-s');
  t.is(line.path, '/memfd:memory-backend-memfd (deleted)');
});

test('memfd: seal=off leaves it unsealed, share=off maps it privately', async (t) => {
  using b = await make(TYPE_MEMORY_BACKEND_MEMFD, { size: MiB, seal: false, share: false });
  // Without MFD_ALLOW_SEALING the kernel reports F_SEAL_SEAL only.
  t.is(os().getSeals(b.obj.fd), F_SEAL_SEAL);
  const line = backendMapsLine(b.obj);
  t.is(line.perms, 'rw-p');
  t.is(line.path, '/memfd:memory-backend-memfd (deleted)');
});

test('memfd: errors (hugepage size, a size the memfd cannot take)', async (t) => {
  await failsWith(
    t,
    TYPE_MEMORY_BACKEND_MEMFD,
    { size: MiB, hugetlb: true, hugetlbsize: 3000 },
    'Hugepage size must be a power of 2',
  );
  await failsWith(
    t,
    TYPE_MEMORY_BACKEND_MEMFD,
    { size: 2n ** 64n - 1n },
    'failed to resize memfd to 18446744073709551615: Invalid argument',
  );
});

test('shm: shared, already unlinked /dev/shm/qemu-<pid>-shm-N, mode 0', async (t) => {
  using b = await make(TYPE_MEMORY_BACKEND_SHM, { size: MiB });
  const line = backendMapsLine(b.obj);
  t.is(line.perms, 'rw-s');
  t.regex(line.path, new RegExp(`^/dev/shm/qemu-${process.pid}-shm-\\d+ \\(deleted\\)$`));
  t.deepEqual(ourShmNames(), []);
  const st = os().fstat(b.obj.fd);
  t.is(st.mode & 0o777, 0);
  t.is(st.size, MiB);
  t.true(b.obj.propertyGetBool('share'));
});

test('shm: share=off fails at complete, not in the setter', async (t) => {
  using obj = objectCheck(objectNew(TYPE_MEMORY_BACKEND_SHM), HostMemoryBackend);
  obj.propertySet('share', false);
  obj.propertySet('size', MiB);
  t.throws(() => userCreatableComplete(obj), {
    message: "can't create shm backend with `share=off`",
  });
  t.false(hostMemoryBackendMrInited(obj));
  await failsWith(
    t,
    TYPE_MEMORY_BACKEND_SHM,
    { size: MiB, share: false },
    "can't create shm backend with `share=off`",
  );
  await failsWith(
    t,
    TYPE_MEMORY_BACKEND_SHM,
    { size: 2n ** 64n - 1n },
    'failed to resize POSIX shared memory to 18446744073709551615: Invalid argument',
  );
  t.deepEqual(ourShmNames(), []);
});

test('file: a directory gets an unlinked temporary file', async (t) => {
  const d = mkdtempSync(join(dir, 'dir-'));
  {
    using b = await make(TYPE_MEMORY_BACKEND_FILE, { size: MiB, 'mem-path': d });
    const line = backendMapsLine(b.obj);
    t.is(line.perms, 'rw-p');
    t.regex(line.path, new RegExp(`^${d}/qemu_back_mem\\.${b.id}\\.\\w{6} \\(deleted\\)$`));
    t.deepEqual(readdirSync(d), []);
    t.true(b.obj.fd >= 0);
  }
  t.deepEqual(readdirSync(d), []);
});

test('file: an existing file is mapped at the offset; share=on writes reach it', async (t) => {
  const path = join(dir, 'existing');
  const content = Buffer.alloc(4 * PAGE, 0x11);
  content.fill(0x22, 2 * PAGE);
  writeFileSync(path, content);
  {
    using b = await make(TYPE_MEMORY_BACKEND_FILE, {
      size: 2 * PAGE,
      'mem-path': path,
      offset: 2 * PAGE,
      share: true,
    });
    const line = backendMapsLine(b.obj);
    t.is(line.perms, 'rw-s');
    t.is(line.path, path);
    t.deepEqual([...b.obj.read(0, 4)], [0x22, 0x22, 0x22, 0x22]);
    b.obj.write(0, new Uint8Array([1, 2, 3]));
  }
  t.deepEqual([...readFileSync(path).subarray(2 * PAGE, 2 * PAGE + 4)], [1, 2, 3, 0x22]);
});

test('file: a missing file is created; readonly maps read-only (rom follows)', async (t) => {
  const path = join(dir, 'created');
  {
    using b = await make(TYPE_MEMORY_BACKEND_FILE, { size: 2 * PAGE, 'mem-path': path });
    t.true(existsSync(path));
    t.is(b.obj.propertyGet('rom'), 'off');
  }
  using r = await make(TYPE_MEMORY_BACKEND_FILE, {
    size: 2 * PAGE,
    'mem-path': path,
    readonly: true,
  });
  t.is(r.obj.propertyGet('rom'), 'on');
  t.true(hostMemoryBackendGetMemory(r.obj)!.readonly);
  t.is(backendMapsLine(r.obj).perms, 'r--p');
  t.throws(() => r.obj.view(), { code: 'EACCES' });
  t.is(r.obj.read(0, 2).length, 2);
});

test('file: QEMU errors', async (t) => {
  const T = TYPE_MEMORY_BACKEND_FILE;
  await failsWith(
    t,
    T,
    { size: MiB, 'mem-path': '/nonexistent/dir/x' },
    "can't open backing store /nonexistent/dir/x for guest RAM: No such file or directory",
  );
  await failsWith(
    t,
    T,
    { size: MiB, 'mem-path': dir, align: 3 },
    'alignment 0x3 must be multiples of page size 0x1000',
  );
  await failsWith(
    t,
    T,
    { size: MiB, 'mem-path': dir, align: 3 * PAGE },
    'alignment 0x3000 must be a power of two',
  );
  await failsWith(
    t,
    T,
    { size: MiB, 'mem-path': dir, rom: 'on' },
    "property 'rom' = 'on' is not supported with 'readonly' = 'off'",
  );
  await failsWith(
    t,
    T,
    { size: MiB, 'mem-path': dir, rom: 'off', readonly: true, share: true },
    "property 'rom' = 'off' is incompatible with 'readonly' = 'on' and 'share' = 'on'",
  );
  await failsWith(
    t,
    T,
    { size: 1000, 'mem-path': dir },
    "backend 'memory-backend-file' memory size must be multiple of 4 KiB",
  );
  const small = join(dir, 'small');
  writeFileSync(small, Buffer.alloc(PAGE));
  const id = uid('small');
  const e = await t.throwsAsync(userCreatableAddType(T, id, { size: 2 * PAGE, 'mem-path': small }));
  t.is(e.message, "backing store size 0x1000 does not match 'size' option 0x2000");
  // Without mem-path (only reachable without the QAPI schema).
  using obj = objectCheck(objectNew(T), HostMemoryBackend);
  obj.propertySet('size', MiB);
  t.throws(() => userCreatableComplete(obj), { message: 'mem-path property not set' });
});

test('file: align=2M is honoured', async (t) => {
  using b = await make(TYPE_MEMORY_BACKEND_FILE, {
    size: 2 * MiB,
    'mem-path': dir,
    align: 2 * MiB,
  });
  t.is(hostMemoryBackendGetMemory(b.obj)!.align, BigInt(2 * MiB));
  t.is(b.obj.propertyGet('align'), 2 * MiB);
});

test('file: discard-data drops the file pages when the backend is deleted', async (t) => {
  const path = join(dir, 'discard');
  writeFileSync(path, Buffer.alloc(4 * PAGE, 0xab));
  const b = await make(TYPE_MEMORY_BACKEND_FILE, { size: 4 * PAGE, 'mem-path': path, share: true });
  b.obj.propertySet('discard-data', true);
  t.is(b.obj.read(0, 1)[0], 0xab);
  userCreatableDel(b.id);
  t.true(readFileSync(path).every((x) => x === 0));
});

test('x-use-canonical-path-for-ramblock-id names the region after the canonical path', async (t) => {
  using b = await make(TYPE_MEMORY_BACKEND_RAM, {
    size: MiB,
    'x-use-canonical-path-for-ramblock-id': true,
  });
  t.is(hostMemoryBackendGetName(b.obj), `/objects/${b.id}`);
  t.is(b.obj.propertyGetType(`\\x2fobjects\\x2f${b.id}[0]`), 'child<memory-region>');
});

test('a backend outside /objects still allocates, with an unnamed region it holds itself', (t) => {
  const obj = objectCheck(objectNew(TYPE_MEMORY_BACKEND_MEMFD), HostMemoryBackend);
  obj.propertySet('size', MiB);
  t.is(userCreatableComplete(obj), undefined);
  const mr = hostMemoryBackendGetMemory(obj)!;
  t.is(mr.parent, null);
  const fd = obj.fd;
  t.true(fd >= 0);
  obj.unref();
  t.true(mr.finalized);
  t.throws(() => os().fstat(fd), { code: 'EBADF' });
});

test('merge and dump: applied at creation and live (smaps VmFlags)', async (t) => {
  const ksm = existsSync('/sys/kernel/mm/ksm');
  using b = await make(TYPE_MEMORY_BACKEND_RAM, { size: MiB, dump: false });
  const at = backendAddress(b.obj);
  t.true(vmFlags(at).includes('dd'));
  if (ksm) t.true(vmFlags(at).includes('mg'));
  b.obj.propertySet('dump', true);
  t.false(vmFlags(at).includes('dd'));
  b.obj.propertySet('merge', false);
  t.false(vmFlags(at).includes('mg'));
  b.obj.propertySet('dump', false);
  t.true(vmFlags(at).includes('dd'));
  b.obj.propertySet('merge', true);
  if (ksm) t.true(vmFlags(at).includes('mg'));
  using m = await make(TYPE_MEMORY_BACKEND_MEMFD, { size: MiB, merge: false });
  const at2 = backendAddress(m.obj);
  t.false(vmFlags(at2).includes('mg'));
  t.false(vmFlags(at2).includes('dd'));
});

function onlineNodes(): number[] {
  const s = readFileSync('/sys/devices/system/node/online', 'utf8').trim();
  const out: number[] = [];
  for (const part of s.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) out.push(i);
  }
  return out;
}

test('NUMA: QEMU checks and texts; the policy is applied with mbind', async (t) => {
  const R = TYPE_MEMORY_BACKEND_RAM;
  await failsWith(t, R, { size: MiB, policy: 'bind' }, 'host-nodes must be set for policy bind');
  await failsWith(
    t,
    R,
    { size: MiB, policy: 'interleave' },
    'host-nodes must be set for policy interleave',
  );
  await failsWith(
    t,
    R,
    { size: MiB, 'host-nodes': [0] },
    'host-nodes must be empty for policy default, or you should explicitly specify a policy other than default',
  );
  const nodes = onlineNodes();
  const absent = Math.max(...nodes) + 1;
  await failsWith(
    t,
    R,
    { size: MiB, 'host-nodes': [absent], policy: 'bind' },
    'cannot bind memory to host NUMA nodes: Invalid argument',
  );
  const node = nodes[0];
  using b = await make(R, { size: MiB, 'host-nodes': [node], policy: 'bind' });
  const block = memoryRegionGetRamBlock(hostMemoryBackendGetMemory(b.obj)!)!;
  t.deepEqual(os().getMempolicy(block.host), { mode: MPOL_BIND, nodes: [node] });
  using i = await make(R, { size: MiB, 'host-nodes': [node], policy: 'interleave' });
  const bi = memoryRegionGetRamBlock(hostMemoryBackendGetMemory(i.obj)!)!;
  t.is(os().getMempolicy(bi.host).mode, MPOL_INTERLEAVE);
  using p = await make(R, { size: MiB, 'host-nodes': [node], policy: 'preferred' });
  const bp = memoryRegionGetRamBlock(hostMemoryBackendGetMemory(p.obj)!)!;
  t.true([MPOL_PREFERRED, MPOL_PREFERRED_MANY].includes(os().getMempolicy(bp.host).mode));
});

test('a mapped backend cannot be deleted (hostMemoryBackendSetMapped)', async (t) => {
  const b = await make(TYPE_MEMORY_BACKEND_MEMFD, { size: MiB });
  t.false(hostMemoryBackendIsMapped(b.obj));
  hostMemoryBackendSetMapped(b.obj, true);
  t.true(hostMemoryBackendIsMapped(b.obj));
  t.throws(() => userCreatableDel(b.id), {
    message: `object '${b.id}' is in use, can not be deleted`,
  });
  t.false(b.obj.finalized);
  hostMemoryBackendSetMapped(b.obj, false);
  userCreatableDel(b.id);
  t.true(b.obj.finalized);
});

for (const type of [TYPE_MEMORY_BACKEND_RAM, TYPE_MEMORY_BACKEND_MEMFD, TYPE_MEMORY_BACKEND_SHM]) {
  test(`${type}: a stale view reads nothing after the backend is deleted`, async (t) => {
    const b = await make(type, { size: MiB });
    const v = b.obj.view(0, 4096);
    const whole = hostMemoryBackendGetView(b.obj);
    v.fill(9);
    t.is(whole[0], 9);
    const fd = b.obj.fd;
    userCreatableDel(b.id);
    t.true(b.obj.finalized);
    t.is(v.length, 0);
    t.is(whole.length, 0);
    // Indexing reads nothing and stores are dropped; methods throw.
    t.is(v[0] as number | undefined, undefined);
    v[0] = 1;
    t.is(v[0] as number | undefined, undefined);
    t.throws(() => v.at(0), { instanceOf: TypeError });
    t.throws(() => v.fill(1), { instanceOf: TypeError });
    t.is(b.obj.fd, -1);
    t.throws(() => b.obj.read(0, 1), { instanceOf: QomError });
    t.throws(() => b.obj.view(0, 1), { instanceOf: QomError });
    if (fd >= 0) t.throws(() => os().fstat(fd), { code: 'EBADF' });
  });
}

test('sizes that make QEMU 7.2 abort fail cleanly', async (t) => {
  for (const size of [2n ** 64n - 1n, 2n ** 64n - 4096n]) {
    await failsWith(
      t,
      TYPE_MEMORY_BACKEND_RAM,
      { size },
      (id) => `cannot set up guest memory '${id}': Cannot allocate memory`,
    );
  }
});
