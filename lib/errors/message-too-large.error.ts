import { PermanentMessageError } from './permanent-message.error';

/** A received body is larger than the `maxMessageBytes` option allows. */
export class MessageTooLargeError extends PermanentMessageError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`Message of ${size} bytes exceeds the limit of ${limit} bytes (option maxMessageBytes)`);
  }
}
