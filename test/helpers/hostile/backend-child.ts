/**
 * A vhost-user back-end process built with tsqom's back-end library, for
 * the hostile-peer tests: it listens on argv[2], serves any number of
 * front-ends (one queue, no device logic), and reports what the library
 * reports on stderr.
 */
import 'reflect-metadata';
import { VhostUserBackendServer } from '../../../src/hw/virtio/vhost-user/backend/backend-server.js';

const server = VhostUserBackendServer.listen(
  process.argv[2]!,
  { numQueues: 1 },
  { onError: (m) => process.stderr.write(`backend: ${m}\n`) },
);
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
