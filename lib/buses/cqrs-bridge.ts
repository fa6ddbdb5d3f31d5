import type { Logger } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';
import type { EventBus } from './event.bus';

/* eslint-disable @typescript-eslint/no-require-imports */

/**
 * When the app also imports `@nestjs/cqrs`' CqrsModule, routes its `EventBus.publish()` (and
 * `AggregateRoot.commit()`) through our `EventBus`, so existing code gets metadata, the outbox
 * and durable delivery; its `@EventsHandler` classes already run as our subscribers.
 * Sagas that listen to cqrs' in-process stream no longer see these events.
 */
export function bridgeCqrsEventBus(moduleRef: ModuleRef, ours: EventBus, logger: Logger): boolean {
  let cqrs: { EventBus: Function } | undefined;
  try {
    cqrs = require('@nestjs/cqrs');
  } catch {
    return false;
  }
  let theirs: { publisher: unknown } | undefined;
  try {
    theirs = moduleRef.get(cqrs!.EventBus as never, { strict: false });
  } catch {
    return false;
  }
  if (!theirs) return false;
  const publish = (event: object): Promise<void> => {
    const p = ours.publish(event);
    p.catch((err: Error) => logger.error(`@nestjs/cqrs EventBus.publish failed: ${err?.message}`));
    return p;
  };
  theirs.publisher = {
    publish,
    publishAll: (events: object[]) => {
      const p = ours.publishAll(events);
      p.catch((err: Error) => logger.error(`@nestjs/cqrs EventBus.publishAll failed: ${err?.message}`));
      return p;
    },
  };
  logger.log('@nestjs/cqrs EventBus bridged: its events go through nestjs-messaging');
  return true;
}
