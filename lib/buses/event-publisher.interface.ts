import type { OutboundMessage } from '../transport/transport.interface';

/** Options of one `EventBus.publish` call that reach the publisher. */
export interface PublishContext {
  /**
   * TypeORM `EntityManager` of the transaction to write the outbox through. When absent, the
   * transaction found in the message context (if any) is used.
   */
  manager?: unknown;
}

/**
 * Where `EventBus` hands encoded events: straight to the transport (no outbox), or to the
 * transactional outbox. Swappable, like `@nestjs/cqrs`' `IEventPublisher`.
 */
export interface EventPublisher {
  /** Publishes (or durably stores for publishing) the messages. */
  publish(messages: OutboundMessage[], context: PublishContext): Promise<void>;
}
