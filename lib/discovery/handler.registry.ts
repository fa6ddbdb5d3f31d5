import type { ResolvedRetryPolicy } from '../consumer/retry.policy';
import type { MessageKind } from '../context/message-context';
import type { MessageEnvelope } from '../message/envelope';

/** A registered command or query handler. */
export interface RequestHandlerEntry {
  /** The message type name (for metadata and errors). */
  type: string;
  /** Schema version recorded in the metadata. */
  version: number;
  /** Calls the handler's `execute`. */
  execute: (message: unknown) => unknown;
  /** Handler class name, for errors. */
  handlerName: string;
  /** Run inside a transaction (undefined = module default). */
  transactional?: boolean;
  /**
   * Set for a command or query routed to another service: sends it there instead of `execute`
   * (given the envelope the dispatcher made, and the caller's options).
   */
  send?: (envelope: MessageEnvelope, options: object | undefined) => Promise<unknown>;
}

/** One message type a subscriber handles. */
export interface SubscriberRoute {
  /** Version the handler understands; older payloads are upcast to it. */
  version: number;
  /** When set, the payload is rebuilt as this class and validated. */
  cls?: Function;
  /** Calls the handler method. */
  invoke: (payload: unknown) => unknown;
}

/** A subscriber: one queue, one handler method (or cqrs `handle`), one retry policy. */
export interface SubscriberDefinition {
  /** Unique name within the service. */
  name: string;
  /** Routes by message type. */
  routes: Map<string, SubscriberRoute>;
  retry: ResolvedRetryPolicy;
  concurrency: number;
  timeoutMs: number;
  /** Use the processed-messages inbox. */
  inbox: boolean;
  /** Most deliveries committed together in one inbox transaction (1: each alone). */
  groupSize: number;
  /** Class and method, for logs and errors. */
  origin: string;
  /** Whether the name was given explicitly (`@Subscribe(..., { name })`) rather than derived from the class. */
  explicitName: boolean;
  /** What its messages are in the message context: `command` for a service's routed-command queue. Default `event`. */
  kind?: MessageKind;
}

/** Everything the explorer found, filled once at bootstrap and read by the buses. */
export class HandlerRegistry {
  /** Command handlers by message class or type name. */
  readonly commands = new Map<Function | string, RequestHandlerEntry>();
  /** Query handlers by message class or type name. */
  readonly queries = new Map<Function | string, RequestHandlerEntry>();
  /** Subscribers by name. */
  readonly subscribers = new Map<string, SubscriberDefinition>();

  /** Handler of a command or query object: by constructor first, then by its `type` field. */
  find(map: Map<Function | string, RequestHandlerEntry>, message: object): RequestHandlerEntry | undefined {
    const ctor = message.constructor;
    if (ctor !== Object && ctor !== undefined) {
      const byClass = map.get(ctor);
      if (byClass) return byClass;
    }
    const type = (message as { type?: unknown }).type;
    return typeof type === 'string' ? map.get(type) : undefined;
  }
}
