import { MessagingError } from './messaging.error';

/**
 * Another delivery of the same message to the same subscriber held its inbox row for longer than
 * the handler timeout (a competing consumer or a redelivery still handling it). This attempt gave
 * up waiting and its transaction was rolled back. Transient: retried later.
 */
export class MessageBusyError extends MessagingError {
  constructor(
    readonly messageId: string,
    readonly subscriber: string,
    readonly waitedMs: number,
  ) {
    super(
      `message ${messageId} busy elsewhere: another delivery to ${subscriber} held its inbox row for ${waitedMs} ms`,
    );
  }
}
