/**
 * The VM's run state and the process-wide settings the monitor reports
 * (QEMU's system/runstate.c and the globals of system/vl.c): the run
 * state (`query-status`), the actions `set-action` selects, the name
 * (`-name`), the UUID (`-uuid`) and the accelerator (`-accel`).
 *
 * The defaults are what QEMU 7.2 reports for `-M none -S` with none of
 * those options: run state `prelaunch`, no name, the nil UUID, TCG with
 * KVM present but not enabled. The command line sets the rest with the
 * setters here; the monitor only reads them and changes the run state.
 * @module
 */

/** QAPI `RunState`, in QEMU's order. */
export const RUN_STATES = [
  'debug',
  'inmigrate',
  'internal-error',
  'io-error',
  'paused',
  'postmigrate',
  'prelaunch',
  'finish-migrate',
  'restore-vm',
  'running',
  'save-vm',
  'shutdown',
  'suspended',
  'watchdog',
  'guest-panicked',
  'colo',
] as const;

/** QAPI `RunState`. */
export type RunState = (typeof RUN_STATES)[number];

/** QAPI `RebootAction`. */
export const REBOOT_ACTIONS = ['reset', 'shutdown'] as const;
/** QAPI `ShutdownAction`. */
export const SHUTDOWN_ACTIONS = ['poweroff', 'pause'] as const;
/** QAPI `PanicAction`. */
export const PANIC_ACTIONS = ['pause', 'shutdown', 'exit-failure', 'none'] as const;
/** QAPI `WatchdogAction`. */
export const WATCHDOG_ACTIONS = [
  'reset',
  'shutdown',
  'poweroff',
  'pause',
  'debug',
  'none',
  'inject-nmi',
] as const;

/** The actions `set-action` (and `-action`) select. */
export interface RunActions {
  /** What a guest reboot does. */
  reboot: (typeof REBOOT_ACTIONS)[number];
  /** What a guest shutdown does. */
  shutdown: (typeof SHUTDOWN_ACTIONS)[number];
  /** What a guest panic does. */
  panic: (typeof PANIC_ACTIONS)[number];
  /** What a watchdog expiry does. */
  watchdog: (typeof WATCHDOG_ACTIONS)[number];
}

/** Called when the run state changes (QEMU's vm-change-state handlers). */
export type RunStateListener = (running: boolean, state: RunState) => void;

/** The nil UUID QEMU reports without `-uuid`. */
export const UUID_NIL = '00000000-0000-0000-0000-000000000000';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The process-wide VM state. One instance exists: {@link vmState}. */
export class VmState {
  #state: RunState = 'prelaunch';
  readonly #listeners = new Set<RunStateListener>();
  /** `-name`: the guest name, if given. */
  name: string | undefined = undefined;
  /** `-uuid`, lower-case, as QEMU prints it. */
  #uuidValue = UUID_NIL;
  /** `-m`: the machine's RAM size in bytes when no `memory-backend` gives it. */
  ramSize = 0n;
  /** Whether KVM is in use (`-accel kvm`); tsqom never enables it. */
  kvmEnabled = false;
  /** Whether the host offers KVM (`/dev/kvm` exists). */
  kvmPresent = true;
  /** The current `set-action` choices. */
  readonly actions: RunActions = {
    reboot: 'reset',
    shutdown: 'poweroff',
    panic: 'shutdown',
    watchdog: 'reset',
  };

  /** The current run state. */
  get runState(): RunState {
    return this.#state;
  }

  /** QEMU's runstate_is_running(). */
  get running(): boolean {
    return this.#state === 'running';
  }

  /** The UUID, as `query-uuid` reports it. */
  get uuid(): string {
    return this.#uuidValue;
  }

  /**
   * Sets the UUID (`-uuid`); throws QEMU's text for a malformed one.
   * QEMU parses with qemu_uuid_parse and prints lower-case hex.
   */
  setUuid(text: string): void {
    if (!UUID_RE.test(text)) throw new Error('Fail to parse UUID string. Wrong format.');
    this.#uuidValue = text.toLowerCase();
  }

  /** QEMU's runstate_set(): changes the state and tells the listeners. */
  setRunState(state: RunState): void {
    if (state === this.#state) return;
    this.#state = state;
    for (const l of [...this.#listeners]) l(this.running, state);
  }

  /** Registers a listener; returns the function that removes it. */
  onChange(listener: RunStateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Puts everything back to the defaults (tests, a fresh start). */
  reset(): void {
    this.#state = 'prelaunch';
    this.name = undefined;
    this.#uuidValue = UUID_NIL;
    this.ramSize = 0n;
    this.kvmEnabled = false;
    this.kvmPresent = true;
    Object.assign(this.actions, {
      reboot: 'reset',
      shutdown: 'poweroff',
      panic: 'shutdown',
      watchdog: 'reset',
    });
  }
}

/** The process's VM state. */
export const vmState = new VmState();

/** The values each `-action` / `set-action` key accepts, in QAPI order. */
export const RUNSTATE_ACTION_VALUES = {
  /** The values of `reboot`. */
  reboot: REBOOT_ACTIONS,
  /** The values of `shutdown`. */
  shutdown: SHUTDOWN_ACTIONS,
  /** The values of `panic`. */
  panic: PANIC_ACTIONS,
  /** The values of `watchdog`. */
  watchdog: WATCHDOG_ACTIONS,
} as const;

/** Command-line settings beyond {@link vmState}: `-msg` and the accelerator's name. */
export interface VmSettings {
  /** `-msg timestamp=on`. */
  msgTimestamp: boolean;
  /** `-msg guest-name=on`. */
  msgGuestName: boolean;
  /** The accelerator in use (`tcg` or `qtest`; tsqom has no KVM). */
  accel: string;
}

/** The process's {@link VmSettings}. */
export const vmSettings: VmSettings = { msgTimestamp: false, msgGuestName: false, accel: 'tcg' };

/** `qemu_uuid_parse`: a UUID in the 8-4-4-4-12 hex form, lower-cased, or undefined. */
export function qemuUuidParse(text: string): string | undefined {
  return UUID_RE.test(text) ? text.toLowerCase() : undefined;
}
