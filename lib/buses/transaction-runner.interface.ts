/**
 * Runs work inside one database transaction and makes its `EntityManager` the current one, so
 * `EventBus.publish` (outbox) and the work's own writes commit together.
 */
export interface TransactionRunner {
  /** Runs `work` in a transaction; commits when it resolves, rolls back when it rejects. */
  run<R>(work: (manager: any) => Promise<R>): Promise<R>; // eslint-disable-line @typescript-eslint/no-explicit-any
}
