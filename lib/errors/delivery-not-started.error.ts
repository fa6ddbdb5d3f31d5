import { MessagingError } from './messaging.error';

/**
 * A delivery given up before its handler started: its transport stopped taking deliveries
 * (shutdown) while it was still waiting, e.g. queued for a commit group. Nothing of it ran, so it
 * is no failure: the consumer pipeline answers `{ status: 'not-started' }` and the transport gives
 * the delivery back to its queue without counting an attempt.
 * @internal
 */
export class DeliveryNotStartedError extends MessagingError {
  constructor(
    readonly messageId: string,
    readonly subscriber: string,
  ) {
    super(`message ${messageId} was not started for ${subscriber}: its consumer is stopping`);
  }
}
