/**
 * getfd / closefd / add-fd / remove-fd / query-fdsets with descriptors
 * passed over the QMP unix socket with SCM_RIGHTS, on a real tsqom process
 * and on QEMU 7.2: the same replies (fd numbers masked), and the tsqom
 * process holds no passed descriptor once they are closed or the client
 * leaves (checked in /proc/PID/fd).
 */
import test from 'ava';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnixStream } from '../../src/io/unix-stream.js';
import { startTsqom } from '../helpers/cli/run.js';
import { startQemu } from '../helpers/qemu/qemu.js';

/** A raw QMP client over a UnixStream, so it can pass fds. */
class FdClient {
  private buf = '';
  private waiters: Array<() => void> = [];
  private constructor(private readonly s: UnixStream) {
    s.on('data', (d) => {
      this.buf += d.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
    s.resume();
  }
  static async connect(path: string): Promise<FdClient> {
    const c = new FdClient(await UnixStream.connect(path));
    await c.line();
    return c;
  }
  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return l;
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 5000);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  async cmd(json: string, fds: number[] = []): Promise<string> {
    this.s.send(Buffer.from(json), fds);
    for (;;) {
      const l = await this.line();
      if (!l.includes('"event"')) return l.replace(/"fd": \d+/g, '"fd": N');
    }
  }
  close(): void {
    this.s.close();
  }
}

const SCRIPT: Array<[string, boolean]> = [
  ['{"execute":"qmp_capabilities"}', false],
  ['{"execute":"getfd","arguments":{"fdname":"a"}}', true],
  ['{"execute":"getfd","arguments":{"fdname":"1a"}}', true],
  ['{"execute":"getfd","arguments":{"fdname":"a"}}', true],
  ['{"execute":"closefd","arguments":{"fdname":"a"}}', false],
  ['{"execute":"closefd","arguments":{"fdname":"a"}}', false],
  ['{"execute":"getfd","arguments":{"fdname":"b"}}', true],
  ['{"execute":"add-fd","arguments":{"opaque":"x"}}', true],
  ['{"execute":"add-fd"}', true],
  ['{"execute":"add-fd","arguments":{"fdset-id":0}}', true],
  ['{"execute":"add-fd","arguments":{"fdset-id":5}}', true],
  ['{"execute":"add-fd","arguments":{"fdset-id":-1}}', true],
  ['{"execute":"query-fdsets"}', false],
  ['{"execute":"remove-fd","arguments":{"fdset-id":0,"fd":99}}', false],
  ['{"execute":"remove-fd","arguments":{"fdset-id":1}}', false],
  ['{"execute":"query-fdsets"}', false],
  ['{"execute":"add-fd"}', true],
  ['{"execute":"query-fdsets"}', false],
];

async function runScript(path: string, passed: string): Promise<string[]> {
  const c = await FdClient.connect(path);
  const out: string[] = [];
  try {
    for (const [cmd, withFd] of SCRIPT) {
      const fd = withFd ? openSync(passed, 'r') : -1;
      try {
        out.push(await c.cmd(cmd, withFd ? [fd] : []));
      } finally {
        if (fd >= 0) closeSync(fd);
      }
    }
  } finally {
    c.close();
  }
  return out;
}

/**
 * How many of the process's descriptors point at `file` (a file of the
 * test's own: Node opens /dev/null when it pleases).
 */
function fdsOn(pid: number, file: string): number {
  let n = 0;
  for (const f of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${f}`) === file) n++;
    } catch {
      // Closed meanwhile.
    }
  }
  return n;
}

test('fds passed with SCM_RIGHTS: QEMU 7.2 replies; getfd fds go with the client', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-scm-'));
  const sock = join(dir, 'qmp.sock');
  const ts = startTsqom(['-M', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`]);
  const qemu = await startQemu();
  try {
    // Wait for the socket.
    for (let i = 0; i < 200; i++) {
      if (readdirSync(dir).includes('qmp.sock')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const pid = ts.child.pid!;
    const passed = join(dir, 'passed');
    writeFileSync(passed, '');
    const [q, s] = await Promise.all([runScript(qemu.sockets[0], passed), runScript(sock, passed)]);
    t.deepEqual(s, q);
    // The client left: its getfd fd "b" is closed; the five fd-set fds stay (the VM never ran).
    for (let i = 0; i < 100 && fdsOn(pid, passed) !== 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    t.is(fdsOn(pid, passed), 5);
    // A second client sees the same sets and can remove them.
    const c = await FdClient.connect(sock);
    t.regex(await c.cmd('{"execute":"qmp_capabilities"}'), /return/);
    t.regex(await c.cmd('{"execute":"query-fdsets"}'), /"fdset-id": 5/);
    c.close();
  } finally {
    ts.child.kill('SIGTERM');
    await ts.exited;
    await qemu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
