/**
 * tsqom's progress bar for preallocation on the command line (QEMU has
 * none: a `prealloc=on` backend of many GiB leaves its terminal silent for
 * as long as it takes). On a terminal, once a preallocation has run for
 * {@link PROGRESS_BAR_DELAY_MS}, one line is drawn and rewritten with `\r`:
 *
 * ```
 * tsqom: preallocating ram0:  42% (108/256 MiB)
 * ```
 *
 * and ended with a newline when the preallocation ends (or when a report
 * has to be printed meanwhile). When stderr is not a terminal nothing is
 * written.
 * @module
 */
import {
  type PreallocEndEvent,
  type PreallocEvent,
  hostMemoryBackendEvents,
} from '../backends/hostmem.js';

/** How long a preallocation runs before the bar appears. */
export const PROGRESS_BAR_DELAY_MS = 500;

const MiB = 1024 * 1024;

/** Where the bar draws and when. */
export interface ProgressBarOptions {
  /** Writes to the terminal. */
  write(text: string): void;
  /** Milliseconds before the bar appears (default {@link PROGRESS_BAR_DELAY_MS}). */
  delayMs?: number;
  /** The current time in milliseconds (default `performance.now()`). */
  now?: () => number;
}

/** The bar for the preallocations of command-line backends, one line each. */
export class PreallocProgressBar {
  readonly #write: (text: string) => void;
  readonly #delayMs: number;
  readonly #now: () => number;
  #started = 0;
  #current: PreallocEvent['backend'] | null = null;
  /** Whether this preallocation's bar has been shown. */
  #shown = false;
  /** Whether the cursor is at the end of a drawn bar (the line is not finished). */
  #drawn = false;
  #width = 0;
  readonly #listeners: Array<() => void> = [];

  constructor(options: ProgressBarOptions) {
    this.#write = options.write;
    this.#delayMs = options.delayMs ?? PROGRESS_BAR_DELAY_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Follows {@link hostMemoryBackendEvents} until {@link detach}. */
  attach(): this {
    const start = (e: PreallocEvent): void => this.start(e);
    const progress = (e: PreallocEvent): void => this.progress(e);
    const end = (e: PreallocEndEvent): void => this.end(e);
    hostMemoryBackendEvents.on('prealloc-start', start);
    hostMemoryBackendEvents.on('prealloc-progress', progress);
    hostMemoryBackendEvents.on('prealloc-end', end);
    this.#listeners.push(
      () => hostMemoryBackendEvents.off('prealloc-start', start),
      () => hostMemoryBackendEvents.off('prealloc-progress', progress),
      () => hostMemoryBackendEvents.off('prealloc-end', end),
    );
    return this;
  }

  /** Stops following the backends; a line in progress is finished. */
  detach(): void {
    for (const off of this.#listeners.splice(0)) off();
    this.interrupt();
  }

  /** A preallocation started. */
  start(e: PreallocEvent): void {
    this.interrupt();
    this.#current = e.backend;
    this.#started = this.#now();
    this.#shown = false;
  }

  /** It progressed: draws the bar once the delay has passed. */
  progress(e: PreallocEvent): void {
    if (e.backend !== this.#current) return;
    if (!this.#shown && this.#now() - this.#started < this.#delayMs) return;
    this.#shown = true;
    this.#draw(e);
  }

  /** It ended: a shown bar is drawn a last time and its line finished. */
  end(e: PreallocEndEvent): void {
    if (e.backend !== this.#current) return;
    this.#current = null;
    if (!this.#shown && this.#now() - this.#started >= this.#delayMs) this.#shown = true;
    if (this.#shown) this.#draw(e.error ? e : { ...e, done: e.total });
    this.interrupt();
  }

  /** Finishes a drawn line so that other output starts on a fresh one. */
  interrupt(): void {
    if (!this.#drawn) return;
    this.#drawn = false;
    this.#width = 0;
    this.#write('\n');
  }

  #draw(e: PreallocEvent): void {
    const pct = e.total > 0 ? Math.floor((e.done * 100) / e.total) : 100;
    const text =
      `tsqom: preallocating ${e.id ?? 'memory'}: ${String(pct).padStart(3)}% ` +
      `(${Math.floor(e.done / MiB)}/${Math.ceil(e.total / MiB)} MiB)`;
    const pad = Math.max(0, this.#width - text.length);
    this.#write(`\r${text}${' '.repeat(pad)}`);
    this.#width = text.length;
    this.#drawn = true;
  }
}
