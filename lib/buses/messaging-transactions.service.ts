import { Injectable } from '@nestjs/common';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { currentMessageContext } from '../context/message-context';
import type { TransactionRunner } from './transaction-runner.interface';
import type { MessagingEntityManager } from '../context/messaging-entity-manager.interface';

/**
 * Runs work in a transaction of the outbox's DataSource, with its `EntityManager` made current,
 * so the work's writes and the events it publishes (no `manager` argument needed) commit or roll
 * back together. Inside a subscriber's inbox transaction it joins that transaction.
 *
 * @example
 * ```ts
 * return this.transactions.run(async (manager) => {
 *   const order = await manager.save(Order, { customerId, totalAmount });
 *   await this.eventBus.publish(new OrderCreated(order.id, customerId, totalAmount));
 *   return order;
 * });
 * ```
 */
@Injectable()
export class MessagingTransactions implements TransactionRunner {
  /** @internal set by the runtime when the outbox is on. */
  runner?: TransactionRunner;

  /**
   * Runs `work` in a transaction of the outbox's DataSource (joining the inbox transaction inside a
   * subscriber); commits when it resolves, rolls back when it rejects. `work` gets the transaction's
   * TypeORM `EntityManager`, typed {@link MessagingEntityManager}; annotate the parameter
   * (`async (manager: EntityManager) => …`) to use TypeORM's own type instead.
   */
  run<R, M extends MessagingEntityManager = MessagingEntityManager>(work: (manager: M) => Promise<R>): Promise<R> {
    if (!this.runner) {
      return Promise.reject(
        new InvalidConfigurationError(
          'MessagingTransactions needs the outbox: set outbox: { dataSource } in MessagingModule options',
        ),
      );
    }
    return this.runner.run(work);
  }

  /**
   * The `EntityManager` of the transaction open in this context, typed like `MessageContext.manager`:
   * set inside `run()` and inbox subscribers, `undefined` at run time anywhere else.
   */
  get manager(): MessagingEntityManager {
    return currentMessageContext()?.transaction as MessagingEntityManager;
  }
}
