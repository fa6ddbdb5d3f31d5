import { MessagingError } from '../../../errors/messaging.error';

/**
 * Another list/replay/purge (from this or another instance, or a foreign consumer on the
 * dead-letter queue) held the queue for longer than `deadLetterLockTimeoutMs`.
 */
export class DeadLetterStoreBusyError extends MessagingError {
  constructor(
    readonly queue: string,
    readonly waitedMs: number,
  ) {
    super(
      `The dead-letter queue "${queue}" is in use by another consumer (another list/replay/purge, ` +
        `or a foreign consumer) and stayed busy for ${waitedMs} ms. Try again, or stop the other consumer.`,
    );
  }
}
