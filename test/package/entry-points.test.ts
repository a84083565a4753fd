/**
 * The package's entry points, loaded through the package name (as a
 * consumer loads them): every subpath in `exports` resolves and carries
 * its subsystem, the root prelude stays small, and raw constants and the
 * native addon are only under `tsqom/native`.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ts from 'typescript';

const require = createRequire(import.meta.url);
const pkgPath = require.resolve('tsqom/package.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, unknown> };

/** Each subpath and a few names it must carry. */
const SUBPATHS: Record<string, readonly string[]> = {
  'tsqom/qom': [
    'QomObject',
    'QomType',
    'objectNew',
    'typeRegister',
    'userCreatableAddType',
    'QomError',
  ],
  'tsqom/memory': ['MemoryRegion', 'memoryRegionInitIo', 'addressSpaceMemory', 'mtreeInfo'],
  'tsqom/backends': ['HostMemoryBackend', 'HostMemoryBackendMemfd', 'hostMemoryBackendGetFd'],
  'tsqom/qdev': [
    'DeviceState',
    'qdevRealize',
    'machineCreate',
    'machineSetMemoryBackend',
    'qemuChrNewFromString',
  ],
  'tsqom/virtio': ['VirtQueue', 'VirtQueueDriver', 'VHostUserBase', 'iovSize'],
  'tsqom/vhost-user': [
    'VhostUserBackendServer',
    'VhostUserFrontend',
    'VhostUserDeviceDriver',
    'VhostUserRequest',
  ],
  'tsqom/vdev-shmem': ['VdevShmemState', 'packControlStatus'],
  'tsqom/qmp': ['QmpServer', 'QmpClient', 'QmpCommandError', 'qmpDispatch', 'registerCommand'],
  'tsqom/cli': ['qemuInit', 'tsqomMain', 'TsqomInstance', 'parseArgv'],
  'tsqom/native': [
    'native',
    'HostOs',
    'MappedMemory',
    'OsError',
    'MFD_CLOEXEC',
    'VIRTIO_F_VERSION_1',
  ],
};

test('package.json exports exactly the root and the ten subpaths', (t) => {
  const keys = Object.keys(pkg.exports).filter((k) => k !== './package.json');
  t.deepEqual(
    keys.sort(),
    ['.', ...Object.keys(SUBPATHS).map((s) => s.replace(/^tsqom/, '.'))].sort(),
  );
});

for (const [subpath, names] of Object.entries(SUBPATHS)) {
  test(`${subpath} loads through the package name and carries its subsystem`, async (t) => {
    const mod = (await import(subpath)) as Record<string, unknown>;
    for (const n of names) t.not(mod[n], undefined, `${subpath} lacks ${n}`);
  });
}

/** Every name (values and types) a declaration file exports. */
function declaredExports(dts: string): string[] {
  const program = ts.createProgram([dts], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const sf = program.getSourceFile(dts);
  if (!sf) throw new Error(`cannot read ${dts}`);
  const sym = checker.getSymbolAtLocation(sf);
  if (!sym) throw new Error(`${dts} is not a module`);
  return checker.getExportsOfModule(sym).map((s) => s.name);
}

test('the root is a prelude of at most 120 names, types included', (t) => {
  const names = declaredExports(require.resolve('tsqom').replace(/\.js$/, '.d.ts'));
  t.true(names.length <= 120, `the root exports ${names.length} names`);
  for (const n of ['QomObject', 'QomType', 'objectNew', 'MemoryRegion', 'HostMemoryBackend']) {
    t.true(names.includes(n), `the prelude lacks ${n}`);
  }
  for (const n of [
    'machineCreate',
    'QmpServer',
    'QmpClient',
    'VhostUserBackendServer',
    'qemuInit',
  ]) {
    t.true(names.includes(n), `the prelude lacks ${n}`);
  }
});

test('raw constants and the native addon are not in the root', async (t) => {
  const root = (await import('tsqom')) as Record<string, unknown>;
  const nativeNames = Object.keys((await import('tsqom/native')) as Record<string, unknown>);
  t.true(nativeNames.length > 200);
  t.deepEqual(
    nativeNames.filter((n) => n in root),
    [],
  );
  t.false('native' in root);
  t.deepEqual(
    Object.keys(root).filter((n) =>
      /^(VIRTIO_|VHOST_|MFD_|O_|MAP_|PROT_|SOCK_|AF_|F_SEAL_|MADV_|MPOL_|UV_)/.test(n),
    ),
    [],
  );
});
