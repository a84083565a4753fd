/**
 * Machine, CPU, memory and device information commands (QEMU's
 * hw/core/machine-qmp-cmds.c, machine-hmp-cmds.c, softmmu/qdev-monitor.c,
 * util/qemu-config.c): `query-target`, `query-machines`,
 * `query-current-machine`, `query-cpus-fast`, `query-hotpluggable-cpus`,
 * `query-memory-size-summary`, `query-memory-devices`,
 * `device-list-properties`, `query-command-line-options`, and HMP
 * `info memory_size_summary`, `info qtree`, `info ramblock`,
 * `device_add`, `device_del`.
 *
 * tsqom's only machine is QEMU's `none`: no CPUs, no buses, no memory
 * devices; the replies are QEMU's for that machine.
 * @module
 */
import type { JsonObject, JsonValue } from '../qobject/qobject.js';
import { QomError } from '../util/error.js';
import {
  type ObjectProperty,
  objectClassByName,
  objectClassGetList,
  objectNew,
} from '../qom/object.js';
import { objectPropertyHelp, typeClassPropertiesHelp } from '../qom/object_interfaces.js';
import { vmState } from '../system/runstate.js';
import { ramBlockList } from '../system/physmem.js';
import { TYPE_DEVICE, DeviceClass, qdevWithEventEmitter } from '../hw/core/qdev.js';
import { TYPE_NONE_MACHINE, qdevGetMachineState } from '../hw/core/machine.js';
import { sysbusGetDefault } from '../hw/core/sysbus.js';
import {
  qemuDeviceOpts,
  qmpDeviceAdd,
  qmpDeviceDel,
  qemuOptsToQdict,
} from '../hw/core/qdev-monitor.js';
import { isHelpOption, qemuOptGet } from '../util/qemu-option.js';
import { type HmpCommandTable, hmpCommands, hmpInfoCommands } from './hmp.js';
import { type QmpCommandRegistry, qmpCommands } from './qmp-dispatch.js';

/** QAPI `SysEmuTarget` of the QEMU tsqom answers as. */
export const QEMU_TARGET = 'x86_64';

/** QEMU's `none` machine as `query-machines` describes it. */
export function noneMachineInfo(): JsonObject {
  return {
    name: 'none',
    'hotpluggable-cpus': false,
    'numa-mem-supported': false,
    'cpu-max': 1,
    deprecated: false,
    'default-ram-id': 'ram',
  };
}

/** The machine's RAM size (QEMU's `ms->ram_size`): its backend's size, else `-m`. */
export function machineRamSize(): bigint {
  const b = qdevGetMachineState()?.memoryBackend;
  if (b) return BigInt(b.propertyGetUint('size'));
  return vmState.ramSize;
}

/** Properties `device-list-properties` leaves out (QEMU's list). */
const HIDDEN_DEVICE_PROPS = new Set([
  'type',
  'realized',
  'hotpluggable',
  'hotplugged',
  'parent_bus',
]);

/** `qmp_device_list_properties`: the settable properties of a concrete device type. */
export function qmpDeviceListProperties(typename: string): JsonObject[] {
  const klass = objectClassByName(typename);
  if (!klass) throw new QomError(`Device '${typename}' not found`, 'DeviceNotFound');
  if (!klass.dynamicCast(TYPE_DEVICE) || klass.isAbstract)
    throw new QomError("Parameter 'typename' expects a non-abstract device type");
  const out: JsonObject[] = [];
  const obj = objectNew(typename);
  try {
    for (const p of obj.properties() as Iterable<ObjectProperty>) {
      if (!p.set || HIDDEN_DEVICE_PROPS.has(p.name) || p.name.startsWith('legacy-')) continue;
      const info: JsonObject = { name: p.name, type: p.type };
      if (p.description !== undefined) info.description = p.description;
      if (p.defval !== undefined) info['default-value'] = p.defval;
      out.push(info);
    }
  } finally {
    obj.unref();
  }
  return out.reverse();
}

/** QEMU's qdev_device_help for `-device TYPE,help`: the sorted property lines. */
export function qdevDeviceHelpText(typename: string): string {
  const props = qmpDeviceListProperties(typename);
  const lines = props.map((p) =>
    objectPropertyHelp(
      p.name as string,
      p.type as string,
      p['default-value'] as JsonValue | undefined,
      p.description as string | undefined,
    ),
  );
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (lines.length === 0) return `There are no options for ${typename}.\n`;
  return `${typename} options:\n${lines.map((l) => l + '\n').join('')}`;
}

/** QEMU's device categories, in the order `-device help` prints them. */
const DEVICE_CATEGORY_NAMES = [
  'Controller/Bridge/Hub',
  'USB',
  'Storage',
  'Network',
  'Input',
  'Display',
  'Sound',
  'Misc',
  'CPU',
  'Watchdog',
  'Uncategorized',
];

/** QEMU's qdev_print_devinfos for `-device help`: user-creatable devices by category. */
export function qdevDeviceListText(): string {
  const classes: DeviceClass[] = [];
  const seen = new Set<string>();
  const walk = (name: string): void => {
    const k = objectClassByName(name);
    if (!(k instanceof DeviceClass) || seen.has(name)) return;
    seen.add(name);
    if (!k.isAbstract && k.userCreatable) classes.push(k);
  };
  for (const name of deviceTypeNames()) walk(name);
  // strcasecmp order
  classes.sort((a, b) => {
    const x = a.typeName.toLowerCase();
    const y = b.typeName.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
  let text = '';
  DEVICE_CATEGORY_NAMES.forEach((cat, i) => {
    const inCat = classes.filter((c) =>
      i < DEVICE_CATEGORY_NAMES.length - 1 ? c.categories.includes(cat) : c.categories.length === 0,
    );
    if (inCat.length === 0) return;
    text += `${i ? '\n' : ''}${cat} devices:\n`;
    for (const c of inCat) {
      text += `name "${c.typeName}"`;
      if (c.busType) text += `, bus ${c.busType}`;
      if (c.desc) text += `, desc "${c.desc}"`;
      text += '\n';
    }
  });
  return text;
}

function deviceTypeNames(): string[] {
  return objectClassGetList(TYPE_DEVICE, false).map((k) => k.typeName);
}

/** QEMU's `-M none,help`: the machine type's settable properties. */
export function machineHelpText(): string {
  return typeClassPropertiesHelp(TYPE_NONE_MACHINE) ?? '';
}

/** One parameter of a command-line option group: name, type, help, default. */
type OptionParam = readonly [string, string, (string | undefined)?, string?];

// QEMU 7.2's reply for the option groups tsqom's command line knows, in
// QEMU's order (the machine group is QEMU's own, whatever the machine).
const COMMAND_LINE_OPTIONS: ReadonlyArray<readonly [string, readonly OptionParam[]]> = [
  [
    'machine',
    [
      [
        'loadparm',
        'string',
        'Up to 8 chars in set of [A-Za-z0-9. ](lower case chars converted to upper case) to pass to machine loader, boot manager, and guest kernel',
      ],
      ['dea-key-wrap', 'boolean', 'enable/disable DEA key wrapping using the CPACF wrapping key'],
      ['aes-key-wrap', 'boolean', 'enable/disable AES key wrapping using the CPACF wrapping key'],
      ['suppress-vmdesc', 'boolean', 'Set on to disable self-describing migration'],
      ['iommu', 'boolean', 'Set on/off to enable/disable Intel IOMMU (VT-d)'],
      ['firmware', 'string', 'firmware image'],
      ['usb', 'boolean', 'Set on/off to enable/disable usb'],
      ['mem-merge', 'boolean', 'enable/disable memory merge support'],
      ['dump-guest-core', 'boolean', 'Include guest memory in  a core dump'],
      ['dt_compatible', 'string', 'Overrides the "compatible" property of the dt root node'],
      ['phandle_start', 'number', 'The first phandle ID we may generate dynamically'],
      ['dumpdtb', 'string', 'Dump current dtb to a file and quit'],
      ['dtb', 'string', 'Linux kernel device tree file'],
      ['append', 'string', 'Linux kernel command line'],
      ['initrd', 'string', 'Linux initial ramdisk file'],
      ['kernel', 'string', 'Linux kernel image file'],
      ['kvm_shadow_mem', 'size', 'KVM shadow MMU size'],
      ['kernel_irqchip', 'boolean', 'use KVM in-kernel irqchip'],
      ['accel', 'string', 'accelerator list'],
      ['type', 'string', 'emulated machine'],
    ],
  ],
  [
    'sandbox',
    [
      ['resourcecontrol', 'string'],
      ['spawn', 'string'],
      ['elevateprivileges', 'string'],
      ['obsolete', 'string'],
      ['enable', 'boolean'],
    ],
  ],
  [
    'action',
    [
      ['watchdog', 'string'],
      ['panic', 'string'],
      ['reboot', 'string'],
      ['shutdown', 'string'],
    ],
  ],
  [
    'name',
    [
      [
        'debug-threads',
        'boolean',
        'When enabled, name the individual threads; defaults off.\nNOTE: The thread names are for debugging and not a\nstable API.',
      ],
      ['process', 'string', 'Sets the name of the QEMU process, as shown in top etc'],
      [
        'guest',
        'string',
        'Sets the name of the guest.\nThis name will be displayed in the SDL window caption.\nThe name will also be used for the VNC server',
      ],
    ],
  ],
  [
    'msg',
    [
      [
        'guest-name',
        'boolean',
        'Prepends guest name for error messages but only if -name guest is set otherwise option is ignored\n',
      ],
      ['timestamp', 'boolean'],
    ],
  ],
  [
    'overcommit',
    [
      ['cpu-pm', 'boolean'],
      ['mem-lock', 'boolean'],
    ],
  ],
  ['object', []],
  [
    'add-fd',
    [
      ['opaque', 'string', 'free-form string used to describe fd'],
      ['set', 'number', 'ID of the fd set to add fd to'],
      ['fd', 'number', 'file descriptor of which a duplicate is added to fd set'],
    ],
  ],
  [
    'smp-opts',
    [
      ['maxcpus', 'number'],
      ['threads', 'number'],
      ['cores', 'number'],
      ['clusters', 'number'],
      ['dies', 'number'],
      ['sockets', 'number'],
      ['cpus', 'number'],
    ],
  ],
  [
    'memory',
    [
      ['maxmem', 'size'],
      ['slots', 'number'],
      ['size', 'size'],
    ],
  ],
  ['accel', []],
  [
    'mon',
    [
      ['pretty', 'boolean'],
      ['chardev', 'string'],
      ['mode', 'string'],
    ],
  ],
  [
    'global',
    [
      ['value', 'string'],
      ['property', 'string'],
      ['driver', 'string'],
    ],
  ],
  ['device', []],
  [
    'chardev',
    [
      ['abstract', 'boolean'],
      ['tight', 'boolean', undefined, 'on'],
      ['clipboard', 'boolean'],
      ['mouse', 'boolean'],
      ['logappend', 'boolean'],
      ['logfile', 'string'],
      ['append', 'boolean'],
      ['chardev', 'string'],
      ['size', 'size'],
      ['debug', 'number'],
      ['name', 'string'],
      ['signal', 'boolean'],
      ['mux', 'boolean'],
      ['rows', 'number'],
      ['cols', 'number'],
      ['height', 'number'],
      ['width', 'number'],
      ['websocket', 'boolean'],
      ['tls-authz', 'string'],
      ['tls-creds', 'string'],
      ['tn3270', 'boolean'],
      ['telnet', 'boolean'],
      ['reconnect', 'number'],
      ['nodelay', 'boolean'],
      ['delay', 'boolean'],
      ['server', 'boolean'],
      ['wait', 'boolean'],
      ['ipv6', 'boolean'],
      ['ipv4', 'boolean'],
      ['to', 'number'],
      ['localport', 'string'],
      ['localaddr', 'string'],
      ['fd', 'string'],
      ['port', 'string'],
      ['host', 'string'],
      ['path', 'string'],
      ['backend', 'string'],
    ],
  ],
];

/** `qmp_query_command_line_options`. */
export function qmpQueryCommandLineOptions(option?: string): JsonObject[] {
  const out: JsonObject[] = [];
  for (const [name, params] of COMMAND_LINE_OPTIONS) {
    if (option !== undefined && option !== name) continue;
    out.push({
      option: name,
      parameters: params.map(([n, type, help, def]) => {
        const p: JsonObject = { name: n, type };
        if (help !== undefined) p.help = help;
        if (def !== undefined) p.default = def;
        return p;
      }),
    });
  }
  if (option !== undefined && out.length === 0)
    throw new QomError(`invalid option name: ${option}`);
  return out;
}

function hex16(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}

/** QEMU's size_to_str: `4 KiB`, `2 MiB`. */
function sizeToStr(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1 && n % 1024 ** (i + 1) === 0) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${Number.isInteger(v) ? v : v.toFixed(3)} ${units[i]}`;
}

/** `info ramblock`: every RAM block in QEMU's list order, at its QEMU offset. */
export function hmpInfoRamblockText(): string {
  let text =
    '              Block Name    PSize              Offset               Used              Total\n';
  const guestRam = qdevGetMachineState()?.memoryBackend ?? null;
  for (const rb of ramBlockList()) {
    // QEMU names a RAM block only once it is registered for migration, as
    // the machine's RAM backend is; other blocks have no name.
    const name =
      guestRam !== null && rb.mr.owner === guestRam
        ? (guestRam.canonicalPathComponent() ?? '')
        : '';
    text += `${name.padStart(24)} ${sizeToStr(rb.pageSize).padStart(8)}  ${hex16(rb.offset)} ${hex16(rb.usedLength)} ${hex16(rb.maxLength)}\n`;
  }
  return text;
}

/** Registers the commands in `registry` and the HMP tables. */
export function registerMachineInfoCommands(
  registry: QmpCommandRegistry = qmpCommands,
  hmp: HmpCommandTable = hmpCommands,
  info: HmpCommandTable = hmpInfoCommands,
): void {
  registry.register({
    name: 'query-target',
    handler: () => ({ arch: QEMU_TARGET }),
  });
  registry.register({
    name: 'query-machines',
    handler: () => [noneMachineInfo()],
  });
  registry.register({
    name: 'query-current-machine',
    handler: () => ({ 'wakeup-suspend-support': false }),
  });
  registry.register({
    name: 'query-cpus-fast',
    handler: () => [],
  });
  registry.register({
    name: 'query-hotpluggable-cpus',
    allowPreconfig: true,
    handler() {
      throw new QomError("The feature 'query-hotpluggable-cpus' is not enabled");
    },
  });
  registry.register({
    name: 'query-memory-size-summary',
    handler: () => ({ 'base-memory': bigOrNumber(machineRamSize()), 'plugged-memory': 0 }),
  });
  registry.register({
    name: 'query-memory-devices',
    handler: () => [],
  });
  registry.register({
    name: 'device-list-properties',
    args: { typename: 'str' },
    handler: (args) => qmpDeviceListProperties(args.typename as string),
  });
  registry.register({
    name: 'query-command-line-options',
    args: { '*option': 'str' },
    allowPreconfig: true,
    handler: (args) => qmpQueryCommandLineOptions(args.option as string | undefined),
  });

  info.register({
    name: 'memory_size_summary',
    argsType: '',
    params: '',
    help: 'show the amount of initially allocated and present hotpluggable (if enabled) memory in bytes.',
    handler(_a, out) {
      out.print(`base memory: ${machineRamSize()}\n`);
      out.print('plugged memory: 0\n');
    },
  });
  info.register({
    name: 'qtree',
    argsType: '',
    params: '',
    help: 'show device tree',
    // tsqom's devices sit on no bus, so the system bus is empty.
    handler: (_a, out) => {
      const bus = sysbusGetDefault();
      out.print(`bus: ${bus.name}\n  type ${bus.typeName}\n`);
    },
  });
  info.register({
    name: 'ramblock',
    argsType: '',
    params: '',
    help: 'Display system ramblock information',
    handler: (_a, out) => out.print(hmpInfoRamblockText()),
  });
  hmp.register({
    name: 'device_add',
    argsType: 'device:S?',
    params: 'driver[,prop=value][,...]',
    help: 'add device, like -device on the command line',
    async handler(args, out) {
      const text = (args.device as string | undefined) ?? '';
      let opts;
      try {
        opts = qemuDeviceOpts.parse(text);
      } catch {
        // QEMU reports the parse error on stderr, not to the monitor.
        out.print('Try "help device_add" for more information\n');
        return;
      }
      if (opts.id !== undefined) qemuDeviceOpts.del(opts.id);
      const driver = qemuOptGet(opts, 'driver');
      if (driver !== undefined && isHelpOption(driver)) {
        out.print(qdevDeviceListText());
        return;
      }
      if (opts.helpWanted && driver !== undefined) {
        out.print(qdevDeviceHelpText(driver));
        return;
      }
      await qmpDeviceAdd(qemuOptsToQdict(opts));
    },
  });
  hmp.register({
    name: 'device_del',
    argsType: 'id:s',
    params: 'device',
    help: 'remove device',
    handler(args, _out, ctx) {
      const host = ctx?.host;
      qdevWithEventEmitter(host ? (e, d) => host.emitEvent(e, d) : null, () =>
        qmpDeviceDel(args.id as string),
      );
    },
  });
}

function bigOrNumber(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
