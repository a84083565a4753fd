/**
 * A chardev connection as a Node.js byte stream, for the users that speak a
 * text protocol over it (the monitors): bytes in, bytes out, end and close.
 * Descriptors that arrive with the bytes are closed: no monitor command
 * tsqom implements takes one.
 * @module
 */
import { Duplex } from 'node:stream';
import type { ChardevConnection } from './char.js';

/**
 * Wraps a connection taken from a chardev ({@link Chardev.takeStream}).
 * Data received before the call comes first. Ending the duplex half-closes
 * the socket after pending output; destroying it closes the socket.
 */
export function chardevConnectionDuplex(conn: ChardevConnection): Duplex {
  const { stream } = conn;
  const closeFds = (fds: number[]): void => {
    for (const fd of fds) stream.os.close(fd);
  };
  const duplex = new Duplex({
    read() {
      stream.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (stream.closed) {
        cb();
        return;
      }
      stream.send(chunk);
      cb();
    },
    final(cb) {
      // Finished once the socket has sent everything and closed.
      if (stream.closed) cb();
      else {
        stream.once('close', () => cb());
        stream.end();
      }
    },
    destroy(err, cb) {
      stream.close();
      cb(err);
    },
  });
  for (const [chunk, fds] of conn.pending) {
    closeFds(fds);
    duplex.push(chunk);
  }
  stream.on('data', (chunk, fds) => {
    closeFds(fds);
    if (!duplex.push(chunk)) stream.pause();
  });
  stream.on('end', () => duplex.push(null));
  stream.on('error', () => undefined);
  stream.on('close', () => {
    duplex.push(null);
    duplex.destroy();
  });
  return duplex;
}
