/**
 * Confinement: the guest never reaches outside the shared directory.
 * A host process swapping a symlink in and out under a name while the
 * client looks it up, opens and reads it; `..` at the root; names with
 * `/`, `.`/`..` where a new name is made, over-long names, missing NULs;
 * unknown node ids; and --readonly refusing every change with EROFS.
 * The FUSE client talks straight to an in-process session here (the
 * guest and fuzz tests go through virtqueues).
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FuseOpcode as Op } from '../../../src/tools/virtiofsd/fuse-kernel.js';
import { FuseSession } from '../../../src/tools/virtiofsd/fuse-lowlevel.js';
import { PassthroughFs } from '../../../src/tools/virtiofsd/passthrough-ll.js';
import {
  ArgBuilder,
  FuseClient,
  fuseRequest,
  sessionTransport,
} from '../../helpers/virtiofsd/fuse-client.js';
import { manifest } from '../../helpers/virtiofsd/workload.js';

const EBADF = 9;
const EINVAL = 22;
const EROFS = 30;
const ENAMETOOLONG = 36;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const A = (): ArgBuilder => new ArgBuilder();

async function setup(readonly = false) {
  const top = await mkdtemp(join(tmpdir(), 'tsqom-virtiofs-conf-'));
  const shared = join(top, 'shared');
  await mkdir(join(shared, 'sub'), { recursive: true });
  await writeFile(join(shared, 'inside.txt'), 'inside');
  const secret = join(top, 'secret.txt');
  const secretBytes = randomBytes(32).toString('hex');
  await writeFile(secret, secretBytes);
  const fs = new PassthroughFs({ source: shared, readonly });
  const c = new FuseClient(sessionTransport(new FuseSession(fs)));
  await c.init();
  return {
    top,
    shared,
    secret,
    secretBytes,
    fs,
    c,
    async close() {
      fs.close();
      await rm(top, { recursive: true, force: true });
    },
  };
}

test('a symlink swapped in by another process between LOOKUP and OPEN never leads outside', async (t) => {
  t.timeout(60_000);
  const s = await setup();
  // The other host process: flips `x` between a regular file and a
  // symlink to the secret outside the share, as fast as it can.
  const swapper = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('fs'); process.chdir(${JSON.stringify(s.shared)});
       for (;;) {
         try { fs.symlinkSync(${JSON.stringify(s.secret)}, 'tmp-l'); fs.renameSync('tmp-l', 'x'); } catch {}
         try { fs.writeFileSync('tmp-f', 'inside-x'); fs.renameSync('tmp-f', 'x'); } catch {}
       }`,
    ],
    { stdio: 'ignore' },
  );
  try {
    let sawFile = 0;
    let sawLink = 0;
    let reads = 0;
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline || sawFile === 0 || sawLink === 0) {
      if (Date.now() > deadline + 20_000) break;
      const e = await s.c.lookup(1n, 'x');
      if (typeof e === 'number') continue;
      if ((e.attr.mode & 0o170000) === 0o120000) sawLink++;
      else sawFile++;
      const o = await s.c.open(e.nodeid, O_RDONLY);
      if (typeof o !== 'number') {
        const d = await s.c.read(e.nodeid, o.fh, 0, 4096);
        if (typeof d !== 'number') {
          reads++;
          const text = Buffer.from(d).toString();
          t.not(text, s.secretBytes, 'the secret outside the share was read');
          if (text !== 'inside-x' && text !== '') t.fail(`unexpected content ${text}`);
        }
        await s.c.release(e.nodeid, o.fh);
      }
      // READLINK gives the target's text only; the guest resolves it in its own namespace.
      await s.c.forget(e.nodeid, 1);
    }
    t.true(sawFile > 0 && sawLink > 0, `both states raced (file ${sawFile}, link ${sawLink})`);
    t.true(reads > 0);
    t.is(s.fs.inodeCount, 1, 'every node was forgotten again');
    t.is(s.fs.handleCount, 0);
  } finally {
    swapper.kill('SIGKILL');
    await s.close();
  }
});

test('`..` at the root is the root; `..` below it stays inside', async (t) => {
  const s = await setup();
  try {
    const root = await s.c.getattr(1n);
    if (typeof root === 'number') return t.fail();
    const up = await s.c.lookup(1n, '..');
    if (typeof up === 'number') return t.fail(`errno ${up}`);
    t.is(up.nodeid, 1n);
    t.is(up.attr.ino, root.ino);
    const sub = await s.c.lookup(1n, 'sub');
    if (typeof sub === 'number') return t.fail();
    const subUp = await s.c.lookup(sub.nodeid, '..');
    if (typeof subUp === 'number') return t.fail();
    t.is(subUp.nodeid, 1n);
    // Escaping by name is refused, not resolved.
    t.is(await s.c.lookup(sub.nodeid, '../..'), EINVAL);
    t.is(await s.c.lookup(1n, '../secret.txt'), EINVAL);
  } finally {
    await s.close();
  }
});

test('bad names get virtiofsd errors and change nothing', async (t) => {
  const s = await setup();
  try {
    const before = manifest(s.shared);
    const mk = async (name: string | Uint8Array) =>
      (await s.c.call(Op.MKDIR, 1n, A().u32(0o755).u32(0).name(name).done())).error;
    t.is(await s.c.lookup(1n, 'a/b'), EINVAL);
    t.is(await s.c.lookup(1n, 'x'.repeat(256)), ENAMETOOLONG);
    t.is(await mk('a/b'), EINVAL);
    t.is(await mk('.'), EINVAL);
    t.is(await mk('..'), EINVAL);
    t.is(await mk('/etc'), EINVAL);
    t.is(await mk('x'.repeat(256)), ENAMETOOLONG);
    const create = (name: string) =>
      s.c.call(Op.CREATE, 1n, A().u32(O_RDWR).u32(0o644).u32(0).u32(0).name(name).done());
    t.is((await create('../escape')).error, EINVAL);
    t.is((await create('..')).error, EINVAL);
    t.is(
      (await s.c.call(Op.SYMLINK, 1n, A().name('x/y').name('/etc/passwd').done())).error,
      EINVAL,
    );
    t.is((await s.c.call(Op.UNLINK, 1n, A().name('../secret.txt').done())).error, EINVAL);
    t.is((await s.c.call(Op.RMDIR, 1n, A().name('..').done())).error, EINVAL);
    t.is(
      (await s.c.call(Op.RENAME, 1n, A().u64(1n).name('inside.txt').name('../moved').done())).error,
      EINVAL,
    );
    t.is((await s.c.call(Op.LINK, 1n, A().u64(1n).name('..').done())).error, EINVAL);
    // A name without its NUL, and a header claiming more bytes than came.
    const noNul = fuseRequest(Op.LOOKUP, 1n, Buffer.from('inside.txt'), 77n);
    t.is((await s.c.raw(noNul))?.error, EINVAL);
    const long = fuseRequest(Op.GETATTR, 1n, new Uint8Array(16), 78n);
    new DataView(long.buffer).setUint32(0, 4096, true);
    t.is((await s.c.raw(long))?.error, EINVAL);
    // Unknown node ids.
    t.is(await s.c.getattr(123456n), EBADF);
    t.is(await s.c.lookup(123456n, 'x'), EBADF);
    t.is(await mk('ok'), 0);
    t.deepEqual(manifest(s.shared), [...before, 'ok dir 755'].sort());
  } finally {
    await s.close();
  }
});

test('--readonly refuses every change with EROFS and still serves reads', async (t) => {
  const s = await setup(true);
  try {
    const before = manifest(s.shared);
    const e = await s.c.lookup(1n, 'inside.txt');
    if (typeof e === 'number') return t.fail();
    const ro = await s.c.open(e.nodeid, O_RDONLY);
    if (typeof ro === 'number') return t.fail();
    t.is(Buffer.from((await s.c.read(e.nodeid, ro.fh, 0, 100)) as Uint8Array).toString(), 'inside');
    t.is(await s.c.write(e.nodeid, ro.fh, 0, Buffer.from('x')), -EROFS);
    t.is(await s.c.open(e.nodeid, O_WRONLY), EROFS);
    t.is(await s.c.open(e.nodeid, O_RDWR), EROFS);
    const calls: [number, bigint, Uint8Array][] = [
      [Op.MKDIR, 1n, A().u32(0o755).u32(0).name('d').done()],
      [Op.MKNOD, 1n, A().u32(0o100644).u32(0).u32(0).u32(0).name('n').done()],
      [Op.CREATE, 1n, A().u32(O_RDWR).u32(0o644).u32(0).u32(0).name('c').done()],
      [Op.SYMLINK, 1n, A().name('l').name('inside.txt').done()],
      [Op.LINK, 1n, A().u64(e.nodeid).name('h').done()],
      [Op.UNLINK, 1n, A().name('inside.txt').done()],
      [Op.RMDIR, 1n, A().name('sub').done()],
      [Op.RENAME, 1n, A().u64(1n).name('inside.txt').name('r').done()],
      // SETATTR mode 0600
      [
        Op.SETATTR,
        e.nodeid,
        A()
          .u32(1)
          .u32(0)
          .u64(0)
          .u64(0)
          .u64(0)
          .u64(0)
          .u64(0)
          .u64(0)
          .u32(0)
          .u32(0)
          .u32(0)
          .u32(0o600)
          .u32(0)
          .u32(0)
          .u32(0)
          .u32(0)
          .done(),
      ],
      [Op.FALLOCATE, e.nodeid, A().u64(ro.fh).u64(0).u64(4096).u32(0).u32(0).done()],
    ];
    for (const [op, node, args] of calls)
      t.is((await s.c.call(op, node, args)).error, EROFS, `opcode ${op}`);
    t.deepEqual(manifest(s.shared), before);
  } finally {
    await s.close();
  }
});
