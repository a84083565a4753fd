/**
 * `memory-backend-file` (QEMU's backends/hostmem-file.c): memory mapped
 * from a file, or from an unlinked temporary file when `mem-path` is a
 * directory (a hugetlbfs mount, /dev/shm, ...).
 * @module
 */
import { hostOs } from '../util/machine-context.js';
import {
  QomError,
  QomType,
  type OutputVisitor,
  type QEnumLookup,
  type Visitor,
  objectCheck,
} from '../qom/index.js';
import { MADV_REMOVE } from '../native/index.js';
import {
  RAM_NAMED_FILE,
  RAM_NORESERVE,
  RAM_PMEM,
  RAM_PRIVATE,
  RAM_READONLY,
  RAM_READONLY_FD,
  RAM_SHARED,
  memoryRegionGetRamBlock,
  memoryRegionInitRamFromFile,
  memoryRegionSize,
} from '../system/index.js';
import 'reflect-metadata';
import {
  HostMemoryBackend,
  hostMemoryBackendGetName,
  hostMemoryBackendInitRegion,
  hostMemoryBackendMrInited,
  type HostMemoryBackendClass,
} from './hostmem.js';

/** The QOM type name. */
export const TYPE_MEMORY_BACKEND_FILE = 'memory-backend-file';

/** QAPI's `OnOffAuto`. */
export const OnOffAutoLookup: QEnumLookup = Object.freeze({
  name: 'OnOffAuto',
  values: Object.freeze(['auto', 'on', 'off']),
});

/** `OnOffAuto` values. */
export const OnOffAuto = Object.freeze({
  /** Decide automatically. */
  Auto: 0,
  /** On. */
  On: 1,
  /** Off. */
  Off: 2,
} as const);

/** A file memory backend (QEMU's HostMemoryBackendFile). */
@QomType({ name: TYPE_MEMORY_BACKEND_FILE })
export class HostMemoryBackendFile extends HostMemoryBackend {
  /** The file or directory. */
  memPath: string | null = null;
  /** Required alignment (0: the page size). */
  align = 0n;
  /** Offset of the memory in the file. */
  offset = 0n;
  /** Drop the file's pages when the backend is deleted. */
  discardData = false;
  /** Persistent memory (MAP_SYNC). */
  isPmem = false;
  /** Open the file read-only. */
  readOnly = false;
  /** Read-only memory for the guest (an {@link OnOffAuto}); auto follows `readonly` at allocation. */
  rom: number = OnOffAuto.Auto;

  /** QEMU's file_backend_class_init. */
  static override classInit(oc: HostMemoryBackendClass): void {
    const props = oc.propertiesOf(this);
    oc.unparent = (obj) => fileBackendUnparent(objectCheck(obj, HostMemoryBackendFile));
    props.propertyAddBool(
      'discard-data',
      (f) => f.discardData,
      (f, v) => {
        f.discardData = v;
      },
    );
    props.propertyAddStr('mem-path', (f) => f.memPath ?? '', setMemPath);
    props.propertyAdd('align', 'int', getU64('align'), setU64('align'));
    props.propertyAdd('offset', 'int', getU64('offset'), setU64('offset'));
    oc.propertySetDescription('offset', 'Offset into the target file (ex: 1G)');
    props.propertyAddBool('pmem', (f) => f.isPmem, setFlag('pmem', 'isPmem'));
    props.propertyAddBool('readonly', (f) => f.readOnly, setFlag('readonly', 'readOnly'));
    props.propertyAdd('rom', OnOffAutoLookup.name, getRom, setRom);
    oc.propertyFind('rom')!.enumLookup = OnOffAutoLookup;
    oc.propertySetDescription('rom', 'Whether to create Read Only Memory (ROM)');
  }

  /** QEMU's file_backend_memory_alloc (the class's `alloc`). */
  alloc(): void {
    fileBackendMemoryAlloc(this);
  }
}

function setMemPath(f: HostMemoryBackendFile, value: string): void {
  if (hostMemoryBackendMrInited(f)) {
    throw new QomError(`cannot change property 'mem-path' of ${f.typeName}`);
  }
  f.memPath = value;
}

function getU64(field: 'align' | 'offset') {
  return (f: HostMemoryBackendFile, v: OutputVisitor, name: string): void =>
    v.typeSize(name, f[field]);
}

function setU64(field: 'align' | 'offset') {
  return (f: HostMemoryBackendFile, v: Visitor, name: string): void => {
    if (hostMemoryBackendMrInited(f)) {
      throw new QomError(`cannot change property '${name}' of ${f.typeName}`);
    }
    f[field] = v.typeSize(name);
  };
}

function setFlag(prop: string, field: 'isPmem' | 'readOnly') {
  return (f: HostMemoryBackendFile, value: boolean): void => {
    // QEMU's texts for these two end with a period.
    if (hostMemoryBackendMrInited(f)) {
      throw new QomError(`cannot change property '${prop}' of ${f.typeName}.`);
    }
    f[field] = value;
  };
}

function getRom(f: HostMemoryBackendFile, v: OutputVisitor, name: string): void {
  v.typeEnum(name, f.rom, OnOffAutoLookup);
}

function setRom(f: HostMemoryBackendFile, v: Visitor, name: string): void {
  if (hostMemoryBackendMrInited(f)) {
    throw new QomError(`cannot change property '${name}' of ${f.typeName}.`);
  }
  f.rom = v.typeEnum(name, OnOffAutoLookup);
}

/** QEMU's file_backend_unparent: `discard-data` drops the file's pages on delete. */
function fileBackendUnparent(f: HostMemoryBackendFile): void {
  if (!hostMemoryBackendMrInited(f) || !f.discardData) return;
  const block = memoryRegionGetRamBlock(f.mr!);
  if (!block || block.freed) return;
  try {
    hostOs().madvise(block.host, block.hostOffset, Number(memoryRegionSize(f.mr!)), MADV_REMOVE);
  } catch {
    // QEMU ignores it too (e.g. private mappings refuse MADV_REMOVE).
  }
}

/** QEMU's file_backend_memory_alloc. */
function fileBackendMemoryAlloc(fb: HostMemoryBackendFile): void {
  const backend = fb;
  if (!backend.size) throw new QomError("can't create backend with size 0");
  if (fb.memPath === null) throw new QomError('mem-path property not set');
  switch (fb.rom) {
    case OnOffAuto.Auto:
      // Opening the file read-only always gave ROM, traditionally.
      fb.rom = fb.readOnly ? OnOffAuto.On : OnOffAuto.Off;
      break;
    case OnOffAuto.On:
      if (!fb.readOnly) {
        throw new QomError("property 'rom' = 'on' is not supported with 'readonly' = 'off'");
      }
      break;
    default:
      if (fb.readOnly && backend.share) {
        throw new QomError(
          "property 'rom' = 'off' is incompatible with 'readonly' = 'on' and 'share' = 'on'",
        );
      }
  }
  backend.aligned = true;
  const name = hostMemoryBackendGetName(backend);
  const flags =
    (backend.share ? RAM_SHARED : RAM_PRIVATE) |
    (fb.readOnly ? RAM_READONLY_FD : 0) |
    (fb.rom === OnOffAuto.On ? RAM_READONLY : 0) |
    (backend.reserve ? 0 : RAM_NORESERVE) |
    (fb.isPmem ? RAM_PMEM : 0) |
    RAM_NAMED_FILE;
  const path = fb.memPath;
  hostMemoryBackendInitRegion(backend, name, (mr) =>
    memoryRegionInitRamFromFile(mr, backend, name, backend.size, fb.align, flags, path, fb.offset),
  );
}
