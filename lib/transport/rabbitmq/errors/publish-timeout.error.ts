import { MessagingError } from '../../../errors/messaging.error';

/**
 * The broker did not confirm a publish within `publishConfirmTimeoutMs` (broker down, connection
 * blocked by a resource alarm, or very slow). The message may or may not have been stored: the
 * caller must treat it as not sent (the outbox keeps the row and publishes it again).
 */
export class PublishTimeoutError extends MessagingError {
  constructor(
    readonly messageId: string | undefined,
    readonly timeoutMs: number,
    reason?: string,
  ) {
    super(
      `RabbitMQ did not confirm message ${messageId ?? '(no id)'} within ${timeoutMs} ms` +
        (reason ? ` (${reason})` : '') +
        `. Raise publishConfirmTimeoutMs or check the broker (connection, alarms).`,
    );
  }
}
