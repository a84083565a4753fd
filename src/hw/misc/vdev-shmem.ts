/**
 * The inter-guest shared memory device, after the QNX hypervisor's `vdev
 * shmem`: `-device vdev-shmem,id=ID,loc=ADDR,intr=N,...`.
 *
 * The guest sees a 4 KiB *factory page* at `loc` (see guest-shm.ts): it
 * writes a region name, then a size in pages (create or attach) or `find`
 * (attach only), and reads back a status, the region's size and `shmem`,
 * the guest-physical address of the region's *control page*. The region's
 * data pages follow the control page. Attached regions are placed in a
 * *window* (by default right after the factory page, `window=ADDR` and
 * `window-size=SIZE` move and size it); a region that does not fit fails
 * with GSS_NOMEM.
 *
 * The control page (`status`, `idx`, `notify`, `detach`) is per region and
 * client; the data pages are RAM over the region's POSIX shared memory
 * object, shared by every process attached to the same host name (see
 * vdev-shmem-host.ts). Every change of a client's status (a notification
 * for it, a client attaching, detaching or dying) pulses the device's
 * interrupt: by default machine line `intr` (which the qtest server
 * reports as `IRQ raise N` / `IRQ lower N`), or the handler given to
 * {@link vdevShmemConnectIrq}.
 *
 * Options are QOM properties (see vdev-shmem-config.ts for `loc`, `intr`,
 * `subst.match`/`subst.prefix`, `create.N.*`, `rules.N.allow`/`deny`,
 * `umask`, `gid`, `sched` and `config=PATH`), plus `window` and
 * `window-size`. They are checked at realize. `create.N.*` and `rules.N.*`
 * properties come into existence when first set, as QEMU's array
 * properties do.
 *
 * A reset (guest reboot) detaches every region the guest attached; unrealize
 * also lets go of the regions the `create` options hold, and the last
 * holder of a region removes it from /dev/shm.
 * @module
 */
import { DeviceClass, DeviceState, TYPE_DEVICE, qdevPropSetAfterRealize } from '../core/index.js';
import {
  type JsonValue,
  type ObjectProperty,
  QomError,
  StringInputVisitor,
  type Visitor,
  qemuStrtosz,
  qemuStrtou64,
  QomType,
} from '../../qom/index.js';
import {
  type MemoryRegion,
  type MemoryRegionOps,
  RAM_SHARED,
  getSystemMemory,
  memoryRegionAddSubregion,
  memoryRegionDelSubregion,
  memoryRegionInit,
  memoryRegionInitIo,
  memoryRegionNew,
  withTransaction,
} from '../../system/memory.js';
import { memoryRegionInitRamFromMapping } from '../../system/physmem.js';
import { machineIrqSet } from '../../system/irq.js';
import {
  GUEST_SHM_PAGE_SIZE,
  GuestShmControl,
  GuestShmFactoryRegs,
  type GuestShmFactoryReply,
  type GuestShmFactoryRequest,
  GuestShmStatus,
} from './guest-shm.js';
import type { ShmemPolicy } from './vdev-shmem-rules.js';
import {
  TYPE_VDEV_SHMEM,
  type VdevShmemConfig,
  type VdevShmemPropValue,
  type VdevShmemProps,
  resolveVdevShmemConfig,
  vdevShmemGuestMode,
  vdevShmemPolicy,
} from './vdev-shmem-config.js';
import {
  VDEV_SHMEM_HEADER_SIZE,
  type VdevShmemAnchor,
  type VdevShmemClient,
  VdevShmemHostError,
  vdevShmemAnchorAsync,
  vdevShmemAttach,
  vdevShmemSweepAll,
} from './vdev-shmem-host.js';

/** Default size of the window attached regions are placed in (1 GiB). */
export const VDEV_SHMEM_DEFAULT_WINDOW_SIZE = 0x40000000n;

const PAGE = BigInt(GUEST_SHM_PAGE_SIZE);
const U64_MAX = (1n << 64n) - 1n;

/**
 * Where the device's interrupt goes: QEMU's `qemu_irq` reduced to its
 * handler, called with 1 then 0 for every event (an edge).
 */
export type VdevShmemIrqHandler = (level: number) => void;

/** A region as one guest sees it (for diagnostics and tests). */
export interface VdevShmemConnectionInfo {
  /** The guest-visible name. */
  name: string;
  /** The host name (after `subst`). */
  hostName: string;
  /** The connection index (`idx`). */
  idx: number;
  /** Guest-physical address of the control page (what `shmem` read). */
  address: bigint;
  /** Size of the data in pages. */
  pages: number;
}

interface Connection {
  name: string;
  client: VdevShmemClient;
  /** Offset in the window. */
  offset: bigint;
  /** Control page plus data, in bytes. */
  length: bigint;
  container: MemoryRegion;
  control: MemoryRegion;
  data: MemoryRegion;
}

/** Properties whose values the device reads itself (the rest go to the configuration reader). */
const DEVICE_ONLY = new Set(['window', 'window-size']);

/** Class properties: name, QOM type, description. */
const CLASS_PROPS: readonly [string, string, string][] = [
  ['loc', 'uint64', 'guest-physical address of the factory page (4 KiB aligned)'],
  ['intr', 'str', 'interrupt: N or CONTROLLER:N (the controller name is not used)'],
  [
    'window',
    'uint64',
    'guest-physical address of the window for attached regions (default: loc + 4 KiB)',
  ],
  ['window-size', 'size', 'size of that window (default 1G)'],
  ['config', 'str', "file holding a QNX 'vdev shmem' option block"],
  ['subst.match', 'str', 'text of region names to replace by subst.prefix'],
  ['subst.prefix', 'str', 'prefix (or replacement) for host-side region names'],
  ['umask', 'str', 'umask (octal) for regions without a mode'],
  ['gid', 'str', 'group of created regions (name or number)'],
  ['sched', 'uint8', 'notification priority (QNX compatibility; unused)'],
  ['create', 'list', 'regions to create at realize: a list of {name, size, mode, gid, subst}'],
  ['rules', 'list', 'ordered allow/deny rules: a list of {allow} or {deny} patterns'],
];

const ELEMENT_PROP =
  /^(?:create\.(0|[1-9][0-9]{0,3})\.(name|size|mode|gid|subst)|rules\.(0|[1-9][0-9]{0,3})\.(allow|deny))$/;

const ELEMENT_TYPES: Record<string, string> = {
  name: 'str',
  size: 'size',
  mode: 'str',
  gid: 'str',
  subst: 'bool',
  allow: 'str',
  deny: 'str',
};

function readRaw(v: Visitor, name: string): JsonValue {
  // Command-line strings come through the string visitor, which has no
  // "any"; everything else (keyval, JSON) keeps its type.
  if (v instanceof StringInputVisitor) return v.typeStr(name);
  return v.typeAny(name);
}

function toPropValue(v: JsonValue, key: string): VdevShmemPropValue {
  if (v === null) throw new QomError(`Invalid parameter type for '${key}', expected: string`);
  if (Array.isArray(v)) return v.map((e, i) => toPropValue(e, `${key}.${i}`));
  if (typeof v === 'object') {
    const out: VdevShmemProps = {};
    for (const [k, e] of Object.entries(v)) out[k] = toPropValue(e, `${key}.${k}`);
    return out;
  }
  return v;
}

function printRaw(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object')
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return String(v);
}

function label(name: string): string {
  let s = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    s += c > 0x20 && c < 0x7f ? name[i] : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** An address option: a uint64 in C syntax, or a JSON number. */
function parseAddr(v: JsonValue | undefined, key: string): bigint | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === 'string') {
    const r = qemuStrtou64(v);
    if (!r.err) return r.value;
  }
  throw new QomError(`Parameter '${key}' expects uint64`);
}

/** A size option: QEMU's size syntax, or a JSON number. */
function parseSizeOpt(v: JsonValue | undefined, key: string): bigint | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === 'string') {
    const r = qemuStrtosz(v);
    if (!r.err) return r.value;
  }
  throw new QomError(`Parameter '${key}' expects a non-negative number below 2^64`);
}

/**
 * The device (QEMU would call it VdevShmemState): its options, factory
 * page, window, the regions its guest attached and the regions its
 * `create` options hold. Fields are read-only by convention.
 */
@QomType({ name: TYPE_VDEV_SHMEM, parent: TYPE_DEVICE })
export class VdevShmemState extends DeviceState {
  /** Option values as given (strings from the command line, JSON values from QMP), by property name. */
  readonly options = new Map<string, JsonValue>();
  /** The configuration, once realized. */
  config: VdevShmemConfig | null = null;
  /** The access rules, once realized. */
  policy: ShmemPolicy | null = null;
  /** The factory page registers, once realized. */
  factory: GuestShmFactoryRegs | null = null;
  /** The factory page's I/O region. */
  factoryMr: MemoryRegion | null = null;
  /** The container attached regions are mapped into. */
  windowMr: MemoryRegion | null = null;
  /** Guest-physical address of the window. */
  windowBase = 0n;
  /** Size of the window. */
  windowSize = 0n;
  /** The interrupt line (the `intr` number). */
  irqLine = 0;
  /** Where interrupts go instead of machine line {@link VdevShmemState.irqLine}; see {@link vdevShmemConnectIrq}. */
  irq: VdevShmemIrqHandler | null = null;
  /** @internal The regions the guest attached, by window offset. */
  readonly connections: Connection[] = [];
  /** @internal The regions `create` options hold. */
  readonly anchors: VdevShmemAnchor[] = [];
  #addingElement = false;

  /**
   * Finds a property; `create.N.*` and `rules.N.*` (N below 10000) are
   * made on first use, as QEMU makes array elements once the length is set.
   */
  override propertyFind(name: string): ObjectProperty | null {
    const p = super.propertyFind(name);
    if (p || this.#addingElement || this.finalized || this.realized) return p;
    const m = ELEMENT_PROP.exec(name);
    if (!m) return null;
    const field = m[2] ?? m[4]!;
    this.#addingElement = true;
    try {
      return this.propertyAdd(
        name,
        ELEMENT_TYPES[field]!,
        (dev, v, n) => v.typeStr(n, printRaw(dev.options.get(n))),
        (dev, v, n) => setOption(dev, v, n),
      );
    } finally {
      this.#addingElement = false;
    }
  }

  /** Lets go of everything, in case the device is finalized while realized (the framework chains the parent's hook). */
  override instanceFinalize(): void {
    vdevShmemTeardown(this);
  }

  /** The device class: description and the option properties. */
  static override classInit(dc: DeviceClass): void {
    const props = dc.propertiesOf(this);
    dc.desc = 'inter-guest named shared memory (QNX vdev shmem)';
    dc.categories = ['Misc'];
    for (const [name, type, desc] of CLASS_PROPS) {
      props.propertyAdd(
        name,
        type,
        (dev, v, n) => v.typeStr(n, printRaw(dev.options.get(n))),
        (dev, v, n) => setOption(dev, v, n),
      );
      dc.propertySetDescription(name, desc);
    }
  }

  /** Realize: resolves the options, maps the factory page and the window. */
  realize(): void | Promise<void> {
    return vdevShmemRealize(this);
  }

  /** Unrealize: detaches everything. */
  unrealize(): void {
    vdevShmemTeardown(this);
  }

  /** Reset: the guest's attachments go, the factory page starts afresh. */
  reset(): void {
    vdevShmemReset(this);
  }
}

function setOption(dev: VdevShmemState, v: Visitor, name: string): void {
  if (dev.realized) throw qdevPropSetAfterRealize(dev, name);
  dev.options.set(name, readRaw(v, name));
}

/**
 * Routes the device's interrupt to `handler` (null: back to machine line
 * `intr`), as a board wires a device's IRQ output (QEMU's
 * sysbus_connect_irq).
 */
export function vdevShmemConnectIrq(
  dev: VdevShmemState,
  handler: VdevShmemIrqHandler | null,
): void {
  dev.irq = handler;
}

/** The regions the device's guest is attached to, by address. */
export function vdevShmemConnections(dev: VdevShmemState): VdevShmemConnectionInfo[] {
  return dev.connections.map((c) => ({
    name: c.name,
    hostName: c.client.hostName,
    idx: c.client.idx,
    address: dev.windowBase + c.offset,
    pages: c.client.pages,
  }));
}

/** The host names of the regions the device's `create` options hold. */
export function vdevShmemCreatedRegions(dev: VdevShmemState): string[] {
  return dev.anchors.filter((a) => a.held).map((a) => a.hostName);
}

function pulse(dev: VdevShmemState): void {
  const h = dev.irq;
  if (h) {
    h(1);
    h(0);
  } else {
    machineIrqSet(dev.irqLine, 1);
    machineIrqSet(dev.irqLine, 0);
  }
}

// First fit in the window for `length` bytes; undefined when full.
function windowFind(dev: VdevShmemState, length: bigint): bigint | undefined {
  let at = 0n;
  for (const c of dev.connections) {
    if (c.offset - at >= length) return at;
    at = c.offset + c.length;
  }
  return dev.windowSize - at >= length ? at : undefined;
}

function connectionLength(pages: number): bigint {
  return (1n + BigInt(pages)) * PAGE;
}

function controlOps(dev: VdevShmemState, conn: () => Connection | undefined): MemoryRegionOps {
  return {
    read(addr, size) {
      const c = conn();
      if (!c) return 0n;
      const off = Number(addr);
      // The common accesses first: 32-bit reads of status and idx.
      if (size === 4 && off === GuestShmControl.STATUS) return c.client.readStatus();
      if (size === 4 && off === GuestShmControl.IDX) return c.client.idx;
      if (off >= GuestShmControl.LENGTH) return 0n;
      const regs = new Uint8Array(GuestShmControl.LENGTH);
      const dv = new DataView(regs.buffer);
      // Any read that touches status is a status read: it clears the pending bits.
      if (off < GuestShmControl.STATUS + 4)
        dv.setUint32(GuestShmControl.STATUS, c.client.readStatus(), true);
      dv.setUint32(GuestShmControl.IDX, c.client.idx, true);
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) {
        const o = off + i;
        v = (v << 8n) | BigInt(o < regs.length ? regs[o]! : 0);
      }
      return v;
    },
    write(addr, value, size) {
      const c = conn();
      if (!c) return;
      const off = Number(addr);
      if (size === 4 && off === GuestShmControl.NOTIFY) {
        c.client.notify(Number(value & 0xffffffffn));
        return;
      }
      let notify: number | undefined;
      let detach = false;
      for (let i = 0; i < size; i++) {
        const o = off + i;
        const byte = Number((value >> BigInt(8 * i)) & 0xffn);
        if (o >= GuestShmControl.NOTIFY && o < GuestShmControl.NOTIFY + 4) {
          notify = ((notify ?? 0) | (byte << (8 * (o - GuestShmControl.NOTIFY)))) >>> 0;
        } else if (o >= GuestShmControl.DETACH && o < GuestShmControl.DETACH + 4) {
          detach = true;
        }
      }
      if (notify !== undefined) c.client.notify(notify);
      if (detach) vdevShmemDetach(dev, c);
    },
    endianness: 'little',
    valid: { minAccessSize: 1, maxAccessSize: 8, unaligned: true },
    impl: { minAccessSize: 1, maxAccessSize: 8, unaligned: true },
  };
}

function vdevShmemDetach(dev: VdevShmemState, c: Connection): void {
  const i = dev.connections.indexOf(c);
  if (i < 0) return;
  dev.connections.splice(i, 1);
  c.client.onEvent = null;
  withTransaction(() => {
    if (dev.windowMr) memoryRegionDelSubregion(dev.windowMr, c.container);
  });
  c.control.unparent();
  c.data.unparent();
  c.container.unparent();
  c.client.detach();
}

function mapConnection(
  dev: VdevShmemState,
  name: string,
  client: VdevShmemClient,
  offset: bigint,
): Connection {
  const pages = client.pages;
  const length = connectionLength(pages);
  const lbl = `vdev-shmem.${label(name)}`;
  const container = memoryRegionNew();
  memoryRegionInit(container, dev, lbl, length);
  // The registers reach the connection once it exists.
  const ref: { conn?: Connection } = {};
  const control = memoryRegionNew();
  memoryRegionInitIo(
    control,
    dev,
    controlOps(dev, () => ref.conn),
    `${lbl}.control`,
    PAGE,
  );
  const data = memoryRegionNew();
  try {
    memoryRegionInitRamFromMapping(data, dev, `${lbl}.data`, BigInt(pages) * PAGE, client.mapping, {
      offset: VDEV_SHMEM_HEADER_SIZE,
      ramFlags: RAM_SHARED,
      fd: client.fd,
    });
  } catch (e) {
    control.unparent();
    container.unparent();
    throw e;
  }
  const conn: Connection = { name, client, offset, length, container, control, data };
  ref.conn = conn;
  withTransaction(() => {
    memoryRegionAddSubregion(container, 0n, control);
    memoryRegionAddSubregion(container, PAGE, data);
    memoryRegionAddSubregion(dev.windowMr!, offset, container);
  });
  const at = dev.connections.findIndex((x) => x.offset > offset);
  dev.connections.splice(at < 0 ? dev.connections.length : at, 0, conn);
  client.onEvent = () => pulse(dev);
  return conn;
}

function factoryRequest(dev: VdevShmemState, req: GuestShmFactoryRequest): GuestShmFactoryReply {
  const policy = dev.policy!;
  const cfg = dev.config!;
  const d = policy.decide(req.name);
  if (d.status === 'illegal-name') return { status: GuestShmStatus.GSS_ILLEGAL_NAME };
  if (d.status === 'no-permission') return { status: GuestShmStatus.GSS_NO_PERMISSION };
  const hostName = d.hostName!;
  if (req.kind === 'find') {
    // A connection the guest already has is found again, not duplicated.
    const mine = dev.connections.find((c) => c.client.attached && c.client.hostName === hostName);
    if (mine) {
      return {
        status: GuestShmStatus.GSS_OK,
        shmem: dev.windowBase + mine.offset,
        size: mine.client.pages,
      };
    }
  }
  const fits = (pages: number): boolean => windowFind(dev, connectionLength(pages)) !== undefined;
  const r = vdevShmemAttach(hostName, {
    create: req.kind === 'create',
    pages: req.kind === 'create' ? req.value : 0,
    mode: vdevShmemGuestMode(cfg),
    gid: cfg.gid,
    fits,
  });
  const client = r.client;
  if (!client) return { status: r.status };
  const offset = windowFind(dev, connectionLength(client.pages));
  if (offset === undefined) {
    client.detach();
    return { status: GuestShmStatus.GSS_NOMEM };
  }
  try {
    mapConnection(dev, req.name, client, offset);
  } catch {
    client.detach();
    return { status: GuestShmStatus.GSS_NOMEM };
  }
  return { status: GuestShmStatus.GSS_OK, shmem: dev.windowBase + offset, size: client.pages };
}

function newFactory(dev: VdevShmemState): GuestShmFactoryRegs {
  return new GuestShmFactoryRegs(dev.irqLine, (req) => factoryRequest(dev, req));
}

/** Detaches every region the guest attached (a guest reset). */
function vdevShmemDetachAll(dev: VdevShmemState): void {
  for (const c of [...dev.connections]) vdevShmemDetach(dev, c);
}

/** Undoes realize: detaches, releases the `create` regions, unmaps the pages. Idempotent. */
function vdevShmemTeardown(dev: VdevShmemState): void {
  vdevShmemDetachAll(dev);
  for (const a of dev.anchors.splice(0)) a.release();
  const sys = getSystemMemory();
  const f = dev.factoryMr;
  const w = dev.windowMr;
  dev.factoryMr = null;
  dev.windowMr = null;
  if (f || w) {
    withTransaction(() => {
      if (f?.container) memoryRegionDelSubregion(sys, f);
      if (w?.container) memoryRegionDelSubregion(sys, w);
    });
  }
  f?.unparent();
  w?.unparent();
  dev.factory = null;
  dev.config = null;
  dev.policy = null;
}

function vdevShmemRealize(dev: VdevShmemState): void | Promise<void> {
  // Regions whose holders were all killed go at the first device's realize.
  vdevShmemSweepAll();
  const props: VdevShmemProps = {};
  for (const [k, v] of dev.options) {
    if (!DEVICE_ONLY.has(k)) props[k] = toPropValue(v, k);
  }
  const cfg = resolveVdevShmemConfig(props);
  if (cfg.loc === undefined) throw new QomError("Parameter 'loc' is missing");
  if (cfg.intr === undefined) throw new QomError("Parameter 'intr' is missing");
  const loc = cfg.loc;
  if (loc % PAGE !== 0n || loc > U64_MAX - PAGE + 1n)
    throw new QomError(`'loc' ${hex(loc)} is not a 4 KiB aligned address`);
  const winSize =
    parseSizeOpt(dev.options.get('window-size'), 'window-size') ?? VDEV_SHMEM_DEFAULT_WINDOW_SIZE;
  if (winSize === 0n || winSize % PAGE !== 0n)
    throw new QomError(`'window-size' ${hex(winSize)} is not a non-zero multiple of 4 KiB`);
  const win = parseAddr(dev.options.get('window'), 'window') ?? loc + PAGE;
  if (win % PAGE !== 0n) throw new QomError(`'window' ${hex(win)} is not a 4 KiB aligned address`);
  if (win + winSize - 1n > U64_MAX)
    throw new QomError(`window ${hex(win)}+${hex(winSize)} does not fit the address space`);
  if (win < loc + PAGE && loc < win + winSize)
    throw new QomError(
      `window ${hex(win)}+${hex(winSize)} overlaps the factory page at ${hex(loc)}`,
    );

  dev.config = cfg;
  dev.policy = vdevShmemPolicy(cfg);
  dev.irqLine = cfg.intr.line;
  dev.windowBase = win;
  dev.windowSize = winSize;
  dev.factory = newFactory(dev);
  const mapPages = (): void => {
    const factoryMr = memoryRegionNew();
    memoryRegionInitIo(
      factoryMr,
      dev,
      {
        read: (addr, size) => dev.factory?.read(Number(addr), size) ?? 0n,
        write: (addr, value, size) => dev.factory?.write(Number(addr), size, value),
        endianness: 'little',
        valid: { minAccessSize: 1, maxAccessSize: 8, unaligned: true },
        impl: { minAccessSize: 1, maxAccessSize: 8, unaligned: true },
      },
      'vdev-shmem.factory',
      PAGE,
    );
    dev.factoryMr = factoryMr;
    const windowMr = memoryRegionNew();
    memoryRegionInit(windowMr, dev, 'vdev-shmem.window', winSize);
    dev.windowMr = windowMr;
    withTransaction(() => {
      memoryRegionAddSubregion(getSystemMemory(), loc, factoryMr);
      memoryRegionAddSubregion(getSystemMemory(), win, windowMr);
    });
  };
  if (cfg.creates.length === 0) {
    try {
      mapPages();
    } catch (e) {
      vdevShmemTeardown(dev);
      throw e;
    }
    return;
  }
  // Pre-creating waits for each region's lock without blocking the event
  // loop: realize completes asynchronously.
  return (async () => {
    try {
      for (const c of cfg.creates) {
        try {
          dev.anchors.push(
            await vdevShmemAnchorAsync(c.hostName, {
              pages: Number(c.pages),
              mode: c.mode,
              gid: c.gid,
            }),
          );
        } catch (e) {
          const why = e instanceof VdevShmemHostError ? e.message : (e as Error).message;
          throw new QomError(`vdev-shmem: cannot create region '${c.name}': ${why}`);
        }
      }
      mapPages();
    } catch (e) {
      vdevShmemTeardown(dev);
      throw e;
    }
  })();
}

function vdevShmemReset(dev: VdevShmemState): void {
  if (!dev.factory) return;
  vdevShmemDetachAll(dev);
  dev.factory = newFactory(dev);
}
