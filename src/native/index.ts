/**
 * The typed surface of tsqom's native addon. Every call into the host
 * operating system goes through this module; nothing else loads the addon.
 * @module
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The functions the compiled addon exports. */
export interface NativeAddon {
  /** Version of the JS/native interface; bumped when the surface changes. */
  abiVersion(): number;
}

/** The interface version this TypeScript code was written against. */
export const NATIVE_ABI_VERSION = 1;

function findPackageRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`tsqom: cannot find the package root above ${from}`);
    dir = up;
  }
}

function loadAddon(): NativeAddon {
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  const candidates = ['build/Release/tsqom_native.node', 'build/Debug/tsqom_native.node'];
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const rel of candidates) {
    const path = join(root, rel);
    if (!existsSync(path)) {
      tried.push(`${path}: not built`);
      continue;
    }
    try {
      const addon = require(path) as NativeAddon;
      const abi = addon.abiVersion();
      if (abi !== NATIVE_ABI_VERSION) {
        throw new Error(`interface version ${abi}, expected ${NATIVE_ABI_VERSION} (rebuild it)`);
      }
      return addon;
    } catch (e) {
      tried.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(
    `tsqom: the native addon could not be loaded; run \`npm install\` (or \`npx node-gyp rebuild\`) ` +
      `in ${root}.\n  ${tried.join('\n  ')}`,
  );
}

let cached: NativeAddon | undefined;

/** Loads the native addon once and returns it; throws a message that says what failed. */
export function native(): NativeAddon {
  cached ??= loadAddon();
  return cached;
}
