import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { MessagingConsoleAsyncOptions, MessagingConsoleOptions } from './console-options.interface';
import { checkConsoleGuard, resolveConsoleOptions, resolveConsolePath } from './console-options.validator';
import { MESSAGING_CONSOLE_OPERATIONS, MESSAGING_CONSOLE_OPTIONS } from './console.tokens';
import { ConsoleAccessGuard } from './console-access.guard';
import { MessagingConsoleService } from './console.service';
import { createConsoleController } from './console.controller';
import { MessagingOperationsService } from '../operations/messaging-operations.service';

/**
 * The operations console: a page in your own Nest app (subscribers, outbox lag, failure groups
 * with dry run / retry / purge, message journeys) and its JSON API under the same path. Off
 * unless imported; needs `MessagingModule` (global) and an auth hook, a `guard` or a `token`:
 * without one it refuses to start with an `InvalidConfigurationError`. Every action is logged
 * with the actor.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     MessagingModule.forRoot({ serviceName: 'orders' }),
 *     MessagingConsoleModule.forRoot({ path: '/ops/messaging', guard: AdminGuard }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class MessagingConsoleModule {
  /** Mounts the console at `path` (default `/messaging`). Throws now when no `guard` and no `token` is set. */
  static forRoot(options: MessagingConsoleOptions): DynamicModule {
    const resolved = resolveConsoleOptions(options);
    return build(options, { provide: MESSAGING_CONSOLE_OPTIONS, useValue: resolved });
  }

  /**
   * Like `forRoot`, with the token and the other run-time options from a factory (e.g.
   * `ConfigService`). `path`, `guard` and `imports` are given here: routes are declared before
   * the factory runs. Without a `guard`, the factory must return a `token`, or the app does not start.
   */
  static forRootAsync(options: MessagingConsoleAsyncOptions): DynamicModule {
    const path = resolveConsolePath(options.path);
    checkConsoleGuard(options.guard);
    const factory = options.useFactory as (
      ...args: unknown[]
    ) => ReturnType<MessagingConsoleAsyncOptions['useFactory']>;
    return build(options, {
      provide: MESSAGING_CONSOLE_OPTIONS,
      inject: options.inject ?? [],
      useFactory: async (...args: unknown[]) =>
        resolveConsoleOptions({ ...(await factory(...args)), path, guard: options.guard }),
    });
  }
}

function build(
  options: Pick<MessagingConsoleOptions, 'path' | 'guard' | 'imports'>,
  optionsProvider: Provider,
): DynamicModule {
  return {
    module: MessagingConsoleModule,
    imports: options.imports ?? [],
    // a guard class is instantiated by Nest in this module: its dependencies come from `imports` or global modules
    controllers: [createConsoleController(resolveConsolePath(options.path), options.guard)],
    providers: [
      optionsProvider,
      // the operations back end MessagingModule provides (a token, so that it can be swapped)
      { provide: MESSAGING_CONSOLE_OPERATIONS, useExisting: MessagingOperationsService },
      ConsoleAccessGuard,
      MessagingConsoleService,
    ],
    exports: [MessagingConsoleService, MESSAGING_CONSOLE_OPERATIONS],
  };
}
