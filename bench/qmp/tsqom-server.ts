/**
 * A tsqom QMP server in its own process, for the QMP benchmarks: QEMU runs
 * in its own process too, so neither shares an event loop with the
 * client. Usage: `node tsqom-server.js SOCKET...`; prints `ready` once
 * every socket listens; exits on `quit`, SIGTERM, or when stdin closes.
 */
import { QmpServer, registerObjectOptions } from '../../src/monitor/index.js';

// Whatever object types the library provides (memory backends, devices)
// register when their modules load; load what exists, and give object-add
// the backends' QAPI schemas.
for (const m of ['../../src/index.js', '../../src/backends/index.js']) {
  try {
    const mod = (await import(m)) as {
      BACKEND_OBJECT_OPTIONS?: Record<string, Parameters<typeof registerObjectOptions>[1]>;
    };
    for (const [type, members] of Object.entries(mod.BACKEND_OBJECT_OPTIONS ?? {}))
      registerObjectOptions(type, members);
  } catch {
    // Not built yet.
  }
}

const server = new QmpServer({ onShutdown: () => process.exit(0) });
for (const path of process.argv.slice(2)) await server.listen(`unix:${path}`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
// The benchmark holds our stdin: when it goes away, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.stdout.write('ready\n');
