/**
 * Preloaded into a child under test (`node --expose-gc --import ...`):
 * SIGUSR2 runs a full garbage collection, so a test can measure memory
 * after the heap has settled instead of whenever V8 feels like collecting.
 * The child answers on stderr with `gc-done` and its memory usage (JSON)
 * once collected.
 */
const collect = (globalThis as { gc?: () => void }).gc;

process.on('SIGUSR2', () => {
  collect?.();
  process.stderr.write(`gc-done ${JSON.stringify(process.memoryUsage())}\n`);
});
