import { Injectable } from '@nestjs/common';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { currentMessageContext } from '../context/message-context';
import type { TransactionRunner } from './transaction-runner.interface';

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

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  run<R>(work: (manager: any) => Promise<R>): Promise<R> {
    if (!this.runner) {
      return Promise.reject(
        new InvalidConfigurationError(
          'MessagingTransactions needs the outbox: set outbox: { dataSource } in MessagingModule options',
        ),
      );
    }
    return this.runner.run(work);
  }

  /** The `EntityManager` of the transaction open in this context, if any. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  get manager(): any {
    return currentMessageContext()?.transaction;
  }
}
