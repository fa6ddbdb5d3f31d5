/** Exponential backoff of a row whose publish failed. */
export interface OutboxBackoffOptions {
  /** Delay before the second attempt, in ms. Default `1000`. */
  initialDelayMs?: number;
  /** Each further attempt waits this many times longer. Default `2`. */
  multiplier?: number;
  /** Upper bound of one delay, in ms. Default `300000` (5 minutes). */
  maxDelayMs?: number;
  /** Random spread added to each delay, as a fraction of it (0 to 1). Default `0.2`. */
  jitter?: number;
}

/** Deletion of old rows, in batches, on a timer. */
export interface OutboxRetentionOptions {
  /** Run the cleanup job in this instance. Default `true`. */
  enabled?: boolean;
  /** Sent outbox rows older than this (by `sent_at`) are deleted, in ms. Default `86400000` (1 day). */
  sentMs?: number;
  /**
   * Inbox rows older than this (by `processed_at`) are deleted, in ms. Default `604800000` (7 days).
   * Must be longer than any redelivery window: a message redelivered after its inbox row was
   * deleted is handled again. Minimum 1 hour.
   */
  inboxMs?: number;
  /** How often the cleanup runs, in ms. Default `60000`. */
  intervalMs?: number;
  /** Rows deleted per statement. Default `1000`. */
  batchSize?: number;
}

/**
 * Options of the transactional outbox, its relay and the idempotent inbox.
 */
export interface OutboxOptions {
  /** Turns the outbox (and the inbox) on. Default `true` when an `outbox` options object is given. */
  enabled?: boolean;
  /**
   * The application's TypeORM `DataSource`: the instance itself, or the connection name registered
   * with `@nestjs/typeorm` (`TypeOrmModule.forRoot({ name })`). Default: the default DataSource.
   */
  dataSource?: string | object;
  /** Outbox table name, optionally schema-qualified (`schema.table`). Default `messaging_outbox`. */
  outboxTable?: string;
  /** Processed-messages (inbox) table name, optionally schema-qualified. Default `messaging_processed_messages`. */
  inboxTable?: string;
  /** Run the relay in this instance (several instances may run it on PostgreSQL). Default `true`. */
  relay?: boolean;
  /** Polling interval of the relay, in ms: a fallback for missed notifications and for SQLite. Default `1000`. */
  pollIntervalMs?: number;
  /**
   * Rows claimed and published per relay batch. Default `100`, or `20` with a transport that is not
   * durable (the in-memory one): its relay holds the claim until the batch is handled, so a smaller
   * batch keeps fewer messages in flight in the process (measured: peak RSS of the outbox benchmark
   * 137 MB against 142-166 MB, same throughput).
   */
  batchSize?: number;
  /**
   * Batches one relay keeps in flight (PostgreSQL; SQLite always 1): while one batch waits for the
   * transport's confirms, the next is claimed and published, each in its own claim transaction (so
   * it holds that many pooled connections while busy). Per-key order holds as with several relays.
   * Default `2`.
   */
  relayConcurrency?: number;
  /** Publish attempts before a row is given up (status `failed`). Default `10`. */
  maxAttempts?: number;
  /** Backoff between publish attempts of one row. */
  backoff?: OutboxBackoffOptions;
  /** Wake the relay with PostgreSQL `LISTEN/NOTIFY` when outbox rows commit (PostgreSQL only). Default `true`. */
  listenNotify?: boolean;
  /**
   * PostgreSQL: the hot statements (outbox insert, inbox insert, relay claim) as named prepared
   * statements through `pg`'s public query API, parsed and planned once per connection. Turn it off
   * behind a connection pooler in transaction mode without prepared-statement support (e.g.
   * PgBouncer < 1.21). Default `true`.
   */
  preparedStatements?: boolean;
  /** Use the idempotent inbox for subscribers (each may still opt out). Default `true`. */
  inbox?: boolean;
  /**
   * Group commit of the inbox: deliveries of one subscriber that queue up while its `concurrency`
   * transactions are busy are handled, up to this many, one after another in one transaction (one
   * inbox statement, one commit). A lightly loaded subscriber is unaffected: a delivery that finds a
   * transaction slot free runs alone. When anything in a group fails, the group is rolled back and
   * each of its messages runs again in a transaction of its own, so a handler may run twice for one
   * delivery: its database work is rolled back in between, but calls it made to outside systems are
   * not (as with any retry). A subscriber opts out with `@Subscribe(..., { groupCommit: false })`.
   * `1` turns grouping off. Default `10`.
   */
  groupCommit?: number;
  /**
   * Refuse `EventBus.publish` outside a transaction (`TransactionRequiredError`): no `{ manager }`
   * and not inside a handler's inbox transaction or `MessagingTransactions.run()`. Catches a
   * `{ manager }` forgotten inside your own `dataSource.transaction(...)`, which would otherwise
   * write the event at once, even if that transaction then rolls back. Default `false`
   * (publishing outside a transaction writes the outbox row in its own auto-commit statement).
   */
  requireTransaction?: boolean;
  /**
   * Run every command handler in a transaction of the outbox's DataSource unless it says otherwise
   * (`@CommandHandler(X, { transactional: false })`): what it writes and the events it publishes,
   * including those of `AggregateRoot.commit()` from `@nestjs/cqrs`, commit together. The way to make
   * handlers written for `@nestjs/cqrs` (whose decorator has no such option) durable. Default `false`.
   */
  transactionalCommands?: boolean;
  /** Cleanup of sent outbox rows and old inbox rows. */
  retention?: OutboxRetentionOptions;
  /**
   * PostgreSQL: also keep every dead letter of this service in this table (durable history that
   * survives a queue purge, queryable; replayed and purged ones are marked, not deleted), and take
   * "new failure group" for alerts from it. Create the table with `createDeadLetterMigration(name)`
   * (or `createDeadLetterEntities(name)` with `synchronize`). Default: off (no table). The usual
   * name is `messaging_dead_letters` (`DEFAULT_DEAD_LETTER_TABLE`).
   */
  deadLetterTable?: string | false;
}

/** Options with every default applied. */
export interface ResolvedOutboxOptions {
  enabled: boolean;
  dataSource?: string | object;
  outboxTable: string;
  inboxTable: string;
  relay: boolean;
  pollIntervalMs: number;
  batchSize: number;
  relayConcurrency: number;
  maxAttempts: number;
  backoff: Required<OutboxBackoffOptions>;
  listenNotify: boolean;
  preparedStatements: boolean;
  inbox: boolean;
  groupCommit: number;
  requireTransaction: boolean;
  transactionalCommands: boolean;
  retention: Required<OutboxRetentionOptions>;
  /** The durable dead-letter table, when on. */
  deadLetterTable?: string;
}

/** Default outbox table name. */
export const DEFAULT_OUTBOX_TABLE = 'messaging_outbox';
/** Default inbox table name. */
export const DEFAULT_INBOX_TABLE = 'messaging_processed_messages';
