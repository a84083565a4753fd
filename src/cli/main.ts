#!/usr/bin/env node
/**
 * The `tsqom` command: QEMU-style options (`-object`, `-qmp`, ...), or with
 * no options a documented default configuration. See `tsqom --help`.
 * @module
 */
import { tsqomMain } from './vl.js';

process.exitCode = await tsqomMain(process.argv.slice(2));
