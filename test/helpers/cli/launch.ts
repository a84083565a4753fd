/**
 * Launches tsqom (or QEMU 7.2, for differential tests) the way QEMU's own
 * clients do, with the argv shapes their sources build:
 *
 * - QEMU's Python `QEMUMachine`: a socketpair, one end passed down as an
 *   inherited fd, `-display none -vga none -chardev socket,id=mon,fd=N
 *   -mon chardev=mon,mode=control`.
 * - libvirt's capability probe: `-S -no-user-config -nodefaults -nographic
 *   -machine none,accel=kvm:tcg -qmp unix:P,server=on,wait=off -pidfile F
 *   -daemonize`; the launcher exits once the daemon is up, the pid file
 *   names the daemon.
 * - libqtest: the test listens on two sockets itself and starts `-qtest
 *   unix:P1 -qtest-log /dev/null -chardev socket,path=P2,id=char0 -mon
 *   chardev=char0,mode=control -display none -audio none -run-with
 *   exit-with-parent=on -nodefaults -machine none -accel qtest`.
 *
 * Each launch returns a negotiated-ready {@link QmpClient} and a way to
 * wait for the process's end; {@link leftovers} checks from outside that a
 * stop left nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostOs } from '../../../src/native/host.js';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_STREAM } from '../../../src/native/constants.js';
import { QmpClient } from '../qemu/qmp-client.js';
import { QEMU_BINARY } from '../qemu/qemu.js';
import { TSQOM_MAIN } from './run.js';

/** Which program to launch. */
export type Launchee = 'tsqom' | 'qemu';

/** The command that starts `who` with `args`. */
export function commandFor(who: Launchee, args: readonly string[]): [string, string[]] {
  return who === 'tsqom' ? [process.execPath, [TSQOM_MAIN, ...args]] : [QEMU_BINARY, [...args]];
}

/** A launched process as its client sees it. */
export interface Launched {
  /** The QMP connection, greeted (not yet negotiated). */
  qmp: QmpClient;
  /** The pid of the process that serves QMP (the daemon, for libvirt's probe). */
  pid: number;
  /** The child process, when it is ours (not for a daemon). */
  child: ChildProcess | undefined;
  /** Everything the process printed on stderr so far (the launcher's, for a daemon). */
  stderr(): string;
  /** Resolves with the exit status (null for a daemon, once its pid is gone). */
  exited(timeoutMs?: number): Promise<number | null>;
  /** The scratch directory (sockets, pid file); removed by {@link Launched.cleanup}. */
  dir: string;
  /** Kills what is left and removes the scratch directory. */
  cleanup(): void;
}

/**
 * A scratch directory for one launch; its `tmp/` is the process's TMPDIR,
 * so temporary files it leaves are seen there and nowhere else.
 */
export function scratch(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'tsqom-launch-'));
  mkdirSync(join(dir, 'tmp'));
  return { dir, env: { ...process.env, TMPDIR: join(dir, 'tmp') } };
}

function collect(child: ChildProcess): () => string {
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  return () => err;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('process did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone (for a daemon that is not our child). */
export async function waitPidGone(pid: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} still alive`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForFile(path: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * QEMUMachine's launch: a socketpair, the child's end inherited as fd 3
 * (`-chardev socket,id=mon,fd=3 -mon chardev=mon,mode=control`).
 */
export async function launchLikeQemuMachine(
  who: Launchee,
  extra: readonly string[] = ['-machine', 'none'],
): Promise<Launched> {
  const { dir, env } = scratch();
  const os = new HostOs();
  const [mine, theirs] = os.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
  const args = [
    '-display',
    'none',
    '-vga',
    'none',
    '-chardev',
    'socket,id=mon,fd=3',
    '-mon',
    'chardev=mon,mode=control',
    ...extra,
  ];
  const [cmd, argv] = commandFor(who, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe', theirs], env });
  os.close(theirs);
  const stderr = collect(child);
  const sock = new net.Socket({ fd: mine, readable: true, writable: true });
  const qmp = await QmpClient.fromSocket(sock, 15000);
  return {
    qmp,
    pid: child.pid!,
    child,
    stderr,
    exited: (ms = 10000) => waitExit(child, ms),
    dir,
    cleanup: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      sock.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** libvirt's capability probe: daemonized, found through its pid file. */
export async function launchLikeLibvirtProbe(who: Launchee): Promise<Launched> {
  const { dir, env } = scratch();
  const sockPath = join(dir, 'qmp.monitor');
  const pidfile = join(dir, 'qmp.pid');
  const args = [
    '-S',
    '-no-user-config',
    '-nodefaults',
    '-nographic',
    '-machine',
    'none,accel=kvm:tcg',
    '-qmp',
    `unix:${sockPath},server=on,wait=off`,
    '-pidfile',
    pidfile,
    '-daemonize',
  ];
  const [cmd, argv] = commandFor(who, args);
  const launcher = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const stderr = collect(launcher);
  const status = await waitExit(launcher, 20000);
  if (status !== 0) throw new Error(`launcher exited ${status}: ${stderr()}`);
  await waitForFile(pidfile);
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  const qmp = await QmpClient.connect(sockPath, 15000);
  return {
    qmp,
    pid,
    child: undefined,
    stderr,
    exited: async (ms = 10000) => {
      await waitPidGone(pid, ms);
      return null;
    },
    dir,
    cleanup: () => {
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * libqtest's launch: the test listens on the qtest and QMP sockets, the
 * process connects to both. QEMU 7.2 lacks `-audio none` and `-run-with`
 * (later QEMUs' libqtest passes them), and Debian's 7.2 build refuses
 * `-accel qtest` (`invalid accelerator qtest`); `newer: false` leaves
 * those three out.
 */
export async function launchLikeLibqtest(
  who: Launchee,
  newer = who === 'tsqom',
): Promise<Launched & { qtest: net.Socket }> {
  const { dir, env } = scratch();
  const qtestPath = join(dir, 'qtest.sock');
  const qmpPath = join(dir, 'qmp.sock');
  const listen = (path: string): Promise<net.Server> =>
    new Promise((resolve) => {
      const s = net.createServer();
      s.listen(path, () => resolve(s));
    });
  const qtestServer = await listen(qtestPath);
  const qmpServer = await listen(qmpPath);
  const accepted = (s: net.Server): Promise<net.Socket> =>
    new Promise((resolve) => s.once('connection', resolve));
  const qtestConn = accepted(qtestServer);
  const qmpConn = accepted(qmpServer);
  const args = [
    '-qtest',
    `unix:${qtestPath}`,
    '-qtest-log',
    '/dev/null',
    '-chardev',
    `socket,path=${qmpPath},id=char0`,
    '-mon',
    'chardev=char0,mode=control',
    '-display',
    'none',
    ...(newer ? ['-audio', 'none', '-run-with', 'exit-with-parent=on'] : []),
    '-nodefaults',
    '-machine',
    'none',
    ...(newer ? ['-accel', 'qtest'] : []),
  ];
  const [cmd, argv] = commandFor(who, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const stderr = collect(child);
  const qtest = await qtestConn;
  const qmp = await QmpClient.fromSocket(await qmpConn, 15000);
  // libqtest unlinks its listening sockets once connected.
  qtestServer.close();
  qmpServer.close();
  return {
    qmp,
    qtest,
    pid: child.pid!,
    child,
    stderr,
    exited: (ms = 10000) => waitExit(child, ms),
    dir,
    cleanup: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      qtest.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The /dev/shm names that exist now. */
export function shmNames(): Set<string> {
  return new Set(readdirSync('/dev/shm'));
}

/**
 * What a stopped process left behind, seen from outside: files in its
 * scratch directory (sockets, pid file) and its TMPDIR, and /dev/shm names
 * that appeared since `shmBefore` and carry its pid or tsqom's prefixes.
 */
export function leftovers(shmBefore: Set<string>, dir: string | undefined, pid: number): string[] {
  const out: string[] = [];
  for (const n of shmNames()) {
    if (shmBefore.has(n)) continue;
    if (n.includes(String(pid)) || n.startsWith('tsqom-shmem-')) out.push(`/dev/shm/${n}`);
  }
  if (dir && existsSync(dir)) {
    for (const n of readdirSync(dir)) if (n !== 'tmp') out.push(join(dir, n));
    if (existsSync(join(dir, 'tmp')))
      for (const n of readdirSync(join(dir, 'tmp'))) out.push(join(dir, 'tmp', n));
  }
  return out;
}
