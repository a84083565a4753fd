/**
 * The front-end half of the vhost-user-shmem benchmark, run as its own
 * process: a minimal responder built on the codec. It negotiates REPLY_ACK,
 * BACKEND_REQ and SHMEM on the connection it inherits as fd 3, hands the
 * back-end a channel with SET_BACKEND_REQ_FD, prints `ready`, then acks
 * every SHMEM_MAP / SHMEM_UNMAP with 0 (closing the fds, as a front-end
 * does once it has mapped them) until the connection closes.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import { AF_UNIX, HostOs, SOCK_CLOEXEC, SOCK_STREAM } from '../../src/native/index.js';
import {
  VhostUserFramer,
  VhostUserProtocolFeature as PF,
  VhostUserRequest as R,
  VHOST_USER_NEED_REPLY_MASK,
  VHOST_USER_VERSION,
  type VhostUserMsg,
  type VhostUserOutMsg,
  encodeVhostUserAck,
  encodeVhostUserMsg,
} from '../../src/hw/virtio/vhost-user/index.js';
import { UnixStream, VHOST_USER_STREAM_FRAMING } from '../../src/io/unix-stream.js';

const os = container.resolve(HostOs);
const main = new UnixStream(3, { os, framing: VHOST_USER_STREAM_FRAMING });
const framer = new VhostUserFramer({ channel: 'frontend' });
const waiting: ((m: VhostUserMsg) => void)[] = [];
main.on('data', (chunk, fds) => {
  const out = framer.feed(chunk, fds);
  for (const fd of out.unattachedFds) os.close(fd);
  for (const m of out.messages) waiting.shift()?.(m);
});
main.on('close', () => process.exit(0));
main.resume();

function request(msg: VhostUserOutMsg): Promise<VhostUserMsg> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    const w = encodeVhostUserMsg(msg);
    main.send(w.data, w.fds);
  });
}

const bit = (n: number): bigint => 1n << BigInt(n);
const offered = (
  await request({ request: R.VHOST_USER_GET_PROTOCOL_FEATURES })
).payload.readBigUInt64LE(0);
const wanted =
  bit(PF.VHOST_USER_PROTOCOL_F_REPLY_ACK) |
  bit(PF.VHOST_USER_PROTOCOL_F_BACKEND_REQ) |
  bit(PF.VHOST_USER_PROTOCOL_F_SHMEM);
if ((offered & wanted) !== wanted) throw new Error(`back-end offers 0x${offered.toString(16)}`);
const needReply = VHOST_USER_VERSION | VHOST_USER_NEED_REPLY_MASK;
await request({
  request: R.VHOST_USER_SET_PROTOCOL_FEATURES,
  flags: needReply,
  body: { kind: 'u64', u64: wanted },
});
const [mine, theirs] = os.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC);
await request({ request: R.VHOST_USER_SET_BACKEND_REQ_FD, flags: needReply, fds: [theirs] });
os.close(theirs);

// The back-end sends one request at a time and waits for its ack, so a
// read never holds more than one message: no framing needed here.
const channel = new UnixStream(mine, { os, readSize: 4096 });
const chanFramer = new VhostUserFramer({ channel: 'backend' });
channel.on('data', (chunk, fds) => {
  const out = chanFramer.feed(chunk, fds);
  for (const fd of out.unattachedFds) os.close(fd);
  for (const m of out.messages) {
    for (const fd of m.fds) os.close(fd);
    if ((m.hdr.flags & VHOST_USER_NEED_REPLY_MASK) !== 0) {
      channel.send(encodeVhostUserAck(m.hdr, 0).data);
    }
  }
});
channel.resume();
process.stdout.write('ready\n');
