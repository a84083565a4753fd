/**
 * `memory-backend-memfd` (QEMU's backends/hostmem-memfd.c): memory in an
 * anonymous memfd (`/memfd:memory-backend-memfd (deleted)` in
 * /proc/PID/maps), shared by default and sealed against growing and
 * shrinking, so its descriptor can be handed to other processes safely.
 * @module
 */
import { hostOs } from '../util/machine-context.js';
import 'reflect-metadata';
import { QomError, QomType, type Visitor } from '../qom/index.js';
import { F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, MFD_HUGETLB } from '../native/index.js';
import {
  RAM_NORESERVE,
  RAM_PRIVATE,
  RAM_SHARED,
  memoryRegionInitRamFromFd,
} from '../system/index.js';
import {
  HostMemoryBackend,
  hostMemoryBackendGetName,
  hostMemoryBackendInitRegion,
  hostMemoryBackendMrInited,
  type HostMemoryBackendClass,
} from './hostmem.js';
import { qemuMemfdCheck, qemuMemfdCreate } from './memfd.js';

/** The QOM type name. */
export const TYPE_MEMORY_BACKEND_MEMFD = 'memory-backend-memfd';

/** A memfd memory backend (QEMU's HostMemoryBackendMemfd). */
@QomType({ name: TYPE_MEMORY_BACKEND_MEMFD })
export class HostMemoryBackendMemfd extends HostMemoryBackend {
  /** Use huge pages. */
  hugetlb = false;
  /** Huge page size; 0 for the system default. */
  hugetlbsize = 0n;
  /** Seal growing and shrinking. */
  seal = true;

  /** QEMU's memfd_backend_class_init. */
  static override classInit(oc: HostMemoryBackendClass): void {
    const props = oc.propertiesOf(this);
    // As in QEMU, only where the kernel can make huge-page memfds.
    if (qemuMemfdCheck(MFD_HUGETLB)) {
      props.propertyAddBool(
        'hugetlb',
        (m) => m.hugetlb,
        (m, v) => {
          m.hugetlb = v;
        },
      );
      oc.propertySetDescription('hugetlb', 'Use huge pages');
      props.propertyAdd(
        'hugetlbsize',
        'int',
        (m, v, name) => v.typeSize(name, m.hugetlbsize),
        setHugetlbsize,
      );
      oc.propertySetDescription('hugetlbsize', 'Huge pages size (ex: 2M, 1G)');
    }
    props.propertyAddBool(
      'seal',
      (m) => m.seal,
      (m, v) => {
        m.seal = v;
      },
    );
    oc.propertySetDescription('seal', 'Seal growing & shrinking');
  }

  /** QEMU's memfd_backend_instance_init: sealed and shared by default. */
  override instanceInit(): void {
    this.seal = true;
    this.share = true;
  }

  /** QEMU's memfd_backend_memory_alloc (the class's `alloc`). */
  alloc(): void {
    memfdBackendMemoryAlloc(this);
  }
}

function setHugetlbsize(m: HostMemoryBackendMemfd, v: Visitor, name: string): void {
  if (hostMemoryBackendMrInited(m)) throw new QomError('cannot change property value');
  const value = v.typeSize(name);
  if (value === 0n) {
    throw new QomError(`Property '${m.typeName}.${name}' doesn't take value '0'`);
  }
  m.hugetlbsize = value;
}

/** QEMU's memfd_backend_memory_alloc. */
function memfdBackendMemoryAlloc(m: HostMemoryBackendMemfd): void {
  const backend = m;
  const name = hostMemoryBackendGetName(backend);
  if (!backend.size) throw new QomError("can't create backend with size 0");
  const fd = qemuMemfdCreate(
    TYPE_MEMORY_BACKEND_MEMFD,
    backend.size,
    m.hugetlb,
    m.hugetlbsize,
    m.seal ? F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL : 0,
  );
  backend.aligned = true;
  const flags = (backend.share ? RAM_SHARED : RAM_PRIVATE) | (backend.reserve ? 0 : RAM_NORESERVE);
  try {
    hostMemoryBackendInitRegion(backend, name, (mr) =>
      memoryRegionInitRamFromFd(mr, backend, name, backend.size, flags, fd, 0),
    );
  } catch (e) {
    // The region takes the descriptor only when it succeeds.
    hostOs().close(fd);
    throw e;
  }
}
