#!/usr/bin/env node
import { TSQOM_VERSION } from '../version.js';

console.log(`tsqom version ${TSQOM_VERSION}`);
