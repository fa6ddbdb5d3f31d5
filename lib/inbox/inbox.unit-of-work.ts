import { currentMessageContext, deriveMessageContext, runInMessageContext } from '../context/message-context';
import type { SubscriberUnitOfWork } from '../consumer/unit-of-work.interface';
import type { MessageEnvelope } from '../message/envelope';
import type { OutboxStore } from '../outbox/outbox.store';

/**
 * The idempotent inbox. For each delivery: open a transaction, insert `(message id, subscriber)`
 * into the processed-messages table first (`ON CONFLICT DO NOTHING`); when nothing was inserted
 * the message was already handled — resolve `false` without running the handler. Otherwise run
 * the handler with the transaction as the current one (its writes and the events it publishes
 * commit with the inbox row) and commit.
 *
 * Two concurrent deliveries of one message: the second insert waits on the unique key until the
 * first transaction ends, then sees the conflict (a duplicate) — or, if the first rolled back,
 * proceeds. Exactly one effect either way.
 */
export class InboxUnitOfWork implements SubscriberUnitOfWork {
  constructor(private readonly store: OutboxStore) {}

  run(
    envelope: MessageEnvelope,
    subscriber: string,
    work: (transaction: unknown | undefined) => Promise<void>,
  ): Promise<boolean> {
    return this.store.transaction(async (manager) => {
      if (!(await this.store.markProcessed(manager, envelope.id, subscriber))) return false;
      const current = currentMessageContext() ?? {
        correlationId: envelope.correlationId,
        message: envelope,
        kind: 'event' as const,
        subscriber,
      };
      await runInMessageContext(deriveMessageContext(current, { transaction: manager }), () => work(manager));
      return true;
    });
  }
}
