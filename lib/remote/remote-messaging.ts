import { Inject, Injectable, Logger } from '@nestjs/common';
import { MESSAGING_OPTIONS, MESSAGING_TRANSPORT } from '../messaging.tokens';
import type { ResolvedMessagingOptions } from '../config/messaging-options.interface';
import type { MessageTransport, OutboundMessage } from '../transport/transport.interface';
import { HandlerRegistry } from '../discovery/handler.registry';
import { EventBus } from '../buses/event.bus';
import { MessageValidator } from '../message/message.validator';
import { UpcasterRegistry } from '../message/upcaster.registry';
import { encodeEnvelope } from '../message/cloudevents.codec';
import { getMessageInfo } from '../message/message-type';
import { MessagingTracing } from '../tracing/messaging-tracing.service';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { applyRoutes, routingTable, type AcceptedRoutes, type OwnEndpoint, type RemoteSenders } from './remote-routing';
import { describeEndpoint, queuePrefixOf } from './remote-endpoints';
import { RemoteQueryClient, type RemoteQueryCallOptions } from './remote-query.client';
import { QueryResponder } from './query.responder';
import { requestReplyFor } from './request-reply.factory';
import { COMMANDS_SUBSCRIBER, QUERIES_QUEUE, type RequestReplyTransport } from './request-reply.interface';
import type { CommandOptions } from './call-options';

/** What `RemoteMessaging.stats()` reports. */
export interface RemoteQueryStats {
  /** Routed queries waiting for their reply. */
  inFlight: number;
  /** Replies dropped because no pending request matched them. */
  strayReplies: number;
}

/**
 * Commands and queries across services (option `remote`): applies the routes at module init,
 * adds the `commands` subscriber of a service that accepts routed commands (its queue
 * `<service>.commands`: inbox, retries, dead letters and replay as for events), and runs the
 * query client and responder from bootstrap to shutdown. Injectable: `stats()` gives the routed
 * queries in flight and the stray replies dropped.
 */
@Injectable()
export class RemoteMessaging {
  private readonly logger = new Logger('MessagingRemote');
  private accepted?: AcceptedRoutes;
  private requestReply?: RequestReplyTransport;
  /** @internal Sends routed queries (set at bootstrap when this service queries another). */
  client?: RemoteQueryClient;
  /** Why there is no client although routes lead away (the transport has no request/reply). */
  private clientError?: Error;

  constructor(
    @Inject(MESSAGING_OPTIONS) private readonly options: ResolvedMessagingOptions,
    @Inject(MESSAGING_TRANSPORT) private readonly transport: MessageTransport,
    private readonly registry: HandlerRegistry,
    private readonly events: EventBus,
    private readonly validator: MessageValidator,
    private readonly upcasters: UpcasterRegistry,
    private readonly tracing: MessagingTracing,
  ) {}

  /**
   * Routed queries of this service: how many wait for their reply now, and how many replies
   * matched no pending request (late after a timeout, duplicated, or unknown) and were dropped.
   */
  stats(): RemoteQueryStats {
    return { inFlight: this.client?.inFlight ?? 0, strayReplies: this.client?.strayReplies ?? 0 };
  }

  /** This service's endpoint: its RabbitMQ queue prefix, else its service name. */
  get endpoint(): string {
    const o = this.options;
    return (o.transport === 'rabbitmq' ? o.rabbitmq?.queuePrefix : undefined) ?? o.serviceName;
  }

  /** An endpoint for errors and logs: `"shipping"`, or `"shipping" (queue prefix "staging-shipping")`. */
  private describe(endpoint: string): string {
    return describeEndpoint(endpoint, queuePrefixOf(this.options.remote.endpoints, endpoint));
  }

  /**
   * This service as an endpoint: a route's endpoint is its own when `remote.endpoints` maps it to
   * this service's queue prefix, or, unmapped, when it is that prefix or this service's name.
   */
  private own(): OwnEndpoint {
    const prefix = this.endpoint;
    const { serviceName, remote } = this.options;
    const mapped = (e: string) => Object.prototype.hasOwnProperty.call(remote.endpoints, e);
    return {
      prefix,
      is: (e) => queuePrefixOf(remote.endpoints, e) === prefix || (!mapped(e) && e === serviceName),
      describe: (e) => this.describe(e),
    };
  }

  /** @internal Applies the routes to the handlers found (after discovery). Throws on conflicting declarations. */
  prepare(): void {
    const table = routingTable(this.options.remote);
    if (table.size === 0) return;
    const endpoints = this.options.remote.endpoints;
    const senders: RemoteSenders = {
      command: (route) => (envelope, options) => {
        const prefix = queuePrefixOf(endpoints, route.endpoint);
        const message: OutboundMessage = {
          envelope,
          body: encodeEnvelope(envelope),
          destination: COMMANDS_SUBSCRIBER,
          endpoint: prefix,
        };
        // the outbox stores the endpoint as routed, and its relay maps it again (remote.endpoints)
        if (prefix !== route.endpoint) message.endpointName = route.endpoint;
        const manager = (options as CommandOptions | undefined)?.manager;
        return this.events.publisher.publish([message], manager !== undefined ? { manager } : {});
      },
      query: (route) => (envelope, options) => {
        if (this.client === undefined) {
          return Promise.reject(
            this.clientError ??
              new InvalidConfigurationError(
                `query "${route.type}" to ${this.describe(route.endpoint)}: the query client is not started`,
              ),
          );
        }
        return this.client.request(route.endpoint, envelope, options as RemoteQueryCallOptions | undefined);
      },
    };
    const accepted = applyRoutes(this.registry, table, this.own(), senders);
    for (const name of Object.keys(endpoints)) {
      if (![...table.values()].some((r) => r.endpoint === name)) {
        this.logger.log(`remote.endpoints.${name}: no route names endpoint "${name}" in this service (unused)`);
      }
    }
    this.accepted = accepted;
    // upcasters declared on the accepted classes (the explorer registered those of subscribers only)
    for (const [type, route] of [...accepted.commands, ...accepted.queries]) {
      const upcasters = route.cls ? getMessageInfo(route.cls)?.upcasters : undefined;
      for (const [from, fn] of Object.entries(upcasters ?? {})) this.upcasters.register(type, Number(from), fn);
    }
    // the two queue names of routed messages are reserved once anything is routed (on RabbitMQ a
    // subscriber of that name would declare the queue with other arguments)
    for (const reserved of [COMMANDS_SUBSCRIBER, QUERIES_QUEUE]) {
      if (this.registry.subscribers.has(reserved)) {
        throw new InvalidConfigurationError(
          `a subscriber is named "${reserved}", the name of the queue of routed ${reserved}: rename it with @Subscribe(..., { name })`,
        );
      }
    }
    if (accepted.commands.size > 0) {
      const o = this.options;
      this.registry.subscribers.set(COMMANDS_SUBSCRIBER, {
        name: COMMANDS_SUBSCRIBER,
        routes: accepted.commands,
        retry: o.retry,
        concurrency: o.concurrency,
        timeoutMs: o.handlerTimeoutMs,
        inbox: o.inboxByDefault,
        groupSize: o.inboxGroupSize,
        origin: 'routed commands',
        explicitName: true,
        kind: 'command',
      });
    }
  }

  /** @internal Starts the query client and responder, when this service sends or answers routed queries. */
  async start(): Promise<void> {
    const accepted = this.accepted;
    if (accepted === undefined || (accepted.queries.size === 0 && accepted.queryEndpoints.size === 0)) return;
    let rr: RequestReplyTransport;
    try {
      rr = this.requestReply = requestReplyFor(this.transport, this.endpoint);
    } catch (error) {
      // a transport without request/reply: fatal for a service that answers queries; for one that
      // only sends, its routed commands still work and each routed query fails with this error
      if (accepted.queries.size > 0) throw error;
      this.clientError = error as Error;
      this.logger.warn(`remote: ${(error as Error).message}; routed queries from this service will fail`);
      return;
    }
    const o = this.options;
    if (accepted.queryEndpoints.size > 0) {
      this.client = new RemoteQueryClient(rr, o.remote);
      await this.client.start();
    }
    if (accepted.queries.size > 0) {
      const responder = new QueryResponder({
        serviceName: o.serviceName,
        maxMessageBytes: o.maxMessageBytes,
        maxReplyBytes: o.remote.maxReplyBytes,
        sendErrorStack: o.remote.sendErrorStack,
        timeoutMs: o.handlerTimeoutMs,
        routes: accepted.queries,
        validator: this.validator,
        upcasters: this.upcasters,
        wrap: this.tracing.consumeWrapper,
      });
      await rr.respond(responder.answer, o.concurrency);
    }
    this.logger.log(
      `remote: accepts ${accepted.commands.size} command type(s) and ${accepted.queries.size} query type(s); ` +
        `sends queries to ${[...accepted.queryEndpoints].map((e) => this.describe(e)).join(', ') || 'no other service'}`,
    );
  }

  /** @internal Stops answering (in-flight answers finish within the drain time) and fails pending queries. */
  async stop(drainTimeoutMs: number): Promise<void> {
    this.client?.close();
    await this.requestReply?.close(drainTimeoutMs);
  }
}
