/**
 * The QAPI schema of what tsqom implements, in the form QEMU's
 * `query-qmp-schema` describes it: the commands and events, then the types
 * they use, with QEMU 7.2's members, enum values, variants and features.
 * Type names here are labels ("command:arg", "type.member") that
 * {@link qmpQuerySchema} replaces by numbers, as QEMU masks its own.
 * `ObjectOptions` lists the QOM types tsqom can create.
 * @module
 */

/** A schema entity as introspection shows it, before names are masked. */
export type SchemaEntry = { readonly name: string; readonly 'meta-type': string } & {
  readonly [key: string]: unknown;
};

/** Commands and events, in QEMU's schema order. */
export const SCHEMA_ENTITIES: readonly SchemaEntry[] = [
  {
    name: 'query-status',
    'ret-type': 'query-status:ret',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'SHUTDOWN',
    'meta-type': 'event',
    'arg-type': 'SHUTDOWN:arg',
  },
  {
    name: 'POWERDOWN',
    'meta-type': 'event',
    'arg-type': 'q_empty',
  },
  {
    name: 'RESET',
    'meta-type': 'event',
    'arg-type': 'RESET:arg',
  },
  {
    name: 'STOP',
    'meta-type': 'event',
    'arg-type': 'q_empty',
  },
  {
    name: 'RESUME',
    'meta-type': 'event',
    'arg-type': 'q_empty',
  },
  {
    name: 'set-action',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'set-action:arg',
  },
  {
    name: 'query-chardev',
    'ret-type': '[query-chardev:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-chardev-backends',
    'ret-type': '[query-chardev-backends:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'chardev-add',
    'ret-type': 'chardev-add:ret',
    'meta-type': 'command',
    'arg-type': 'chardev-add:arg',
  },
  {
    name: 'chardev-remove',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'chardev-remove:arg',
  },
  {
    name: 'qmp_capabilities',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'qmp_capabilities:arg',
  },
  {
    name: 'query-version',
    'ret-type': 'query-version:ret',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-commands',
    'ret-type': '[query-commands:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'quit',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-qmp-schema',
    'ret-type': '[query-qmp-schema:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'qom-list',
    'ret-type': '[qom-list:ret]',
    'meta-type': 'command',
    'arg-type': 'qom-list:arg',
  },
  {
    name: 'qom-get',
    'ret-type': 'any',
    'meta-type': 'command',
    'arg-type': 'qom-get:arg',
  },
  {
    name: 'qom-set',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'qom-set:arg',
  },
  {
    name: 'qom-list-types',
    'ret-type': '[qom-list-types:ret]',
    'meta-type': 'command',
    'arg-type': 'qom-list-types:arg',
  },
  {
    name: 'qom-list-properties',
    'ret-type': '[qom-list:ret]',
    'meta-type': 'command',
    'arg-type': 'qom-list-properties:arg',
  },
  {
    name: 'object-add',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'object-add:arg',
  },
  {
    name: 'object-del',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'object-del:arg',
  },
  {
    name: 'device-list-properties',
    'ret-type': '[qom-list:ret]',
    'meta-type': 'command',
    'arg-type': 'device-list-properties:arg',
  },
  {
    name: 'device_add',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'device_add:arg',
    features: ['json-cli', 'json-cli-hotplug'],
  },
  {
    name: 'device_del',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'device_del:arg',
  },
  {
    name: 'DEVICE_DELETED',
    'meta-type': 'event',
    'arg-type': 'DEVICE_DELETED:arg',
  },
  {
    name: 'query-cpus-fast',
    'ret-type': '[query-cpus-fast:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-machines',
    'ret-type': '[query-machines:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-current-machine',
    'ret-type': 'query-current-machine:ret',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-target',
    'ret-type': 'query-target:ret',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-uuid',
    'ret-type': 'query-uuid:ret',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'system_reset',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'system_powerdown',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-kvm',
    'ret-type': 'query-kvm:ret',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-memdev',
    'ret-type': '[query-memdev:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-hotpluggable-cpus',
    'ret-type': '[query-hotpluggable-cpus:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-memory-size-summary',
    'ret-type': 'query-memory-size-summary:ret',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-memory-devices',
    'ret-type': '[query-memory-devices:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'yank',
    'ret-type': 'q_empty',
    'allow-oob': true,
    'meta-type': 'command',
    'arg-type': 'yank:arg',
  },
  {
    name: 'query-yank',
    'ret-type': '[query-yank:ret]',
    'allow-oob': true,
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-name',
    'ret-type': 'query-name:ret',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-iothreads',
    'ret-type': '[query-iothreads:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'stop',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'cont',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'x-exit-preconfig',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'q_empty',
    features: ['unstable'],
  },
  {
    name: 'human-monitor-command',
    'ret-type': 'str',
    'meta-type': 'command',
    'arg-type': 'human-monitor-command:arg',
    features: ['savevm-monitor-nodes'],
  },
  {
    name: 'getfd',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'getfd:arg',
  },
  {
    name: 'closefd',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'closefd:arg',
  },
  {
    name: 'add-fd',
    'ret-type': 'add-fd:ret',
    'meta-type': 'command',
    'arg-type': 'add-fd:arg',
  },
  {
    name: 'remove-fd',
    'ret-type': 'q_empty',
    'meta-type': 'command',
    'arg-type': 'remove-fd:arg',
  },
  {
    name: 'query-fdsets',
    'ret-type': '[query-fdsets:ret]',
    'meta-type': 'command',
    'arg-type': 'q_empty',
  },
  {
    name: 'query-command-line-options',
    'ret-type': '[query-command-line-options:ret]',
    'meta-type': 'command',
    'arg-type': 'query-command-line-options:arg',
  },
];

/** Named types (not builtins, not arrays), in order of first use. */
export const SCHEMA_TYPES: readonly SchemaEntry[] = [
  {
    name: 'q_empty',
    members: [],
    'meta-type': 'object',
  },
  {
    name: 'query-status:ret',
    members: [
      {
        name: 'running',
        type: 'bool',
      },
      {
        name: 'singlestep',
        type: 'bool',
      },
      {
        name: 'status',
        type: 'query-status:ret.status',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'SHUTDOWN:arg',
    members: [
      {
        name: 'guest',
        type: 'bool',
      },
      {
        name: 'reason',
        type: 'SHUTDOWN:arg.reason',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'RESET:arg',
    members: [
      {
        name: 'guest',
        type: 'bool',
      },
      {
        name: 'reason',
        type: 'SHUTDOWN:arg.reason',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'set-action:arg',
    members: [
      {
        name: 'reboot',
        default: null,
        type: 'set-action:arg.reboot',
      },
      {
        name: 'shutdown',
        default: null,
        type: 'set-action:arg.shutdown',
      },
      {
        name: 'panic',
        default: null,
        type: 'set-action:arg.panic',
      },
      {
        name: 'watchdog',
        default: null,
        type: 'set-action:arg.watchdog',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-chardev:ret',
    members: [
      {
        name: 'label',
        type: 'str',
      },
      {
        name: 'filename',
        type: 'str',
      },
      {
        name: 'frontend-open',
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-chardev-backends:ret',
    members: [
      {
        name: 'name',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg',
    members: [
      {
        name: 'id',
        type: 'str',
      },
      {
        name: 'backend',
        type: 'chardev-add:arg.backend',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:ret',
    members: [
      {
        name: 'pty',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-remove:arg',
    members: [
      {
        name: 'id',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qmp_capabilities:arg',
    members: [
      {
        name: 'enable',
        default: null,
        type: '[qmp_capabilities:arg.enable]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-version:ret',
    members: [
      {
        name: 'qemu',
        type: 'query-version:ret.qemu',
      },
      {
        name: 'package',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-commands:ret',
    members: [
      {
        name: 'name',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret',
    tag: 'meta-type',
    variants: [
      {
        case: 'builtin',
        type: 'query-qmp-schema:ret/builtin',
      },
      {
        case: 'enum',
        type: 'query-qmp-schema:ret/enum',
      },
      {
        case: 'array',
        type: 'query-qmp-schema:ret/array',
      },
      {
        case: 'object',
        type: 'query-qmp-schema:ret/object',
      },
      {
        case: 'alternate',
        type: 'query-qmp-schema:ret/alternate',
      },
      {
        case: 'command',
        type: 'query-qmp-schema:ret/command',
      },
      {
        case: 'event',
        type: 'query-qmp-schema:ret/event',
      },
    ],
    members: [
      {
        name: 'name',
        type: 'str',
      },
      {
        name: 'meta-type',
        type: 'query-qmp-schema:ret.meta-type',
      },
      {
        name: 'features',
        default: null,
        type: '[str]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qom-list:arg',
    members: [
      {
        name: 'path',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qom-list:ret',
    members: [
      {
        name: 'name',
        type: 'str',
      },
      {
        name: 'type',
        type: 'str',
      },
      {
        name: 'description',
        default: null,
        type: 'str',
      },
      {
        name: 'default-value',
        default: null,
        type: 'any',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qom-get:arg',
    members: [
      {
        name: 'path',
        type: 'str',
      },
      {
        name: 'property',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qom-set:arg',
    members: [
      {
        name: 'path',
        type: 'str',
      },
      {
        name: 'property',
        type: 'str',
      },
      {
        name: 'value',
        type: 'any',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qom-list-types:arg',
    members: [
      {
        name: 'implements',
        default: null,
        type: 'str',
      },
      {
        name: 'abstract',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qom-list-types:ret',
    members: [
      {
        name: 'name',
        type: 'str',
      },
      {
        name: 'abstract',
        default: null,
        type: 'bool',
      },
      {
        name: 'parent',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qom-list-properties:arg',
    members: [
      {
        name: 'typename',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'object-add:arg',
    tag: 'qom-type',
    variants: [
      {
        case: 'memory-backend-file',
        type: 'object-add:arg/memory-backend-file',
      },
      {
        case: 'memory-backend-memfd',
        type: 'object-add:arg/memory-backend-memfd',
      },
      {
        case: 'memory-backend-ram',
        type: 'object-add:arg/memory-backend-ram',
      },
      {
        case: 'memory-backend-shm',
        type: 'object-add:arg/memory-backend-ram',
      },
      {
        case: 'thread-context',
        type: 'object-add:arg/thread-context',
      },
    ],
    members: [
      {
        name: 'qom-type',
        type: 'object-add:arg.qom-type',
      },
      {
        name: 'id',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'object-del:arg',
    members: [
      {
        name: 'id',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'device-list-properties:arg',
    members: [
      {
        name: 'typename',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'device_add:arg',
    members: [
      {
        name: 'driver',
        type: 'str',
      },
      {
        name: 'bus',
        default: null,
        type: 'str',
      },
      {
        name: 'id',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'device_del:arg',
    members: [
      {
        name: 'id',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'DEVICE_DELETED:arg',
    members: [
      {
        name: 'device',
        default: null,
        type: 'str',
      },
      {
        name: 'path',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-cpus-fast:ret',
    tag: 'target',
    variants: [
      {
        case: 's390x',
        type: 'query-cpus-fast:ret/s390x',
      },
      {
        case: 'aarch64',
        type: 'q_empty',
      },
      {
        case: 'alpha',
        type: 'q_empty',
      },
      {
        case: 'arm',
        type: 'q_empty',
      },
      {
        case: 'avr',
        type: 'q_empty',
      },
      {
        case: 'cris',
        type: 'q_empty',
      },
      {
        case: 'hppa',
        type: 'q_empty',
      },
      {
        case: 'i386',
        type: 'q_empty',
      },
      {
        case: 'loongarch64',
        type: 'q_empty',
      },
      {
        case: 'm68k',
        type: 'q_empty',
      },
      {
        case: 'microblaze',
        type: 'q_empty',
      },
      {
        case: 'microblazeel',
        type: 'q_empty',
      },
      {
        case: 'mips',
        type: 'q_empty',
      },
      {
        case: 'mips64',
        type: 'q_empty',
      },
      {
        case: 'mips64el',
        type: 'q_empty',
      },
      {
        case: 'mipsel',
        type: 'q_empty',
      },
      {
        case: 'nios2',
        type: 'q_empty',
      },
      {
        case: 'or1k',
        type: 'q_empty',
      },
      {
        case: 'ppc',
        type: 'q_empty',
      },
      {
        case: 'ppc64',
        type: 'q_empty',
      },
      {
        case: 'riscv32',
        type: 'q_empty',
      },
      {
        case: 'riscv64',
        type: 'q_empty',
      },
      {
        case: 'rx',
        type: 'q_empty',
      },
      {
        case: 'sh4',
        type: 'q_empty',
      },
      {
        case: 'sh4eb',
        type: 'q_empty',
      },
      {
        case: 'sparc',
        type: 'q_empty',
      },
      {
        case: 'sparc64',
        type: 'q_empty',
      },
      {
        case: 'tricore',
        type: 'q_empty',
      },
      {
        case: 'x86_64',
        type: 'q_empty',
      },
      {
        case: 'xtensa',
        type: 'q_empty',
      },
      {
        case: 'xtensaeb',
        type: 'q_empty',
      },
    ],
    members: [
      {
        name: 'cpu-index',
        type: 'int',
      },
      {
        name: 'qom-path',
        type: 'str',
      },
      {
        name: 'thread-id',
        type: 'int',
      },
      {
        name: 'props',
        default: null,
        type: 'query-cpus-fast:ret.props',
      },
      {
        name: 'target',
        type: 'query-cpus-fast:ret.target',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-machines:ret',
    members: [
      {
        name: 'name',
        type: 'str',
      },
      {
        name: 'alias',
        default: null,
        type: 'str',
      },
      {
        name: 'is-default',
        default: null,
        type: 'bool',
      },
      {
        name: 'cpu-max',
        type: 'int',
      },
      {
        name: 'hotpluggable-cpus',
        type: 'bool',
      },
      {
        name: 'numa-mem-supported',
        type: 'bool',
      },
      {
        name: 'deprecated',
        type: 'bool',
      },
      {
        name: 'default-cpu-type',
        default: null,
        type: 'str',
      },
      {
        name: 'default-ram-id',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-current-machine:ret',
    members: [
      {
        name: 'wakeup-suspend-support',
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-target:ret',
    members: [
      {
        name: 'arch',
        type: 'query-cpus-fast:ret.target',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-uuid:ret',
    members: [
      {
        name: 'UUID',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-kvm:ret',
    members: [
      {
        name: 'enabled',
        type: 'bool',
      },
      {
        name: 'present',
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memdev:ret',
    members: [
      {
        name: 'id',
        default: null,
        type: 'str',
      },
      {
        name: 'size',
        type: 'int',
      },
      {
        name: 'merge',
        type: 'bool',
      },
      {
        name: 'dump',
        type: 'bool',
      },
      {
        name: 'prealloc',
        type: 'bool',
      },
      {
        name: 'share',
        type: 'bool',
      },
      {
        name: 'reserve',
        default: null,
        type: 'bool',
      },
      {
        name: 'host-nodes',
        type: '[int]',
      },
      {
        name: 'policy',
        type: 'query-memdev:ret.policy',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-hotpluggable-cpus:ret',
    members: [
      {
        name: 'type',
        type: 'str',
      },
      {
        name: 'vcpus-count',
        type: 'int',
      },
      {
        name: 'props',
        type: 'query-cpus-fast:ret.props',
      },
      {
        name: 'qom-path',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memory-size-summary:ret',
    members: [
      {
        name: 'base-memory',
        type: 'int',
      },
      {
        name: 'plugged-memory',
        default: null,
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memory-devices:ret',
    tag: 'type',
    variants: [
      {
        case: 'dimm',
        type: 'query-memory-devices:ret/dimm',
      },
      {
        case: 'nvdimm',
        type: 'query-memory-devices:ret/dimm',
      },
      {
        case: 'virtio-pmem',
        type: 'query-memory-devices:ret/virtio-pmem',
      },
      {
        case: 'virtio-mem',
        type: 'query-memory-devices:ret/virtio-mem',
      },
      {
        case: 'sgx-epc',
        type: 'query-memory-devices:ret/sgx-epc',
      },
    ],
    members: [
      {
        name: 'type',
        type: 'query-memory-devices:ret.type',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'yank:arg',
    members: [
      {
        name: 'instances',
        type: '[query-yank:ret]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-yank:ret',
    tag: 'type',
    variants: [
      {
        case: 'block-node',
        type: 'query-yank:ret/block-node',
      },
      {
        case: 'chardev',
        type: 'query-yank:ret/chardev',
      },
      {
        case: 'migration',
        type: 'q_empty',
      },
    ],
    members: [
      {
        name: 'type',
        type: 'query-yank:ret.type',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-name:ret',
    members: [
      {
        name: 'name',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-iothreads:ret',
    members: [
      {
        name: 'id',
        type: 'str',
      },
      {
        name: 'thread-id',
        type: 'int',
      },
      {
        name: 'poll-max-ns',
        type: 'int',
      },
      {
        name: 'poll-grow',
        type: 'int',
      },
      {
        name: 'poll-shrink',
        type: 'int',
      },
      {
        name: 'aio-max-batch',
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'human-monitor-command:arg',
    members: [
      {
        name: 'command-line',
        type: 'str',
      },
      {
        name: 'cpu-index',
        default: null,
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'getfd:arg',
    members: [
      {
        name: 'fdname',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'closefd:arg',
    members: [
      {
        name: 'fdname',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'add-fd:arg',
    members: [
      {
        name: 'fdset-id',
        default: null,
        type: 'int',
      },
      {
        name: 'opaque',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'add-fd:ret',
    members: [
      {
        name: 'fdset-id',
        type: 'int',
      },
      {
        name: 'fd',
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'remove-fd:arg',
    members: [
      {
        name: 'fdset-id',
        type: 'int',
      },
      {
        name: 'fd',
        default: null,
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-fdsets:ret',
    members: [
      {
        name: 'fdset-id',
        type: 'int',
      },
      {
        name: 'fds',
        type: '[query-fdsets:ret.fds]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-command-line-options:arg',
    members: [
      {
        name: 'option',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-command-line-options:ret',
    members: [
      {
        name: 'option',
        type: 'str',
      },
      {
        name: 'parameters',
        type: '[query-command-line-options:ret.parameters]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-status:ret.status',
    members: [
      {
        name: 'debug',
      },
      {
        name: 'inmigrate',
      },
      {
        name: 'internal-error',
      },
      {
        name: 'io-error',
      },
      {
        name: 'paused',
      },
      {
        name: 'postmigrate',
      },
      {
        name: 'prelaunch',
      },
      {
        name: 'finish-migrate',
      },
      {
        name: 'restore-vm',
      },
      {
        name: 'running',
      },
      {
        name: 'save-vm',
      },
      {
        name: 'shutdown',
      },
      {
        name: 'suspended',
      },
      {
        name: 'watchdog',
      },
      {
        name: 'guest-panicked',
      },
      {
        name: 'colo',
      },
    ],
    'meta-type': 'enum',
    values: [
      'debug',
      'inmigrate',
      'internal-error',
      'io-error',
      'paused',
      'postmigrate',
      'prelaunch',
      'finish-migrate',
      'restore-vm',
      'running',
      'save-vm',
      'shutdown',
      'suspended',
      'watchdog',
      'guest-panicked',
      'colo',
    ],
  },
  {
    name: 'SHUTDOWN:arg.reason',
    members: [
      {
        name: 'none',
      },
      {
        name: 'host-error',
      },
      {
        name: 'host-qmp-quit',
      },
      {
        name: 'host-qmp-system-reset',
      },
      {
        name: 'host-signal',
      },
      {
        name: 'host-ui',
      },
      {
        name: 'guest-shutdown',
      },
      {
        name: 'guest-reset',
      },
      {
        name: 'guest-panic',
      },
      {
        name: 'subsystem-reset',
      },
      {
        name: 'snapshot-load',
      },
    ],
    'meta-type': 'enum',
    values: [
      'none',
      'host-error',
      'host-qmp-quit',
      'host-qmp-system-reset',
      'host-signal',
      'host-ui',
      'guest-shutdown',
      'guest-reset',
      'guest-panic',
      'subsystem-reset',
      'snapshot-load',
    ],
  },
  {
    name: 'set-action:arg.reboot',
    members: [
      {
        name: 'reset',
      },
      {
        name: 'shutdown',
      },
    ],
    'meta-type': 'enum',
    values: ['reset', 'shutdown'],
  },
  {
    name: 'set-action:arg.shutdown',
    members: [
      {
        name: 'poweroff',
      },
      {
        name: 'pause',
      },
    ],
    'meta-type': 'enum',
    values: ['poweroff', 'pause'],
  },
  {
    name: 'set-action:arg.panic',
    members: [
      {
        name: 'pause',
      },
      {
        name: 'shutdown',
      },
      {
        name: 'exit-failure',
      },
      {
        name: 'none',
      },
    ],
    'meta-type': 'enum',
    values: ['pause', 'shutdown', 'exit-failure', 'none'],
  },
  {
    name: 'set-action:arg.watchdog',
    members: [
      {
        name: 'reset',
      },
      {
        name: 'shutdown',
      },
      {
        name: 'poweroff',
      },
      {
        name: 'pause',
      },
      {
        name: 'debug',
      },
      {
        name: 'none',
      },
      {
        name: 'inject-nmi',
      },
    ],
    'meta-type': 'enum',
    values: ['reset', 'shutdown', 'poweroff', 'pause', 'debug', 'none', 'inject-nmi'],
  },
  {
    name: 'chardev-add:arg.backend',
    tag: 'type',
    variants: [
      {
        case: 'file',
        type: 'chardev-add:arg.backend/file',
      },
      {
        case: 'serial',
        type: 'chardev-add:arg.backend/serial',
      },
      {
        case: 'parallel',
        type: 'chardev-add:arg.backend/serial',
      },
      {
        case: 'pipe',
        type: 'chardev-add:arg.backend/serial',
      },
      {
        case: 'socket',
        type: 'chardev-add:arg.backend/socket',
      },
      {
        case: 'udp',
        type: 'chardev-add:arg.backend/udp',
      },
      {
        case: 'pty',
        type: 'chardev-add:arg.backend/pty',
      },
      {
        case: 'null',
        type: 'chardev-add:arg.backend/pty',
      },
      {
        case: 'mux',
        type: 'chardev-add:arg.backend/mux',
      },
      {
        case: 'msmouse',
        type: 'chardev-add:arg.backend/pty',
      },
      {
        case: 'wctablet',
        type: 'chardev-add:arg.backend/pty',
      },
      {
        case: 'braille',
        type: 'chardev-add:arg.backend/pty',
      },
      {
        case: 'testdev',
        type: 'chardev-add:arg.backend/pty',
      },
      {
        case: 'stdio',
        type: 'chardev-add:arg.backend/stdio',
      },
      {
        case: 'console',
        type: 'chardev-add:arg.backend/pty',
      },
      {
        case: 'spicevmc',
        type: 'chardev-add:arg.backend/spicevmc',
      },
      {
        case: 'spiceport',
        type: 'chardev-add:arg.backend/spiceport',
      },
      {
        case: 'qemu-vdagent',
        type: 'chardev-add:arg.backend/qemu-vdagent',
      },
      {
        case: 'dbus',
        type: 'chardev-add:arg.backend/dbus',
      },
      {
        case: 'vc',
        type: 'chardev-add:arg.backend/vc',
      },
      {
        case: 'ringbuf',
        type: 'chardev-add:arg.backend/ringbuf',
      },
      {
        case: 'memory',
        type: 'chardev-add:arg.backend/ringbuf',
      },
    ],
    members: [
      {
        name: 'type',
        type: 'chardev-add:arg.backend.type',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'qmp_capabilities:arg.enable',
    members: [
      {
        name: 'oob',
      },
    ],
    'meta-type': 'enum',
    values: ['oob'],
  },
  {
    name: 'query-version:ret.qemu',
    members: [
      {
        name: 'major',
        type: 'int',
      },
      {
        name: 'minor',
        type: 'int',
      },
      {
        name: 'micro',
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret.meta-type',
    members: [
      {
        name: 'builtin',
      },
      {
        name: 'enum',
      },
      {
        name: 'array',
      },
      {
        name: 'object',
      },
      {
        name: 'alternate',
      },
      {
        name: 'command',
      },
      {
        name: 'event',
      },
    ],
    'meta-type': 'enum',
    values: ['builtin', 'enum', 'array', 'object', 'alternate', 'command', 'event'],
  },
  {
    name: 'query-qmp-schema:ret/builtin',
    members: [
      {
        name: 'json-type',
        type: 'query-qmp-schema:ret/builtin.json-type',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/enum',
    members: [
      {
        name: 'members',
        type: '[query-qmp-schema:ret/enum.members]',
      },
      {
        name: 'values',
        type: '[str]',
        features: ['deprecated'],
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/array',
    members: [
      {
        name: 'element-type',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/object',
    members: [
      {
        name: 'members',
        type: '[query-qmp-schema:ret/object.members]',
      },
      {
        name: 'tag',
        default: null,
        type: 'str',
      },
      {
        name: 'variants',
        default: null,
        type: '[query-qmp-schema:ret/object.variants]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/alternate',
    members: [
      {
        name: 'members',
        type: '[query-qmp-schema:ret/alternate.members]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/command',
    members: [
      {
        name: 'arg-type',
        type: 'str',
      },
      {
        name: 'ret-type',
        type: 'str',
      },
      {
        name: 'allow-oob',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/event',
    members: [
      {
        name: 'arg-type',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'object-add:arg.qom-type',
    members: [
      {
        name: 'memory-backend-file',
      },
      {
        name: 'memory-backend-memfd',
      },
      {
        name: 'memory-backend-ram',
      },
      {
        name: 'memory-backend-shm',
      },
      {
        name: 'thread-context',
      },
    ],
    'meta-type': 'enum',
    values: [
      'memory-backend-file',
      'memory-backend-memfd',
      'memory-backend-ram',
      'memory-backend-shm',
      'thread-context',
    ],
  },
  {
    name: 'object-add:arg/memory-backend-file',
    members: [
      {
        name: 'dump',
        default: null,
        type: 'bool',
      },
      {
        name: 'host-nodes',
        default: null,
        type: '[int]',
      },
      {
        name: 'merge',
        default: null,
        type: 'bool',
      },
      {
        name: 'policy',
        default: null,
        type: 'query-memdev:ret.policy',
      },
      {
        name: 'prealloc',
        default: null,
        type: 'bool',
      },
      {
        name: 'prealloc-threads',
        default: null,
        type: 'int',
      },
      {
        name: 'prealloc-context',
        default: null,
        type: 'str',
      },
      {
        name: 'share',
        default: null,
        type: 'bool',
      },
      {
        name: 'reserve',
        default: null,
        type: 'bool',
      },
      {
        name: 'size',
        type: 'int',
      },
      {
        name: 'x-use-canonical-path-for-ramblock-id',
        default: null,
        type: 'bool',
      },
      {
        name: 'align',
        default: null,
        type: 'int',
      },
      {
        name: 'discard-data',
        default: null,
        type: 'bool',
      },
      {
        name: 'mem-path',
        type: 'str',
      },
      {
        name: 'pmem',
        default: null,
        type: 'bool',
      },
      {
        name: 'readonly',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'object-add:arg/memory-backend-memfd',
    members: [
      {
        name: 'dump',
        default: null,
        type: 'bool',
      },
      {
        name: 'host-nodes',
        default: null,
        type: '[int]',
      },
      {
        name: 'merge',
        default: null,
        type: 'bool',
      },
      {
        name: 'policy',
        default: null,
        type: 'query-memdev:ret.policy',
      },
      {
        name: 'prealloc',
        default: null,
        type: 'bool',
      },
      {
        name: 'prealloc-threads',
        default: null,
        type: 'int',
      },
      {
        name: 'prealloc-context',
        default: null,
        type: 'str',
      },
      {
        name: 'share',
        default: null,
        type: 'bool',
      },
      {
        name: 'reserve',
        default: null,
        type: 'bool',
      },
      {
        name: 'size',
        type: 'int',
      },
      {
        name: 'x-use-canonical-path-for-ramblock-id',
        default: null,
        type: 'bool',
      },
      {
        name: 'hugetlb',
        default: null,
        type: 'bool',
      },
      {
        name: 'hugetlbsize',
        default: null,
        type: 'int',
      },
      {
        name: 'seal',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'object-add:arg/memory-backend-ram',
    members: [
      {
        name: 'dump',
        default: null,
        type: 'bool',
      },
      {
        name: 'host-nodes',
        default: null,
        type: '[int]',
      },
      {
        name: 'merge',
        default: null,
        type: 'bool',
      },
      {
        name: 'policy',
        default: null,
        type: 'query-memdev:ret.policy',
      },
      {
        name: 'prealloc',
        default: null,
        type: 'bool',
      },
      {
        name: 'prealloc-threads',
        default: null,
        type: 'int',
      },
      {
        name: 'prealloc-context',
        default: null,
        type: 'str',
      },
      {
        name: 'share',
        default: null,
        type: 'bool',
      },
      {
        name: 'reserve',
        default: null,
        type: 'bool',
      },
      {
        name: 'size',
        type: 'int',
      },
      {
        name: 'x-use-canonical-path-for-ramblock-id',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'object-add:arg/thread-context',
    members: [
      {
        name: 'cpu-affinity',
        default: null,
        type: '[int]',
      },
      {
        name: 'node-affinity',
        default: null,
        type: '[int]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-cpus-fast:ret.props',
    members: [
      {
        name: 'node-id',
        default: null,
        type: 'int',
      },
      {
        name: 'socket-id',
        default: null,
        type: 'int',
      },
      {
        name: 'die-id',
        default: null,
        type: 'int',
      },
      {
        name: 'cluster-id',
        default: null,
        type: 'int',
      },
      {
        name: 'core-id',
        default: null,
        type: 'int',
      },
      {
        name: 'thread-id',
        default: null,
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-cpus-fast:ret.target',
    members: [
      {
        name: 'aarch64',
      },
      {
        name: 'alpha',
      },
      {
        name: 'arm',
      },
      {
        name: 'avr',
      },
      {
        name: 'cris',
      },
      {
        name: 'hppa',
      },
      {
        name: 'i386',
      },
      {
        name: 'loongarch64',
      },
      {
        name: 'm68k',
      },
      {
        name: 'microblaze',
      },
      {
        name: 'microblazeel',
      },
      {
        name: 'mips',
      },
      {
        name: 'mips64',
      },
      {
        name: 'mips64el',
      },
      {
        name: 'mipsel',
      },
      {
        name: 'nios2',
      },
      {
        name: 'or1k',
      },
      {
        name: 'ppc',
      },
      {
        name: 'ppc64',
      },
      {
        name: 'riscv32',
      },
      {
        name: 'riscv64',
      },
      {
        name: 'rx',
      },
      {
        name: 's390x',
      },
      {
        name: 'sh4',
      },
      {
        name: 'sh4eb',
      },
      {
        name: 'sparc',
      },
      {
        name: 'sparc64',
      },
      {
        name: 'tricore',
      },
      {
        name: 'x86_64',
      },
      {
        name: 'xtensa',
      },
      {
        name: 'xtensaeb',
      },
    ],
    'meta-type': 'enum',
    values: [
      'aarch64',
      'alpha',
      'arm',
      'avr',
      'cris',
      'hppa',
      'i386',
      'loongarch64',
      'm68k',
      'microblaze',
      'microblazeel',
      'mips',
      'mips64',
      'mips64el',
      'mipsel',
      'nios2',
      'or1k',
      'ppc',
      'ppc64',
      'riscv32',
      'riscv64',
      'rx',
      's390x',
      'sh4',
      'sh4eb',
      'sparc',
      'sparc64',
      'tricore',
      'x86_64',
      'xtensa',
      'xtensaeb',
    ],
  },
  {
    name: 'query-cpus-fast:ret/s390x',
    members: [
      {
        name: 'cpu-state',
        type: 'query-cpus-fast:ret/s390x.cpu-state',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memdev:ret.policy',
    members: [
      {
        name: 'default',
      },
      {
        name: 'preferred',
      },
      {
        name: 'bind',
      },
      {
        name: 'interleave',
      },
    ],
    'meta-type': 'enum',
    values: ['default', 'preferred', 'bind', 'interleave'],
  },
  {
    name: 'query-memory-devices:ret.type',
    members: [
      {
        name: 'dimm',
      },
      {
        name: 'nvdimm',
      },
      {
        name: 'virtio-pmem',
      },
      {
        name: 'virtio-mem',
      },
      {
        name: 'sgx-epc',
      },
    ],
    'meta-type': 'enum',
    values: ['dimm', 'nvdimm', 'virtio-pmem', 'virtio-mem', 'sgx-epc'],
  },
  {
    name: 'query-memory-devices:ret/dimm',
    members: [
      {
        name: 'data',
        type: 'query-memory-devices:ret/dimm.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memory-devices:ret/virtio-pmem',
    members: [
      {
        name: 'data',
        type: 'query-memory-devices:ret/virtio-pmem.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memory-devices:ret/virtio-mem',
    members: [
      {
        name: 'data',
        type: 'query-memory-devices:ret/virtio-mem.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memory-devices:ret/sgx-epc',
    members: [
      {
        name: 'data',
        type: 'query-memory-devices:ret/sgx-epc.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-yank:ret.type',
    members: [
      {
        name: 'block-node',
      },
      {
        name: 'chardev',
      },
      {
        name: 'migration',
      },
    ],
    'meta-type': 'enum',
    values: ['block-node', 'chardev', 'migration'],
  },
  {
    name: 'query-yank:ret/block-node',
    members: [
      {
        name: 'node-name',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-yank:ret/chardev',
    members: [
      {
        name: 'id',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-fdsets:ret.fds',
    members: [
      {
        name: 'fd',
        type: 'int',
      },
      {
        name: 'opaque',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-command-line-options:ret.parameters',
    members: [
      {
        name: 'name',
        type: 'str',
      },
      {
        name: 'type',
        type: 'query-command-line-options:ret.parameters.type',
      },
      {
        name: 'help',
        default: null,
        type: 'str',
      },
      {
        name: 'default',
        default: null,
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend.type',
    members: [
      {
        name: 'file',
      },
      {
        name: 'serial',
      },
      {
        name: 'parallel',
      },
      {
        name: 'pipe',
      },
      {
        name: 'socket',
      },
      {
        name: 'udp',
      },
      {
        name: 'pty',
      },
      {
        name: 'null',
      },
      {
        name: 'mux',
      },
      {
        name: 'msmouse',
      },
      {
        name: 'wctablet',
      },
      {
        name: 'braille',
      },
      {
        name: 'testdev',
      },
      {
        name: 'stdio',
      },
      {
        name: 'console',
      },
      {
        name: 'spicevmc',
      },
      {
        name: 'spiceport',
      },
      {
        name: 'qemu-vdagent',
      },
      {
        name: 'dbus',
      },
      {
        name: 'vc',
      },
      {
        name: 'ringbuf',
      },
      {
        name: 'memory',
      },
    ],
    'meta-type': 'enum',
    values: [
      'file',
      'serial',
      'parallel',
      'pipe',
      'socket',
      'udp',
      'pty',
      'null',
      'mux',
      'msmouse',
      'wctablet',
      'braille',
      'testdev',
      'stdio',
      'console',
      'spicevmc',
      'spiceport',
      'qemu-vdagent',
      'dbus',
      'vc',
      'ringbuf',
      'memory',
    ],
  },
  {
    name: 'chardev-add:arg.backend/file',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/file.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/serial',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/serial.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/socket.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/udp',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/udp.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/pty',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/pty.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/mux',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/mux.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/stdio',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/stdio.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/spicevmc',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/spicevmc.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/spiceport',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/spiceport.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/qemu-vdagent',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/qemu-vdagent.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/dbus',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/dbus.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/vc',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/vc.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/ringbuf',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/ringbuf.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/builtin.json-type',
    members: [
      {
        name: 'string',
      },
      {
        name: 'number',
      },
      {
        name: 'int',
      },
      {
        name: 'boolean',
      },
      {
        name: 'null',
      },
      {
        name: 'object',
      },
      {
        name: 'array',
      },
      {
        name: 'value',
      },
    ],
    'meta-type': 'enum',
    values: ['string', 'number', 'int', 'boolean', 'null', 'object', 'array', 'value'],
  },
  {
    name: 'query-qmp-schema:ret/enum.members',
    members: [
      {
        name: 'name',
        type: 'str',
      },
      {
        name: 'features',
        default: null,
        type: '[str]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/object.members',
    members: [
      {
        name: 'name',
        type: 'str',
      },
      {
        name: 'type',
        type: 'str',
      },
      {
        name: 'default',
        default: null,
        type: 'any',
      },
      {
        name: 'features',
        default: null,
        type: '[str]',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/object.variants',
    members: [
      {
        name: 'case',
        type: 'str',
      },
      {
        name: 'type',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-qmp-schema:ret/alternate.members',
    members: [
      {
        name: 'type',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-cpus-fast:ret/s390x.cpu-state',
    members: [
      {
        name: 'uninitialized',
      },
      {
        name: 'stopped',
      },
      {
        name: 'check-stop',
      },
      {
        name: 'operating',
      },
      {
        name: 'load',
      },
    ],
    'meta-type': 'enum',
    values: ['uninitialized', 'stopped', 'check-stop', 'operating', 'load'],
  },
  {
    name: 'query-memory-devices:ret/dimm.data',
    members: [
      {
        name: 'id',
        default: null,
        type: 'str',
      },
      {
        name: 'addr',
        type: 'int',
      },
      {
        name: 'size',
        type: 'int',
      },
      {
        name: 'slot',
        type: 'int',
      },
      {
        name: 'node',
        type: 'int',
      },
      {
        name: 'memdev',
        type: 'str',
      },
      {
        name: 'hotplugged',
        type: 'bool',
      },
      {
        name: 'hotpluggable',
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memory-devices:ret/virtio-pmem.data',
    members: [
      {
        name: 'id',
        default: null,
        type: 'str',
      },
      {
        name: 'memaddr',
        type: 'int',
      },
      {
        name: 'size',
        type: 'int',
      },
      {
        name: 'memdev',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memory-devices:ret/virtio-mem.data',
    members: [
      {
        name: 'id',
        default: null,
        type: 'str',
      },
      {
        name: 'memaddr',
        type: 'int',
      },
      {
        name: 'requested-size',
        type: 'int',
      },
      {
        name: 'size',
        type: 'int',
      },
      {
        name: 'max-size',
        type: 'int',
      },
      {
        name: 'block-size',
        type: 'int',
      },
      {
        name: 'node',
        type: 'int',
      },
      {
        name: 'memdev',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-memory-devices:ret/sgx-epc.data',
    members: [
      {
        name: 'id',
        default: null,
        type: 'str',
      },
      {
        name: 'memaddr',
        type: 'int',
      },
      {
        name: 'size',
        type: 'int',
      },
      {
        name: 'node',
        type: 'int',
      },
      {
        name: 'memdev',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'query-command-line-options:ret.parameters.type',
    members: [
      {
        name: 'string',
      },
      {
        name: 'boolean',
      },
      {
        name: 'number',
      },
      {
        name: 'size',
      },
    ],
    'meta-type': 'enum',
    values: ['string', 'boolean', 'number', 'size'],
  },
  {
    name: 'chardev-add:arg.backend/file.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'in',
        default: null,
        type: 'str',
      },
      {
        name: 'out',
        type: 'str',
      },
      {
        name: 'append',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/serial.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'device',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'addr',
        type: 'chardev-add:arg.backend/socket.data.addr',
      },
      {
        name: 'tls-creds',
        default: null,
        type: 'str',
      },
      {
        name: 'tls-authz',
        default: null,
        type: 'str',
      },
      {
        name: 'server',
        default: null,
        type: 'bool',
      },
      {
        name: 'wait',
        default: null,
        type: 'bool',
      },
      {
        name: 'nodelay',
        default: null,
        type: 'bool',
      },
      {
        name: 'telnet',
        default: null,
        type: 'bool',
      },
      {
        name: 'tn3270',
        default: null,
        type: 'bool',
      },
      {
        name: 'websocket',
        default: null,
        type: 'bool',
      },
      {
        name: 'reconnect',
        default: null,
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/udp.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'remote',
        type: 'chardev-add:arg.backend/socket.data.addr',
      },
      {
        name: 'local',
        default: null,
        type: 'chardev-add:arg.backend/socket.data.addr',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/pty.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/mux.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'chardev',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/stdio.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'signal',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/spicevmc.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'type',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/spiceport.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'fqdn',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/qemu-vdagent.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'mouse',
        default: null,
        type: 'bool',
      },
      {
        name: 'clipboard',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/dbus.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'name',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/vc.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'width',
        default: null,
        type: 'int',
      },
      {
        name: 'height',
        default: null,
        type: 'int',
      },
      {
        name: 'cols',
        default: null,
        type: 'int',
      },
      {
        name: 'rows',
        default: null,
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/ringbuf.data',
    members: [
      {
        name: 'logfile',
        default: null,
        type: 'str',
      },
      {
        name: 'logappend',
        default: null,
        type: 'bool',
      },
      {
        name: 'size',
        default: null,
        type: 'int',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr',
    tag: 'type',
    variants: [
      {
        case: 'inet',
        type: 'chardev-add:arg.backend/socket.data.addr/inet',
      },
      {
        case: 'unix',
        type: 'chardev-add:arg.backend/socket.data.addr/unix',
      },
      {
        case: 'vsock',
        type: 'chardev-add:arg.backend/socket.data.addr/vsock',
      },
      {
        case: 'fd',
        type: 'chardev-add:arg.backend/socket.data.addr/fd',
      },
    ],
    members: [
      {
        name: 'type',
        type: 'chardev-add:arg.backend/socket.data.addr.type',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr.type',
    members: [
      {
        name: 'inet',
      },
      {
        name: 'unix',
      },
      {
        name: 'vsock',
      },
      {
        name: 'fd',
      },
    ],
    'meta-type': 'enum',
    values: ['inet', 'unix', 'vsock', 'fd'],
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr/inet',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/socket.data.addr/inet.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr/unix',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/socket.data.addr/unix.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr/vsock',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/socket.data.addr/vsock.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr/fd',
    members: [
      {
        name: 'data',
        type: 'chardev-add:arg.backend/socket.data.addr/fd.data',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr/inet.data',
    members: [
      {
        name: 'host',
        type: 'str',
      },
      {
        name: 'port',
        type: 'str',
      },
      {
        name: 'numeric',
        default: null,
        type: 'bool',
      },
      {
        name: 'to',
        default: null,
        type: 'int',
      },
      {
        name: 'ipv4',
        default: null,
        type: 'bool',
      },
      {
        name: 'ipv6',
        default: null,
        type: 'bool',
      },
      {
        name: 'keep-alive',
        default: null,
        type: 'bool',
      },
      {
        name: 'mptcp',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr/unix.data',
    members: [
      {
        name: 'path',
        type: 'str',
      },
      {
        name: 'abstract',
        default: null,
        type: 'bool',
      },
      {
        name: 'tight',
        default: null,
        type: 'bool',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr/vsock.data',
    members: [
      {
        name: 'cid',
        type: 'str',
      },
      {
        name: 'port',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
  {
    name: 'chardev-add:arg.backend/socket.data.addr/fd.data',
    members: [
      {
        name: 'str',
        type: 'str',
      },
    ],
    'meta-type': 'object',
  },
];
