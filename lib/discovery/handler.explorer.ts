import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import {
  COMMAND_HANDLER_OPTIONS,
  CQRS_COMMAND_HANDLER_METADATA,
  CQRS_EVENTS_HANDLER_METADATA,
  CQRS_QUERY_HANDLER_METADATA,
  QUERY_HANDLER_OPTIONS,
  SUBSCRIBE_METADATA,
} from '../decorators/metadata.keys';
import type { RequestHandlerOptions } from '../decorators/command-handler.decorator';
import type { SubscribeDeclaration, SubscribeOptions } from '../decorators/subscribe.decorator';
import { DuplicateHandlerError } from '../errors/duplicate-handler.error';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import {
  assertNoDuplicateMessageTypes,
  assertTypeAndVersion,
  getMessageInfo,
  type MessageClass,
} from '../message/message-type';
import { UpcasterRegistry } from '../message/upcaster.registry';
import { resolveRetryPolicy } from '../consumer/retry.policy';
import { assertKnownKeys } from '../config/known-keys';
import type { ResolvedMessagingOptions } from '../config/messaging-options.interface';
import { HandlerRegistry, type RequestHandlerEntry } from './handler.registry';

const SUBSCRIBER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$/;

/**
 * Finds handlers among the application's providers at bootstrap: our decorators and
 * `@nestjs/cqrs`' (`@CommandHandler`, `@QueryHandler`, `@EventsHandler`). Discovery only;
 * dispatch is the buses' business.
 */
@Injectable()
export class HandlerExplorer {
  private readonly logger = new Logger('MessagingExplorer');

  /** The class that declared each subscriber name, per registry being filled. */
  private readonly subscriberClasses = new WeakMap<HandlerRegistry, Map<string, Function>>();

  constructor(private readonly discovery: DiscoveryService) {}

  /** Fills `registry` and `upcasters`; throws on duplicate handlers and bad declarations. */
  explore(registry: HandlerRegistry, upcasters: UpcasterRegistry, options: ResolvedMessagingOptions): void {
    assertNoDuplicateMessageTypes();
    const seen = new Set<Function>();
    for (const wrapper of this.discovery.getProviders()) {
      const { instance, metatype } = wrapper as InstanceWrapper<object>;
      if (!instance || !metatype || typeof metatype !== 'function' || seen.has(metatype)) continue;
      seen.add(metatype);
      const hasAny =
        Reflect.hasMetadata(CQRS_COMMAND_HANDLER_METADATA, metatype) ||
        Reflect.hasMetadata(CQRS_QUERY_HANDLER_METADATA, metatype) ||
        Reflect.hasMetadata(CQRS_EVENTS_HANDLER_METADATA, metatype) ||
        Reflect.hasMetadata(SUBSCRIBE_METADATA, metatype);
      if (!hasAny) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        throw new InvalidConfigurationError(
          `${metatype.name} is request-scoped; message handlers must be singleton providers (remove the scope)`,
        );
      }
      this.addRequestHandler(
        registry.commands,
        'command',
        CQRS_COMMAND_HANDLER_METADATA,
        COMMAND_HANDLER_OPTIONS,
        metatype,
        instance,
      );
      this.addRequestHandler(
        registry.queries,
        'query',
        CQRS_QUERY_HANDLER_METADATA,
        QUERY_HANDLER_OPTIONS,
        metatype,
        instance,
      );
      this.addCqrsEventsHandler(registry, metatype, instance, options);
      this.addSubscribers(registry, metatype, instance, options);
    }
    for (const sub of registry.subscribers.values()) {
      for (const [type, route] of sub.routes) {
        if (route.cls) {
          const info = getMessageInfo(route.cls);
          for (const [from, fn] of Object.entries(info?.upcasters ?? {})) upcasters.register(type, Number(from), fn);
        }
      }
    }
    for (const u of options.upcasters) upcasters.register(u.type, u.fromVersion, u.upcast);
    this.logger.log(
      `${new Set(registry.commands.values()).size} command handler(s), ${new Set(registry.queries.values()).size} query handler(s), ` +
        `${registry.subscribers.size} subscriber(s)`,
    );
  }

  private addRequestHandler(
    map: Map<Function | string, RequestHandlerEntry>,
    kind: 'command' | 'query',
    key: string,
    optionsKey: string,
    metatype: Function,
    instance: object,
  ): void {
    const message = Reflect.getMetadata(key, metatype) as MessageClass | string | undefined;
    if (!message) return;
    const execute = (instance as { execute?: unknown }).execute;
    if (typeof execute !== 'function') {
      throw new InvalidConfigurationError(`${metatype.name} is a ${kind} handler but has no execute() method`);
    }
    const info = typeof message === 'string' ? undefined : getMessageInfo(message);
    const type = typeof message === 'string' ? message : (info?.type ?? message.name);
    const existing = map.get(message) ?? (info ? map.get(info.type) : undefined);
    if (existing) throw new DuplicateHandlerError(kind, type, [existing.handlerName, metatype.name]);
    const opts = (Reflect.getMetadata(optionsKey, metatype) ?? {}) as RequestHandlerOptions;
    const entry: RequestHandlerEntry = {
      type,
      version: info?.version ?? 1,
      execute: execute.bind(instance),
      handlerName: metatype.name,
      transactional: opts.transactional,
    };
    map.set(message, entry);
    if (info) map.set(info.type, entry); // plain objects with that type reach it too
  }

  private addCqrsEventsHandler(
    registry: HandlerRegistry,
    metatype: Function,
    instance: object,
    options: ResolvedMessagingOptions,
  ): void {
    const events = Reflect.getMetadata(CQRS_EVENTS_HANDLER_METADATA, metatype) as MessageClass[] | undefined;
    if (!events?.length) return;
    if (typeof (instance as { handle?: unknown }).handle !== 'function') {
      throw new InvalidConfigurationError(`${metatype.name} is an @EventsHandler but has no handle() method`);
    }
    this.define(
      registry,
      metatype,
      instance,
      { method: 'handle', messages: events, options: {} },
      options,
      metatype.name,
      false,
    );
  }

  private addSubscribers(
    registry: HandlerRegistry,
    metatype: Function,
    instance: object,
    options: ResolvedMessagingOptions,
  ): void {
    const declarations = (Reflect.getMetadata(SUBSCRIBE_METADATA, metatype) ?? []) as SubscribeDeclaration[];
    for (const d of declarations) {
      this.define(
        registry,
        metatype,
        instance,
        d,
        options,
        d.options.name ?? `${metatype.name}.${d.method}`,
        d.options.name !== undefined,
      );
    }
  }

  private define(
    registry: HandlerRegistry,
    metatype: Function,
    instance: object,
    d: SubscribeDeclaration,
    options: ResolvedMessagingOptions,
    name: string,
    explicitName: boolean,
  ): void {
    const origin = `${metatype.name}.${d.method}`;
    if (!SUBSCRIBER_NAME.test(name)) {
      throw new InvalidConfigurationError(
        `subscriber name "${name}" (${origin}) must be letters, digits, ".", "_" or "-"`,
      );
    }
    const method = (instance as Record<string, unknown>)[d.method];
    if (typeof method !== 'function') throw new InvalidConfigurationError(`${origin} is not a method`);
    const o: SubscribeOptions = d.options;
    assertKnownKeys(
      o,
      ['name', 'version', 'retry', 'concurrency', 'timeoutMs', 'inbox', 'groupCommit'],
      `@Subscribe on ${origin}:`,
    );
    let sub = registry.subscribers.get(name);
    // same class and method name, another class (two modules each with an `OrderHandler`, say): one
    // would silently take over the other's queue
    const owner = this.subscriberClasses.get(registry)?.get(name);
    if (sub && (sub.origin !== origin || (owner !== undefined && owner !== metatype))) {
      throw new DuplicateHandlerError('subscriber', name, [
        sub.origin,
        sub.origin === origin ? `another class also named ${origin}` : origin,
      ]);
    }
    let owners = this.subscriberClasses.get(registry);
    if (owners === undefined) this.subscriberClasses.set(registry, (owners = new Map()));
    owners.set(name, metatype);
    if (!sub) {
      const concurrency = o.concurrency ?? options.concurrency;
      const timeoutMs = o.timeoutMs ?? options.handlerTimeoutMs;
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
        throw new InvalidConfigurationError(`@Subscribe on ${origin}: concurrency must be an integer from 1 to 10000`);
      }
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
        throw new InvalidConfigurationError(`@Subscribe on ${origin}: timeoutMs must be a positive integer (ms)`);
      }
      sub = {
        name,
        routes: new Map(),
        retry: resolveRetryPolicy(options.retry, o.retry, `@Subscribe on ${origin}: retry`),
        concurrency,
        timeoutMs,
        inbox: o.inbox ?? options.inboxByDefault,
        groupSize: o.groupCommit === false ? 1 : options.inboxGroupSize,
        origin,
        explicitName,
      };
      registry.subscribers.set(name, sub);
    }
    const invoke = (method as (p: unknown) => unknown).bind(instance);
    for (const m of d.messages) {
      let type: string;
      let cls: Function | undefined;
      let version = o.version;
      if (typeof m === 'string') {
        type = m;
      } else if (typeof m === 'function') {
        const info = getMessageInfo(m);
        if (!info) {
          throw new InvalidConfigurationError(
            `${origin} subscribes to class ${m.name}, which has no message type: decorate ${m.name} with @Message('${m.name}')`,
          );
        }
        type = info.type;
        cls = m;
        version = version ?? info.version;
      } else {
        throw new InvalidConfigurationError(
          `${origin}: @Subscribe takes a type name or a @Message class, got ${String(m)}`,
        );
      }
      version = version ?? 1;
      assertTypeAndVersion(type, version, `@Subscribe on ${origin}`);
      sub.routes.set(type, { version, cls, invoke });
    }
  }
}
