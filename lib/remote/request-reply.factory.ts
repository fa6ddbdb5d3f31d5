import type { MessageTransport } from '../transport/transport.interface';
import { InMemoryTransport } from '../transport/in-memory/in-memory.transport';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { InMemoryRequestReply } from './in-memory.request-reply';
import type { RequestReplyTransport } from './request-reply.interface';

/* eslint-disable @typescript-eslint/no-require-imports */

/**
 * The request/reply of a connected transport, for routed queries of the service whose endpoint is
 * `endpoint`: in memory over its broker, RabbitMQ with direct reply-to (loaded only then), or a
 * custom transport's own `requestReply()`. Throws `InvalidConfigurationError` for a transport without.
 */
export function requestReplyFor(transport: MessageTransport, endpoint: string): RequestReplyTransport {
  if (transport instanceof InMemoryTransport) return new InMemoryRequestReply(transport.broker, endpoint);
  if (transport.name === 'rabbitmq') {
    const { RabbitMqRequestReply } = require('./rabbitmq.request-reply') as typeof import('./rabbitmq.request-reply');
    return new RabbitMqRequestReply(transport as never);
  }
  const own = (transport as { requestReply?: () => RequestReplyTransport }).requestReply;
  if (typeof own === 'function') return own.call(transport);
  throw new InvalidConfigurationError(
    `routed queries need request/reply, which the "${transport.name}" transport does not offer (give it a requestReply() method)`,
  );
}
