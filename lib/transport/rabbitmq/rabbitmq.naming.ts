import { InvalidConfigurationError } from '../../errors/invalid-configuration.error';
import type { OutboundMessage } from '../transport.interface';

/** Header names this transport writes. Our own, so nothing depends on the broker's `x-death`. */
export const RABBITMQ_HEADERS = {
  /** Delivery attempt the receiving subscriber sees (1 = first delivery). */
  attempt: 'x-messaging-attempt',
  /** ISO time of the first failure, carried across retries. */
  firstFailureAt: 'x-messaging-first-failure-at',
  /** Last error of a scheduled retry (`Name: message`, informational). */
  lastError: 'x-messaging-last-error',
  /**
   * Delay level of a retry; routes it to its delay queue through the headers exchange.
   * Deliberately without `x-`: RabbitMQ's headers exchange ignores `x-` headers when matching.
   */
  delay: 'messaging-delay-ms',
  /** Dead-letter record id. */
  deadLetterId: 'x-messaging-dead-letter-id',
  errorName: 'x-messaging-error-name',
  errorMessage: 'x-messaging-error-message',
  errorStack: 'x-messaging-error-stack',
  subscriber: 'x-messaging-subscriber',
  sourceQueue: 'x-messaging-source-queue',
  attempts: 'x-messaging-attempts',
  lastFailureAt: 'x-messaging-last-failure-at',
  deadLetteredAt: 'x-messaging-dead-lettered-at',
  /**
   * Times in a row the delivery came back from the broker marked `redelivered` (its consumer died,
   * its channel closed or `consumer_timeout` hit before it was settled); reset by a retry.
   */
  redeliveries: 'x-messaging-redeliveries',
  /**
   * Set when foreign headers were left out of a retry or dead letter because they exceeded the
   * carried-headers budget (names and sizes of what was dropped). Kept across later lives.
   */
  headersDropped: 'x-messaging-headers-dropped',
} as const;

/** Every header the library writes for itself: believed only on its own routes (see `trustedHeaders`). */
export const INTERNAL_HEADERS: readonly string[] = Object.values(RABBITMQ_HEADERS);

/** Headers describing a previous life of a message, dropped when it is retried or replayed. */
export const TRANSIENT_HEADERS: readonly string[] = [
  ...Object.values(RABBITMQ_HEADERS).filter((name) => name !== RABBITMQ_HEADERS.headersDropped),
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
];

const MAX_NAME_BYTES = 255;
const RESERVED_SUBSCRIBER = /^(dead-letter|retry)(\.|$)/;

/** Names of everything one service declares, derived from the queue prefix. */
export class RabbitMqNaming {
  constructor(
    /** The events topic exchange (shared by every service). */
    readonly eventsExchange: string,
    /** The service's prefix (default: the service name). */
    readonly prefix: string,
  ) {}

  /** Headers exchange routing retries to their delay queue. */
  get retryExchange(): string {
    return `${this.prefix}.retry`;
  }

  /** The service's dead-letter queue (one per service; records name the subscriber). */
  get deadLetterQueue(): string {
    return `${this.prefix}.dead-letter`;
  }

  /**
   * Never holds messages: an exclusive consumer on it is the mutex of dead-letter operations, held
   * for a whole list/replay/purge (released with the channel, also if the process dies).
   */
  get deadLetterLock(): string {
    return `${this.prefix}.dead-letter.lock`;
  }

  /** Delay queue of one level. */
  delayQueue(delayMs: number): string {
    return `${this.prefix}.retry.${delayMs}ms`;
  }

  /** The durable queue of one subscriber. Throws for names that would clash or are too long. */
  subscriberQueue(subscriber: string): string {
    if (typeof subscriber !== 'string' || subscriber.length === 0 || RESERVED_SUBSCRIBER.test(subscriber)) {
      throw new InvalidConfigurationError(
        `subscriber name ${JSON.stringify(subscriber)} is not usable with RabbitMQ: it must be non-empty and ` +
          `must not be "dead-letter" or start with "retry." (those queue names are reserved)`,
      );
    }
    const queue = `${this.prefix}.${subscriber}`;
    if (Buffer.byteLength(queue) > MAX_NAME_BYTES) {
      throw new InvalidConfigurationError(
        `queue name "${queue.slice(0, 80)}…" is longer than ${MAX_NAME_BYTES} bytes: shorten the subscriber name or queuePrefix`,
      );
    }
    return queue;
  }
}

/**
 * Where `publish()` sends a message: the events exchange with routing key = type, or, with
 * `destination`, only that subscriber's queue (default exchange, routing key = queue name) — of this
 * service, or of `endpoint` (a command routed to another service's `commands` queue).
 */
export function publishRoute(
  naming: RabbitMqNaming,
  message: OutboundMessage,
): { exchange: string; routingKey: string; targeted: boolean } {
  if (message.destination === undefined) {
    return { exchange: naming.eventsExchange, routingKey: message.envelope.type, targeted: false };
  }
  const owner = message.endpoint === undefined ? naming : new RabbitMqNaming(naming.eventsExchange, message.endpoint);
  return { exchange: '', routingKey: owner.subscriberQueue(message.destination), targeted: true };
}
