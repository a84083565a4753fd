import 'reflect-metadata';
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OsError, TsqomError } from '../../src/native/errors.js';
import { QomError } from '../../src/util/error.js';
import { QemuOptsError } from '../../src/util/qemu-option.js';
import { JsonParseError } from '../../src/qobject/qobject.js';
import { CodecError } from '../../src/hw/virtio/vhost-user/protocol/codec-error.js';
import { VhostUserFrontendError } from '../../src/hw/virtio/vhost-user/frontend/frontend.js';
import { VhostUserBackendRequestError } from '../../src/hw/virtio/vhost-user/backend/backend.js';
import { FnmatchPatternError } from '../../src/hw/misc/vdev-shmem-rules.js';
import { VdevShmemHostError } from '../../src/hw/misc/vdev-shmem-host.js';
import { CliError } from '../../src/cli/options.js';
import {
  CapturingErrorReportSink,
  ERROR_REPORT_SINK,
  errorReport,
  errorReportSinkOf,
  infoReport,
  setErrorReportSink,
  warnReport,
} from '../../src/util/error-report.js';
import { MachineContext } from '../../src/util/machine-context.js';
import { CLOCK, type Clock } from '../../src/util/clock.js';

const run = promisify(execFile);
// dist/test/util -> the repository root
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('every error class shares the root, with a QMP class and a stable code', (t) => {
  const cases: Array<[TsqomError, string]> = [
    [new QomError('x'), 'ERR_QOM'],
    [new OsError(2, 'open'), 'ENOENT'],
    [new QemuOptsError('x'), 'ERR_QEMU_OPTS'],
    [new JsonParseError('x', 0), 'ERR_JSON_PARSE'],
    [new CodecError('truncated', 'x'), 'ERR_VHOST_USER_CODEC'],
    [new VhostUserFrontendError('x', 5), 'ERR_VHOST_USER_FRONTEND'],
    [
      new VhostUserBackendRequestError('ERR_VHOST_USER_NO_CHANNEL', 'x', 9),
      'ERR_VHOST_USER_NO_CHANNEL',
    ],
    [new FnmatchPatternError('[', 'x'), 'ERR_VDEV_SHMEM_PATTERN'],
    [new VdevShmemHostError(1, 'x'), 'ERR_VDEV_SHMEM_HOST'],
    [new CliError('x'), 'ERR_CLI'],
  ];
  for (const [e, code] of cases) {
    t.true(e instanceof TsqomError, e.name);
    t.true(e instanceof Error);
    t.is(e.code, code);
    t.is(e.errorClass, 'GenericError');
    t.is(e.name, e.constructor.name);
  }
  t.is(new QomError('gone', 'DeviceNotFound').errorClass, 'DeviceNotFound');
});

test.serial('reports go to the settable sink, with the level', (t) => {
  const cap = new CapturingErrorReportSink();
  const prev = setErrorReportSink(cap.sink);
  try {
    errorReport('e1');
    warnReport('w1');
    infoReport('i1');
  } finally {
    setErrorReportSink(prev);
  }
  t.deepEqual(cap.lines, [
    { message: 'e1', level: 'error' },
    { message: 'w1', level: 'warning' },
    { message: 'i1', level: 'info' },
  ]);
});

test.serial('a machine context has its own sink and clock; others keep theirs', async (t) => {
  const mine = new CapturingErrorReportSink();
  const global = new CapturingErrorReportSink();
  const fixed: Clock = { realtimeUs: () => 42n, monotonicNs: () => 7n };
  const ctx = new MachineContext().register(ERROR_REPORT_SINK, mine.sink).register(CLOCK, fixed);
  const prev = setErrorReportSink(global.sink);
  try {
    const later = ctx.run(() => errorReportSinkOf());
    await ctx.run(async () => {
      await new Promise((r) => setTimeout(r, 1));
      errorReport('inside, after an await');
      t.is(MachineContext.current().resolve(CLOCK).realtimeUs(), 42n);
    });
    errorReport('outside');
    later('from a callback made inside', 'warning');
    t.not(MachineContext.root.resolve(CLOCK).realtimeUs(), 42n);
  } finally {
    setErrorReportSink(prev);
  }
  t.deepEqual(mine.messages, ['inside, after an await', 'from a callback made inside']);
  t.deepEqual(global.messages, ['outside']);
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('library code never writes to stderr itself', (t) => {
  const offenders = walk(path.join(root, 'src'))
    .filter((f) => !f.endsWith(path.join('util', 'error-report.ts')))
    .filter(
      (f) => !f.includes(`${path.sep}cli${path.sep}`) && !f.includes(`${path.sep}tools${path.sep}`),
    )
    .filter((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        // Examples in doc comments may print; code may not.
        .filter((l) => !/^\s*(\*|\/\/)/.test(l))
        .some((l) => /process\.stderr|console\.(error|warn|log)\(/.test(l)),
    );
  t.deepEqual(offenders, []);
});

test('NODE_DEBUG=tsqom:* traces what QEMU trace events trace', async (t) => {
  const script = `
    import 'reflect-metadata';
    const qom = await import(${JSON.stringify(path.join(root, 'dist/src/qom/index.js'))});
    await import(${JSON.stringify(path.join(root, 'dist/src/backends/index.js'))});
    const o = qom.objectNew('memory-backend-ram');
    o.unref();
  `;
  const { stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NODE_DEBUG: 'tsqom:qom' },
    cwd: root,
  });
  t.regex(stderr, /^TSQOM:QOM \d+: object_new memory-backend-ram$/m);
  t.regex(stderr, /^TSQOM:QOM \d+: object_finalize memory-backend-ram$/m);
  const quiet = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NODE_DEBUG: '' },
    cwd: root,
  });
  t.is(quiet.stderr, '');
});
