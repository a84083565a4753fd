import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runTsqom, startTsqom } from '../helpers/cli/run.js';
import { QmpClient } from '../helpers/qemu/qmp-client.js';

const ourShmNames = (): string[] => readdirSync('/dev/shm').filter((n) => /^qemu-\d+-shm-/.test(n));

test('--version and --help print and exit 0', async (t) => {
  const v = await runTsqom(['--version']);
  t.is(v.code, 0);
  t.regex(v.stdout, /^tsqom version \d+\.\d+\.\d+/);
  const h = await runTsqom(['-help']);
  t.is(h.code, 0);
  t.regex(h.stdout, /^usage: tsqom \[options\]/);
  t.regex(h.stdout, /\n-object /);
});

test("bad options print QEMU's texts and exit 1", async (t) => {
  const cases: Array<[string[], string]> = [
    [['-bogus'], 'tsqom: -bogus: invalid option\n'],
    [['-object'], 'tsqom: -object: requires an argument\n'],
    [
      ['-M', 'bogus'],
      'tsqom: unsupported machine type\nUse -machine help to list supported machines\n',
    ],
    [['-qmp', 'foo:bar'], "tsqom: -qmp foo:bar: 'foo:bar' is not a valid char driver\n"],
    [['-M', 'none,bogus=1'], "tsqom: Property 'none-machine.bogus' not found\n"],
    [['-M', 'none,memory-backend=nope'], "tsqom: Memory backend 'nope' not found\n"],
    [['-M', 'none,mem-merge=maybe'], "tsqom: Parameter 'mem-merge' expects 'on' or 'off'\n"],
    [['-device', 'nosuch'], "tsqom: -device nosuch: 'nosuch' is not a valid device model name\n"],
    [
      ['-device', 'device'],
      "tsqom: -device device: Parameter 'driver' expects a non-abstract device type\n",
    ],
    [['-object', 'id=x'], "tsqom: -object id=x: Parameter 'qom-type' is missing\n"],
    [
      ['-object', 'nosuch,id=x'],
      "tsqom: -object nosuch,id=x: Parameter 'qom-type' does not accept value 'nosuch'\n",
    ],
    [
      ['-object', 'memory-backend-ram,id=0x,size=1M'],
      "tsqom: -object memory-backend-ram,id=0x,size=1M: Parameter 'id' expects an identifier\n" +
        "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n",
    ],
  ];
  for (const [args, stderr] of cases) {
    const r = await runTsqom(args);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stderr, stderr, args.join(' '));
    t.is(r.stdout, '');
  }
});

test('a failing -qmp bind leaves nothing behind', async (t) => {
  const r = await runTsqom(['-qmp', 'unix:/nonexistent-dir-tsqom/q.sock,server=on,wait=off']);
  t.is(r.code, 1);
  t.regex(
    r.stderr,
    /^tsqom: -qmp unix:\/nonexistent-dir-tsqom\/q\.sock,server=on,wait=off: Failed to bind socket to /,
  );
});

test('-qmp and -qtest serve until quit; the sockets are removed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const qmpPath = join(dir, 'qmp.sock');
  const qtestPath = join(dir, 'qtest.sock');
  const p = startTsqom([
    '-M',
    'none',
    '-nodefaults',
    '-S',
    '-display',
    'none',
    '-qmp',
    `unix:${qmpPath},server=on,wait=off`,
    '-qtest',
    `unix:${qtestPath},server=on,wait=off`,
  ]);
  t.teardown(() => p.child.kill('SIGKILL'));
  const deadline = Date.now() + 20_000;
  while (!(existsSync(qmpPath) && existsSync(qtestPath)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const qmp = await QmpClient.connect(qmpPath);
  await qmp.negotiate();
  const v = (await qmp.cmd('query-version')) as { qemu: { major: number; minor: number } };
  t.deepEqual([v.qemu.major, v.qemu.minor], [7, 2]);
  // As QEMU 7.2: /objects is created with the first object.
  const noObjects = await qmp.execute('qom-list', { path: '/objects' });
  t.deepEqual(noObjects.error, { class: 'DeviceNotFound', desc: "Device '/objects' not found" });
  await qmp.execute('quit');
  await qmp.close();
  const { code } = await p.exited;
  t.is(code, 0);
  t.false(existsSync(qmpPath));
  t.false(existsSync(qtestPath));
});

test('npm start: the default configuration prints its tree and map, serves QMP, and exits cleanly on SIGINT', async (t) => {
  const shmBefore = ourShmNames();
  const p = startTsqom([]);
  t.teardown(() => p.child.kill('SIGKILL'));
  const m = await p.waitFor(/QMP: (\S+)\n/);
  const sock = m[1];
  const out = p.stdout();
  t.regex(
    out,
    /\/objects \(container\)\n\s+\/ram0 \(memory-backend-shm\)\n\s+\/ram0\[0\] \(memory-region\)/,
  );
  t.regex(
    out,
    /address-space: memory\n.*\n {4}0000000000000000-0000000003ffffff \(prio 0, ram\): ram0\n/,
  );
  t.regex(out, /\/shm0 \(vdev-shmem\)/);
  t.true(
    existsSync('/dev/shm/tsqom-shmem-tsqom-demo'),
    'the vdev-shmem region exists while it runs',
  );
  const qmp = await QmpClient.connect(sock);
  await qmp.negotiate();
  const memdevs = (await qmp.cmd('qom-get', {
    path: '/objects/ram0',
    property: 'share',
  })) as boolean;
  t.true(memdevs);
  await qmp.close();
  p.child.kill('SIGINT');
  const { code } = await p.exited;
  t.is(code, 0);
  t.false(existsSync(sock), 'the QMP socket is removed');
  t.false(existsSync(dirname(sock)), 'its temporary directory too');
  t.deepEqual(ourShmNames(), shmBefore, 'no /dev/shm name is left');
  t.false(existsSync('/dev/shm/tsqom-shmem-tsqom-demo'), 'the vdev-shmem region is removed');
  // QEMU's text for a signal whose sender it does not name (Ctrl-C).
  t.is(p.stderr(), 'tsqom: terminated by signal 2\n');
});

test('-machine memory-backend maps the backend at address 0 and keeps it in use', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const qmpPath = join(dir, 'qmp.sock');
  const p = startTsqom([
    '-M',
    'none',
    '-object',
    'memory-backend-memfd,id=mem,size=1M',
    '-machine',
    'memory-backend=mem',
    '-qmp',
    `unix:${qmpPath},server=on,wait=off`,
  ]);
  t.teardown(() => p.child.kill('SIGKILL'));
  const deadline = Date.now() + 20_000;
  while (!existsSync(qmpPath) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const qmp = await QmpClient.connect(qmpPath);
  await qmp.negotiate();
  t.is(await qmp.cmd('qom-get', { path: '/machine', property: 'memory-backend' }), '/objects/mem');
  t.is(await qmp.cmd('qom-get', { path: '/machine', property: 'type' }), 'none-machine');
  const mtree = (await qmp.cmd('human-monitor-command', {
    'command-line': 'info mtree',
  })) as string;
  t.true(mtree.includes('    0000000000000000-00000000000fffff (prio 0, ram): mem\r\n'));
  const tree = (await qmp.cmd('human-monitor-command', {
    'command-line': 'info qom-tree /machine',
  })) as string;
  t.true(tree.startsWith('/machine (none-machine)\r\n  /peripheral (container)\r\n'));
  const del = await qmp.execute('object-del', { id: 'mem' });
  t.deepEqual(del.error, {
    class: 'GenericError',
    desc: "object 'mem' is in use, can not be deleted",
  });
  await qmp.execute('quit');
  await qmp.close();
  t.is((await p.exited).code, 0);
  t.is(p.stderr(), '');
});
