import { AsyncResource } from 'node:async_hooks';
import { currentMessageContext, deriveMessageContext, runInMessageContext } from '../context/message-context';
import type { MessageContextState } from '../context/message-context';
import type { UnitOfWorkLimits } from '../consumer/unit-of-work.interface';
import type { MessageEnvelope } from '../message/envelope';
import type { OutboxStore, SqlManager } from '../outbox/outbox.store';
import { MessageBusyError } from '../errors/message-busy.error';
import { DeliveryNotStartedError } from '../errors/delivery-not-started.error';
import { abortable } from '../outbox/abortable';
import { settlePendingPublishes } from '../context/pending-publishes';

/** One delivery waiting for (or in) a commit group. */
interface GroupEntry {
  envelope: MessageEnvelope;
  work: (transaction: unknown | undefined) => Promise<void>;
  limits: UnitOfWorkLimits;
  /** The caller's async context (message context, tracing span), restored around the handler. */
  scope: AsyncResource;
  resolve: (processed: boolean) => void;
  reject: (error: unknown) => void;
  /** Stops listening to `limits.stopping` (once the entry is taken into a group). */
  detach: () => void;
}

/** Runs one delivery in a transaction of its own (the unit of work's single path). */
export type RunAlone = (
  envelope: MessageEnvelope,
  work: (transaction: unknown | undefined) => Promise<void>,
  limits: UnitOfWorkLimits,
) => Promise<boolean>;

/**
 * Group commit for one subscriber, after PostgreSQL's own group commit and the batched durable
 * inboxes of NServiceBus and Wolverine: at most `lanes` transactions run at once; a delivery that
 * finds a lane free runs alone, exactly as without grouping, so a lightly loaded subscriber sees
 * no difference. Deliveries that arrive while every lane is busy queue; a lane that frees takes up
 * to `groupSize` of them into one transaction: one inbox statement for all of them (already
 * processed ones are skipped), their handlers one after another (each with its own time limit),
 * one commit. Under load that is one commit (and one WAL flush) per group instead of per message.
 *
 * Per-message fallback: when anything in a group fails (a handler throws, a statement fails, the
 * commit fails), the whole transaction is rolled back and each of its deliveries runs again in a
 * transaction of its own, so one failing message never fails its neighbours and each outcome is
 * its own. A handler that outlived its time limit in the group is not run again: its delivery
 * fails with the timeout (its lane was already held that long). A commit whose outcome is unknown
 * (connection lost) is safe to run again: the inbox finds what did commit.
 *
 * Shutdown: a delivery still queued when its `limits.stopping` signal aborts is taken out of the
 * queue and rejected with `DeliveryNotStartedError` (nothing of it ran, so its transport can give
 * it back uncounted); a group already taken keeps running (its inbox rows may commit).
 */
export class CommitGroups {
  private readonly waiting: GroupEntry[] = [];
  private active = 0;

  constructor(
    private readonly store: OutboxStore,
    private readonly subscriber: string,
    private readonly runAlone: RunAlone,
    /** A neutral async context for the groups' own work (made at startup, outside any delivery). */
    private readonly scope: AsyncResource,
  ) {}

  /** Hands a delivery over; settles like the unit of work's `run`. */
  run(
    envelope: MessageEnvelope,
    work: (transaction: unknown | undefined) => Promise<void>,
    limits: UnitOfWorkLimits,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      const stopping = limits.stopping;
      if (stopping?.aborted) return reject(new DeliveryNotStartedError(envelope.id, this.subscriber));
      const entry: GroupEntry = {
        envelope,
        work,
        limits,
        scope: new AsyncResource('nestjs-messaging.commit-group'),
        resolve,
        reject,
        detach: () => stopping?.removeEventListener('abort', giveUp),
      };
      // still queued when the consumer stops: taken out, never started
      const giveUp = (): void => {
        const i = this.waiting.indexOf(entry);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        reject(new DeliveryNotStartedError(envelope.id, this.subscriber));
      };
      stopping?.addEventListener('abort', giveUp, { once: true });
      this.waiting.push(entry);
      this.pump(Math.max(1, limits.lanes ?? 1), Math.max(1, limits.groupSize ?? 1));
    });
  }

  private pump(lanes: number, groupSize: number): void {
    while (this.active < lanes && this.waiting.length > 0) {
      const group = this.waiting.splice(0, groupSize);
      for (const entry of group) entry.detach();
      this.active++;
      // the group's own statements belong to no delivery: not to the one whose arrival started the lane
      void this.scope
        .runInAsyncScope(() => this.runGroup(group))
        .finally(() => {
          this.active--;
          this.pump(lanes, groupSize);
        });
    }
  }

  private async runGroup(group: GroupEntry[]): Promise<void> {
    if (group.length === 1) return this.alone(group[0]);
    const controller = new AbortController();
    // the delivery whose handler outlived its limit: it fails with that, the others run again
    let culprit: GroupEntry | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (entry: GroupEntry | undefined, reason: () => Error) => {
      timer = setTimeout(
        () => {
          culprit = entry;
          controller.abort(reason());
        },
        entry?.limits.timeoutMs ?? Math.min(...group.map((e) => e.limits.timeoutMs)),
      );
    };
    const outcomes: boolean[] = [];
    const ids = [...new Set(group.map((e) => e.envelope.id))].sort();
    const limit = Math.min(...group.map((e) => e.limits.timeoutMs));
    // from before the connection is taken (a pool that gives none, a database that does not answer)
    // until the inbox rows are in: waiting on a row another delivery holds, say; then the whole group
    // runs again, one by one
    arm(undefined, () => new MessageBusyError(ids.join(','), this.subscriber, limit));
    try {
      const attempt = this.store.transaction(
        async (manager) => {
          const fresh = await this.store.markProcessedMany(manager, ids, this.subscriber, {
            statementTimeoutMs: limit,
          });
          clearTimeout(timer);
          for (const entry of group) {
            // once the group is given up, nothing more of it runs (its handlers would run twice)
            controller.signal.throwIfAborted();
            // a second delivery of one message in the same group is a duplicate of the first
            const first = fresh.delete(entry.envelope.id);
            outcomes.push(first);
            if (!first) continue;
            arm(entry, entry.limits.timeoutError);
            try {
              await this.invoke(entry, manager);
            } finally {
              clearTimeout(timer); // a handler that threw near its deadline fails with its own error
            }
          }
          controller.signal.throwIfAborted();
        },
        { signal: controller.signal },
      );
      await abortable(attempt, controller.signal, () => undefined);
    } catch (error) {
      clearTimeout(timer);
      for (const entry of group) {
        if (entry === culprit) entry.reject(error);
        else await this.alone(entry);
      }
      return;
    }
    group.forEach((entry, i) => entry.resolve(outcomes[i]));
  }

  /** The handler in the delivery's own async context, with the group's transaction as the current one. */
  private invoke(entry: GroupEntry, manager: SqlManager): Promise<void> {
    return entry.scope.runInAsyncScope(() => handleInTransaction(manager, entry.envelope, this.subscriber, entry.work));
  }

  private async alone(entry: GroupEntry): Promise<void> {
    try {
      entry.resolve(await entry.scope.runInAsyncScope(() => this.runAlone(entry.envelope, entry.work, entry.limits)));
    } catch (error) {
      entry.reject(error);
    }
  }
}

/**
 * Runs a subscriber's handler with `manager` as the current transaction (in the caller's message
 * context, or one made from the envelope), then settles the publishes it started without awaiting
 * them, so their outbox rows commit with it. The inbox's single path and commit groups share it.
 */
export async function handleInTransaction(
  manager: SqlManager,
  envelope: MessageEnvelope,
  subscriber: string,
  work: (transaction: unknown | undefined) => Promise<void>,
): Promise<void> {
  const current: MessageContextState = currentMessageContext() ?? {
    correlationId: envelope.correlationId,
    message: envelope,
    kind: 'event',
    subscriber,
  };
  await runInMessageContext(deriveMessageContext(current, { transaction: manager }), () => work(manager));
  const pending = settlePendingPublishes(manager); // publishes the handler started and did not await
  if (pending !== undefined) await pending;
}
