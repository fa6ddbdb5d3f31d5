import type { DataSource } from 'typeorm';
import { currentMessageContext, type MessageContextState } from '../context/message-context';
import type { EventPublisher, PublishContext } from '../buses/event-publisher.interface';
import type { OutboundMessage } from '../transport/transport.interface';
import { MessagingError } from '../errors/messaging.error';
import { TransactionNotActiveError } from '../errors/transaction-not-active.error';
import { TransactionRequiredError } from '../errors/transaction-required.error';
import { DryRunOutsideTransactionError } from '../errors/operations.errors';
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

/** Header values as JSON can keep them (a byte string as text). */
function jsonHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  }
  return out;
}

/** The outbox row of an outbound message. */
export function toOutboxRow(message: OutboundMessage, delayMs = 0): NewOutboxRow {
  const headers: Record<string, unknown> = {};
  if (message.attempt !== undefined) headers.attempt = message.attempt;
  if (message.firstFailureAt !== undefined) headers.firstFailureAt = message.firstFailureAt;
  if (message.carriedHeaders !== undefined) headers.carried = jsonHeaders(message.carriedHeaders);
  // the queue prefix decided in the caller's transaction: the relay publishes there, whatever its own
  // remote.endpoints say (a lagging or misconfigured instance must not send it to another deployment);
  // the endpoint as routed, when it differs, for logs and errors
  if (message.endpoint !== undefined) {
    headers.endpoint = message.endpoint;
    if (message.endpointName !== undefined && message.endpointName !== message.endpoint)
      headers.endpointName = message.endpointName;
  }
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
 * Why the transaction of `manager` cannot take a write any more, or undefined while it is open
 * (or `manager` is not transactional: no query runner, e.g. `dataSource.manager`).
 */
export function closedTransactionReason(manager: SqlManager): string | undefined {
  const runner = manager.queryRunner as RunnerState | undefined;
  if (runner === undefined || runner === null) return undefined;
  if (runner.isReleased) return 'its query runner was released: committed, rolled back or connection lost';
  if (runner.isTransactionActive === false) return 'no transaction is active on its query runner';
  return undefined;
}

/**
 * A dry run writes only through its own transaction (the context's): same query runner, so the
 * same connection and transaction, savepoints included. Anything else would really commit.
 */
function checkDryRunManager(state: MessageContextState, manager: SqlManager | undefined): void {
  const own = state.transaction as SqlManager | undefined;
  if (manager === undefined || own === undefined) throw new DryRunOutsideTransactionError();
  if (manager !== own && (manager.queryRunner === undefined || manager.queryRunner !== own.queryRunner)) {
    throw new DryRunOutsideTransactionError();
  }
}

/**
 * The outbox `EventPublisher`: writes the messages as outbox rows through `context.manager`, else
 * through the transaction of the message context (`TransactionRunner`, inbox), else (no
 * transaction at all, and `requireTransaction` off) in one auto-commit statement: durable at once.
 * A transaction that is no longer open is never replaced by another one: `publish` throws
 * `TransactionNotActiveError` and writes nothing. The relay publishes rows after commit: it is
 * woken by the NOTIFY sent with the insert (PostgreSQL) and by a local hook on commit.
 *
 * In a dry run's context, only the dry run's own (rolled-back) transaction is written: another
 * `manager`, or no transaction, throws `DryRunOutsideTransactionError`; what is written is recorded
 * in the context (type and id), savepoints of nested transactions included.
 */
export class OutboxPublisher implements EventPublisher {
  constructor(
    private readonly store: OutboxStore,
    private readonly dataSource: DataSource,
    private readonly commitWakeup: CommitWakeupSubscriber,
    private readonly wake: () => void,
    private readonly requireTransaction = false,
  ) {}

  async publish(messages: OutboundMessage[], context: PublishContext = {}): Promise<void> {
    if (messages.length === 0) return;
    const current = currentMessageContext();
    const manager = this.managerFor(context);
    if (current?.dryRun) checkDryRunManager(current, manager);
    await this.store.insert(
      manager,
      messages.map((m) => toOutboxRow(m)),
    );
    if (current?.dryRun) {
      for (const m of messages) current.dryRunPublishes?.push({ type: m.envelope.type, id: m.envelope.id });
    }
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
      const closed = closedTransactionReason(context.manager);
      if (closed !== undefined) throw new TransactionNotActiveError('manager', closed);
      return context.manager;
    }
    const fromContext = currentMessageContext()?.transaction;
    if (!isManager(fromContext)) {
      if (this.requireTransaction) throw new TransactionRequiredError();
      return undefined;
    }
    // a transaction that already ended (work that outlived it, a lost connection) is never
    // swapped for an auto-commit write: the event would exist although its transaction did not
    const closed = closedTransactionReason(fromContext);
    if (closed !== undefined) throw new TransactionNotActiveError('context', closed);
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
