import { currentMessageContext, deriveMessageContext, runInMessageContext } from '../context/message-context';
import type { TransactionRunner } from '../buses/transaction-runner.interface';
import { uuidv7 } from '../message/uuid-v7';
import type { OutboxStore } from './outbox.store';
import type { MessagingEntityManager } from '../context/messaging-entity-manager.interface';
import { settlePendingPublishes } from '../context/pending-publishes';
import { TransactionNotActiveError } from '../errors/transaction-not-active.error';

/** Whether `manager` is a TypeORM EntityManager of a transaction still open. */
export function isOpenTransaction(manager: unknown): boolean {
  const runner = (manager as { queryRunner?: { isTransactionActive?: boolean; isReleased?: boolean } } | undefined)
    ?.queryRunner;
  return !!runner && runner.isTransactionActive === true && runner.isReleased !== true;
}

/**
 * Runs work in one transaction of the outbox's DataSource and makes its `EntityManager` the
 * current one, so `EventBus.publish(evt)` (no `manager` argument) writes the outbox in it:
 *
 * ```ts
 * await transactions.run(async (manager) => {
 *   await manager.save(order);
 *   await eventBus.publish(new OrderCreated(order.id));
 * }); // committed together, or rolled back together
 * ```
 *
 * Inside an open transaction of the message context (a subscriber with the inbox, a nested
 * `run`), it joins that transaction instead of opening a second one.
 */
export class OutboxTransactionRunner implements TransactionRunner {
  constructor(private readonly store: OutboxStore) {}

  run<R, M extends MessagingEntityManager = MessagingEntityManager>(work: (manager: M) => Promise<R>): Promise<R> {
    const current = currentMessageContext();
    // the manager is TypeORM's EntityManager: what M names (MessagingEntityManager or EntityManager)
    if (current?.transaction !== undefined) {
      if (isOpenTransaction(current.transaction)) return work(current.transaction as M);
      // the handler's transaction ended (timed out and abandoned, rolled back, committed) while this
      // work still runs: never a new transaction in its place, which would commit what the handler's
      // own attempt no longer can
      if ((current.transaction as { queryRunner?: unknown }).queryRunner !== undefined) {
        return Promise.reject(new TransactionNotActiveError('run', 'the transaction it runs in has ended'));
      }
    }
    return this.store.transaction((manager) =>
      runInMessageContext(
        deriveMessageContext(current, { correlationId: current?.correlationId ?? uuidv7(), transaction: manager }),
        async () => {
          const result = await work(manager as unknown as M);
          const pending = settlePendingPublishes(manager); // publishes the work started and did not await
          if (pending !== undefined) await pending;
          return result;
        },
      ),
    );
  }
}
