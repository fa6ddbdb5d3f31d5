import { MessagingError } from '../../../errors/messaging.error';

/**
 * The broker returned a `mandatory` publish: no queue is bound for it. For a targeted publish
 * (retry, replay, dead letter) it means the queue does not exist; for an event it means no
 * subscriber queue is bound to its type (only reported as an error when `unroutableEvents: 'reject'`).
 */
export class UnroutableMessageError extends MessagingError {
  constructor(
    readonly messageId: string | undefined,
    readonly exchange: string,
    readonly routingKey: string,
  ) {
    super(
      `The broker returned message ${messageId ?? '(no id)'}: no queue is bound to ` +
        `exchange "${exchange || '(default)'}" with routing key "${routingKey}". ` +
        `Start a subscriber for it (its queue is declared on subscribe) or check the exchange name.`,
    );
  }
}
