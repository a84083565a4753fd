/**
 * The machine's interrupt lines. tsqom's `none` machine has no interrupt
 * controller, so devices raise numbered lines here (a device's `intr`
 * property names its line) and whoever emulates the CPU side listens:
 * the qtest server reports them as `IRQ raise N` / `IRQ lower N`.
 * @module
 */

/** Told about every level change of a machine interrupt line. */
export type IrqListener = (line: number, level: number) => void;

const levels = new Map<number, number>();
const listeners = new Set<IrqListener>();

/**
 * Sets line `line` to `level` (0 or 1), as QEMU's `qemu_set_irq`. Listeners
 * hear only changes; a pulse is a raise followed by a lower.
 */
export function machineIrqSet(line: number, level: number): void {
  const l = level ? 1 : 0;
  if ((levels.get(line) ?? 0) === l) return;
  levels.set(line, l);
  for (const fn of [...listeners]) fn(line, l);
}

/** Raises and lowers a line at once (an edge-triggered notification). */
export function machineIrqPulse(line: number): void {
  machineIrqSet(line, 1);
  machineIrqSet(line, 0);
}

/** The current level of a line. */
export function machineIrqLevel(line: number): number {
  return levels.get(line) ?? 0;
}

/** Adds a listener; returns a function that removes it. */
export function machineIrqListen(fn: IrqListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
