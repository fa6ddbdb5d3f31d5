import type { Logger } from '@nestjs/common';
import type { DiscoveryService, ModuleRef } from '@nestjs/core';
import type { EventBus } from '../buses/event.bus';
import type { CommandBus } from '../buses/command.bus';
import type { QueryBus } from '../buses/query.bus';
import { currentMessageContext } from '../context/message-context';
import { trackPendingPublish } from '../context/pending-publishes';
import { CQRS_SAGA_METADATA } from '../decorators/metadata.keys';

/* eslint-disable @typescript-eslint/no-require-imports */

/** What `@nestjs/cqrs`' `EventBus` hands its events to (its `IEventPublisher`). */
export interface CqrsEventPublisherLike {
  publish(event: object): Promise<void>;
  publishAll(events: object[]): Promise<void>;
}

/**
 * The publisher given to `@nestjs/cqrs`' `EventBus`: its events (and `AggregateRoot.commit()`'s)
 * go through our `EventBus`. cqrs callers do not await: inside a transaction of the message
 * context the publish is settled before that transaction commits (so its outbox rows commit with
 * it); elsewhere a failure is logged.
 * @internal
 */
export function cqrsEventPublisher(ours: EventBus, logger: Logger): CqrsEventPublisherLike {
  const send = (events: object[], what: string): Promise<void> => {
    const p = ours.publishAll(events);
    const transaction = currentMessageContext()?.transaction;
    if (transaction !== undefined) trackPendingPublish(transaction, p);
    p.catch((err: Error) => logger.error(`@nestjs/cqrs EventBus.${what} failed: ${err?.message}`));
    return p;
  };
  return { publish: (event) => send([event], 'publish'), publishAll: (events) => send([...events], 'publishAll') };
}

/** Makes a `@nestjs/cqrs` `CommandBus` or `QueryBus` dispatch through ours (metadata, validation). @internal */
export function routeCqrsRequests(
  theirs: { execute: unknown; publisher?: { publish(message: object): unknown } },
  ours: CommandBus | QueryBus,
): void {
  theirs.execute = (message: object) => {
    theirs.publisher?.publish(message); // cqrs buses are observables of what they execute
    return ours.dispatcher.dispatch(message);
  };
}

/** `Class.property` of every `@Saga()` among the providers. @internal */
export function findSagas(discovery: DiscoveryService): string[] {
  const names: string[] = [];
  for (const { metatype } of discovery.getProviders()) {
    if (typeof metatype !== 'function') continue;
    const keys = Reflect.getMetadata(CQRS_SAGA_METADATA, metatype) as Array<string | symbol> | undefined;
    for (const key of keys ?? []) names.push(`${metatype.name}.${String(key)}`);
  }
  return [...new Set(names)];
}

/**
 * When the app imports `@nestjs/cqrs`' CqrsModule beside `MessagingModule.forRoot()`: routes its
 * `EventBus.publish()` (and `AggregateRoot.commit()`), `CommandBus.execute()` and
 * `QueryBus.execute()` through ours, so existing code gets metadata, the outbox and durable
 * delivery; its `@EventsHandler` classes already run as our subscribers. Its sagas would no longer
 * see events: each is named in a startup warning pointing to `MessagingModule.forCqrs()`.
 */
export function bridgeCqrsEventBus(
  moduleRef: ModuleRef,
  discovery: DiscoveryService,
  ours: { events: EventBus; commands: CommandBus; queries: QueryBus },
  logger: Logger,
): boolean {
  let cqrs: { EventBus: Function; CommandBus: Function; QueryBus: Function } | undefined;
  try {
    cqrs = require('@nestjs/cqrs');
  } catch {
    return false;
  }
  const find = <T>(token: Function): T | undefined => {
    try {
      return moduleRef.get(token as never, { strict: false }) as T;
    } catch {
      return undefined;
    }
  };
  const theirs = find<{ publisher: unknown }>(cqrs!.EventBus);
  if (!theirs) return false;
  theirs.publisher = cqrsEventPublisher(ours.events, logger);
  const commands = find<{ execute: unknown }>(cqrs!.CommandBus);
  if (commands) routeCqrsRequests(commands, ours.commands);
  const queries = find<{ execute: unknown }>(cqrs!.QueryBus);
  if (queries) routeCqrsRequests(queries, ours.queries);
  logger.log('@nestjs/cqrs EventBus, CommandBus and QueryBus bridged: they go through nestjs-messaging');
  const sagas = findSagas(discovery);
  if (sagas.length > 0) {
    logger.warn(
      `@Saga ${sagas.join(', ')} will not see events: CqrsModule's event stream is bridged to nestjs-messaging. ` +
        'Replace CqrsModule.forRoot() and MessagingModule.forRoot(...) with MessagingModule.forCqrs(...), ' +
        'which feeds sagas from the messaging pipeline',
    );
  }
  return true;
}
