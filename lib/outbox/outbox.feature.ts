import { Logger, type LoggerService } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { MessageTransport } from '../transport/transport.interface';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { InboxUnitOfWork } from '../inbox/inbox.unit-of-work';
import type { OutboxOptions, ResolvedOutboxOptions } from './outbox-options.interface';
import { quoteTable, validateOutboxOptions } from './outbox-options.validator';
import { checkTableFor, indexName, outboxDatabaseOf, type OutboxDatabase } from './outbox.ddl';
import type { OutboxStore, OutboxTableStats } from './outbox.store';
import { PostgresOutboxStore } from './postgres-outbox.store';
import { SqliteOutboxStore } from './sqlite-outbox.store';
import { OutboxRelay } from './outbox.relay';
import { OutboxPublisher } from './outbox.publisher';
import { OutboxRetryScheduler } from './outbox.retry-scheduler';
import { OutboxTransactionRunner } from './outbox-transaction.runner';
import { OutboxRetentionJob } from './outbox-retention.job';
import { CommitWakeupSubscriber } from './commit-wakeup.subscriber';
import { PgNotificationListener } from './pg-notification.listener';
import { PgWakeSignal } from './pg-wake.signal';
import { uuidv7 } from '../message/uuid-v7';
import { PostgresDeadLetterRecords, type DeadLetterRecords } from '../dead-letter/dead-letter-records';

/** Monitoring snapshot of the outbox. */
export interface OutboxStats extends OutboxTableStats {
  /** Relay batches per second over the last minute (non-empty batches). */
  batchesPerSecond: number;
  /** Rows published per second over the last minute. */
  publishedPerSecond: number;
  /** Failed publish attempts per second over the last minute. */
  failedPerSecond: number;
  /** Totals of this instance's relay since start. */
  totals: { batches: number; published: number; failed: number; gaveUp: number };
  /** Whether this instance's relay runs. */
  relayRunning: boolean;
  /** When this instance's relay last finished a batch (ISO), if ever. */
  lastRunAt?: string;
  /** Whether the LISTEN connection is up (PostgreSQL with `listenNotify`). */
  listening: boolean;
}

/**
 * The NestJS DI token of the DataSource named in `outbox.dataSource` (same convention as
 * `@nestjs/typeorm`'s `getDataSourceToken`): the `DataSource` class for the default one.
 */
export function outboxDataSourceToken(name?: string): string | typeof DataSource {
  return name === undefined || name === 'default' ? DataSource : `${name}DataSource`;
}

/** LISTEN/NOTIFY channel of an outbox table. */
export function outboxChannel(outboxTable: string): string {
  return indexName(outboxTable, 'relay');
}

/** The relay's default batch with a transport that is not durable (see `OutboxOptions.batchSize`). */
export const IN_PROCESS_BATCH_SIZE = 20;

/**
 * Everything the transactional outbox and the inbox provide, built from the options, the
 * application's (initialized) TypeORM DataSource and the transport:
 * - `publisher` — the `EventPublisher` the EventBus uses (writes outbox rows);
 * - `unitOfWork` — the inbox (`undefined` when `inbox: false`);
 * - `retryScheduler` — retries as delayed outbox rows;
 * - `transactions` — `TransactionRunner` putting a transaction into the message context;
 * - `relay`, `retention` — background jobs run by `start()` / `stop()`.
 */
export class OutboxFeature {
  readonly options: ResolvedOutboxOptions;
  readonly database: OutboxDatabase;
  readonly store: OutboxStore;
  readonly relay: OutboxRelay;
  readonly publisher: OutboxPublisher;
  readonly unitOfWork?: InboxUnitOfWork;
  readonly retryScheduler: OutboxRetryScheduler;
  readonly transactions: OutboxTransactionRunner;
  readonly retention: OutboxRetentionJob;
  private readonly wakeup: CommitWakeupSubscriber;
  /** The LISTEN connection (PostgreSQL, `listenNotify`, relay on). */
  readonly listener?: PgNotificationListener;
  private readonly signal?: PgWakeSignal;
  /** The durable dead-letter record (PostgreSQL, `deadLetterTable` set). */
  readonly deadLetters?: DeadLetterRecords;
  private started = false;

  constructor(
    options: OutboxOptions,
    /** The application's DataSource (operations read the outbox and inbox tables through it). */
    readonly dataSource: DataSource,
    transport: MessageTransport,
    private readonly logger: LoggerService = new Logger('MessagingOutbox'),
  ) {
    const resolved = validateOutboxOptions(options);
    this.options =
      options.batchSize === undefined && !transport.capabilities.durable
        ? { ...resolved, batchSize: IN_PROCESS_BATCH_SIZE }
        : resolved;
    if (!(dataSource instanceof DataSource) && typeof (dataSource as { query?: unknown })?.query !== 'function') {
      throw new InvalidConfigurationError('outbox: a TypeORM DataSource is required');
    }
    this.database = outboxDatabaseOf(dataSource.options.type);
    const { outboxTable, inboxTable } = this.options;
    checkTableFor(this.database, outboxTable);
    checkTableFor(this.database, inboxTable);
    const deadLetterTable = this.options.deadLetterTable;
    if (deadLetterTable !== undefined) {
      if (this.database !== 'postgres') {
        throw new InvalidConfigurationError('outbox.deadLetterTable is supported on PostgreSQL only');
      }
      this.deadLetters = new PostgresDeadLetterRecords(deadLetterTable, quoteTable(deadLetterTable), (sql, params) =>
        dataSource.query(sql, params),
      );
    }
    const notify = this.database === 'postgres' && this.options.listenNotify;
    const channel = notify ? outboxChannel(outboxTable) : null;
    this.store =
      this.database === 'postgres'
        ? new PostgresOutboxStore(dataSource, outboxTable, inboxTable, this.options.preparedStatements)
        : new SqliteOutboxStore(dataSource, outboxTable, inboxTable);
    this.relay = new OutboxRelay(this.store, transport, this.options, logger);
    const instanceId = uuidv7();
    const signal = channel !== null ? new PgWakeSignal(dataSource, channel, instanceId, logger) : undefined;
    this.signal = signal;
    const wake = () => this.relay.wake();
    // rows committed: wake our relay at once; only an instance without a running relay of its
    // own notifies the others (a NOTIFY per commit costs a round trip; they poll anyway)
    const committed = () => {
      if (this.relay.isRunning) this.relay.wake();
      else signal?.signal();
    };
    this.wakeup = new CommitWakeupSubscriber(committed);
    this.publisher = new OutboxPublisher(
      this.store,
      dataSource,
      this.wakeup,
      committed,
      this.options.requireTransaction,
    );
    this.unitOfWork = this.options.inbox ? new InboxUnitOfWork(this.store) : undefined;
    this.retryScheduler = new OutboxRetryScheduler(this.store, (time) => this.relay.wakeAt(time));
    this.transactions = new OutboxTransactionRunner(this.store);
    this.retention = new OutboxRetentionJob(this.store, this.options.retention, logger);
    if (channel !== null && this.options.relay) {
      this.listener = new PgNotificationListener(dataSource, channel, wake, logger, instanceId);
    }
  }

  /**
   * Checks the tables exist, then starts the relay (with LISTEN) and the cleanup job, when
   * enabled for this instance. Call after the transport is connected.
   */
  async start(): Promise<void> {
    if (this.started) return;
    if (!this.dataSource.isInitialized) {
      throw new InvalidConfigurationError('outbox: the TypeORM DataSource is not initialized');
    }
    await this.checkTables();
    this.wakeup.attach(this.dataSource);
    this.signal?.setEnabled(true);
    this.started = true;
    if (this.options.relay) {
      if (this.listener) {
        await this.listener.start().catch((error: Error) => {
          this.logger.warn?.(
            `outbox LISTEN failed (${error.message}); polling every ${this.options.pollIntervalMs} ms meanwhile`,
          );
          this.listener?.scheduleReconnect();
        });
      }
      this.relay.start();
      this.retention.start();
    }
  }

  /** Stops the cleanup, lets the relay finish its in-flight batch, stops listening. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.retention.stop();
    await this.relay.stop();
    await this.listener?.stop();
    this.signal?.setEnabled(false);
    this.wakeup.detach();
  }

  /** Monitoring snapshot: table counts plus this instance's relay rates. */
  async stats(): Promise<OutboxStats> {
    const table = await this.store.stats();
    return {
      ...table,
      ...this.relay.meter.rates(),
      totals: { ...this.relay.meter.totals },
      relayRunning: this.relay.isRunning,
      lastRunAt: this.relay.lastRunAt === undefined ? undefined : new Date(this.relay.lastRunAt).toISOString(),
      listening: this.listener?.listening ?? false,
    };
  }

  /** Puts rows given up (`failed`) back to pending — all, or the given row ids. Returns how many. */
  async requeueFailed(ids?: string[]): Promise<number> {
    const n = await this.store.requeueFailed(ids);
    if (n > 0) this.relay.wake();
    return n;
  }

  private async checkTables(): Promise<void> {
    const { outboxTable, inboxTable, deadLetterTable } = this.options;
    for (const table of [outboxTable, inboxTable, ...(deadLetterTable ? [deadLetterTable] : [])]) {
      try {
        await this.dataSource.query(`SELECT 1 FROM ${quoteTable(table)} WHERE 1 = 0`);
      } catch (error) {
        throw new InvalidConfigurationError(
          `outbox: table ${table} is not usable (${(error as Error).message}). Create it with ` +
            (table === deadLetterTable
              ? `createDeadLetterMigration() in the DataSource's migrations, or add createDeadLetterEntities() `
              : `createMessagingMigration() in the DataSource's migrations, or add createMessagingEntities() `) +
            `to its entities with synchronize: true`,
        );
      }
    }
  }
}
