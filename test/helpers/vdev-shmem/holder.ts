/**
 * A process that holds a vdev-shmem region and waits to be killed:
 * `holder.js client|anchor NAME PAGES`. Prints `ready IDX` (the slot, or
 * -1 for an anchor) once it holds the region.
 */
import 'reflect-metadata';
import { vdevShmemAnchor, vdevShmemAttach } from '../../../src/hw/misc/vdev-shmem-host.js';

const [kind, name, pages] = process.argv.slice(2);
if (kind === 'anchor') {
  vdevShmemAnchor(name!, { pages: Number(pages) });
  process.stdout.write('ready -1\n');
} else {
  const r = vdevShmemAttach(name!, { create: true, pages: Number(pages) });
  if (!r.client) {
    process.stdout.write(`failed ${r.status} ${r.reason}\n`);
    process.exit(1);
  }
  process.stdout.write(`ready ${r.client.idx}\n`);
}
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
