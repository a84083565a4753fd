// Must not compile: a dynamic cast to MemoryRegion does not give a HostMemoryBackend.
import { objectNew, HostMemoryBackend, MemoryRegion } from 'tsqom';
import { objectDynamicCast } from 'tsqom/qom';

const obj = objectNew(MemoryRegion);
export const wrong: HostMemoryBackend | null = objectDynamicCast(obj, MemoryRegion);
