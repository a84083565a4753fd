/**
 * examples/vhost-user-rng as a separate process, driven by a scripted
 * front-end that also plays the guest driver: the bytes it hands out are
 * the source file's, in order, from the first one.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  VhostUserProtocolFeature as PF,
  VhostUserRequest as R,
  VHOST_USER_F_PROTOCOL_FEATURES,
} from '../../../../src/hw/virtio/vhost-user/index.js';
import { UnixStream } from '../../../../src/io/unix-stream.js';
import {
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
} from '../../../../src/hw/virtio/standard-headers.js';
import { VirtQueueDriver, vringLayout } from '../../../../src/hw/virtio/virtqueue.js';
import {
  ScriptedFrontend,
  makeGuestRam,
  os,
  sleep,
  waitEventfd,
} from '../../../helpers/guest/scripted-frontend.js';

const example = fileURLToPath(new URL('../../../../examples/vhost-user-rng.js', import.meta.url));
const bit = (n: number): bigint => 1n << BigInt(n);

interface Proc {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function run(args: string[]): Proc {
  const proc = spawn(process.execPath, [example, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return { proc, stdout: () => out, stderr: () => err, exit };
}

async function waitForSocket(path: string, p: Proc): Promise<void> {
  for (let i = 0; i < 500 && !existsSync(path); i++) {
    if (p.proc.exitCode !== null) throw new Error(`the back-end exited: ${p.stderr()}`);
    await sleep(10);
  }
  if (!existsSync(path)) throw new Error('the back-end did not listen');
}

test('the rng back-end fills guest buffers with the source bytes, in order', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-rng-'));
  const source = join(dir, 'source.bin');
  const sock = join(dir, 'rng.sock');
  const bytes = randomBytes(8192);
  await writeFile(source, bytes);
  const p = run(['--socket', sock, '--source', source]);
  const ram = makeGuestRam([{ gpa: 0n, size: 0x2_0000 }]);
  const kick = os.eventfd();
  const call = os.eventfd();
  try {
    await waitForSocket(sock, p);
    const fe = new ScriptedFrontend(await UnixStream.connect(sock));
    const features = (
      await fe.request({ request: R.VHOST_USER_GET_FEATURES })
    ).payload.readBigUInt64LE(0);
    t.not(features & bit(VIRTIO_F_VERSION_1), 0n);
    const proto = (
      await fe.request({ request: R.VHOST_USER_GET_PROTOCOL_FEATURES })
    ).payload.readBigUInt64LE(0);
    // QEMU 7.2's vhost-user-rng has no config space: the offer must not include it.
    t.is(proto & bit(PF.VHOST_USER_PROTOCOL_F_CONFIG), 0n);
    const neg =
      proto & (bit(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK) | bit(PF.VHOST_USER_PROTOCOL_F_MQ));
    fe.send({ request: R.VHOST_USER_SET_PROTOCOL_FEATURES, body: { kind: 'u64', u64: neg } });
    t.is(
      (await fe.request({ request: R.VHOST_USER_GET_QUEUE_NUM })).payload.readBigUInt64LE(0),
      1n,
    );
    const acked = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_RING_F_EVENT_IDX);
    const ack = async (m: Parameters<ScriptedFrontend['requestAck']>[0]): Promise<void> => {
      t.is(await fe.requestAck(m), 0n);
    };
    await ack({ request: R.VHOST_USER_SET_OWNER });
    await ack({
      request: R.VHOST_USER_SET_FEATURES,
      body: { kind: 'u64', u64: acked | bit(VHOST_USER_F_PROTOCOL_FEATURES) },
    });
    await ack({
      request: R.VHOST_USER_SET_MEM_TABLE,
      body: { kind: 'memory', memory: { regions: ram.regions } },
      fds: ram.fds,
    });
    const layout = vringLayout(0x1000n, 4);
    const driver = new VirtQueueDriver<number>(ram.memory, layout, { features: acked });
    await ack({
      request: R.VHOST_USER_SET_VRING_NUM,
      body: { kind: 'state', state: { index: 0, num: 4 } },
    });
    await ack({
      request: R.VHOST_USER_SET_VRING_BASE,
      body: { kind: 'state', state: { index: 0, num: 0 } },
    });
    await ack({
      request: R.VHOST_USER_SET_VRING_ADDR,
      body: {
        kind: 'addr',
        addr: {
          index: 0,
          flags: 0,
          descUserAddr: ram.qva(BigInt(layout.desc)),
          usedUserAddr: ram.qva(BigInt(layout.used)),
          availUserAddr: ram.qva(BigInt(layout.avail)),
          logGuestAddr: 0n,
        },
      },
    });
    await ack({
      request: R.VHOST_USER_SET_VRING_KICK,
      body: { kind: 'vringFile', file: { index: 0, noFd: false } },
      fds: [kick],
    });
    await ack({
      request: R.VHOST_USER_SET_VRING_CALL,
      body: { kind: 'vringFile', file: { index: 0, noFd: false } },
      fds: [call],
    });
    await ack({
      request: R.VHOST_USER_SET_VRING_ENABLE,
      body: { kind: 'state', state: { index: 0, num: 1 } },
    });
    await waitEventfd(call); // the initial signal of a fresh call fd

    // Requests of various shapes, like the guest's 64-byte ones and larger.
    const sizes = [64, 64, 37, [100, 28], 1000, 3];
    const got: Buffer[] = [];
    let at = 0x8000n;
    for (const s of sizes) {
      const parts = Array.isArray(s) ? s : [s];
      const bufs = parts.map((len) => {
        const b = { addr: at, len };
        at += BigInt(len + 64);
        return b;
      });
      driver.add([], bufs, got.length);
      if (driver.kickNeeded()) os.eventfdWrite(kick, 1n);
      await waitEventfd(call);
      const u = driver.getUsed()!;
      t.is(
        u.len,
        parts.reduce((a, b) => a + b, 0),
      );
      got.push(Buffer.concat(bufs.map((b) => ram.memory.read(b.addr, b.len))));
    }
    const all = Buffer.concat(got);
    t.deepEqual(all, bytes.subarray(0, all.length));
    t.is(all.length, 64 + 64 + 37 + 128 + 1000 + 3);

    fe.close();
    t.is(await p.exit, 0, p.stderr());
    t.is(p.stdout(), '');
    t.is(p.stderr(), '');
    t.false(existsSync(sock), 'the socket path is removed');
  } finally {
    p.proc.kill('SIGKILL');
    os.close(kick);
    os.close(call);
    ram.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the rng back-end refuses bad command lines and unreadable sources', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-rng-'));
  try {
    const a = run([]);
    t.is(await a.exit, 2);
    t.regex(a.stderr(), /--socket is required/);
    t.is(a.stdout(), '');
    const b = run(['--socket', join(dir, 's'), '--source', join(dir, 'missing')]);
    t.is(await b.exit, 1);
    t.regex(b.stderr(), /cannot open/);
    const c = run(['--socket', join(dir, 's'), '--bogus']);
    t.is(await c.exit, 2);
    t.regex(c.stderr(), /unknown option --bogus/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGTERM stops the rng back-end cleanly while it waits', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsqom-rng-'));
  const sock = join(dir, 'rng.sock');
  const p = run(['--socket', sock]);
  try {
    await waitForSocket(sock, p);
    p.proc.kill('SIGTERM');
    t.is(await p.exit, 0);
    t.false(existsSync(sock));
    t.is(p.stdout(), '');
  } finally {
    p.proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
