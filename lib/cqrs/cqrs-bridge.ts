import type { Logger } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import type { Observable } from 'rxjs';
import {
  CQRS_COMMAND_METADATA,
  CQRS_EVENTS_HANDLER_METADATA,
  CQRS_QUERY_METADATA,
  CQRS_SAGA_METADATA,
} from '../decorators/metadata.keys';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { DuplicateHandlerError } from '../errors/duplicate-handler.error';
import {
  Message,
  declaredMessageClasses,
  getMessageInfo,
  isValidTypeName,
  type MessageTypeResolver,
} from '../message/message-type';
import { Command, Query } from '../message/command-query';
import type { HandlerRegistry, SubscriberDefinition, SubscriberRoute } from '../discovery/handler.registry';
import type { ResolvedMessagingOptions } from '../config/messaging-options.interface';
import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import type { CommandBus } from '../buses/command.bus';
import { SagaRunner, type UnhandledExceptionSink } from './saga-runner';

/** Name of the subscriber that feeds the sagas (its queue: `<service>.cqrs.sagas`). */
export const SAGA_SUBSCRIBER = 'cqrs.sagas';

/** Marks a `@Message` given by the bridge (the class name), not by the application. */
const DERIVED_TYPE = 'nestjs-messaging:derived-type';

/** Classes that are commands or queries (never bound as events of the sagas' subscriber). */
function isRequestClass(cls: Function, cqrsBases: Function[]): boolean {
  if (Reflect.hasOwnMetadata(CQRS_COMMAND_METADATA, cls) || Reflect.hasOwnMetadata(CQRS_QUERY_METADATA, cls)) {
    return true;
  }
  return [Command, Query, ...cqrsBases].some((base) => cls.prototype instanceof base);
}

/**
 * What `MessagingModule.forCqrs()` adds at bootstrap: class-name types for event classes without
 * `@Message`, the sagas' subscriber, and dead letters of cqrs handlers on the `UnhandledExceptionBus`.
 * @internal
 */
export class CqrsBridge {
  /** Event classes whose type is their class name (no `@Message`). */
  readonly derived = new Set<string>();
  private readonly eventsHandlers = new Set<string>();
  private readonly sagaTypes = new Set<string>();
  private readonly runner: SagaRunner;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly events$: Observable<object> & { subject$: { next(event: object): void; observed?: boolean } },
    commands: CommandBus,
    private readonly resolver: MessageTypeResolver,
    private readonly unhandled: UnhandledExceptionSink,
    private readonly cqrsBases: Function[],
    /** cqrs' `EventBus` class: a provider of it means `CqrsModule` is imported too. */
    private readonly cqrsEventBus: Function,
    private readonly logger: Logger,
  ) {
    this.runner = new SagaRunner(events$, commands, unhandled, logger);
  }

  /** Names of the sagas found (`Class.property`). */
  get sagas(): string[] {
    return this.runner.names;
  }

  /** Before handler discovery: types for unannotated event classes, sagas found. */
  prepare(): void {
    const seen = new Set<Function>();
    for (const wrapper of this.discovery.getProviders()) {
      const { instance, metatype } = wrapper;
      if (metatype === this.cqrsEventBus) {
        throw new InvalidConfigurationError(
          'CqrsModule is imported beside MessagingModule.forCqrs(), which replaces it: remove CqrsModule.forRoot()',
        );
      }
      if (!instance || typeof metatype !== 'function' || seen.has(metatype)) continue;
      seen.add(metatype);
      const events = Reflect.getMetadata(CQRS_EVENTS_HANDLER_METADATA, metatype) as unknown[] | undefined;
      if (events?.length) {
        this.eventsHandlers.add(metatype.name);
        for (const cls of events) if (typeof cls === 'function') this.deriveType(cls, metatype.name);
      }
      const keys = Reflect.getMetadata(CQRS_SAGA_METADATA, metatype) as Array<string | symbol> | undefined;
      if (!keys?.length) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        throw new InvalidConfigurationError(
          `${metatype.name} has @Saga() but is request-scoped; sagas must be singleton providers (remove the scope)`,
        );
      }
      for (const key of keys) {
        const name = `${metatype.name}.${String(key)}`;
        const saga = (instance as Record<string | symbol, unknown>)[key];
        if (typeof saga !== 'function') throw new InvalidConfigurationError(`@Saga ${name} is not a function`);
        this.runner.add({ name, build: (events$) => (saga as (e: unknown) => unknown).call(instance, events$) });
      }
    }
    this.resolver.deriveClassNames = (cls) => this.derivedAtRunTime(cls);
  }

  /**
   * The subscriber feeding cqrs' `EventBus` stream (sagas, and code subscribed to the `EventBus`
   * itself by now), bound to every event type known now; undefined when nothing listens.
   */
  sagaSubscriber(registry: HandlerRegistry, options: ResolvedMessagingOptions): SubscriberDefinition | undefined {
    const observers = this.events$.subject$.observed === true;
    if (this.runner.size === 0 && !observers) return undefined;
    const existing = registry.subscribers.get(SAGA_SUBSCRIBER);
    if (existing) throw new DuplicateHandlerError('subscriber', SAGA_SUBSCRIBER, [existing.origin, 'the cqrs sagas']);
    const routes = new Map<string, SubscriberRoute>();
    const feed = (event: unknown) => this.runner.feed(event as object);
    const add = (type: string, version: number, cls: Function | undefined) => {
      const known = routes.get(type);
      if (known === undefined || known.version < version) routes.set(type, { version, cls, invoke: feed });
    };
    for (const sub of registry.subscribers.values()) {
      for (const [type, route] of sub.routes) add(type, route.version, route.cls);
    }
    for (const cls of declaredMessageClasses()) {
      const info = getMessageInfo(cls);
      if (info && !isRequestClass(cls, this.cqrsBases)) add(info.type, info.version, cls);
    }
    const listeners = [...this.sagas.map((s) => `@Saga ${s}`), ...(observers ? ['subscriptions to the EventBus'] : [])];
    if (routes.size === 0) {
      this.logger.warn(
        `${listeners.join(', ')}: no event type is known at startup (no @Message class, no subscriber), ` +
          'so they receive nothing; give the event classes @Message(...)',
      );
      return undefined;
    }
    for (const type of routes.keys()) this.sagaTypes.add(type);
    this.logger.log(`${listeners.join(', ')} fed by subscriber "${SAGA_SUBSCRIBER}" (${routes.size} event types)`);
    return {
      name: SAGA_SUBSCRIBER,
      routes,
      retry: options.retry,
      concurrency: options.concurrency,
      timeoutMs: options.handlerTimeoutMs,
      inbox: options.inboxByDefault,
      // never in a commit group: a group's fallback runs a delivery again, and what a saga's stream
      // saw (a delayed command it scheduled) cannot be rolled back
      groupSize: 1,
      origin: listeners.join(', '),
      explicitName: true,
    };
  }

  /** Subscribes the sagas (before the transport delivers). */
  start(): void {
    this.runner.start();
  }

  /** Unsubscribes the sagas. */
  stop(): void {
    this.runner.stop();
  }

  /**
   * A dead letter of a cqrs `@EventsHandler` or of the sagas reaches the `UnhandledExceptionBus`
   * (once, when retries are exhausted: earlier failures are retried, not unhandled).
   */
  deadLettered(deadLetter: DeadLetter): void {
    if (deadLetter.subscriber !== SAGA_SUBSCRIBER && !this.eventsHandlers.has(deadLetter.subscriber)) return;
    const exception = Object.assign(new Error(deadLetter.error.message), {
      name: deadLetter.error.name,
      stack: deadLetter.error.stack,
    });
    this.unhandled.publish({ cause: deadLetter.envelope?.data ?? deadLetter.body, exception });
  }

  private deriveType(cls: Function, handler: string): void {
    if (getMessageInfo(cls)) {
      if (Reflect.getOwnMetadata(DERIVED_TYPE, cls)) this.derived.add(cls.name);
      return;
    }
    if (!isValidTypeName(cls.name)) {
      throw new InvalidConfigurationError(
        `@EventsHandler ${handler} handles class ${cls.name || '(anonymous)'}, whose name cannot be a message type: ` +
          `add @Message('<type>') to it`,
      );
    }
    Message(cls.name)(cls);
    Reflect.defineMetadata(DERIVED_TYPE, true, cls);
    this.derived.add(cls.name);
  }

  private derivedAtRunTime(cls: Function): void {
    if (this.derived.has(cls.name)) return;
    this.derived.add(cls.name);
    if (this.runner.size > 0 && !this.sagaTypes.has(cls.name)) {
      this.logger.warn(
        `event class ${cls.name} has no @Message and was first published at run time as "${cls.name}": ` +
          `the sagas' subscriber was bound at startup to the types known then and does not receive it; ` +
          `add @Message('${cls.name}') to ${cls.name}`,
      );
    }
  }
}
