// A consumer of the packed tarball: the prelude, every subpath, typed
// creation and casts, compiled under the strictest settings.
import 'reflect-metadata';
import {
  QomObject,
  QomType,
  TYPE_USER_CREATABLE,
  type ObjectClass,
  objectNew,
  userCreatableAddType,
  userCreatableDel,
  MemoryRegion,
  HostMemoryBackend,
  hostMemoryBackendGetFd,
  QmpServer,
  QmpClient,
  QmpCommandError,
  VhostUserBackendServer,
  type VhostUserBackendDevice,
  type VhostUserBackendQueue,
  machineCreate,
  qemuInit,
  TSQOM_VERSION,
  type JsonValue,
} from 'tsqom';
import * as qom from 'tsqom/qom';
import * as memory from 'tsqom/memory';
import * as backends from 'tsqom/backends';
import * as qdev from 'tsqom/qdev';
import * as virtio from 'tsqom/virtio';
import * as vhostUser from 'tsqom/vhost-user';
import * as vdevShmem from 'tsqom/vdev-shmem';
import * as qmp from 'tsqom/qmp';
import * as cli from 'tsqom/cli';
import * as host from 'tsqom/native';

@QomType({ name: 'consumer-counter', interfaces: [TYPE_USER_CREATABLE] })
export class ConsumerCounter extends QomObject {
  count = 0;
  static override classInit(oc: ObjectClass): void {
    const props = oc.propertiesOf(this);
    props.propertyAddStr(
      'count',
      (o) => String(o.count),
      (o, v) => {
        o.count = Number(v);
      },
    );
  }
}

const device: VhostUserBackendDevice = {
  numQueues: 1,
  onKick(queue: VhostUserBackendQueue): void {
    for (let e = queue.pop(); e !== null; e = queue.pop()) queue.push(e, 0);
    queue.notify();
  },
};

export async function useEverything(dir: string): Promise<JsonValue[]> {
  const out: JsonValue[] = [TSQOM_VERSION];
  await userCreatableAddType('consumer-counter', 'c0', { count: '3' });
  userCreatableDel('c0');
  await userCreatableAddType('memory-backend-memfd', 'm0', { size: 1 << 20, share: true });
  const m0 = qom.objectResolvePathType('/objects/m0', backends.TYPE_MEMORY_BACKEND).obj;
  out.push(m0 instanceof HostMemoryBackend && hostMemoryBackendGetFd(m0) >= 0);
  userCreatableDel('m0');
  const mr: memory.MemoryRegion | MemoryRegion = memory.getSystemMemory();
  out.push(memory.memoryRegionSize(mr) > 0n);
  out.push(qdev.TYPE_DEVICE, virtio.TYPE_VIRTIO_DEVICE, vhostUser.VHOST_USER_HDR_SIZE);
  out.push(typeof vdevShmem.VdevShmemState, host.MFD_CLOEXEC, host.VIRTIO_F_VERSION_1);
  out.push(typeof machineCreate, typeof cli.tsqomMain, typeof qmp.registerCommand);
  const server = new QmpServer();
  const listener = await server.listen(`unix:${dir}/qmp.sock`);
  const client = await QmpClient.connect(`${dir}/qmp.sock`);
  out.push(await client.execute('qom-list-types', { implements: 'memory-backend' }));
  try {
    await client.execute('no-such-command');
  } catch (e) {
    if (e instanceof QmpCommandError) out.push(e.qmpClass);
  }
  await client.close();
  await listener.close();
  await server.close();
  const backend = VhostUserBackendServer.listen(`${dir}/vu.sock`, device);
  backend.close(true);
  const { instance, exitCode } = await qemuInit(['-M', 'none'], { out: () => {}, err: () => {} });
  await instance?.stop();
  out.push(exitCode);

  // Typed creation and casts.
  const counter: ConsumerCounter = objectNew(ConsumerCounter);
  const asCounter: ConsumerCounter | null = qom.objectDynamicCast(counter, ConsumerCounter);
  const checked: ConsumerCounter = qom.objectCheck(counter, ConsumerCounter);
  const notARegion: MemoryRegion | null = qom.objectDynamicCast(counter, MemoryRegion);
  out.push(asCounter === checked, notARegion === null);
  {
    using owned = qom.objectNewOwned(ConsumerCounter);
    const c: ConsumerCounter = owned.value;
    out.push(c.count);
  }
  counter.unref();
  return out;
}
