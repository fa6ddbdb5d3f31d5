import { MessagingError } from '../../../errors/messaging.error';

/**
 * The RabbitMQ broker could not be reached (or refused the credentials) within the connect timeout.
 * The message shows the URL with its password masked and never contains the password itself.
 */
export class BrokerConnectionError extends MessagingError {
  constructor(
    /** The broker URL, password masked. */
    readonly maskedUrl: string,
    reason: string,
  ) {
    super(
      `Cannot connect to RabbitMQ at ${maskedUrl}: ${reason}. ` +
        `Check that the broker is running and that the URL, user and password (option url / MESSAGING_AMQP_URL) are right.`,
    );
  }
}
