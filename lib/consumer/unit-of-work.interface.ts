import type { MessageEnvelope } from '../message/envelope';

/**
 * Wraps a subscriber's handling of one message. The inbox implementation opens a transaction,
 * inserts `(message id, subscriber)` into the processed-messages table first, runs the work with
 * the transaction's `EntityManager` and commits; a message already processed is skipped.
 */
export interface SubscriberUnitOfWork {
  /**
   * Runs `work` once for this message and subscriber. Resolves `false` (without running `work`)
   * when the message was already processed — a duplicate — and `true` after `work` committed.
   * `work` receives the transaction's `EntityManager`, if any.
   */
  run(
    envelope: MessageEnvelope,
    subscriber: string,
    work: (transaction: unknown | undefined) => Promise<void>,
    limits?: UnitOfWorkLimits,
  ): Promise<boolean>;
}

/** The time limit of one attempt, enforced by the unit of work so it can abandon its transaction. */
export interface UnitOfWorkLimits {
  /** The attempt's time limit, ms (the subscriber's `timeoutMs`). */
  timeoutMs: number;
  /** The error for an attempt whose handler outlived `timeoutMs`. */
  timeoutError: () => Error;
  /**
   * Commit groups (see `InboxUnitOfWork`): deliveries of this subscriber that queue up while
   * `lanes` transactions are running are handled, up to `groupSize` at a time, one after another
   * in one transaction. Absent or 1: every delivery has a transaction of its own.
   */
  groupSize?: number;
  /** Transactions of this subscriber at once when grouping (its `concurrency`). */
  lanes?: number;
  /**
   * The delivery's `stopping` signal (its transport is shutting down): a delivery still queued for a
   * commit group when it aborts is taken out of the queue and `run` rejects with
   * `DeliveryNotStartedError`, nothing of it having run. One already in a transaction is not affected.
   */
  stopping?: AbortSignal;
}

/**
 * Schedules a redelivery of a failed message to one subscriber. The outbox implementation writes a
 * row with `available_at` in the future so the retry survives restarts; without it, the transport
 * carries out the retry itself (TTL delay queues, timers).
 */
export interface RetryScheduler {
  /** Stores the retry durably; resolves when it is safe to acknowledge the original delivery. */
  scheduleRetry(
    envelope: MessageEnvelope,
    body: string,
    subscriber: string,
    delayMs: number,
    nextAttempt: number,
    firstFailureAt: string,
    carriedHeaders?: Record<string, unknown>,
  ): Promise<void>;
}
