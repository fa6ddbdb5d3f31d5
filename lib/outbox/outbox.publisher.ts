import type { DataSource } from 'typeorm';
import { currentMessageContext } from '../context/message-context';
import type { EventPublisher, PublishContext } from '../buses/event-publisher.interface';
import type { OutboundMessage } from '../transport/transport.interface';
import { MessagingError } from '../errors/messaging.error';
import type { NewOutboxRow, OutboxStore, SqlManager } from './outbox.store';
import type { CommitWakeupSubscriber } from './commit-wakeup.subscriber';

/** A TypeORM query runner as far as the outbox looks at it. */
interface RunnerState {
  isTransactionActive?: boolean;
  isReleased?: boolean;
}

function isManager(value: unknown): value is SqlManager {
  return typeof value === 'object' && value !== null && typeof (value as SqlManager).query === 'function';
}

/** The outbox row of an outbound message. */
export function toOutboxRow(message: OutboundMessage, delayMs = 0): NewOutboxRow {
  const headers: Record<string, unknown> = {};
  if (message.attempt !== undefined) headers.attempt = message.attempt;
  if (message.firstFailureAt !== undefined) headers.firstFailureAt = message.firstFailureAt;
  return {
    messageId: message.envelope.id,
    type: message.envelope.type,
    payload: message.body,
    headers: JSON.stringify(headers),
    destination: message.destination ?? null,
    partitionKey: message.envelope.partitionKey ?? null,
    delayMs,
  };
}

/**
 * The outbox `EventPublisher`: writes the messages as outbox rows through `context.manager`, else
 * through the transaction of the message context (`TransactionRunner`, inbox), else in one
 * auto-commit statement (durable at once). The relay publishes them after commit: it is woken by
 * the NOTIFY sent with the insert (PostgreSQL) and by a local hook on commit.
 */
export class OutboxPublisher implements EventPublisher {
  constructor(
    private readonly store: OutboxStore,
    private readonly dataSource: DataSource,
    private readonly commitWakeup: CommitWakeupSubscriber,
    private readonly wake: () => void,
  ) {}

  async publish(messages: OutboundMessage[], context: PublishContext = {}): Promise<void> {
    if (messages.length === 0) return;
    const manager = this.managerFor(context);
    await this.store.insert(
      manager,
      messages.map((m) => toOutboxRow(m)),
    );
    const runner = manager?.queryRunner as RunnerState | undefined;
    if (runner?.isTransactionActive) this.commitWakeup.markPending(runner);
    else this.wake();
  }

  private managerFor(context: PublishContext): SqlManager | undefined {
    if (context.manager !== undefined) {
      if (!isManager(context.manager)) {
        throw new MessagingError('publish(event, { manager }): manager must be a TypeORM EntityManager');
      }
      this.checkDataSource(context.manager);
      return context.manager;
    }
    const fromContext = currentMessageContext()?.transaction;
    if (!isManager(fromContext)) return undefined;
    const runner = fromContext.queryRunner as RunnerState | undefined;
    // a transaction that already ended (work that outlived it) has nothing left to join
    if (runner && (runner.isReleased || runner.isTransactionActive === false)) return undefined;
    this.checkDataSource(fromContext);
    return fromContext;
  }

  private checkDataSource(manager: SqlManager): void {
    const m = manager as { dataSource?: unknown; connection?: unknown };
    const owner = m.dataSource ?? m.connection;
    if (owner !== undefined && owner !== this.dataSource) {
      throw new MessagingError(
        'publish(event, { manager }): the EntityManager belongs to another DataSource than the outbox; ' +
          'set outbox.dataSource to the DataSource your transactions use',
      );
    }
  }
}
