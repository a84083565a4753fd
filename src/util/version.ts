/** tsqom's own version, as `--version` and QMP's package field report it. */
export const TSQOM_VERSION = '0.1.0';
