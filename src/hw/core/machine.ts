/**
 * The machine object at `/machine`: QEMU's abstract `machine` type and its
 * `none` machine (`none-machine`, what `-M none` creates), with the
 * properties tsqom acts on and the containers QEMU's tree has under it
 * (`peripheral`, `peripheral-anon`, `unattached`).
 * @module
 */
import {
  QomError,
  QomObject,
  QomType,
  TYPE_OBJECT,
  objectGetRoot,
  objectNew,
  objectPropertyAllowSetLink,
  type ObjectClass,
} from '../../qom/index.js';
import { HostMemoryBackend } from '../../backends/hostmem.js';
import { machineGetContainer } from '../../system/memory.js';
import { phaseCheck, MachineInitPhase } from './qdev.js';
import { sysbusGetDefault } from './sysbus.js';

/** QEMU's TYPE_MACHINE. */
export const TYPE_MACHINE = 'machine';
/** The type `-M none` creates. */
export const TYPE_NONE_MACHINE = 'none-machine';

/** QEMU's CpuTopology, as the `smp` property reports it. */
export interface MachineSmp {
  /** Present CPUs. */
  cpus: number;
  /** Maximum CPUs. */
  maxcpus: number;
  /** Threads per core. */
  threads: number;
  /** Cores per cluster. */
  cores: number;
  /** Dies per socket. */
  dies: number;
  /** Sockets. */
  sockets: number;
  /** Clusters per die. */
  clusters: number;
}

/** The `smp` members in the order QEMU 7.2 prints them. */
const SMP_KEYS = ['cpus', 'maxcpus', 'threads', 'cores', 'dies', 'sockets', 'clusters'] as const;

/** QEMU's MachineState, reduced to what tsqom's `none` machine uses. */
@QomType({ name: TYPE_MACHINE, parent: TYPE_OBJECT, abstract: true })
export class MachineState extends QomObject {
  /** `memory-backend`: the backend that provides the guest's RAM at address 0. */
  memoryBackend: HostMemoryBackend | null = null;
  /** `dump-guest-core`: the default of the backends' `dump`. */
  dumpGuestCore = true;
  /** `mem-merge`: the default of the backends' `merge`. */
  memMerge = true;
  /** `memory.size` (`-m`): the guest RAM size in bytes (QEMU's `ram_size`). */
  ramSize = 0n;
  /** `smp` (`-smp`): the CPU topology, as QEMU's `SMPConfiguration` reports it. */
  smp: MachineSmp = { cpus: 1, maxcpus: 1, threads: 1, cores: 1, dies: 1, sockets: 1, clusters: 1 };

  /** QEMU's machine_class_init, for the properties tsqom has. */
  static override classInit(oc: ObjectClass): void {
    const props = oc.propertiesOf(this);
    props.propertyAddLink(
      'memory-backend',
      HostMemoryBackend,
      (m) => m.memoryBackend,
      (m, v) => {
        if (phaseCheck(MachineInitPhase.MachineReady)) {
          throw new QomError("Property 'memory-backend' cannot be set after the machine is ready");
        }
        m.memoryBackend = v;
      },
      { check: objectPropertyAllowSetLink, strong: true },
    );
    oc.propertySetDescription(
      'memory-backend',
      'Set RAM backendValid value is ID of hostmem based backend',
    );
    props.propertyAddBool(
      'dump-guest-core',
      (m) => m.dumpGuestCore,
      (m, v) => void (m.dumpGuestCore = v),
    );
    oc.propertySetDescription('dump-guest-core', 'Include guest memory in a core dump');
    props.propertyAddBool(
      'mem-merge',
      (m) => m.memMerge,
      (m, v) => void (m.memMerge = v),
    );
    oc.propertySetDescription('mem-merge', 'Enable/disable memory merge support');
    props.propertyAdd('memory', 'MemorySizeConfiguration', (m, v, name) => {
      v.startStruct(name);
      v.typeSize('size', m.ramSize);
      v.endStruct();
    });
    oc.propertySetDescription('memory', 'Memory size configuration');
    props.propertyAdd('smp', 'SMPConfiguration', (m, v, name) => {
      v.startStruct(name);
      for (const k of SMP_KEYS) v.typeInt64(k, m.smp[k]);
      v.endStruct();
    });
    oc.propertySetDescription('smp', 'CPU topology');
  }
}

/** QEMU's `none` machine: no CPU, no RAM unless `memory-backend` gives it. */
@QomType({ name: TYPE_NONE_MACHINE, parent: TYPE_MACHINE })
export class NoneMachine extends MachineState {}

/**
 * Creates the machine at `/machine` with its containers, as QEMU's
 * qemu_create_machine does, unless something already made `/machine`
 * (then that is returned). Only the `none` machine exists.
 */
export function machineCreate(type: string = TYPE_NONE_MACHINE): QomObject {
  const root = objectGetRoot();
  const existing = root.resolvePathComponent('machine');
  if (existing) return existing;
  if (type !== TYPE_NONE_MACHINE) throw new QomError('unsupported machine type');
  const m = objectNew(NoneMachine);
  root.propertyAddChild('machine', m);
  m.unref();
  for (const c of ['peripheral', 'peripheral-anon', 'unattached']) machineGetContainer(c);
  // QEMU's machine_initfn ends by creating the main system bus.
  sysbusGetDefault();
  return m;
}

/** The machine object, or null before {@link machineCreate} (or if `/machine` is a plain container). */
export function qdevGetMachineState(): MachineState | null {
  const m = objectGetRoot().resolvePathComponent('machine');
  return m instanceof MachineState ? m : null;
}

/**
 * Drops the machine's (strong) reference to its RAM backend, so the backend
 * can be freed when tsqom shuts down. QEMU never does this: its machine
 * lives until the process exits.
 */
export function machineReleaseMemoryBackend(): void {
  const m = qdevGetMachineState();
  const b = m?.memoryBackend;
  if (!m || !b) return;
  m.memoryBackend = null;
  b.unref();
}
