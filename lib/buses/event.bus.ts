import { Inject, Injectable } from '@nestjs/common';
import { encodeEnvelope } from '../message/cloudevents.codec';
import { EnvelopeFactory, type SendOptions } from '../message/envelope.factory';
import { MessageTypeResolver, type ResolvedMessage } from '../message/message-type';
import { MessageValidator } from '../message/message.validator';
import type { OutboundMessage, MessageTransport } from '../transport/transport.interface';
import { MESSAGING_TRANSPORT } from '../messaging.tokens';
import type { EventPublisher, PublishContext } from './event-publisher.interface';
import { AfterCommitQueue } from './after-commit.queue';
import { MessagingError } from '../errors/messaging.error';
import { closedTransactionReason } from '../outbox/outbox.publisher';
import { TransactionNotActiveError } from '../errors/transaction-not-active.error';
import type { MessagingEntityManager } from '../context/messaging-entity-manager.interface';

/** Options of `EventBus.publish`. */
/**
 * What `EventBus.publish` takes: an instance of a `@Message` class, or a plain object with a string
 * `type` (a foreign event by name). Not a class or a function (`publish(OrderPlaced)` without `new`
 * does not compile).
 */
export type EventMessage = object & {
  readonly call?: never;
  readonly apply?: never;
  readonly bind?: never;
};

export interface PublishOptions extends SendOptions {
  /**
   * TypeORM `EntityManager` of the caller's transaction (any TypeORM `EntityManager` fits
   * {@link MessagingEntityManager}): the event is written to the outbox in that transaction. Not
   * needed inside a handler or `MessagingTransactions.run`, where the open transaction is found in
   * the message context.
   */
  manager?: MessagingEntityManager;
}

/** A TypeORM EntityManager as far as publishing without the outbox looks at it. */
interface ManagerView {
  query?: unknown;
  queryRunner?: object & { isTransactionActive?: boolean; isReleased?: boolean };
  dataSource?: { subscribers: unknown[] };
  connection?: { subscribers: unknown[] };
}

/**
 * Publishes straight to the transport (no outbox). With `{ manager }` of an open transaction the
 * messages are sent after it commits and dropped if it rolls back (`AfterCommitQueue`).
 */
class TransportPublisher implements EventPublisher {
  constructor(private readonly transport: MessageTransport) {}

  publish(messages: OutboundMessage[], context?: PublishContext): Promise<void> {
    if (context?.manager !== undefined) return this.afterCommit(messages, context.manager as ManagerView);
    if (messages.length === 1) return this.transport.publish(messages[0]);
    return Promise.all(messages.map((m) => this.transport.publish(m))).then(() => undefined);
  }

  private afterCommit(messages: OutboundMessage[], manager: ManagerView): Promise<void> {
    if (manager === null || typeof manager !== 'object' || typeof manager.query !== 'function') {
      return Promise.reject(new MessagingError('publish(event, { manager }): manager must be a TypeORM EntityManager'));
    }
    const runner = manager.queryRunner;
    // not transactional (e.g. dataSource.manager): nothing to wait for
    if (runner === undefined || runner === null) return this.publish(messages);
    const closed = closedTransactionReason(manager as never);
    if (closed !== undefined) return Promise.reject(new TransactionNotActiveError('manager', closed));
    const owner = manager.dataSource ?? manager.connection;
    if (owner === undefined || !Array.isArray(owner.subscribers)) {
      return Promise.reject(new MessagingError('publish(event, { manager }): the manager has no DataSource'));
    }
    AfterCommitQueue.of(owner).add(runner, messages, (m) => this.transport.publish(m));
    return Promise.resolve();
  }
}

/**
 * Publishes events to every subscriber. An event is a `@Message` class instance or a plain
 * object with a `type`. With the outbox on, events are written in the caller's transaction and
 * delivered by the relay; otherwise `publish` resolves once the transport confirmed them.
 */
@Injectable()
export class EventBus {
  /** Where encoded events go; swapped for the outbox when it is on. */
  publisher: EventPublisher;

  constructor(
    private readonly resolver: MessageTypeResolver,
    private readonly validator: MessageValidator,
    private readonly envelopes: EnvelopeFactory,
    @Inject(MESSAGING_TRANSPORT) transport: MessageTransport,
  ) {
    this.publisher = new TransportPublisher(transport);
  }

  /** Publishes one event. Throws `InvalidMessageError` when it breaks its validation rules. */
  publish<E extends EventMessage>(event: E, options?: PublishOptions): Promise<void> {
    return this.publishAll([event], options);
  }

  /**
   * Publishes several events together (one outbox write, one transaction).
   *
   * Not `async` on purpose: when no event class has validation rules, encoding is synchronous
   * and the publisher's promise is returned as is. Failures still arrive as a rejected promise.
   */
  publishAll<E extends EventMessage>(events: readonly E[], options?: PublishOptions): Promise<void> {
    try {
      const messages: OutboundMessage[] = new Array(events.length);
      for (let i = 0; i < events.length; i++) {
        const resolved = this.resolver.resolve(events[i]);
        if (resolved.cls !== undefined && this.validator.hasRules(resolved.cls))
          return this.publishValidated(events, options);
        messages[i] = this.toOutbound(resolved, events[i], options);
      }
      return messages.length > 0
        ? this.publisher.publish(messages, options?.manager !== undefined ? { manager: options.manager } : {})
        : Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The path of `publishAll` when some event is validated first. */
  private async publishValidated(events: readonly object[], options?: PublishOptions): Promise<void> {
    const messages: OutboundMessage[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      messages[i] = await this.encode(events[i], options);
    }
    await this.publisher.publish(messages, { manager: options?.manager });
  }

  /** @internal envelope + body for one event. */
  async encode(event: object, options?: SendOptions): Promise<OutboundMessage> {
    const resolved = this.resolver.resolve(event);
    if (resolved.cls !== undefined && this.validator.hasRules(resolved.cls)) {
      await this.validator.validateInstance(resolved.type, event);
    }
    return this.toOutbound(resolved, event, options);
  }

  private toOutbound(resolved: ResolvedMessage, event: object, options: SendOptions | undefined): OutboundMessage {
    const envelope = this.envelopes.create(resolved.type, resolved.version, event, options);
    return { envelope, body: encodeEnvelope(envelope) };
  }
}
