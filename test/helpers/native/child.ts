/**
 * A second process for the native tests: it maps memory it is handed as
 * descriptor 3 (or makes its own) and acts on it, so the tests can check
 * what one process does from another one. Usage:
 * `node child.js COMMAND ARGS...`; results go to stdout, one line each.
 */
import 'reflect-metadata';
import { container } from 'tsyringe';
import {
  HostOs,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../../src/native/index.js';

const os = container.resolve(HostOs);
const [cmd, ...args] = process.argv.slice(2);
const num = (i: number): number => Number(args[i]);
const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** Reads one line from stdin (the parent's go-ahead). */
function nextLine(): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        process.stdin.off('data', onData);
        process.stdin.destroy();
        resolve(buf.slice(0, i));
      }
    };
    process.stdin.on('data', onData);
  });
}

async function main(): Promise<void> {
  switch (cmd) {
    // fill SIZE OFFSET LEN BYTE: map fd 3 shared and fill a range.
    case 'fill': {
      const m = os.mapMemory(num(0), PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
      m.write(num(1), new Uint8Array(num(2)).fill(num(3)));
      m.unmap();
      say('filled');
      break;
    }
    // check SIZE OFFSET LEN BYTE: map fd 3 read-only and count matching bytes.
    case 'check': {
      const m = os.mapMemory(num(0), PROT_READ, MAP_SHARED, 3, 0);
      const got = m.read(num(1), num(2));
      say(`matching ${got.filter((b) => b === num(3)).length}`);
      m.unmap();
      break;
    }
    // stale: prove that a stale view cannot crash the process, however it is used.
    case 'stale': {
      const m = os.mapMemory(1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      const v = m.view(0, 1 << 20);
      const ab = v.buffer;
      v.fill(7);
      m.unmap();
      const results: string[] = [];
      results.push(`length=${v.length}`, `byteLength=${ab.byteLength}`, `v0=${String(v[0])}`);
      v[0] = 1; // a store into a detached view is a no-op
      results.push(`after-store=${String(v[0])}`);
      for (const [name, f] of [
        ['fill', () => v.fill(9)],
        ['set', () => v.set([1, 2, 3])],
        ['typedarray', () => new Uint8Array(ab, 0, 16)],
        ['slice', () => ab.slice(0, 16)],
        ['read', () => m.read(0, 16)],
        ['view', () => m.view(0, 16)],
        ['buffer', () => m.native.buffer()],
      ] as const) {
        try {
          f();
          results.push(`${name}=no-throw`);
        } catch (e) {
          results.push(`${name}=${(e as Error).name}`);
        }
      }
      // Memory mapped afterwards (possibly at the same address) is untouched.
      const again = os.mapMemory(1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      v[0] = 5;
      results.push(`fresh=${again.readU8(0)}`);
      again.unmap();
      say(results.join(' '));
      break;
    }
    // gc: a view keeps the memory alive after the Mapping object is collected.
    case 'gc': {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) throw new Error('run with --expose-gc');
      const settle = async (): Promise<void> => {
        for (let i = 0; i < 5; i++) {
          gc();
          await new Promise((r) => setImmediate(r));
        }
      };
      let view: Uint8Array | undefined;
      let address = 0n;
      (() => {
        const m = os.mmap(1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        address = m.address;
        view = new Uint8Array(m.buffer());
        view.fill(3);
      })();
      const mapped = async (): Promise<boolean> => {
        const { readFileSync } = await import('node:fs');
        return readFileSync('/proc/self/maps', 'utf8').includes(`${address.toString(16)}-`);
      };
      await settle();
      say(`alive=${await mapped()} sum=${view!.reduce((a, b) => a + b, 0)}`);
      view = undefined;
      await settle();
      say(`after=${await mapped()}`);
      break;
    }
    // futex-wait SIZE OFFSET EXPECTED: map fd 3, say ready, wait.
    case 'futex-wait': {
      const m = os.mapMemory(num(0), PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
      const p = os.futexWait(m, num(1), num(2), 20_000);
      say('waiting');
      say(`result ${await p} value ${os.atomicLoad32(m, num(1))}`);
      m.unmap();
      break;
    }
    // futex-wake SIZE OFFSET: say ready, wait for a line on stdin, then wake
    // the word until a waiter (in another process) was actually woken.
    case 'futex-wake': {
      const m = os.mapMemory(num(0), PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
      say('ready');
      await nextLine();
      let woken = 0;
      // The waiter thread may still be on its way into the kernel.
      for (let i = 0; i < 500 && woken === 0; i++) {
        woken = os.futexWake(m, num(1), 1);
        if (woken === 0) await new Promise((r) => setTimeout(r, 10));
      }
      say(`woken ${woken}`);
      m.unmap();
      break;
    }
    // futex-unref: a pending wait that does not keep the process alive.
    case 'futex-unref': {
      const m = os.mapMemory(4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
      void os.futexWait(m, 0, 0, undefined, false).then((r) => say(`unexpected ${r}`));
      say('waiting');
      break;
    }
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

await main();
