/**
 * The `tsqom` program as a library: {@link qemuInit} builds a running
 * instance from QEMU-style arguments (`-object`, `-M`, `-device`,
 * `-chardev`, `-qmp`, `-qtest`), {@link TsqomInstance} owns everything it
 * made and frees it on `stop()`, and {@link tsqomMain} is the whole
 * command (arguments in, exit status out).
 *
 * ```ts
 * import { qemuInit } from 'tsqom/cli';
 *
 * const { instance } = await qemuInit(['-M', 'none', '-object', 'memory-backend-ram,id=ram0,size=1M']);
 * await instance?.stop();
 * ```
 * @module tsqom/cli
 */
import 'reflect-metadata';

export * from '../cli/vl.js';
export * from '../cli/options.js';
