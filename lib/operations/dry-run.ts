import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import type { DryRunResult } from '../console/console-api.interface';
import type { HandlerRegistry, SubscriberDefinition } from '../discovery/handler.registry';
import type { UpcasterRegistry } from '../message/upcaster.registry';
import type { MessageValidator } from '../message/message.validator';
import type { MessageEnvelope } from '../message/envelope';
import type { OutboxStore, SqlManager } from '../outbox/outbox.store';
import { decodeEnvelope } from '../message/cloudevents.codec';
import { runInMessageContext, type DryRunPublish, type MessageContextState } from '../context/message-context';
import { handleInTransaction } from '../inbox/commit-group';
import { abortable } from '../outbox/abortable';
import { toErrorInfo } from '../errors/error-info';
import { HandlerTimeoutError } from '../errors/handler-timeout.error';
import { UnknownMessageTypeError } from '../errors/unknown-message-type.error';
import { DryRunUnavailableError } from '../errors/operations.errors';
import { MessagingError } from '../errors/messaging.error';

/** What a dry run needs of the application: its handlers and, for the transaction, the outbox. */
export interface DryRunDeps {
  registry: HandlerRegistry;
  upcasters: UpcasterRegistry;
  validator: MessageValidator;
  /** The outbox store and table, or undefined when the outbox is off (no dry run then). */
  outbox?: { store: OutboxStore; outboxTable: string };
}

/** Ends the dry run's transaction: thrown after the handler returned, so nothing ever commits. */
class DryRunRollback extends Error {
  constructor(readonly captured: DryRunPublish[]) {
    super('dry run: rolled back');
  }
}

/** The subscriber a dead letter names does not exist in this application (renamed, removed). */
class UnknownSubscriberError extends MessagingError {
  constructor(subscriber: string) {
    super(`no subscriber named ${JSON.stringify(subscriber)} in this application`);
  }
}

/**
 * Runs the failed subscriber's handler on a dead letter inside a database transaction that is
 * always rolled back: the handler's writes through the message's transaction (the context's
 * entity manager, `MessagingTransactions.run`, repositories of that manager, nested transactions
 * of it) are undone, and what it publishes or sends goes to the outbox in that transaction —
 * recorded (type and id) as it is written, and never sent. No inbox row is written, no retry
 * scheduled, nothing acknowledged. The handler sees `MessageContext.isDryRun === true`.
 *
 * A publish through any other transaction (`publish(event, { manager })` inside a
 * `dataSource.transaction()` of its own) or with none is refused with
 * `DryRunOutsideTransactionError`, so the dry run reports would-fail instead of sending it.
 *
 * What a dry run cannot undo: anything else outside that transaction — HTTP calls, e-mails, files,
 * another DataSource, writes through a repository or a `dataSource.transaction()` that does not use
 * the message's transaction, in-memory state. Check the handler (or `isDryRun`) before dry-running
 * one with such effects.
 *
 * PostgreSQL only: without the outbox there is no transaction to roll back, and on SQLite the
 * DataSource's single connection would put every other statement of the application into the dry
 * run's transaction (and roll it back): `DryRunUnavailableError`.
 */
export class DryRunner {
  constructor(private readonly deps: DryRunDeps) {}

  /** Dry-runs one dead letter. */
  async run(deadLetter: DeadLetter): Promise<DryRunResult> {
    const outbox = this.deps.outbox;
    if (!outbox) {
      throw new DryRunUnavailableError(
        'the transactional outbox is off, so there is no transaction to roll back the handler in ' +
          '(its writes and publishes would be real). Turn on the outbox (option "outbox") to dry-run',
      );
    }
    if (outbox.store.database !== 'postgres') {
      throw new DryRunUnavailableError(
        'the outbox is on SQLite, whose single connection is shared by the whole application: while the ' +
          "dry run's transaction is open, every other write of the application would run in it and be rolled " +
          'back with it. Dry runs need the PostgreSQL outbox',
      );
    }
    const started = performance.now();
    const base = { deadLetterId: deadLetter.id, messageId: deadLetter.messageId, subscriber: deadLetter.subscriber };
    try {
      const sub = this.deps.registry.subscribers.get(deadLetter.subscriber);
      if (!sub) throw new UnknownSubscriberError(deadLetter.subscriber);
      const env = decodeEnvelope(deadLetter.body);
      const route = sub.routes.get(env.type);
      if (route === undefined) throw new UnknownMessageTypeError(env.type, sub.name);
      const data = this.deps.upcasters.upcast(env.type, env.version, route.version, env.data);
      const payload = route.cls
        ? await this.deps.validator.materialize(env.type, route.cls, data, data === env.data)
        : data;
      const captured = await this.inRolledBackTransaction(outbox.store, sub, env, deadLetter.attempts + 1, () =>
        route.invoke(payload),
      );
      return { ...base, outcome: 'would-succeed', captured, durationMs: elapsed(started) };
    } catch (error) {
      return { ...base, outcome: 'would-fail', error: toErrorInfo(error), captured: [], durationMs: elapsed(started) };
    }
  }

  /** Runs `handler` in a transaction that is rolled back in every case; resolves what it published. */
  private async inRolledBackTransaction(
    store: OutboxStore,
    sub: SubscriberDefinition,
    env: MessageEnvelope,
    attempt: number,
    handler: () => unknown,
  ): Promise<DryRunPublish[]> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new HandlerTimeoutError(sub.name, sub.timeoutMs)), sub.timeoutMs);
    const captured: DryRunPublish[] = [];
    const state: MessageContextState = {
      correlationId: env.correlationId,
      message: env,
      kind: 'event',
      subscriber: sub.name,
      attempt,
      dryRun: true,
      dryRunPublishes: captured, // the outbox publisher records each message it writes for this context
    };
    try {
      const attemptDone = store.transaction(
        async (manager: SqlManager) => {
          await runInMessageContext(state, () =>
            handleInTransaction(manager, env, sub.name, async () => {
              await handler();
            }),
          );
          throw new DryRunRollback([...captured]);
        },
        { signal: controller.signal },
      );
      await abortable(attemptDone, controller.signal, () => undefined);
      throw new Error('dry run: the transaction was not rolled back'); // unreachable: the work always throws
    } catch (error) {
      if (error instanceof DryRunRollback) return error.captured;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
