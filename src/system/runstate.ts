/**
 * The machine-wide settings QEMU keeps as globals in system/vl.c and
 * system/runstate.c: the guest name (`-name`), the UUID (`-uuid`), the
 * `-action` table (with `-no-shutdown` and `-no-reboot` as its shorthands)
 * and the `-msg` format. The command line writes them; the QMP and HMP
 * commands (`query-name`, `query-uuid`, `set-action`, ...) read and
 * change them here.
 * @module
 */

/** QAPI `ShutdownAction`. */
export type ShutdownAction = 'poweroff' | 'pause';
/** QAPI `RebootAction`. */
export type RebootAction = 'reset' | 'shutdown';
/** QAPI `PanicAction` (QEMU 7.2). */
export type PanicAction = 'pause' | 'shutdown' | 'exit-failure' | 'none';
/** QAPI `WatchdogAction`. */
export type WatchdogAction =
  'reset' | 'shutdown' | 'poweroff' | 'pause' | 'debug' | 'none' | 'inject-nmi';

/** The values each `-action` / `set-action` key accepts, in QAPI order. */
export const RUNSTATE_ACTION_VALUES = {
  reboot: ['reset', 'shutdown'],
  shutdown: ['poweroff', 'pause'],
  panic: ['pause', 'shutdown', 'exit-failure', 'none'],
  watchdog: ['reset', 'shutdown', 'poweroff', 'pause', 'debug', 'none', 'inject-nmi'],
} as const;

/** The `-action` table, with QEMU's defaults. */
export interface RunstateActions {
  /** What a guest reboot does. */
  reboot: RebootAction;
  /** What a guest shutdown does. */
  shutdown: ShutdownAction;
  /** What a guest panic does. */
  panic: PanicAction;
  /** What a watchdog expiry does. */
  watchdog: WatchdogAction;
}

/** QEMU's all-zero UUID, reported when `-uuid` was not given. */
export const UUID_NONE = '00000000-0000-0000-0000-000000000000';

/** The settings; see the module description. */
export interface VmSettings {
  /** `-name`: the guest name (QEMU's `qemu_name`), or undefined. */
  name: string | undefined;
  /** `-uuid`: the machine UUID, lower case (QEMU's `qemu_uuid`). */
  uuid: string;
  /** Whether `-uuid` was given (QEMU's `qemu_uuid_set`). */
  uuidSet: boolean;
  /** The actions. */
  actions: RunstateActions;
  /** `-msg timestamp=on`. */
  msgTimestamp: boolean;
  /** `-msg guest-name=on`. */
  msgGuestName: boolean;
  /** The accelerator in use (`tcg` or `qtest`; tsqom has no KVM). */
  accel: string;
}

function defaults(): VmSettings {
  return {
    name: undefined,
    uuid: UUID_NONE,
    uuidSet: false,
    actions: { reboot: 'reset', shutdown: 'poweroff', panic: 'shutdown', watchdog: 'reset' },
    msgTimestamp: false,
    msgGuestName: false,
    accel: 'tcg',
  };
}

/** The process's settings (one machine per process, as in QEMU). */
export const vmSettings: VmSettings = defaults();

/** Puts every setting back to QEMU's default (for tests and re-initialisation). */
export function vmSettingsReset(): void {
  Object.assign(vmSettings, defaults());
}

/** `qemu_uuid_parse`: a UUID in the 8-4-4-4-12 hex form, or undefined. */
export function qemuUuidParse(text: string): string | undefined {
  return /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text)
    ? text.toLowerCase()
    : undefined;
}
