import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { assertKnownKeys } from '../config/known-keys';
import type { MessageClass } from '../message/message-type';
import { ENDPOINT_NAME, resolveEndpointPrefixes, type EndpointPrefixes } from './remote-endpoints';

/**
 * Commands and queries across services (option `remote` of `MessagingModule.forRoot`).
 *
 * A command or query class (or type name) routed to an endpoint is handled by the service of that
 * name: `CommandBus.execute` sends it (durably, through the outbox when it is on) and resolves once
 * it is stored; `QueryBus.execute` sends it as a request and resolves to the reply. The service
 * whose endpoint it is handles it with its ordinary `@CommandHandler` / `@QueryHandler`.
 * Routes may also be declared on the class: `@Message('shipping.ShipOrder', { endpoint: 'shipping' })`.
 */
export interface RemoteOptions {
  /**
   * Routes by endpoint: `{ shipping: [ShipOrder, GetShipment, 'shipping.CancelShipment'] }`. An
   * endpoint is the receiving service's `serviceName` (with RabbitMQ: its `queuePrefix` when set),
   * or a name that `endpoints` maps to that prefix.
   * Give every service the same routes (a shared contracts module): the receiver accepts from other
   * services exactly the classes routed to its own name.
   */
  routes?: Record<string, Array<MessageClass | string>>;
  /**
   * Queue prefixes of endpoints whose service runs under another prefix in this deployment:
   * `{ shipping: 'staging-shipping' }` sends what is routed to `shipping` (in `routes` or
   * `@Message(..., { endpoint })`) to `staging-shipping.commands` / `staging-shipping.queries`.
   * Unlisted endpoints are their own prefix. Environment: `MESSAGING_REMOTE_ENDPOINTS=shipping=staging-shipping,…`.
   * A service also takes the routes of the endpoints mapped to its own prefix (and of its
   * `serviceName`) as its own, so the same map can be given to every service of a deployment.
   */
  endpoints?: Record<string, string>;
  /** Default time a routed query waits for its reply, ms (per call: `execute(q, { timeoutMs })`). Default 10000. */
  queryTimeoutMs?: number;
  /** Largest reply accepted and sent, bytes. Default: `maxMessageBytes`. */
  maxReplyBytes?: number;
  /** Send the stack head of a failed query handler to the caller (`RemoteHandlerError.remoteStack`). Default false. */
  sendErrorStack?: boolean;
}

/** `RemoteOptions` after defaults. */
export interface ResolvedRemoteOptions {
  routes: Array<{ endpoint: string; message: MessageClass | string }>;
  /** `endpoints`, checked: endpoint → queue prefix. */
  endpoints: EndpointPrefixes;
  queryTimeoutMs: number;
  maxReplyBytes: number;
  sendErrorStack: boolean;
}

/** Highest query timeout: 24 h. */
const MAX_TIMEOUT_MS = 24 * 3600_000;

/** Checks a query timeout (module default or per call); throws `InvalidConfigurationError`. */
export function checkTimeout(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    throw new InvalidConfigurationError(
      `${name} must be an integer from 1 to ${MAX_TIMEOUT_MS} (ms), got ${String(value)}`,
    );
  }
  return value;
}

/** Fills defaults and checks `remote`; throws `InvalidConfigurationError` naming what is wrong. */
export function resolveRemoteOptions(
  remote: RemoteOptions | undefined,
  maxMessageBytes: number,
): ResolvedRemoteOptions {
  const o = remote ?? {};
  if (typeof o !== 'object' || o === null) throw new InvalidConfigurationError('remote must be an object');
  assertKnownKeys(o, ['routes', 'endpoints', 'queryTimeoutMs', 'maxReplyBytes', 'sendErrorStack'], 'remote');
  const routes: ResolvedRemoteOptions['routes'] = [];
  if (o.routes !== undefined) {
    if (typeof o.routes !== 'object' || o.routes === null || Array.isArray(o.routes)) {
      throw new InvalidConfigurationError('remote.routes must be an object: { <endpoint>: [MessageClass | "type"] }');
    }
    for (const [endpoint, messages] of Object.entries(o.routes)) {
      if (!ENDPOINT_NAME.test(endpoint)) {
        throw new InvalidConfigurationError(
          `remote.routes: endpoint ${JSON.stringify(endpoint)} must be 1-100 letters, digits, ".", "_", ":" or "-"`,
        );
      }
      if (!Array.isArray(messages)) {
        throw new InvalidConfigurationError(
          `remote.routes.${endpoint} must be an array of message classes or type names`,
        );
      }
      for (const message of messages) {
        if (typeof message !== 'string' && typeof message !== 'function') {
          throw new InvalidConfigurationError(
            `remote.routes.${endpoint}: ${String(message)} is neither a message class nor a type name`,
          );
        }
        routes.push({ endpoint, message });
      }
    }
  }
  if (o.sendErrorStack !== undefined && typeof o.sendErrorStack !== 'boolean') {
    throw new InvalidConfigurationError('remote.sendErrorStack must be true or false');
  }
  const maxReplyBytes = o.maxReplyBytes ?? maxMessageBytes;
  if (!Number.isInteger(maxReplyBytes) || maxReplyBytes < 256 || maxReplyBytes > 128 * 1024 * 1024) {
    throw new InvalidConfigurationError(`remote.maxReplyBytes must be an integer from 256 to ${128 * 1024 * 1024}`);
  }
  return {
    routes,
    endpoints: resolveEndpointPrefixes(o.endpoints),
    queryTimeoutMs: checkTimeout(o.queryTimeoutMs ?? 10_000, 'remote.queryTimeoutMs'),
    maxReplyBytes,
    sendErrorStack: o.sendErrorStack ?? false,
  };
}
