import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import {
  ConfigurableMessagingModule,
  MESSAGING_ASYNC_OPTIONS_TYPE,
  MESSAGING_MODULE_OPTIONS,
  MESSAGING_OPTIONS_TYPE,
} from './config/messaging.module-definition';
import { cqrsProviders } from './cqrs/cqrs.providers';
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
import { RemoteMessaging } from './remote/remote-messaging';
import { MessagingOperationsService } from './operations/messaging-operations.service';

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
    RemoteMessaging,
    MessagingRuntime,
    MessagingOperationsService,
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
    RemoteMessaging,
    MESSAGING_OPTIONS,
    MESSAGING_TRANSPORT,
    MessagingOperationsService,
    ...MONITORING_EXPORTS,
  ],
})
export class MessagingModule extends ConfigurableMessagingModule {
  /**
   * In place of `CqrsModule.forRoot()` of `@nestjs/cqrs` (which must be installed): this module
   * plus cqrs' own `CommandBus`, `QueryBus`, `EventBus`, `EventPublisher` and
   * `UnhandledExceptionBus`, built over this module's buses. Handlers, aggregates and `@Saga()`
   * streams written for `@nestjs/cqrs` run unchanged, with metadata, retries, dead letters and, when
   * configured, the broker and the outbox. See docs/migrating-from-cqrs.md.
   *
   * @example
   * ```ts
   * @Module({ imports: [MessagingModule.forCqrs({ serviceName: 'heroes' })] })
   * export class AppModule {}
   * ```
   */
  static forCqrs(options: typeof MESSAGING_OPTIONS_TYPE): DynamicModule {
    return withCqrs(MessagingModule.forRoot(options));
  }

  /** `forCqrs` with options from a factory (`imports`, `inject`, `useFactory`), like `forRootAsync`. */
  static forCqrsAsync(options: typeof MESSAGING_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withCqrs(MessagingModule.forRootAsync(options));
  }
}

function withCqrs(module: DynamicModule): DynamicModule {
  const cqrs = cqrsProviders();
  return {
    ...module,
    providers: [...(module.providers ?? []), ...cqrs.providers],
    exports: [...(module.exports ?? []), ...cqrs.exports],
  };
}
