import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService, ModuleRef } from '@nestjs/core';
import { MESSAGING_OPTIONS, MESSAGING_TRANSPORT } from './messaging.tokens';
import type { ResolvedMessagingOptions } from './config/messaging-options.interface';
import type { MessageTransport } from './transport/transport.interface';
import type { DeadLetter } from './dead-letter/dead-letter.interface';
import { HandlerExplorer } from './discovery/handler.explorer';
import { HandlerRegistry } from './discovery/handler.registry';
import { UpcasterRegistry } from './message/upcaster.registry';
import { MessageValidator } from './message/message.validator';
import { SubscriberStats } from './monitoring/subscriber-stats';
import { ConsumerPipeline } from './consumer/consumer.pipeline';
import { retryDelayLevels } from './consumer/retry.policy';
import { CommandBus } from './buses/command.bus';
import { QueryBus } from './buses/query.bus';
import { EventBus } from './buses/event.bus';
import { bridgeCqrsEventBus } from './cqrs/cqrs-beside';
import type { CqrsBridge } from './cqrs/cqrs-bridge';
import { CQRS_BRIDGE } from './cqrs/cqrs.providers';
import { OutboxIntegration } from './outbox/outbox-integration';
import { MessagingMonitor } from './monitoring/messaging-monitor.service';
import { MessagingTracing } from './tracing/messaging-tracing.service';
import { MessagingTransactions } from './buses/messaging-transactions.service';
import { RemoteMessaging } from './remote/remote-messaging';

/**
 * Start-up and shutdown of the messaging runtime: discovers handlers and connects the transport
 * (module init), starts consuming and the outbox relay (application bootstrap), then on shutdown
 * stops the relay, stops consuming, drains in-flight handlers and closes the transport.
 */
@Injectable()
export class MessagingRuntime implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Messaging');
  private started = false;
  private closed = false;

  constructor(
    @Inject(MESSAGING_OPTIONS) private readonly options: ResolvedMessagingOptions,
    @Inject(MESSAGING_TRANSPORT) private readonly transport: MessageTransport,
    private readonly explorer: HandlerExplorer,
    private readonly registry: HandlerRegistry,
    private readonly upcasters: UpcasterRegistry,
    private readonly validator: MessageValidator,
    private readonly stats: SubscriberStats,
    private readonly commandBus: CommandBus,
    private readonly queryBus: QueryBus,
    private readonly eventBus: EventBus,
    private readonly outbox: OutboxIntegration,
    private readonly transactions: MessagingTransactions,
    private readonly moduleRef: ModuleRef,
    private readonly monitor: MessagingMonitor,
    private readonly tracing: MessagingTracing,
    private readonly discovery: DiscoveryService,
    private readonly remote: RemoteMessaging,
    @Optional() @Inject(CQRS_BRIDGE) private readonly cqrs?: CqrsBridge,
  ) {}

  async onModuleInit(): Promise<void> {
    this.cqrs?.prepare();
    this.explorer.explore(this.registry, this.upcasters, this.options);
    this.remote.prepare();
    await this.transport.connect({
      serviceName: this.options.serviceName,
      onDeadLetter: (dl) => this.alert(dl),
    });
    await this.outbox.init(this.commandBus, this.queryBus, this.eventBus, this.transactions);
    if (this.options.bridgeCqrsEventBus && !this.cqrs) {
      const ours = { events: this.eventBus, commands: this.commandBus, queries: this.queryBus };
      bridgeCqrsEventBus(this.moduleRef, this.discovery, ours, this.logger);
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    const pipeline = new ConsumerPipeline({
      serviceName: this.options.serviceName,
      maxMessageBytes: this.options.maxMessageBytes,
      upcasters: this.upcasters,
      validator: this.validator,
      observer: this.stats,
      unitOfWork: this.outbox.unitOfWork,
      retryScheduler: this.outbox.retryScheduler,
      wrap: this.tracing.consumeWrapper,
    });
    // after every onModuleInit: code that subscribed to cqrs' EventBus by then is fed too
    const stream = this.cqrs?.sagaSubscriber(this.registry, this.options);
    if (stream) this.registry.subscribers.set(stream.name, stream);
    this.cqrs?.start();
    for (const sub of this.registry.subscribers.values()) {
      this.stats.register(sub.name);
      await this.transport.subscribe(
        {
          name: sub.name,
          // routed commands come to their queue by name only: bound to the events exchange under
          // their types, any event of that type would run the command
          types: sub.kind === 'command' ? [] : [...sub.routes.keys()],
          // commit groups form from deliveries queued behind the subscriber's `concurrency` transactions
          concurrency: sub.inbox && this.outbox.unitOfWork ? sub.concurrency * sub.groupSize : sub.concurrency,
          retryDelaysMs: retryDelayLevels(sub.retry),
        },
        pipeline.handlerFor(sub),
      );
    }
    const derived = [...this.registry.subscribers.values()].filter((s) => !s.explicitName).map((s) => s.name);
    if (this.transport.capabilities.durable && derived.length > 0) {
      this.logger.warn(
        `subscriber names derived from class names name durable queues: ${derived.join(', ')}. ` +
          `A rename or a minifier would start a new, empty queue; give each a stable name with @Subscribe(..., { name })`,
      );
    }
    const types = [...(this.cqrs?.derived ?? [])];
    if (this.transport.capabilities.durable && types.length > 0) {
      this.logger.warn(
        `event types derived from class names (no @Message): ${types.join(', ')}. They name the messages on the ` +
          `broker; a rename or a minifier would change them: pin each with @Message('<name>')`,
      );
    }
    await this.remote.start();
    await this.outbox.start();
    this.started = true;
    this.logger.log(`service "${this.options.serviceName}" consuming on the ${this.transport.name} transport`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.outbox.stop();
    await this.remote.stop(this.options.shutdownTimeoutMs);
    await this.transport.close(this.options.shutdownTimeoutMs);
    this.cqrs?.stop();
    if (this.started) this.logger.log('stopped consuming and closed the transport');
  }

  private alert(deadLetter: DeadLetter): void {
    this.monitor.notifyDeadLetter(deadLetter);
    try {
      this.cqrs?.deadLettered(deadLetter);
    } catch (err) {
      this.logger.error(`UnhandledExceptionBus subscriber failed: ${(err as Error)?.message}`);
    }
    const hook = this.options.onDeadLetter;
    if (!hook) return;
    const failed = (err: unknown) =>
      this.logger.error(
        `onDeadLetter hook failed: ${(err as Error)?.message} (id=${deadLetter.messageId ?? '?'} subscriber=${deadLetter.subscriber} deadLetterId=${deadLetter.id})`,
      );
    try {
      Promise.resolve(hook(deadLetter)).catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}
