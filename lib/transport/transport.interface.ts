import type { MessageEnvelope } from '../message/envelope';
import type { DeadLetterStore, DeadLetter } from '../dead-letter/dead-letter.interface';
import type { ErrorInfo } from '../errors/error-info';

/**
 * A message handed to a transport for publishing.
 */
export interface OutboundMessage {
  /** The envelope (identity, metadata and payload). */
  envelope: MessageEnvelope;
  /** The encoded body (CloudEvents structured JSON) — computed once by the caller. */
  body: string;
  /**
   * When set, deliver to this one subscriber of this service only (retries and replays),
   * instead of fanning out to every subscriber of `envelope.type`.
   */
  destination?: string;
  /**
   * With `destination`: the service (queue prefix) whose subscriber queue that is, for a command
   * routed to another service's `commands` queue. Default: this service.
   */
  endpoint?: string;
  /**
   * With `endpoint`: the endpoint as the routes name it, when `remote.endpoints` maps it to the
   * prefix in `endpoint`. The outbox stores this name and maps it again when it publishes the row
   * (so a row follows the configuration of the instance that publishes it). Transports use `endpoint`.
   */
  endpointName?: string;
  /** Delivery attempt number the receiving subscriber will see (1 for a first delivery). */
  attempt?: number;
  /** ISO time of the first failure, carried across retries. */
  firstFailureAt?: string;
  /**
   * Headers of a failed delivery that a retry carries (foreign headers within the transport's
   * budget, and its note of what was left out), set by `RetryScheduler` implementations.
   */
  carriedHeaders?: Record<string, unknown>;
  /**
   * For a transport that is not durable (`capabilities.durable` false): resolve `publish` only once
   * every subscriber has settled the message (handled, dead-lettered or its retry stored), and
   * reject if it is dropped unhandled. The outbox relay sets it, so a row is marked sent only when
   * its effects are safe. Durable transports ignore it (the broker confirm is enough).
   */
  awaitHandling?: boolean;
}

/**
 * A message as it reaches a subscriber, before decoding.
 */
export interface InboundMessage {
  /** The raw body, as published. */
  body: Buffer | string;
  /** Delivery attempt (1 = first delivery), from our own header; never from `x-death`. */
  attempt: number;
  /** ISO time of the first failure, when this is a retry. */
  firstFailureAt?: string;
  /** Transport-specific headers (informational). */
  headers: Record<string, unknown>;
  /**
   * The headers a retry of this delivery carries (foreign headers within the transport's budget,
   * plus a note of what was left out), computed on demand; absent when the transport has none.
   */
  carriedHeaders?: () => Record<string, unknown>;
  /** The content type the transport carried (AMQP `content-type`), checked before decoding. */
  contentType?: string;
  /** The content encoding the transport carried (AMQP `content-encoding`): none is accepted. */
  contentEncoding?: string;
  /** The queue or channel it came from (informational, for dead-letter records). */
  source: string;
  /**
   * Aborted when the transport stops taking deliveries (shutdown). A delivery whose handler has not
   * started by then (still waiting, e.g. queued for a commit group) is not started any more: the
   * pipeline answers `{ status: 'not-started' }`. A handler already running is not affected.
   */
  stopping?: AbortSignal;
}

/** Error details recorded with a retry or a dead letter. */
export type { ErrorInfo } from '../errors/error-info';

/**
 * What the consumer pipeline decided about one delivery; the transport carries it out,
 * then acknowledges the original delivery. `not-started`: the handler never ran (the delivery's
 * `stopping` signal aborted first); the transport returns the message to its queue as it was,
 * without counting an attempt.
 */
export type DeliveryOutcome =
  | { status: 'ack' }
  | { status: 'not-started' }
  | {
      status: 'retry';
      /** Delay before the next attempt, in ms. */
      delayMs: number;
      /** The attempt number of the redelivery (current attempt + 1). */
      nextAttempt: number;
      error: ErrorInfo;
      firstFailureAt: string;
    }
  | {
      status: 'dead-letter';
      error: ErrorInfo;
      /** Attempts made, including the last one. */
      attempts: number;
      firstFailureAt: string;
      lastFailureAt: string;
      /** Parsed envelope, when the body could be decoded. */
      envelope?: MessageEnvelope;
    };

/** Called by a transport for every delivery to a subscriber. Never rejects. */
export type DeliveryHandler = (message: InboundMessage) => Promise<DeliveryOutcome>;

/** A subscriber as the transport sees it: one queue (or channel) per subscriber. */
export interface SubscriberDescriptor {
  /** Name unique within the service, e.g. `InventoryService.onOrderCreated`. */
  name: string;
  /** Message types routed to it. */
  types: string[];
  /** How many deliveries it may handle at once on this instance. */
  concurrency: number;
  /** Retry delays the subscriber's policy may ask for (lets a broker declare delay levels up front). */
  retryDelaysMs: number[];
}

/** Depth and consumers of one queue. */
export interface QueueStats {
  /** Subscriber name, or `dead-letter` for the dead-letter queue. */
  subscriber: string;
  /** The queue name on the transport. */
  queue: string;
  /** Messages ready in the queue. */
  depth: number;
  /** Active consumers. */
  consumers: number;
}

/** What a transport can do; lets the contract suite and the module adapt. */
export interface TransportCapabilities {
  /** Several app instances can consume one subscriber's queue and share the work. */
  competingConsumers: boolean;
  /** Messages survive a process restart. */
  durable: boolean;
}

/** Given by the module to the transport when it connects. */
export interface TransportContext {
  /** The service name (queue prefix default, CloudEvents `source`). */
  serviceName: string;
  /** Called after a message has been stored as a dead letter. */
  onDeadLetter(deadLetter: DeadLetter): void;
}

/**
 * The transport contract. A transport moves encoded messages between publishers and
 * subscribers; the consumer pipeline (decoding, validation, inbox, retries decision) is not its
 * business. Every transport must pass the shared contract suite in `test/contract`.
 */
export interface MessageTransport {
  /** Short name, e.g. `memory` or `rabbitmq`. */
  readonly name: string;
  /** What this transport supports. */
  readonly capabilities: TransportCapabilities;
  /** Dead letters kept by this transport. */
  readonly deadLetters: DeadLetterStore;
  /** Connects and declares the publishing side. Called once, before anything else. */
  connect(context: TransportContext): Promise<void>;
  /**
   * Publishes one message. Resolves only once the transport has taken responsibility for it
   * (broker confirm); rejects otherwise — the caller keeps it (outbox) or reports the error.
   */
  publish(message: OutboundMessage): Promise<void>;
  /** Declares the subscriber's queue and bindings and starts consuming it. */
  subscribe(subscriber: SubscriberDescriptor, handler: DeliveryHandler): Promise<void>;
  /** Queue depth and consumer count per subscriber queue and for the dead-letter queue. */
  stats(): Promise<QueueStats[]>;
  /** Whether the transport is currently connected (health). */
  isConnected(): boolean;
  /** Each of the transport's connections by role (RabbitMQ: `publisher`, `consumer`), for health. */
  connections?(): Record<string, 'up' | 'down'>;
  /**
   * Stops consuming, waits for in-flight handlers (up to `drainTimeoutMs`) and closes.
   * Publishing is still possible while draining.
   */
  close(drainTimeoutMs: number): Promise<void>;
}
