import { Logger } from '@nestjs/common';
import type { OutboundMessage } from '../transport/transport.interface';
import { toErrorInfo } from '../errors/error-info';

/** The parts of a TypeORM transaction event and DataSource this queue uses. */
interface TransactionEvent {
  queryRunner: object & { isTransactionActive?: boolean };
}
interface SubscriberList {
  subscribers: unknown[];
}

/**
 * Without the outbox, `publish(event, { manager })` must still not send an event whose transaction
 * does not commit. The messages wait here, per query runner, and are sent by a TypeORM subscriber
 * on that DataSource right after the outermost commit; a rollback drops them. Not durable: a crash
 * between the commit and the send loses them (that is what the outbox is for).
 */
export class AfterCommitQueue {
  private static readonly byDataSource = new WeakMap<object, AfterCommitQueue>();
  private readonly logger = new Logger('MessagingEventBus');
  private readonly waiting = new WeakMap<
    object,
    { send: (m: OutboundMessage) => Promise<void>; messages: OutboundMessage[] }
  >();

  private constructor() {}

  /** The queue of `dataSource`, added to its subscribers on first use. */
  static of(dataSource: SubscriberList): AfterCommitQueue {
    let queue = AfterCommitQueue.byDataSource.get(dataSource);
    if (queue === undefined) {
      queue = new AfterCommitQueue();
      AfterCommitQueue.byDataSource.set(dataSource, queue);
      dataSource.subscribers.push(queue);
    }
    return queue;
  }

  /** Holds `messages` until the transaction of `queryRunner` commits, then `send`s each. */
  add(queryRunner: object, messages: OutboundMessage[], send: (m: OutboundMessage) => Promise<void>): void {
    const entry = this.waiting.get(queryRunner);
    if (entry) entry.messages.push(...messages);
    else this.waiting.set(queryRunner, { send, messages: [...messages] });
  }

  /** TypeORM hook. A released savepoint leaves the transaction open: nothing is sent yet. */
  afterTransactionCommit(event: TransactionEvent): void {
    const qr = event.queryRunner;
    const entry = this.waiting.get(qr);
    if (entry === undefined || qr.isTransactionActive) return;
    this.waiting.delete(qr);
    for (const message of entry.messages) {
      entry.send(message).catch((error: unknown) => {
        const info = toErrorInfo(error);
        this.logger.error(
          `event ${message.envelope.type} id=${message.envelope.id} committed but not sent (no outbox): ${info.name}: ${info.message}`,
        );
      });
    }
  }

  /** TypeORM hook: the events of a rolled-back transaction never existed. */
  afterTransactionRollback(event: TransactionEvent): void {
    if (!event.queryRunner.isTransactionActive) this.waiting.delete(event.queryRunner);
  }
}
