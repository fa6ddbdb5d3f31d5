import { MessagingError } from './messaging.error';

/** A subscriber did not finish within its `timeoutMs`. Transient: it is retried. */
export class HandlerTimeoutError extends MessagingError {
  constructor(
    readonly subscriber: string,
    readonly timeoutMs: number,
  ) {
    super(`Subscriber ${subscriber} did not finish within ${timeoutMs} ms`);
  }
}
