import type { MessagingEntityManager } from '../context/messaging-entity-manager.interface';

/**
 * Runs work inside one database transaction and makes its `EntityManager` the current one, so
 * `EventBus.publish` (outbox) and the work's own writes commit together.
 */
export interface TransactionRunner {
  /**
   * Runs `work` in a transaction; commits when it resolves, rolls back when it rejects. `work`
   * gets the transaction's TypeORM `EntityManager`, typed {@link MessagingEntityManager}; annotate
   * the parameter (`async (manager: EntityManager) => …`) to use TypeORM's own type instead.
   */
  run<R, M extends MessagingEntityManager = MessagingEntityManager>(work: (manager: M) => Promise<R>): Promise<R>;
}
