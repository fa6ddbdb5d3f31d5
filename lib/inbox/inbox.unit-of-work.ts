import type { SubscriberUnitOfWork, UnitOfWorkLimits } from '../consumer/unit-of-work.interface';
import type { MessageEnvelope } from '../message/envelope';
import type { OutboxStore } from '../outbox/outbox.store';
import { MessageBusyError } from '../errors/message-busy.error';
import { abortable } from '../outbox/abortable';
import { AsyncResource } from 'node:async_hooks';
import { CommitGroups, handleInTransaction } from './commit-group';

/**
 * The idempotent inbox. For each delivery: open a transaction, insert `(message id, subscriber)`
 * into the processed-messages table first (`ON CONFLICT DO NOTHING`); when nothing was inserted
 * the message was already handled — resolve `false` without running the handler. Otherwise run
 * the handler with the transaction as the current one (its writes and the events it publishes
 * commit with the inbox row) and commit.
 *
 * Two concurrent deliveries of one message: the second insert waits on the unique key until the
 * first transaction ends, then sees the conflict (a duplicate) — or, if the first rolled back,
 * proceeds. Exactly one effect either way.
 *
 * With `limits`, an attempt that runs past `timeoutMs` is abandoned: its transaction is rolled
 * back and its connection closed (PostgreSQL), so it holds no lock a later attempt would wait on.
 * It fails with `limits.timeoutError()` when the handler was running, or `MessageBusyError` when
 * it was still waiting for the inbox row another delivery holds.
 *
 * With `limits.groupSize` > 1, deliveries that queue up are committed in groups ({@link CommitGroups}).
 */
export class InboxUnitOfWork implements SubscriberUnitOfWork {
  private readonly groups = new Map<string, CommitGroups>();
  /** The async context commit groups run their own statements in: this constructor's, no delivery's. */
  private readonly groupScope = new AsyncResource('nestjs-messaging.commit-groups');

  constructor(private readonly store: OutboxStore) {}

  run(
    envelope: MessageEnvelope,
    subscriber: string,
    work: (transaction: unknown | undefined) => Promise<void>,
    limits?: UnitOfWorkLimits,
  ): Promise<boolean> {
    if (limits === undefined || (limits.groupSize ?? 1) <= 1) return this.runOne(envelope, subscriber, work, limits);
    let groups = this.groups.get(subscriber);
    if (groups === undefined) {
      groups = new CommitGroups(
        this.store,
        subscriber,
        (env, w, l) => this.runOne(env, subscriber, w, l),
        this.groupScope,
      );
      this.groups.set(subscriber, groups);
    }
    return groups.run(envelope, work, limits);
  }

  /** One delivery in a transaction of its own. */
  private async runOne(
    envelope: MessageEnvelope,
    subscriber: string,
    work: (transaction: unknown | undefined) => Promise<void>,
    limits?: UnitOfWorkLimits,
  ): Promise<boolean> {
    const controller = limits ? new AbortController() : undefined;
    let phase: 'inbox' | 'handler' = 'inbox';
    const started = performance.now();
    const timer =
      limits && controller
        ? setTimeout(
            () =>
              controller.abort(
                phase === 'inbox'
                  ? new MessageBusyError(envelope.id, subscriber, Math.round(performance.now() - started))
                  : limits.timeoutError(),
              ),
            limits.timeoutMs,
          )
        : undefined;
    try {
      const attempt = this.store.transaction(
        async (manager) => {
          // the handler's statements may not outlive the attempt (PostgreSQL cancels them)
          const left = limits ? limits.timeoutMs - (performance.now() - started) : undefined;
          const inboxLimits = left !== undefined ? { statementTimeoutMs: Math.max(1, left) } : undefined;
          if (!(await this.store.markProcessed(manager, envelope.id, subscriber, inboxLimits))) return false;
          phase = 'handler';
          await handleInTransaction(manager, envelope, subscriber, work);
          return true;
        },
        { signal: controller?.signal },
      );
      // a store that cannot abandon its transaction (SQLite) still gives the attempt up on time
      return await abortable(attempt, controller?.signal, () => undefined);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
