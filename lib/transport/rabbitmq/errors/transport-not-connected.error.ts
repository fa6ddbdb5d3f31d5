import { MessagingError } from '../../../errors/messaging.error';

/** The RabbitMQ transport was used before `connect()` or after `close()`. */
export class TransportNotConnectedError extends MessagingError {
  constructor(operation: string) {
    super(`The RabbitMQ transport is not connected (${operation}): call connect() first, and not after close().`);
  }
}
