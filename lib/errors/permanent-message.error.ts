import { MessagingError } from './messaging.error';

/**
 * A failure that retrying cannot fix: the message goes straight to the dead-letter queue.
 * Throw it (or a subclass) from a subscriber to skip retries.
 */
export class PermanentMessageError extends MessagingError {
  /** Always true; lets the retry policy recognise permanent errors across package copies. */
  readonly permanent = true;
}
