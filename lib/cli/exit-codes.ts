/** Exit codes of the `nestjs-messaging` command. */
export const EXIT = {
  /** Done. */
  OK: 0,
  /** The operation failed (broker or database unreachable, replay error…). */
  FAILED: 1,
  /** Bad command line or configuration (environment variables). */
  USAGE: 2,
  /** The dead letter asked for does not exist. */
  NOT_FOUND: 3,
  /** A destructive operation was not confirmed. */
  ABORTED: 4,
} as const;
