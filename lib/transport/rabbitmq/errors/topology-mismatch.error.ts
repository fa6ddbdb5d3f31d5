import { MessagingError } from '../../../errors/messaging.error';

/**
 * A queue or exchange already exists on the broker with other arguments than the ones this
 * service declares (RabbitMQ `PRECONDITION_FAILED`). The module never deletes anything to fix it.
 */
export class TopologyMismatchError extends MessagingError {
  constructor(
    readonly kind: 'queue' | 'exchange',
    readonly resource: string,
    /** What this service declared. */
    readonly declared: Record<string, unknown>,
    /** The broker's explanation, e.g. `inequivalent arg 'x-queue-type' … received 'quorum' but current is none`. */
    readonly brokerReason: string,
  ) {
    super(
      `The ${kind} "${resource}" already exists with different arguments. ` +
        `Broker says: ${brokerReason}. This service declares: ${JSON.stringify(declared)}. ` +
        `The module never deletes a ${kind}: align the options (e.g. queueType) with the existing ${kind}, ` +
        `or migrate it yourself (create a new one, move the messages, then delete the old one).`,
    );
  }
}
