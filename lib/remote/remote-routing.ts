import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { DuplicateHandlerError } from '../errors/duplicate-handler.error';
import { declaredMessageClasses, getMessageInfo } from '../message/message-type';
import { Command, Query } from '../message/command-query';
import type { MessageEnvelope } from '../message/envelope';
import type { HandlerRegistry, RequestHandlerEntry, SubscriberRoute } from '../discovery/handler.registry';
import type { ResolvedRemoteOptions } from './remote-options';
import type { ResponderRoute } from './query.responder';

/** One routed message type. */
export interface RoutedType {
  type: string;
  version: number;
  endpoint: string;
  /** The `@Message` class, when routed by class (or declared with `endpoint`). */
  cls?: Function;
}

/**
 * The routing table: every type routed to an endpoint, from `@Message(..., { endpoint })` and
 * `remote.routes`. Throws `InvalidConfigurationError` when a type is routed to two endpoints or a
 * routed class has no `@Message` type.
 */
export function routingTable(options: ResolvedRemoteOptions): Map<string, RoutedType> {
  const table = new Map<string, RoutedType>();
  const add = (route: RoutedType, where: string) => {
    const existing = table.get(route.type);
    if (existing !== undefined && existing.endpoint !== route.endpoint) {
      throw new InvalidConfigurationError(
        `"${route.type}" is routed to both "${existing.endpoint}" and "${route.endpoint}" (${where}): a command or query has one endpoint`,
      );
    }
    if (existing === undefined || (existing.cls === undefined && route.cls !== undefined)) table.set(route.type, route);
  };
  for (const cls of declaredMessageClasses()) {
    const info = getMessageInfo(cls);
    if (info?.endpoint !== undefined) {
      add({ type: info.type, version: info.version, endpoint: info.endpoint, cls }, `@Message on ${cls.name}`);
    }
  }
  for (const { endpoint, message } of options.routes) {
    if (typeof message === 'string') {
      add({ type: message, version: 1, endpoint }, 'remote.routes');
      continue;
    }
    const info = getMessageInfo(message);
    if (info === undefined) {
      throw new InvalidConfigurationError(
        `remote.routes.${endpoint}: class ${message.name} has no message type: decorate it with @Message('${endpoint}.${message.name}') ` +
          '(the type names it on the wire, so it must not depend on the class name)',
      );
    }
    add({ type: info.type, version: info.version, endpoint, cls: message }, 'remote.routes');
  }
  return table;
}

/** The local handler of `type` in `map`, by type name or by a class of that type. */
function localHandler(
  map: Map<Function | string, RequestHandlerEntry>,
  route: RoutedType,
): RequestHandlerEntry | undefined {
  const byType = map.get(route.type);
  if (byType !== undefined) return byType;
  if (route.cls !== undefined) return map.get(route.cls);
  for (const entry of map.values()) if (entry.type === route.type) return entry;
  return undefined;
}

/** `command` or `query` for a class extending `Command` or `Query`; undefined when it could be either. */
function kindOf(cls: Function | undefined): 'command' | 'query' | undefined {
  const proto: unknown = cls?.prototype;
  if (proto instanceof Command) return 'command';
  if (proto instanceof Query) return 'query';
  return undefined;
}

/** The class a handler entry was registered under, if any. */
function classOf(map: Map<Function | string, RequestHandlerEntry>, entry: RequestHandlerEntry): Function | undefined {
  for (const [key, e] of map) if (e === entry && typeof key === 'function') return key;
  return undefined;
}

/** How routed messages leave this service. */
export interface RemoteSenders {
  command(route: RoutedType): (envelope: MessageEnvelope, options: object | undefined) => Promise<unknown>;
  query(route: RoutedType): (envelope: MessageEnvelope, options: object | undefined) => Promise<unknown>;
}

/** What this service accepts from others. */
export interface AcceptedRoutes {
  /** Routes of the `commands` subscriber. */
  commands: Map<string, SubscriberRoute>;
  /** Routes of the query responder. */
  queries: Map<string, ResponderRoute>;
  /** Endpoints this service sends queries to (a reply channel is needed). */
  queryEndpoints: Set<string>;
}

/** This service as an endpoint: which routed endpoints are its own. */
export interface OwnEndpoint {
  /** Its queue prefix (`rabbitmq.queuePrefix`, else `serviceName`). */
  prefix: string;
  /** Whether a route's endpoint names this service. */
  is(endpoint: string): boolean;
  /** The endpoint for errors and logs (both forms when they differ). */
  describe(endpoint: string): string;
}

/**
 * Applies the routing table to the handlers found in this service (`own` is its endpoint):
 * routed-away types get a sending entry in `CommandBus`'s and `QueryBus`'s maps (a local handler
 * for one is a startup error), routed-here types with a local handler are accepted from other
 * services. Returns what this service accepts.
 */
export function applyRoutes(
  registry: HandlerRegistry,
  table: Map<string, RoutedType>,
  own: OwnEndpoint,
  senders: RemoteSenders,
): AcceptedRoutes {
  const accepted: AcceptedRoutes = { commands: new Map(), queries: new Map(), queryEndpoints: new Set() };
  for (const route of table.values()) {
    const command = localHandler(registry.commands, route);
    const query = localHandler(registry.queries, route);
    if (!own.is(route.endpoint)) {
      const local = command ?? query;
      if (local !== undefined) {
        throw new InvalidConfigurationError(
          `"${route.type}" is routed to service ${own.describe(route.endpoint)} but ${local.handlerName} handles it ` +
            `in this service ("${own.prefix}") too: remove the handler here, or the route (remote.routes / @Message ` +
            'endpoint), or map that endpoint to this service with remote.endpoints',
        );
      }
      const entry = (send: RequestHandlerEntry['send']): RequestHandlerEntry => ({
        type: route.type,
        version: route.version,
        execute: () => undefined,
        handlerName: `remote endpoint ${own.describe(route.endpoint)}`,
        transactional: false,
        send,
      });
      // a class extending Command or Query goes on that bus only (on the other one it has no
      // handler, as in one service); a type name or a plain class can be either
      const kind = kindOf(route.cls);
      if (kind !== 'query') {
        const commandEntry = entry(senders.command(route));
        registry.commands.set(route.type, commandEntry);
        if (route.cls !== undefined) registry.commands.set(route.cls, commandEntry);
      }
      if (kind !== 'command') {
        const queryEntry = entry(senders.query(route));
        registry.queries.set(route.type, queryEntry);
        if (route.cls !== undefined) registry.queries.set(route.cls, queryEntry);
        accepted.queryEndpoints.add(route.endpoint);
      }
      continue;
    }
    if (command !== undefined && query !== undefined) {
      throw new DuplicateHandlerError('command', route.type, [
        command.handlerName,
        `${query.handlerName} (a query handler)`,
      ]);
    }
    if (command !== undefined) {
      const cls = route.cls ?? classOf(registry.commands, command);
      accepted.commands.set(route.type, { version: command.version, cls, invoke: command.execute });
    }
    if (query !== undefined) {
      const cls = route.cls ?? classOf(registry.queries, query);
      accepted.queries.set(route.type, { version: query.version, cls, execute: query.execute });
    }
  }
  return accepted;
}
