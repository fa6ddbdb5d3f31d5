import type { SendOptions } from '../message/envelope.factory';
import type { MessagingEntityManager } from '../context/messaging-entity-manager.interface';

/** Options of `CommandBus.execute`: those of every send, plus the caller's transaction for a routed command. */
export interface CommandOptions extends SendOptions {
  /**
   * For a command routed to another service: the TypeORM `EntityManager` of the caller's
   * transaction; the command is written to the outbox in it (as `EventBus.publish(e, { manager })`).
   * Not needed inside a handler or `MessagingTransactions.run`. Ignored by local handlers.
   */
  manager?: MessagingEntityManager;
}

/** Options of `QueryBus.execute`: those of every send, plus the reply timeout of a routed query. */
export interface QueryOptions extends SendOptions {
  /** For a query routed to another service: how long to wait for its reply, ms. Default `remote.queryTimeoutMs`. */
  timeoutMs?: number;
}
