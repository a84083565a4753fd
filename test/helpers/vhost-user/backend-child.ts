/**
 * A vhost-user back-end process for the two-process tests, written with
 * tsqom's back-end library: it listens on argv[2], offers one VIRTIO
 * Shared Memory Region of 4 MiB, and echoes queue 0's buffers back
 * upper-cased. Commands arrive on stdin, one per line; each answer is one
 * line on stdout:
 *
 *     ready                      (printed once listening)
 *     map OFF LEN rw|ro FILL   -> ok | fail     memfd of LEN bytes filled with FILL, SHMEM_MAP
 *     unmap OFF LEN            -> ok | fail
 *     peek OFF N               -> hex           the first N bytes of the mapping at OFF (its memfd)
 *     poke OFF HEX             -> ok            writes into the mapping at OFF (its memfd)
 *     hold                     -> ok            stops answering the queue (for "mid-stream" kills)
 */
import 'reflect-metadata';
import { createInterface } from 'node:readline';
import { container } from 'tsyringe';
import { HostOs } from '../../../src/native/host.js';
import type { MappedMemory } from '../../../src/native/mapping.js';
import { MAP_SHARED, MFD_CLOEXEC, PROT_READ, PROT_WRITE } from '../../../src/native/constants.js';
import { VhostUserBackendServer } from '../../../src/hw/virtio/vhost-user/backend/backend-server.js';
import type {
  VhostUserBackend,
  VhostUserBackendQueue,
} from '../../../src/hw/virtio/vhost-user/backend/backend.js';
import { VHOST_USER_FLAG_MAP_RW } from '../../../src/hw/virtio/vhost-user/protocol/protocol.js';

/** Size of the child's region 0. */
export const CHILD_REGION_SIZE = 0x400000n;

const os = container.resolve(HostOs);
const path = process.argv[2];
let backend: VhostUserBackend | null = null;
let holding = false;
const maps = new Map<string, { fd: number; mem: MappedMemory }>();

function onKick(q: VhostUserBackendQueue): void {
  if (holding) return;
  for (let e = q.pop(); e !== null; e = q.pop()) {
    const data = q.read(e);
    const out = Uint8Array.from(data, (c) => (c >= 0x61 && c <= 0x7a ? c - 32 : c));
    const n = q.write(e, out);
    q.push(e, n);
  }
  q.notify();
}

const server = VhostUserBackendServer.listen(
  path,
  {
    numQueues: 1,
    shmemSizes: [CHILD_REGION_SIZE],
    onKick,
  },
  { maxConnections: 1, onError: (m) => process.stderr.write(`backend-child: ${m}\n`) },
);
server.on('connection', (b) => (backend = b));
server.on('disconnect', () => (backend = null));
process.stdout.write('ready\n');

async function command(line: string): Promise<string> {
  const [cmd, ...a] = line.trim().split(/\s+/);
  switch (cmd) {
    case 'map': {
      const [off, len, mode, fill] = [BigInt(a[0]), Number(a[1]), a[2], Number(a[3])];
      const fd = os.memfdCreate('backend-child', MFD_CLOEXEC);
      os.ftruncate(fd, len);
      const mem = os.mapMemory(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      mem.view(0, len).fill(fill);
      const ok =
        backend !== null &&
        (await backend
          .shmemMap(0, fd, 0, off, len, mode === 'rw' ? VHOST_USER_FLAG_MAP_RW : 0)
          .then(
            () => true,
            () => false,
          ));
      if (ok) maps.set(String(off), { fd, mem });
      else {
        mem.unmap();
        os.close(fd);
      }
      return ok ? 'ok' : 'fail';
    }
    case 'unmap': {
      const ok =
        backend !== null &&
        (await backend.shmemUnmap(0, BigInt(a[0]), BigInt(a[1])).then(
          () => true,
          () => false,
        ));
      const m = maps.get(String(BigInt(a[0])));
      if (ok && m) {
        m.mem.unmap();
        os.close(m.fd);
        maps.delete(String(BigInt(a[0])));
      }
      return ok ? 'ok' : 'fail';
    }
    case 'peek': {
      const m = maps.get(String(BigInt(a[0])));
      return m ? Buffer.from(m.mem.read(0, Number(a[1]))).toString('hex') : 'none';
    }
    case 'poke': {
      const m = maps.get(String(BigInt(a[0])));
      if (!m) return 'none';
      m.mem.write(0, Buffer.from(a[1], 'hex'));
      return 'ok';
    }
    case 'hold':
      holding = true;
      return 'ok';
    default:
      return `unknown ${cmd}`;
  }
}

let chain = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  chain = chain.then(async () => {
    process.stdout.write(`${await command(line)}\n`);
  });
});
process.stdin.on('end', () => {
  server.close(true);
  process.exit(0);
});
