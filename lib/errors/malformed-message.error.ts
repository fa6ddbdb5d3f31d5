import { PermanentMessageError } from './permanent-message.error';

/** A received body is not a valid CloudEvents message (not JSON, missing id/type, forbidden keys…). */
export class MalformedMessageError extends PermanentMessageError {
  constructor(reason: string) {
    super(`Malformed message: ${reason}`);
  }
}
