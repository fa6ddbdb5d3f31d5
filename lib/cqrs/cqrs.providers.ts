import { Logger, type InjectionToken, type Provider } from '@nestjs/common';
import { DiscoveryService, ModuleRef } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { requireOptional } from '../errors/missing-dependency.error';
import { CommandBus } from '../buses/command.bus';
import { QueryBus } from '../buses/query.bus';
import { EventBus } from '../buses/event.bus';
import { MessageTypeResolver } from '../message/message-type';
import { cqrsEventPublisher, routeCqrsRequests } from './cqrs-beside';
import { CqrsBridge } from './cqrs-bridge';
import type { UnhandledExceptionSink } from './saga-runner';

/** The bridge of `MessagingModule.forCqrs()`, when in use. @internal */
export const CQRS_BRIDGE = Symbol('nestjs-messaging:cqrs-bridge');

/** The parts of `@nestjs/cqrs` the bridge builds on (loaded only by `forCqrs`). */
interface CqrsPackage {
  CommandBus: new (moduleRef: ModuleRef, options: object) => { execute: unknown; publisher: unknown };
  QueryBus: new (moduleRef: ModuleRef, options: object) => { execute: unknown; publisher: unknown };
  EventBus: new (
    commandBus: unknown,
    moduleRef: ModuleRef,
    unhandled: unknown,
    options: object,
  ) => Observable<object> & { publisher: unknown; subject$: { next(event: object): void } };
  EventPublisher: new (eventBus: unknown) => object;
  UnhandledExceptionBus: new (options: object) => UnhandledExceptionSink;
  Command: Function;
  Query: Function;
}

/**
 * The providers `MessagingModule.forCqrs()` adds: `@nestjs/cqrs`' own `CommandBus`, `QueryBus`,
 * `EventBus`, `EventPublisher` and `UnhandledExceptionBus` classes (so its decorators, aggregates,
 * sagas and injected types work unchanged), each built over this module's buses.
 * @internal
 */
export function cqrsProviders(): { providers: Provider[]; exports: InjectionToken[] } {
  const cqrs = requireOptional(
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    () => require('@nestjs/cqrs') as CqrsPackage,
    '@nestjs/cqrs',
    'MessagingModule.forCqrs()',
  );
  const logger = new Logger('MessagingCqrs');
  return {
    providers: [
      { provide: cqrs.UnhandledExceptionBus, useFactory: () => new cqrs.UnhandledExceptionBus({}) },
      {
        provide: cqrs.CommandBus,
        inject: [ModuleRef, CommandBus],
        useFactory: (moduleRef: ModuleRef, ours: CommandBus) => {
          const bus = new cqrs.CommandBus(moduleRef, {});
          routeCqrsRequests(bus as never, ours);
          refuseManualRegistration(bus, 'CommandBus', ['register'], logger);
          return bus;
        },
      },
      {
        provide: cqrs.QueryBus,
        inject: [ModuleRef, QueryBus],
        useFactory: (moduleRef: ModuleRef, ours: QueryBus) => {
          const bus = new cqrs.QueryBus(moduleRef, {});
          routeCqrsRequests(bus as never, ours);
          refuseManualRegistration(bus, 'QueryBus', ['register'], logger);
          return bus;
        },
      },
      {
        provide: cqrs.EventBus,
        inject: [cqrs.CommandBus, ModuleRef, cqrs.UnhandledExceptionBus, EventBus],
        useFactory: (commands: unknown, moduleRef: ModuleRef, unhandled: unknown, ours: EventBus) => {
          const bus = new cqrs.EventBus(commands, moduleRef, unhandled, {});
          bus.publisher = cqrsEventPublisher(ours, logger);
          mergePublishableClasses(bus, logger);
          refuseManualRegistration(bus, 'EventBus', ['register', 'registerSagas'], logger);
          return bus;
        },
      },
      {
        provide: cqrs.EventPublisher,
        inject: [cqrs.EventBus],
        useFactory: (bus: unknown) => new cqrs.EventPublisher(bus),
      },
      {
        provide: CQRS_BRIDGE,
        inject: [DiscoveryService, cqrs.EventBus, CommandBus, MessageTypeResolver, cqrs.UnhandledExceptionBus],
        useFactory: (
          discovery: DiscoveryService,
          events$: ConstructorParameters<typeof CqrsBridge>[1],
          commands: CommandBus,
          resolver: MessageTypeResolver,
          unhandled: UnhandledExceptionSink,
        ) =>
          new CqrsBridge(
            discovery,
            events$,
            commands,
            resolver,
            unhandled,
            [cqrs.Command, cqrs.Query],
            cqrs.EventBus,
            logger,
          ),
      },
    ],
    exports: [cqrs.CommandBus, cqrs.QueryBus, cqrs.EventBus, cqrs.EventPublisher, cqrs.UnhandledExceptionBus],
  };
}

/** What CqrsModule does at bootstrap for `@Publishable()` classes: their `publish()` goes to `bus`. */
function mergePublishableClasses(bus: object, logger: Logger): void {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { AggregateRootStorage } = require('@nestjs/cqrs/dist/storages/aggregate-root.storage') as {
      AggregateRootStorage: { mergeContext(bus: object): void };
    };
    AggregateRootStorage.mergeContext(bus);
  } catch (error) {
    logger.warn(
      `@Publishable() classes could not be merged with the EventBus (${(error as Error).message}): ` +
        'use EventPublisher.mergeClassContext() for them',
    );
  }
}

/**
 * `register(...)` / `registerSagas(...)` called by hand (CqrsModule calls them at bootstrap; here
 * handlers and sagas are found among the providers): a warning naming what was passed, never a
 * quiet no-op.
 */
function refuseManualRegistration(bus: object, name: string, methods: string[], logger: Logger): void {
  for (const method of methods) {
    Object.defineProperty(bus, method, {
      configurable: true,
      value: (wrappers: Array<{ metatype?: { name?: string } }> = []) => {
        const names = wrappers.map((w) => w?.metatype?.name ?? String(w)).join(', ') || 'nothing';
        logger.warn(
          `${name}.${method}(${names}) is not supported under MessagingModule.forCqrs(): handlers and sagas are ` +
            "found among the providers at startup; list them in a module's providers instead",
        );
      },
    });
  }
}
