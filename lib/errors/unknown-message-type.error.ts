import { PermanentMessageError } from './permanent-message.error';

/** A subscriber received a message type it does not handle. */
export class UnknownMessageTypeError extends PermanentMessageError {
  constructor(
    readonly messageType: string,
    readonly subscriber: string,
  ) {
    super(`Subscriber ${subscriber} has no handler for message type "${messageType}"`);
  }
}
