import type { ResolvedMessagingOptions } from '../config/messaging-options.interface';
import type { MessageTransport } from './transport.interface';
import { InMemoryTransport } from './in-memory/in-memory.transport';

/* eslint-disable @typescript-eslint/no-require-imports */

/** Builds the configured transport; RabbitMQ is loaded only when chosen (optional peer dependency). */
export function createTransport(options: ResolvedMessagingOptions): MessageTransport {
  const t = options.transport;
  if (t === 'memory') return new InMemoryTransport(options.inMemory.broker);
  if (t === 'rabbitmq') {
    const { RabbitMqTransport } =
      require('./rabbitmq/rabbitmq.transport') as typeof import('./rabbitmq/rabbitmq.transport');
    return new RabbitMqTransport(options.rabbitmq!);
  }
  return t;
}
