/**
 * The envelope every message travels in: its identity and metadata, plus the payload (`data`).
 *
 * It maps one-to-one onto a CloudEvents 1.0 structured JSON event (see `cloudevents.codec.ts`).
 */
export interface MessageEnvelope<T = unknown> {
  /** Unique id of this message (UUID v7 for messages we create). */
  id: string;
  /** Explicit type name, e.g. `OrderCreated`. Routing key on the broker. */
  type: string;
  /** Schema version of `data` (a positive integer). */
  version: number;
  /** When the message was created, ISO-8601 UTC. */
  time: string;
  /** Name of the service that created the message. */
  source: string;
  /** Id shared by every message of one business flow. */
  correlationId: string;
  /** Id of the message whose handling caused this one (absent for a flow's first message). */
  causationId?: string;
  /** W3C trace context of the producer, when a trace was active. */
  traceparent?: string;
  /** Optional ordering/partition key (aggregate id). */
  partitionKey?: string;
  /** Extra string headers (CloudEvents extension attributes, lowercase alphanumeric names). */
  headers: Record<string, string>;
  /** The payload. */
  data: T;
}
