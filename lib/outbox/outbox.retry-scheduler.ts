import type { RetryScheduler } from '../consumer/unit-of-work.interface';
import type { MessageEnvelope } from '../message/envelope';
import type { OutboxStore } from './outbox.store';
import { toOutboxRow } from './outbox.publisher';

/**
 * Retries through the outbox: a row for the one failed subscriber (`destination`), due after the
 * delay, carrying the next attempt number and the first failure time. Written in its own
 * auto-commit statement (the handler's transaction has rolled back), so it survives restarts.
 */
export class OutboxRetryScheduler implements RetryScheduler {
  constructor(
    private readonly store: OutboxStore,
    private readonly wakeAt: (time: number) => void,
  ) {}

  async scheduleRetry(
    envelope: MessageEnvelope,
    body: string,
    subscriber: string,
    delayMs: number,
    nextAttempt: number,
    firstFailureAt: string,
    carriedHeaders?: Record<string, unknown>,
  ): Promise<void> {
    const row = toOutboxRow(
      { envelope, body, destination: subscriber, attempt: nextAttempt, firstFailureAt, carriedHeaders },
      Math.max(0, delayMs),
    );
    // a retry must not wait behind (or hold up) its aggregate's newer events
    row.partitionKey = null;
    await this.store.insert(undefined, [row]);
    this.wakeAt(Date.now() + Math.max(0, delayMs));
  }
}
