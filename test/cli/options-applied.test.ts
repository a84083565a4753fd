/**
 * Options whose effect shows only once something is created or reported:
 * `-global`, `-overcommit mem-lock`, `-msg` and `-preconfig`, each against
 * QEMU 7.2. QEMU 7.2 has none of tsqom's device types, so where a device is
 * needed each side uses its own bus-less device and the texts are compared
 * with the type and property names swapped.
 */
import test from 'ava';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { commandFor, type Launchee } from '../helpers/cli/launch.js';
import { QmpClient } from '../helpers/qemu/qmp-client.js';
import { normalizeLine } from '../helpers/qemu/compare.js';
import { type BriefRun, runFor } from '../helpers/cli/differential.js';

const BASE = ['-machine', 'none', '-display', 'none', '-nodefaults'];

type Run = BriefRun;

/** Runs `who` for up to `ms` (then SIGKILL); `wrap` prefixes the command (prlimit, setpriv). */
function run(who: Launchee, args: readonly string[], ms = 4000, wrap: string[] = []): Promise<Run> {
  return runFor(who, [...BASE, ...args], ms, wrap);
}

/** A process with a QMP monitor, connected and negotiated. */
interface Served {
  /** The scratch directory holding the QMP socket. */
  dir: string;
  qmp: QmpClient;
  pid: number;
  stderr(): string;
  exited(): Promise<number | null>;
  stop(): Promise<void>;
}

/** Processes still running, killed after the tests even when one failed half-way. */
const live = new Set<ChildProcess>();
test.after.always(() => {
  for (const c of live) c.kill('SIGKILL');
});

async function serve(who: Launchee, args: readonly string[], wrap: string[] = []): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-applied-'));
  const sock = join(dir, 'qmp.sock');
  const [cmd, argv] = commandFor(who, [
    ...BASE,
    '-qmp',
    `unix:${sock},server=on,wait=off`,
    ...args,
  ]);
  const all = [...wrap, cmd, ...argv];
  const child = spawn(all[0], all.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number | null>((resolve) =>
    child.on('close', (c) => {
      live.delete(child);
      resolve(c);
    }),
  );
  const deadline = Date.now() + 30000;
  while (!existsSync(sock)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`${who} did not listen: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const qmp = await QmpClient.connect(sock, 30000);
  await qmp.negotiate();
  return {
    dir,
    qmp,
    pid: child.pid!,
    stderr: () => stderr.replaceAll('qemu-system-x86_64:', 'tsqom:'),
    exited: () => exit,
    async stop() {
      if (child.exitCode === null) {
        if (!qmp.closed) qmp.sendRaw('{"execute":"quit"}');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(t);
      }
      await qmp.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The same text with QEMU's device names in tsqom's place. */
function swap(text: string, pairs: ReadonlyArray<[string, string]>): string {
  let out = text;
  for (const [q, s] of pairs) out = out.replaceAll(q, s);
  return out;
}

// QEMU 7.2's bus-less devices of the none machine, and tsqom's counterparts
// (both refuse the global before their own realize runs).
const globalCases: Array<{ qemu: string[]; tsqom: string[]; names: Array<[string, string]> }> = [
  {
    qemu: ['-global', 'nvme-subsys.bogus=1', '-device', 'nvme-subsys,id=s'],
    tsqom: ['-global', 'vdev-shmem.bogus=1', '-device', 'vdev-shmem,id=s'],
    names: [['nvme-subsys', 'vdev-shmem']],
  },
  {
    qemu: ['-global', 'driver=nvme-subsys,property=bogus,value=1', '-device', 'nvme-subsys,id=s'],
    tsqom: ['-global', 'driver=vdev-shmem,property=bogus,value=1', '-device', 'vdev-shmem,id=s'],
    names: [['nvme-subsys', 'vdev-shmem']],
  },
  {
    qemu: ['-global', 'hv-syndbg.host_port=abc', '-device', 'hv-syndbg'],
    tsqom: ['-global', 'vhost-user-device.virtio-id=abc', '-device', 'vhost-user-device'],
    names: [
      ['hv-syndbg', 'vhost-user-device'],
      ['host_port', 'virtio-id'],
    ],
  },
  {
    qemu: ['-global', 'hv-syndbg.host_port=70000', '-device', 'hv-syndbg'],
    tsqom: ['-global', 'vhost-user-device.virtio-id=70000', '-device', 'vhost-user-device'],
    names: [
      ['hv-syndbg', 'vhost-user-device'],
      ['host_port', 'virtio-id'],
    ],
  },
  {
    qemu: ['-global', 'hv-syndbg.use_hcalls=abc', '-device', '{"driver":"hv-syndbg"}'],
    tsqom: ['-global', 'vhost-user-device.packed=abc', '-device', '{"driver":"vhost-user-device"}'],
    names: [
      ['hv-syndbg', 'vhost-user-device'],
      ['use_hcalls', 'packed'],
    ],
  },
  {
    // Globals apply in order: the bad one is reached after the good one.
    qemu: [
      '-global',
      'hv-syndbg.host_port=5',
      '-global',
      'hv-syndbg.bogus=abc',
      '-device',
      'hv-syndbg',
    ],
    tsqom: [
      '-global',
      'vhost-user-device.virtio-id=5',
      '-global',
      'vhost-user-device.bogus=abc',
      '-device',
      'vhost-user-device',
    ],
    names: [
      ['hv-syndbg', 'vhost-user-device'],
      ['host_port', 'virtio-id'],
    ],
  },
];

test.serial(
  '-global: a value a cold-plugged device refuses fails start-up with QEMU 7.2 text',
  async (t) => {
    for (const c of globalCases) {
      const [q, s] = await Promise.all([run('qemu', c.qemu), run('tsqom', c.tsqom)]);
      t.is(q.code, 1, c.qemu.join(' '));
      t.is(s.code, 1, c.tsqom.join(' '));
      t.regex(q.stderr, /can't apply global/);
      t.is(s.stderr, swap(q.stderr, c.names), c.tsqom.join(' '));
    }
  },
);

test.serial(
  'accepted as QEMU 7.2 accepts them: -global short forms, -preconfig, -overcommit',
  async (t) => {
    const cases: string[][] = [
      // The short form's driver may hold commas, its property dots and its value anything.
      ['-global', 'a,b.c.d=1,2'],
      ['-preconfig'],
      ['-overcommit', 'mem-lock=off,cpu-pm=on'],
    ];
    const results = await Promise.all(
      cases.map((args) => Promise.all([run('qemu', args, 3000), run('tsqom', args, 4000)])),
    );
    for (const [i, [q, s]] of results.entries()) {
      t.true(q.running && s.running, cases[i].join(' '));
      t.is(s.stderr, q.stderr, cases[i].join(' '));
    }
  },
);

test.serial(
  '-global: types that are not devices, and unknown ones, are warned about and not applied',
  async (t) => {
    const args = [
      '-global',
      'nosuch.x=1',
      '-global',
      'memory-backend-ram.dump=off',
      '-global',
      'driver=machine,property=x,value=1',
      '-object',
      'memory-backend-ram,id=m,size=1M',
    ];
    const [q, s] = await Promise.all([serve('qemu', args), serve('tsqom', args)]);
    try {
      for (const p of [q, s]) {
        t.is(
          await p.qmp.cmd('qom-get', { path: '/objects/m', property: 'dump' }),
          true,
          p.stderr(),
        );
      }
      t.regex(s.stderr(), /memory-backend-ram\.dump has invalid class name/);
      t.is(s.stderr(), q.stderr());
    } finally {
      await Promise.all([q.stop(), s.stop()]);
    }
  },
);

test.serial(
  '-global sets the default of cold- and hot-plugged devices; their own properties win',
  async (t) => {
    // QEMU 7.2's nvme-subsys shows the same on the cold-plug side.
    const q = await serve('qemu', [
      '-global',
      'nvme-subsys.nqn=foo',
      '-device',
      'nvme-subsys,id=a',
      '-device',
      'nvme-subsys,id=b,nqn=bar',
    ]);
    const s = await serve('tsqom', [
      '-global',
      'vdev-shmem.window-size=2M',
      '-device',
      'vdev-shmem,id=a,loc=0x10000000,intr=5',
      '-device',
      'vdev-shmem,id=b,loc=0x20000000,intr=6,window-size=4M',
    ]);
    try {
      t.is(await q.qmp.cmd('qom-get', { path: '/machine/peripheral/a', property: 'nqn' }), 'foo');
      t.is(await q.qmp.cmd('qom-get', { path: '/machine/peripheral/b', property: 'nqn' }), 'bar');
      const get = (id: string): Promise<unknown> =>
        s.qmp.cmd('qom-get', { path: `/machine/peripheral/${id}`, property: 'window-size' });
      t.is(await get('a'), '2M');
      t.is(await get('b'), '4M');
      // device_add: QEMU 7.2 has no hot-pluggable bus-less device to compare with.
      await s.qmp.cmd('device_add', {
        driver: 'vdev-shmem',
        id: 'c',
        loc: '0x30000000',
        intr: '7',
      });
      t.is(await get('c'), '2M');
      t.is(s.stderr(), '');
    } finally {
      await Promise.all([q.stop(), s.stop()]);
    }
  },
);

test.serial(
  '-global that a hot-plugged device refuses is a warning, as in QEMU, and the device is added',
  async (t) => {
    const s = await serve('tsqom', ['-global', 'vdev-shmem.bogus=1']);
    try {
      await s.qmp.cmd('device_add', {
        driver: 'vdev-shmem',
        id: 'c',
        loc: '0x30000000',
        intr: '7',
      });
      t.is(
        await s.qmp.cmd('qom-get', { path: '/machine/peripheral/c', property: 'realized' }),
        true,
      );
      // Inside a monitor command QEMU prints neither its name nor -msg prefixes.
      t.is(
        s.stderr(),
        "warning: can't apply global vdev-shmem.bogus=1: Property 'vdev-shmem.bogus' not found\n",
      );
    } finally {
      await s.stop();
    }
  },
);

test.serial('-global: device-list-properties warns as QEMU 7.2 does', async (t) => {
  const q = await serve('qemu', ['-global', 'nvme-subsys.bogus=1']);
  const s = await serve('tsqom', ['-global', 'vdev-shmem.bogus=1']);
  try {
    await q.qmp.cmd('device-list-properties', { typename: 'nvme-subsys' });
    await s.qmp.cmd('device-list-properties', { typename: 'vdev-shmem' });
    const warning = (x: string): string[] =>
      x.split('\n').filter((l) => l.startsWith("warning: can't apply"));
    t.deepEqual(warning(s.stderr()), warning(swap(q.stderr(), [['nvme-subsys', 'vdev-shmem']])));
    t.is(warning(s.stderr()).length, 1);
  } finally {
    await Promise.all([q.stop(), s.stop()]);
  }
});

test.serial(
  "-global: a human monitor command's warning is in that monitor's output, as in QEMU 7.2",
  async (t) => {
    const q = await serve('qemu', ['-global', 'nvme-subsys.bogus=1']);
    const s = await serve('tsqom', ['-global', 'vdev-shmem.bogus=1']);
    try {
      const hmp = async (x: Served, type: string): Promise<string> => {
        const r = await x.qmp.cmd('human-monitor-command', {
          'command-line': `device_add ${type},help`,
        });
        return String(r).split('\r\n')[0];
      };
      const qline = swap(await hmp(q, 'nvme-subsys'), [['nvme-subsys', 'vdev-shmem']]);
      const sline = await hmp(s, 'vdev-shmem');
      t.is(
        sline,
        "warning: can't apply global vdev-shmem.bogus=1: Property 'vdev-shmem.bogus' not found",
      );
      t.is(sline, qline);
      // Not on stderr as well.
      t.false(s.stderr().includes("can't apply"), s.stderr());
    } finally {
      await Promise.all([q.stop(), s.stop()]);
    }
  },
);

/** Masks `-msg timestamp=on` times, checking their shape and that they are current. */
function maskTimes(t: { true(v: boolean, m?: string): void }, text: string): string {
  return text.replace(/^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})Z /gm, (_m, iso: string) => {
    const ms = Date.parse(`${iso}Z`);
    t.true(Math.abs(Date.now() - ms) < 120_000, `time ${iso} is current`);
    return '<time> ';
  });
}

test.serial('-msg timestamp and guest-name prefix reports as QEMU 7.2 does', async (t) => {
  const cases: string[][] = [
    ['-msg', 'timestamp=on', '-object', 'memory-backend-ram,id=m,size=bogus'],
    [
      '-msg',
      'timestamp=on,guest-name=on',
      '-name',
      'foo',
      '-object',
      'memory-backend-ram,id=m,size=bogus',
    ],
    ['-name', 'foo', '-msg', 'guest-name=on', '-m', '1M,bogus=1'],
    // The name counts from its option on; a later -msg resets both flags.
    ['-msg', 'guest-name=on', '-object', 'memory-backend-ram,id=m,size=1M,bogus=1', '-name', 'x'],
    ['-msg', 'timestamp=on', '-msg', 'guest-name=on', '-name', 'g', '-device', 'bogus'],
    // Hints are printed without the prefixes.
    ['-msg', 'timestamp=on', '-m', 'foo'],
    ['-msg', 'timestamp=on', '-machine', 'none,bogus=1'],
  ];
  for (const args of cases) {
    const [q, s] = await Promise.all([run('qemu', args), run('tsqom', args)]);
    t.is(s.code, q.code, args.join(' '));
    t.is(maskTimes(t, s.stderr), maskTimes(t, q.stderr), args.join(' '));
  }
  // Warnings, from a process that keeps running.
  const warnArgs = ['-msg', 'timestamp=on,guest-name=on', '-name', 'g1', '-vga', 'std'];
  const [q, s] = await Promise.all([run('qemu', warnArgs, 2500), run('tsqom', warnArgs, 4000)]);
  t.true(q.running && s.running);
  t.regex(s.stderr, /^\d{4}-.*Z g1 tsqom: warning: A -vga option/);
  t.is(maskTimes(t, s.stderr), maskTimes(t, q.stderr));
});

/** Runs the command without CAP_IPC_LOCK (root ignores RLIMIT_MEMLOCK) and with `limit` bytes. */
const memlockWrap = (limit: number): string[] => [
  'prlimit',
  `--memlock=${limit}`,
  'setpriv',
  '--bounding-set=-ipc_lock',
];

test.serial(
  '-overcommit mem-lock=on: a refused mlockall fails start-up with QEMU 7.2 text',
  async (t) => {
    for (const [limit, args] of [
      [0, ['-overcommit', 'mem-lock=on']],
      [65536, ['-overcommit', 'mem-lock=on']],
      [0, ['-msg', 'timestamp=on', '-overcommit', 'mem-lock=on', '-device', 'bogus']],
      // Option errors come first; the lock is taken after board initialization.
      [0, ['-overcommit', 'mem-lock=on', '-object', 'memory-backend-ram,id=m,size=1M,bogus=1']],
      [0, ['-overcommit', 'mem-lock=on', '-smp', '0']],
    ] as const) {
      const [q, s] = await Promise.all([
        run('qemu', args, 4000, memlockWrap(limit)),
        run('tsqom', args, 6000, memlockWrap(limit)),
      ]);
      t.is(q.code, 1, args.join(' '));
      t.is(s.code, 1, args.join(' '));
      t.is(maskTimes(t, s.stderr), maskTimes(t, q.stderr), `${limit} ${args.join(' ')}`);
    }
    // What start-up made is released: the QMP socket, the shared memory.
    const dir = mkdtempSync(join(tmpdir(), 'tsqom-applied-lock-'));
    try {
      const shmBefore = new Set(readdirSync('/dev/shm'));
      const r = await run(
        'tsqom',
        [
          '-qmp',
          `unix:${join(dir, 'qmp.sock')},server=on,wait=off`,
          '-object',
          'memory-backend-shm,id=m,size=4M',
          '-overcommit',
          'mem-lock=on',
        ],
        6000,
        memlockWrap(0),
      );
      t.is(r.code, 1);
      t.is(r.stderr, 'tsqom: mlockall: Operation not permitted\ntsqom: locking memory failed\n');
      t.deepEqual(readdirSync(dir), []);
      t.deepEqual(
        readdirSync('/dev/shm').filter((n) => !shmBefore.has(n) && n.startsWith('tsqom')),
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

function vmLck(pid: number): number {
  const m = /^VmLck:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : -1;
}

test.serial(
  '-overcommit mem-lock=on locks the process memory as QEMU 7.2 does; off does not',
  async (t) => {
    const backend = ['-object', 'memory-backend-ram,id=m,size=16M'];
    // A small translation buffer keeps QEMU's locked TCG region short.
    const q = await serve('qemu', [
      '-accel',
      'tcg,tb-size=1',
      '-overcommit',
      'mem-lock=on',
      ...backend,
    ]);
    const s = await serve('tsqom', ['-overcommit', 'mem-lock=on', ...backend]);
    const off = await serve('tsqom', ['-overcommit', 'mem-lock=off', ...backend]);
    try {
      t.true(vmLck(q.pid) > 16 * 1024, `qemu VmLck ${vmLck(q.pid)}`);
      t.true(vmLck(s.pid) > 16 * 1024, `tsqom VmLck ${vmLck(s.pid)}`);
      t.is(vmLck(off.pid), 0);
      t.is(s.stderr(), q.stderr());
    } finally {
      await Promise.all([q.stop(), s.stop(), off.stop()]);
    }
  },
);

test.serial(
  '-preconfig: the QMP transcript matches QEMU 7.2 (refused commands, x-exit-preconfig, run state)',
  async (t) => {
    const args = ['-preconfig', '-m', '64', '-global', 'nosuch.x=1', '-vga', 'std'];
    const [q, s] = await Promise.all([serve('qemu', args), serve('tsqom', args)]);
    const script: Array<[string, Record<string, unknown>?]> = [
      ['query-status'],
      ['qom-list', { path: '/objects' }],
      ['object-add', { 'qom-type': 'memory-backend-ram', id: 'm', size: 1048576 }],
      ['query-memdev'],
      ['cont'],
      ['stop'],
      ['device_add', { driver: 'x', id: 'd' }],
      ['x-exit-preconfig', { bogus: 1 }],
      ['x-exit-preconfig'],
      ['query-status'],
      // -m's backend exists once the board is initialized.
      ['qom-get', { path: '/objects/ram', property: 'size' }],
      ['x-exit-preconfig'],
    ];
    try {
      const transcript = async (p: Served, stderrMarks: string[]): Promise<string[]> => {
        const out: string[] = [];
        for (const [cmd, a] of script) {
          if (cmd === 'x-exit-preconfig') stderrMarks.push(p.stderr());
          out.push(normalizeLine(await p.qmp.executeRaw(cmd, a as never)));
          out.push(...p.qmp.events.splice(0).map((e) => String(e.event)));
        }
        return out;
      };
      const qm: string[] = [];
      const sm: string[] = [];
      const [qt, st] = await Promise.all([transcript(q, qm), transcript(s, sm)]);
      t.deepEqual(st, qt);
      t.true(st.includes('RESUME'));
      // Nothing about the globals or -vga until the machine is created, then
      // the warnings, without the program name (they happen in a command).
      t.is(sm[0], '');
      t.is(qm[0], '');
      t.is(s.stderr(), q.stderr());
      t.regex(s.stderr(), /^warning: global nosuch\.x has invalid class name\nwarning: A -vga/);
    } finally {
      await Promise.all([q.stop(), s.stop()]);
    }
  },
);

test.serial(
  '-preconfig: each command is allowed before x-exit-preconfig exactly when QEMU 7.2 allows it',
  async (t) => {
    const [q, s] = await Promise.all([
      serve('qemu', ['-preconfig']),
      serve('tsqom', ['-preconfig']),
    ]);
    try {
      const names = ((await s.qmp.cmd('query-commands')) as Array<{ name: string }>)
        .map((c) => c.name)
        .filter((n) => n !== 'quit' && n !== 'x-exit-preconfig');
      t.true(names.length > 30);
      const refused = (line: string): boolean =>
        line.includes('is permitted only after machine initialization has completed');
      for (const name of names) {
        // Without arguments: a command that runs fails on them, or does nothing harmful.
        const [a, b] = await Promise.all([q.qmp.executeRaw(name), s.qmp.executeRaw(name)]);
        t.is(refused(b), refused(a), `${name}: qemu ${a} tsqom ${b}`);
        if (refused(a)) t.is(b, a);
      }
    } finally {
      await Promise.all([q.stop(), s.stop()]);
    }
  },
);

/** A human monitor on a unix socket: each command's output, without QEMU's readline echo. */
async function hmpSession(who: Launchee, lines: readonly string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-applied-hmp-'));
  const sock = join(dir, 'hmp.sock');
  const [cmd, argv] = commandFor(who, [
    ...BASE,
    '-preconfig',
    '-monitor',
    `unix:${sock},server=on,wait=off`,
  ]);
  const child = spawn(cmd, argv, { stdio: 'ignore' });
  try {
    while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 20));
    const conn = net.connect(sock);
    let buf = '';
    conn.setEncoding('latin1').on('data', (d: string) => (buf += d));
    const prompt = async (): Promise<string> => {
      const deadline = Date.now() + 5000;
      while (!buf.endsWith('(qemu) ') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const out = buf;
      buf = '';
      return out;
    };
    await prompt();
    const out: string[] = [];
    for (const l of lines) {
      conn.write(`${l}\n`);
      // eslint-disable-next-line no-control-regex
      let text = (await prompt()).replace(/\x1b\[[0-9]*[A-Za-z]/g, '');
      // QEMU echoes the line (readline), up to its \r\n.
      if (who === 'qemu') text = text.slice(text.indexOf('\r\n') + 2);
      out.push(text);
    }
    conn.destroy();
    return out;
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

test.serial(
  '-preconfig: the human monitor refuses what QEMU 7.2 refuses before x-exit-preconfig',
  async (t) => {
    const lines = [
      'device_add x',
      'device_del x',
      'info mtree',
      'info status',
      'qom-get /machine type',
      'object_add memory-backend-ram,id=m,size=1M',
      'info memdev',
    ];
    const [q, s] = await Promise.all([hmpSession('qemu', lines), hmpSession('tsqom', lines)]);
    t.is(
      s[0],
      "Command 'device_add' not available until machine initialization has completed.\r\n(qemu) ",
    );
    t.deepEqual(s, q);
  },
);

test.serial(
  '-preconfig: x-exit-preconfig is in query-commands and the schema as in QEMU 7.2',
  async (t) => {
    const [q, s] = await Promise.all([
      serve('qemu', ['-preconfig']),
      serve('tsqom', ['-preconfig']),
    ]);
    try {
      for (const p of [q, s]) {
        const cmds = (await p.qmp.cmd('query-commands')) as Array<{ name: string }>;
        t.true(cmds.some((c) => c.name === 'x-exit-preconfig'));
      }
      const entry = async (p: Served): Promise<unknown> => {
        const schema = (await p.qmp.cmd('query-qmp-schema')) as Array<Record<string, unknown>>;
        const e = schema.find((x) => x.name === 'x-exit-preconfig')!;
        const empty = schema.find((x) => x.name === e['arg-type'])!;
        return {
          ...e,
          'arg-type': empty,
          'ret-type': schema.find((x) => x.name === e['ret-type']),
        };
      };
      t.deepEqual(await entry(s), await entry(q));
    } finally {
      await Promise.all([q.stop(), s.stop()]);
    }
  },
);

test.serial(
  '-preconfig: a failure in x-exit-preconfig ends the process as QEMU 7.2 does',
  async (t) => {
    const args = ['-preconfig', '-msg', 'timestamp=on', '-device', 'bogus'];
    const [q, s] = await Promise.all([serve('qemu', args), serve('tsqom', args)]);
    try {
      for (const p of [q, s]) {
        p.qmp.sendRaw('{"execute":"x-exit-preconfig"}');
        t.deepEqual(await p.qmp.readToEof(), []);
        t.is(await p.exited(), 1);
      }
      // Nothing left behind: the QMP socket is gone.
      t.deepEqual(readdirSync(s.dir), []);
      t.is(s.stderr(), "-device bogus: 'bogus' is not a valid device model name\n");
      t.is(s.stderr(), q.stderr());
    } finally {
      await Promise.all([q.stop(), s.stop()]);
    }
  },
);
