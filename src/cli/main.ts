#!/usr/bin/env node
/**
 * The `tsqom` command: QEMU-style options (`-object`, `-qmp`, ...), or with
 * no options a documented default configuration. See `tsqom --help`.
 * @module
 */
import { tsqomMain } from './vl.js';

// Exit as QEMU does once shut down, whatever handles are left.
process.exit(await tsqomMain(process.argv.slice(2)));
