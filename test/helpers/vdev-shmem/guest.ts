/**
 * Playing the guest of a vdev-shmem device: the factory and control page
 * protocol over any register access (an in-process address space or a
 * qtest connection), and tsqom processes started with a device and a qtest
 * socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GuestShmControl, GuestShmFactory } from '../../../src/hw/misc/guest-shm.js';
import { addressSpaceMemory } from '../../../src/system/memory.js';
import {
  addressSpaceLdl,
  addressSpaceLdq,
  addressSpaceRead,
  addressSpaceStl,
  addressSpaceWrite,
} from '../../../src/system/physmem.js';
import { QtestClient } from './qtest-client.js';

/** Register and memory accesses, as a guest makes them. */
export interface GuestBus {
  readl(addr: bigint): Promise<number> | number;
  readq(addr: bigint): Promise<bigint> | bigint;
  writel(addr: bigint, v: number): Promise<void> | void;
  write(addr: bigint, data: Uint8Array): Promise<void> | void;
  read(addr: bigint, size: number): Promise<Uint8Array> | Uint8Array;
}

/** The system address space of this process as a {@link GuestBus}. */
export const localBus: GuestBus = {
  readl: (a) => addressSpaceLdl(addressSpaceMemory(), a),
  readq: (a) => addressSpaceLdq(addressSpaceMemory(), a),
  writel: (a, v) => {
    addressSpaceStl(addressSpaceMemory(), a, v);
  },
  write: (a, d) => {
    addressSpaceWrite(addressSpaceMemory(), a, d);
  },
  read: (a, n) => addressSpaceRead(addressSpaceMemory(), a, n).data,
};

/** What a factory request left in the registers. */
export interface FactoryResult {
  status: number;
  shmem: bigint;
  size: number;
}

/** The guest driver's side of one device. */
export class ShmGuest {
  /**
   * @param bus - how to reach the device.
   * @param loc - the factory page address.
   */
  constructor(
    readonly bus: GuestBus,
    readonly loc: bigint,
  ) {}

  /** Writes the 32-byte name field (NUL padded). */
  async setName(name: string): Promise<void> {
    const field = new Uint8Array(32);
    for (let i = 0; i < name.length && i < 32; i++) field[i] = name.charCodeAt(i);
    await this.bus.write(this.loc + BigInt(GuestShmFactory.NAME), field);
  }

  /** The factory's status, shmem and size registers. */
  async result(): Promise<FactoryResult> {
    return {
      status: await this.bus.readl(this.loc + BigInt(GuestShmFactory.STATUS)),
      shmem: await this.bus.readq(this.loc + BigInt(GuestShmFactory.SHMEM)),
      size: await this.bus.readl(this.loc + BigInt(GuestShmFactory.SIZE)),
    };
  }

  /** Name, then size: create or attach. */
  async create(name: string, pages: number): Promise<FactoryResult> {
    await this.setName(name);
    await this.bus.writel(this.loc + BigInt(GuestShmFactory.SIZE), pages);
    return this.result();
  }

  /** Name, then find: attach only. */
  async find(name: string): Promise<FactoryResult> {
    await this.setName(name);
    await this.bus.writel(this.loc + BigInt(GuestShmFactory.FIND), 1);
    return this.result();
  }

  /** Reads a control page's status (clearing the pending bits). */
  async status(ctl: bigint): Promise<{ pending: number; active: number }> {
    const s = await this.bus.readl(ctl + BigInt(GuestShmControl.STATUS));
    return { pending: s & 0xffff, active: s >>> 16 };
  }

  /** A control page's idx. */
  async idx(ctl: bigint): Promise<number> {
    return this.bus.readl(ctl + BigInt(GuestShmControl.IDX));
  }

  /** Writes notify. */
  async notify(ctl: bigint, set: number): Promise<void> {
    await this.bus.writel(ctl + BigInt(GuestShmControl.NOTIFY), set);
  }

  /** Writes detach. */
  async detach(ctl: bigint): Promise<void> {
    await this.bus.writel(ctl + BigInt(GuestShmControl.DETACH), 0);
  }

  /** Writes region data at `offset` (the data starts one page after the control page). */
  async writeData(ctl: bigint, offset: number, data: Uint8Array): Promise<void> {
    await this.bus.write(ctl + 0x1000n + BigInt(offset), data);
  }

  /** Reads region data. */
  async readData(ctl: bigint, offset: number, size: number): Promise<Uint8Array> {
    return this.bus.read(ctl + 0x1000n + BigInt(offset), size);
  }
}

/** The /dev/shm entries of regions whose host name starts with `prefix`, with their permission bits. */
export function shmEntries(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of readdirSync('/dev/shm')) {
    if (!f.startsWith(`tsqom-shmem-${prefix}`)) continue;
    try {
      out.set(f.slice('tsqom-shmem-'.length), statSync(`/dev/shm/${f}`).mode & 0o7777);
    } catch {
      /* removed meanwhile */
    }
  }
  return out;
}

/** Doorbell sockets of `pid` left in the temporary directory. */
export function doorbellSockets(pid: number): string[] {
  return readdirSync(tmpdir()).filter((f) => f.startsWith(`tsqom-shmem.${pid}.`));
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * How a guest is started: the `tsqom` command (`src/cli/main.js`). The
 * device module is preloaded with `--import`, which is harmless once the
 * package index registers the type itself.
 */
export const GUEST_COMMAND: readonly string[] = [
  '--import',
  pathToFileURL(join(here, '..', '..', '..', 'src', 'hw', 'misc', 'vdev-shmem.js')).href,
  join(here, '..', '..', '..', 'src', 'cli', 'main.js'),
];

/** A tsqom process with one vdev-shmem device, driven over qtest. */
export class GuestProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly qtest: QtestClient,
    readonly guest: ShmGuest,
    private readonly dir: string,
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
    private readonly stderrText: () => string,
  ) {}

  /** The process id. */
  get pid(): number {
    return this.child.pid!;
  }

  /**
   * Starts `tsqom -M none -device vdev-shmem,id=s0,loc=LOC,intr=INTR,EXTRA
   * -qtest unix:SOCK,server=on,wait=off`, connects to its qtest socket and
   * intercepts interrupts.
   */
  static async start(opts: { loc: bigint; intr: number; extra?: string }): Promise<GuestProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'vdev-shmem-guest-'));
    const sock = join(dir, 'qtest.sock');
    const dev = `vdev-shmem,id=s0,loc=0x${opts.loc.toString(16)},intr=${opts.intr}${
      opts.extra ? `,${opts.extra}` : ''
    }`;
    const child = spawn(
      process.execPath,
      [...GUEST_COMMAND, '-M', 'none', '-device', dev, '-qtest', `unix:${sock},server=on,wait=off`],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    let done = false;
    void exited.then(() => (done = true));
    let qtest: QtestClient | undefined;
    const deadline = Date.now() + 30_000;
    while (!qtest) {
      if (done || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`guest did not start: ${err}`);
      }
      try {
        qtest = await QtestClient.connect(sock);
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await qtest.cmd('irq_intercept_in /machine');
    return new GuestProcess(child, qtest, new ShmGuest(qtest, opts.loc), dir, exited, () => err);
  }

  /** What the process printed on stderr. */
  get stderr(): string {
    return this.stderrText();
  }

  /** Asks the process to exit (SIGTERM) and waits for it. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.qtest.close();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const r = await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
    return r;
  }

  /** Kills the process with SIGKILL and waits for it. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
    this.qtest.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
