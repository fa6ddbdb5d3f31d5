import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConfigurableMessagingModule, MESSAGING_MODULE_OPTIONS } from './config/messaging.module-definition';
import type { MessagingModuleOptions, ResolvedMessagingOptions } from './config/messaging-options.interface';
import { resolveMessagingOptions } from './config/messaging-options.validator';
import { MESSAGING_OPTIONS, MESSAGING_TRANSPORT } from './messaging.tokens';
import { createTransport } from './transport/transport.factory';
import { HandlerExplorer } from './discovery/handler.explorer';
import { HandlerRegistry } from './discovery/handler.registry';
import { UpcasterRegistry } from './message/upcaster.registry';
import { MessageValidator } from './message/message.validator';
import { MessageTypeResolver } from './message/message-type';
import { EnvelopeFactory } from './message/envelope.factory';
import { SubscriberStats } from './monitoring/subscriber-stats';
import { CommandBus } from './buses/command.bus';
import { QueryBus } from './buses/query.bus';
import { EventBus } from './buses/event.bus';
import { MessageContext } from './context/message-context.service';
import { DeadLetterService } from './dead-letter/dead-letter.service';
import { MessagingRuntime } from './messaging.runtime';
import { OutboxIntegration } from './outbox/outbox-integration';
import { MONITORING_EXPORTS, MONITORING_PROVIDERS } from './monitoring/monitoring.providers';
import { MessagingTracing } from './tracing/messaging-tracing.service';
import { MessagingTransactions } from './buses/messaging-transactions.service';

/**
 * The messaging module: `MessagingModule.forRoot({ serviceName: 'orders' })` or
 * `forRootAsync({ imports, inject, useFactory })`. Global; provides `CommandBus`, `QueryBus`,
 * `EventBus`, `MessageContext` and `DeadLetterService`, and discovers handlers at bootstrap.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: MESSAGING_OPTIONS,
      inject: [MESSAGING_MODULE_OPTIONS],
      useFactory: (options: MessagingModuleOptions) => resolveMessagingOptions(options),
    },
    {
      provide: MESSAGING_TRANSPORT,
      inject: [MESSAGING_OPTIONS],
      useFactory: (options: ResolvedMessagingOptions) => createTransport(options),
    },
    {
      provide: MessageValidator,
      inject: [MESSAGING_OPTIONS],
      useFactory: (options: ResolvedMessagingOptions) => new MessageValidator(options.validate),
    },
    {
      provide: EnvelopeFactory,
      inject: [MESSAGING_OPTIONS, MessagingTracing],
      useFactory: (options: ResolvedMessagingOptions, tracing: MessagingTracing) =>
        new EnvelopeFactory(options.serviceName, tracing.traceparent),
    },
    { provide: HandlerRegistry, useFactory: () => new HandlerRegistry() },
    { provide: UpcasterRegistry, useFactory: () => new UpcasterRegistry() },
    { provide: MessageTypeResolver, useFactory: () => new MessageTypeResolver() },
    { provide: SubscriberStats, useFactory: () => new SubscriberStats() },
    HandlerExplorer,
    CommandBus,
    QueryBus,
    EventBus,
    MessageContext,
    DeadLetterService,
    OutboxIntegration,
    MessagingTransactions,
    MessagingRuntime,
    ...MONITORING_PROVIDERS,
  ],
  exports: [
    CommandBus,
    QueryBus,
    EventBus,
    MessageContext,
    DeadLetterService,
    MessagingTransactions,
    SubscriberStats,
    MESSAGING_OPTIONS,
    MESSAGING_TRANSPORT,
    ...MONITORING_EXPORTS,
  ],
})
export class MessagingModule extends ConfigurableMessagingModule {}
