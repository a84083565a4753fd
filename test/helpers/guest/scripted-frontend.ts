/**
 * The other side of a vhost-user back-end, for tests: a scripted
 * front-end speaking through the codec over a socketpair, guest memory in
 * memfds that both sides map, and eventfd helpers. The test plays QEMU and
 * the guest driver at once.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import {
  AF_UNIX,
  HostOs,
  MAP_SHARED,
  MFD_CLOEXEC,
  PROT_READ,
  PROT_WRITE,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  UV_READABLE,
} from '../../../src/native/index.js';
import {
  type VhostUserMsg,
  type VhostUserOutMsg,
  VhostUserFramer,
  encodeVhostUserMsg,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_VERSION,
} from '../../../src/hw/virtio/vhost-user/index.js';
import { UnixStream, VHOST_USER_STREAM_FRAMING } from '../../../src/io/unix-stream.js';
import { GuestMemoryMmap } from '../../../src/hw/virtio/guest-memory-mmap.js';
import type { VhostUserMemoryRegion } from '../../../src/hw/virtio/vhost-user/protocol/payloads.js';

/** The host OS layer the tests use. */
export const os: HostOs = container.resolve(HostOs);

/** A scripted front-end on one end of a stream. */
export class ScriptedFrontend {
  /** The stream to the back-end. */
  readonly stream: UnixStream;
  /** Resolves when the back-end closed the connection (or we did). */
  readonly closed: Promise<void>;
  readonly #framer: VhostUserFramer;
  readonly #inbox: VhostUserMsg[] = [];
  readonly #waiters: ((m: VhostUserMsg | null) => void)[] = [];
  #ended = false;

  /** Wraps a connected stream; `channel` is what the peer sends on it. */
  constructor(stream: UnixStream, channel: 'frontend' | 'backend' = 'frontend') {
    this.stream = stream;
    stream.framing = VHOST_USER_STREAM_FRAMING;
    this.#framer = new VhostUserFramer({ channel });
    this.closed = new Promise((resolve) => stream.once('close', () => resolve()));
    stream.on('data', (chunk, fds) => {
      const out = this.#framer.feed(chunk, fds);
      for (const fd of out.unattachedFds) os.close(fd);
      for (const m of out.messages) {
        const w = this.#waiters.shift();
        if (w) w(m);
        else this.#inbox.push(m);
      }
    });
    stream.on('close', () => {
      this.#ended = true;
      for (const w of this.#waiters.splice(0)) w(null);
    });
    stream.resume();
  }

  /** A connected pair: the front-end, and the back-end's raw descriptor. */
  static pair(): { frontend: ScriptedFrontend; backendFd: number } {
    const [a, b] = os.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
    return { frontend: new ScriptedFrontend(new UnixStream(a)), backendFd: b };
  }

  /** Sends a message (fds stay the caller's). */
  send(msg: VhostUserOutMsg): void {
    const w = encodeVhostUserMsg(msg);
    this.stream.send(w.data, w.fds);
  }

  /** Sends raw bytes. */
  sendRaw(data: Uint8Array, fds: readonly number[] = []): void {
    this.stream.send(data, fds);
  }

  /** The next message from the peer, or null when the connection closed first. */
  next(timeoutMs = 5000): Promise<VhostUserMsg | null> {
    const m = this.#inbox.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new Error(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (v: VhostUserMsg | null): void => {
        clearTimeout(t);
        resolve(v);
      };
      this.#waiters.push(done);
    });
  }

  /** Messages received and not yet taken. */
  get pending(): number {
    return this.#inbox.length;
  }

  /** Sends a request and returns the next message (its reply). */
  async request(msg: VhostUserOutMsg): Promise<VhostUserMsg> {
    this.send(msg);
    const r = await this.next();
    if (r === null) throw new Error(`connection closed instead of a reply to ${msg.request}`);
    return r;
  }

  /** Sends a request with NEED_REPLY and returns the u64 of the ack. */
  async requestAck(msg: VhostUserOutMsg): Promise<bigint> {
    const r = await this.request({
      ...msg,
      flags: VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK,
    });
    if (r.hdr.request !== msg.request || r.payload.byteLength !== 8) {
      throw new Error(`bad ack: request ${r.hdr.request}, ${r.payload.byteLength} bytes`);
    }
    return r.payload.readBigUInt64LE(0);
  }

  /** Closes our end. */
  close(): void {
    this.stream.close();
  }
}

/** Guest RAM in memfds, mapped here too so the test can play the driver. */
export interface TestGuestRam {
  /** The regions as SET_MEM_TABLE describes them. */
  regions: VhostUserMemoryRegion[];
  /** One memfd per region (send them with SET_MEM_TABLE). */
  fds: number[];
  /** The same memory, mapped in this process, by guest physical address. */
  memory: GuestMemoryMmap;
  /** Front-end virtual address of a guest physical address. */
  qva(gpa: bigint): bigint;
  /** Unmaps and closes everything. */
  dispose(): void;
}

/**
 * Makes guest RAM: one memfd per `{gpa, size}`; userspace (front-end
 * virtual) addresses are made up, far from the guest ones and out of
 * order, so translations are really tested.
 */
export function makeGuestRam(layout: readonly { gpa: bigint; size: number }[]): TestGuestRam {
  const fds: number[] = [];
  const regions: VhostUserMemoryRegion[] = [];
  layout.forEach((l, i) => {
    const fd = os.memfdCreate(`tsqom-test-ram${i}`, MFD_CLOEXEC);
    os.ftruncate(fd, l.size);
    fds.push(fd);
    regions.push({
      guestPhysAddr: l.gpa,
      memorySize: BigInt(l.size),
      userspaceAddr: 0x7f00_0000_0000n - BigInt(i + 1) * 0x1_0000_0000n,
      mmapOffset: 0n,
    });
  });
  const memory = GuestMemoryMmap.mapRegions(regions, fds);
  return {
    regions,
    fds,
    memory,
    qva(gpa: bigint): bigint {
      const r = regions.find((x) => gpa >= x.guestPhysAddr && gpa < x.guestPhysAddr + x.memorySize);
      if (r === undefined) throw new RangeError(`gpa 0x${gpa.toString(16)} not in guest RAM`);
      return r.userspaceAddr + (gpa - r.guestPhysAddr);
    },
    dispose(): void {
      memory.unmap();
      for (const fd of fds) os.close(fd);
    },
  };
}

/** Resolves with the eventfd's counter once it is readable (rejects after `timeoutMs`). */
export function waitEventfd(fd: number, timeoutMs = 5000): Promise<bigint> {
  const now = os.eventfdRead(fd);
  if (now !== null) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const w = os.watch(fd, UV_READABLE, () => {
      const v = os.eventfdRead(fd);
      if (v === null) return;
      clearTimeout(t);
      w.close();
      resolve(v);
    });
    const t = setTimeout(() => {
      w.close();
      reject(new Error(`eventfd ${fd} not signalled within ${timeoutMs} ms`));
    }, timeoutMs);
    w.start();
  });
}

/** Maps an fd received from the peer and reads `len` bytes at `offset` of it. */
export function readFdBytes(fd: number, size: number, offset: number, len: number): Uint8Array {
  const m = os.mapMemory(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  try {
    return m.read(offset, len);
  } finally {
    m.unmap();
  }
}

/** A promise that resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
