import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CQRS_EVENT_METADATA, CQRS_EVENTS_HANDLER_METADATA } from './metadata.keys';
import type { MessageClass } from '../message/message-type';

/** What an `@EventsHandler` class implements (the same shape as `@nestjs/cqrs`'s). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface IEventHandler<TEvent = any> {
  /** Handles one event; a throw (or rejection) is retried, then dead-lettered. */
  handle(event: TEvent): unknown;
}

/**
 * Marks a provider as the handler of one or more event classes, like `@nestjs/cqrs`'s
 * `@EventsHandler` (it writes the same metadata, so either package's module finds it). The class
 * runs as one subscriber named after it: its own queue, retries and dead letters. For a stable
 * queue name, several methods per class or type names, use `@Subscribe`.
 *
 * @example
 * ```ts
 * @EventsHandler(HeroKilledDragon)
 * export class KillCounter implements IEventHandler<HeroKilledDragon> {
 *   handle(event: HeroKilledDragon) { ... }
 * }
 * ```
 */
export function EventsHandler(...events: MessageClass[]): ClassDecorator {
  return (target) => {
    for (const event of events) {
      if (!Reflect.hasOwnMetadata(CQRS_EVENT_METADATA, event)) {
        Reflect.defineMetadata(CQRS_EVENT_METADATA, { id: randomUUID() }, event);
      }
    }
    Reflect.defineMetadata(CQRS_EVENTS_HANDLER_METADATA, events, target);
    Injectable()(target);
  };
}
