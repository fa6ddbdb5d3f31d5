import { type DynamicModule, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { OutboxIntegration } from '../outbox/outbox-integration';
import type { MessagingModuleOptions } from '../config/messaging-options.interface';
import { MessagingModule } from '../messaging.module';
import { MessagingTestHarness, RecordingTransport } from './messaging-test.harness';

/** Options of `MessagingTestingModule.forRoot`: the module's options, minus the transport. */
export interface MessagingTestingOptions extends Omit<Partial<MessagingModuleOptions>, 'transport' | 'inMemory'> {
  /**
   * Retry at once rather than after the back-off delay (attempt numbers, retry limits and dead
   * letters stay as configured). Default true.
   */
  immediateRetries?: boolean;
  /**
   * Build the module as `MessagingModule.forCqrs()` (in place of `CqrsModule`): `@nestjs/cqrs`'
   * buses, `EventPublisher` and sagas over the test transport. Default false.
   */
  cqrs?: boolean;
}

/**
 * `MessagingModule` for tests of your own handlers: the in-memory transport (no broker), a fresh
 * one per testing module (tests do not see each other's messages), retries without their delays,
 * and a {@link MessagingTestHarness} to inject: `whenIdle()`, `published(...)`, `handled(...)`,
 * `deadLettered(...)`. Use it in place of `MessagingModule.forRoot(...)` in
 * `Test.createTestingModule({ imports: [...] })`; replace a subscriber with Nest's own
 * `overrideProvider(X).useClass(FakeX)` (the fake's `@Subscribe` methods are the ones used).
 *
 * @example
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [MessagingTestingModule.forRoot({ serviceName: 'orders' })],
 *   providers: [PlaceOrderHandler, ShippingService],
 * }).compile();
 * await moduleRef.init();
 * ```
 */
@Module({})
export class MessagingTestingModule {
  /** The messaging module for a test, with the harness. */
  static forRoot(options: MessagingTestingOptions = {}): DynamicModule {
    const { immediateRetries, cqrs, ...moduleOptions } = options;
    const transport = new RecordingTransport(immediateRetries ?? true);
    return {
      module: MessagingTestingModule,
      global: true,
      imports: [
        cqrs
          ? MessagingModule.forCqrs({ serviceName: 'test', ...moduleOptions, transport })
          : MessagingModule.forRoot({ serviceName: 'test', ...moduleOptions, transport }),
      ],
      providers: [
        {
          provide: MessagingTestHarness,
          inject: [ModuleRef],
          useFactory: (moduleRef: ModuleRef) => {
            let outbox: OutboxIntegration | undefined; // resolved on first use: created after this factory runs
            return new MessagingTestHarness(transport, async () => {
              const integration: OutboxIntegration = outbox ?? moduleRef.get(OutboxIntegration, { strict: false });
              outbox = integration;
              return (await integration.stats())?.pending ?? 0;
            });
          },
        },
      ],
      exports: [MessagingTestHarness],
    };
  }
}
