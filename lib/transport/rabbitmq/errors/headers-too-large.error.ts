import { MessagingError } from '../../../errors/messaging.error';

/**
 * The AMQP headers of a publish are larger than amqplib can encode (its properties are written into
 * a 64 KiB buffer). Rejected before anything reaches the channel; publishing it again cannot succeed.
 */
export class HeadersTooLargeError extends MessagingError {
  /** Never worth publishing again unchanged. */
  readonly permanent = true;

  constructor(
    readonly messageId: string | undefined,
    readonly headerBytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `message ${messageId ?? '(no id)'} has about ${headerBytes} bytes of AMQP headers, more than the ` +
        `${maxBytes} bytes RabbitMQ clients can encode: carry large data in the body instead`,
    );
  }
}
