import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { MESSAGING_OPTIONS, MESSAGING_TRANSPORT } from '../messaging.tokens';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import type { MessageTransport } from '../transport/transport.interface';
import type { OutboxFeature } from './outbox.feature';
import { requireOptional } from '../errors/missing-dependency.error';
import type { MessagingTransactions } from '../buses/messaging-transactions.service';
import type { ResolvedMessagingOptions } from '../config/messaging-options.interface';
import type { RetryScheduler, SubscriberUnitOfWork } from '../consumer/unit-of-work.interface';
import type { CommandBus } from '../buses/command.bus';
import type { QueryBus } from '../buses/query.bus';
import type { EventBus } from '../buses/event.bus';

/** Outbox figures for monitoring. */
export interface OutboxStatsSnapshot {
  /** Rows waiting to be published (due now or scheduled later, e.g. retries). */
  pending: number;
  /** Pending rows whose time has come. */
  due: number;
  /** Rows given up after `maxAttempts` failed publishes. */
  failed: number;
  /** Age of the oldest due pending row, ms (0 when none): the outbox lag. */
  oldestPendingAgeMs: number;
  /** The relay of this instance. */
  relay: {
    /** Running in this instance. */
    running: boolean;
    /** When its last batch finished (ISO), if ever. */
    lastRunAt?: string;
    /** Recent batches per second. */
    batchesPerSecond: number;
    /** Recent rows published per second. */
    publishedPerSecond: number;
  };
}

/**
 * Wires the transactional outbox and inbox into the buses and the consumer pipeline when the
 * `outbox` option is on; does nothing otherwise. TypeORM is loaded only then (optional peer).
 */
@Injectable()
export class OutboxIntegration {
  /** Inbox for subscribers (when on). */
  unitOfWork?: SubscriberUnitOfWork;
  /** Durable retry scheduling (when on). */
  retryScheduler?: RetryScheduler;
  /** The outbox itself (when on). */
  feature?: OutboxFeature;

  constructor(
    @Inject(MESSAGING_OPTIONS) private readonly options: ResolvedMessagingOptions,
    @Inject(MESSAGING_TRANSPORT) private readonly transport: MessageTransport,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** Builds the outbox from the application's DataSource and plugs it into the buses. */
  async init(
    commands: CommandBus,
    queries: QueryBus,
    events: EventBus,
    transactions: MessagingTransactions,
  ): Promise<void> {
    const outbox = this.options.outbox;
    if (!outbox || outbox.enabled === false) return;
    const { OutboxFeature: Feature, outboxDataSourceToken } = requireOptional(
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      () => require('./outbox.feature') as typeof import('./outbox.feature'),
      'typeorm',
      'The outbox (option "outbox")',
    );
    let dataSource = typeof outbox.dataSource === 'object' ? outbox.dataSource : undefined;
    if (!dataSource) {
      try {
        dataSource = this.moduleRef.get(outboxDataSourceToken(outbox.dataSource as string | undefined) as never, {
          strict: false,
        });
      } catch {
        throw new InvalidConfigurationError(
          `outbox is on but no TypeORM DataSource${outbox.dataSource ? ` named "${String(outbox.dataSource)}"` : ''} was found: ` +
            'import TypeOrmModule.forRoot(...) in the application, or pass outbox.dataSource',
        );
      }
    }
    const feature = new Feature(outbox, dataSource as never, this.transport, new Logger('MessagingOutbox'));
    this.feature = feature;
    events.publisher = feature.publisher;
    this.unitOfWork = feature.unitOfWork;
    this.retryScheduler = feature.retryScheduler;
    commands.dispatcher.transactions = feature.transactions;
    commands.dispatcher.transactionalByDefault = feature.options.transactionalCommands;
    queries.dispatcher.transactions = feature.transactions;
    transactions.runner = feature.transactions;
  }

  /** Outbox figures, or undefined when the outbox is off. */
  async stats(): Promise<OutboxStatsSnapshot | undefined> {
    if (!this.feature) return undefined;
    const s = await this.feature.stats();
    return {
      pending: s.pending,
      due: s.due,
      failed: s.failed,
      oldestPendingAgeMs: s.oldestDueAgeMs,
      relay: {
        running: s.relayRunning,
        lastRunAt: s.lastRunAt,
        batchesPerSecond: s.batchesPerSecond,
        publishedPerSecond: s.publishedPerSecond,
      },
    };
  }

  /** Starts the relay and retention jobs (after the subscribers are consuming). */
  async start(): Promise<void> {
    await this.feature?.start();
  }

  /** Stops the relay (finishing its in-flight batch) and the retention job. */
  async stop(): Promise<void> {
    await this.feature?.stop();
  }
}
