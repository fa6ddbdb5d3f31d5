import type { DataSource } from 'typeorm';

/** Minimal view of a TypeORM transaction event. */
interface TransactionEvent {
  queryRunner: { isTransactionActive?: boolean };
}

/**
 * A TypeORM subscriber, added to the DataSource at start, that wakes the relay right after a
 * transaction that wrote outbox rows commits — including transactions the application opened
 * itself (`dataSource.transaction(...)` with `publish(evt, { manager })`). On PostgreSQL the
 * NOTIFY does the same across instances; this saves the round trip and is the only prompt
 * wake-up on SQLite.
 */
export class CommitWakeupSubscriber {
  private readonly pending = new WeakSet<object>();
  private attachedTo?: DataSource;

  constructor(private readonly onCommit: () => void) {}

  /** Remembers that the transaction of `queryRunner` wrote outbox rows. */
  markPending(queryRunner: object): void {
    this.pending.add(queryRunner);
  }

  /** Adds this subscriber to the DataSource's subscribers. */
  attach(dataSource: DataSource): void {
    if (this.attachedTo) return;
    (dataSource.subscribers as unknown[]).push(this);
    this.attachedTo = dataSource;
  }

  /** Removes it again. */
  detach(): void {
    const subscribers = this.attachedTo?.subscribers as unknown[] | undefined;
    const i = subscribers?.indexOf(this) ?? -1;
    if (subscribers && i >= 0) subscribers.splice(i, 1);
    this.attachedTo = undefined;
  }

  /** TypeORM hook. Ignores savepoint releases (the outer transaction is still open). */
  afterTransactionCommit(event: TransactionEvent): void {
    const qr = event.queryRunner;
    if (qr.isTransactionActive || !this.pending.has(qr)) return;
    this.pending.delete(qr);
    this.onCommit();
  }

  /** TypeORM hook. */
  afterTransactionRollback(event: TransactionEvent): void {
    if (!event.queryRunner.isTransactionActive) this.pending.delete(event.queryRunner);
  }
}
