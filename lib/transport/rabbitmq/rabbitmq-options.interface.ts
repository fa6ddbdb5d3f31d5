import type { LoggerService } from '@nestjs/common';

/**
 * Socket and TLS options passed to amqplib's `connect` (and so to `net.connect` / `tls.connect`).
 * Use them with an `amqps://` URL: `ca`, `cert`, `key`, `passphrase`, `servername`,
 * `rejectUnauthorized`… Secrets given here are never logged.
 */
export interface RabbitMqSocketOptions {
  /** Trusted CA certificates (PEM). Default: Node's bundled CAs. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Client certificate (PEM) for mutual TLS. Default: none. */
  cert?: string | Buffer;
  /** Client private key (PEM) for mutual TLS. Default: none. */
  key?: string | Buffer;
  /** Passphrase of `key`. Default: none. */
  passphrase?: string;
  /** TLS server name (SNI) when it differs from the URL host. Default: the URL host. */
  servername?: string;
  /** Reject a server certificate that does not verify. Default: `true`; only disable for local tests. */
  rejectUnauthorized?: boolean;
  /** Any other `net`/`tls` socket option (e.g. `noDelay`, `keepAlive`). */
  [option: string]: unknown;
}

/** How queues are declared. */
export type RabbitMqQueueType = 'classic' | 'quorum';

/** What to do when the broker returns an event nobody is bound to (no subscriber queue for its type). */
export type UnroutableEventsBehaviour = 'warn' | 'reject';

/**
 * Options of the RabbitMQ transport (`transport: 'rabbitmq'`). Only `url` is required.
 * Validate them with {@link validateRabbitMqOptions} (the transport does it in its constructor).
 */
export interface RabbitMqTransportOptions {
  /**
   * Broker URL, `amqp://user:password@host:5672/vhost` or `amqps://…` for TLS
   * (env `MESSAGING_AMQP_URL`). Required. The password is masked in every log line and error.
   */
  url: string;
  /** Socket / TLS options for amqplib (see {@link RabbitMqSocketOptions}). Default: none. */
  socketOptions?: RabbitMqSocketOptions;
  /** Name of the durable topic exchange events are published to (routing key = event type). Default: `'messaging.events'`. */
  exchange?: string;
  /**
   * Prefix of every queue and service-level exchange this service declares:
   * `<prefix>.<subscriber>`, `<prefix>.retry`, `<prefix>.retry.<ms>ms`, `<prefix>.dead-letter`.
   * Default: the service name.
   */
  queuePrefix?: string;
  /**
   * Deliveries the broker may push ahead to one subscriber on this instance (AMQP prefetch per
   * consumer channel). Never below the subscriber's concurrency, which bounds how many handlers run
   * at once. Default: the subscriber's concurrency.
   */
  prefetch?: number;
  /**
   * Queue type of the subscriber, delay and dead-letter queues. `'quorum'` is replicated (a cluster
   * survives a node loss) and its delay queues dead-letter at-least-once. Changing it for an existing
   * queue gives a startup error (the module never deletes a queue). Default: `'classic'`.
   */
  queueType?: RabbitMqQueueType;
  /**
   * How long `publish` waits for the broker's confirm, including waiting for a reconnection, before
   * it rejects with `PublishTimeoutError` (the outbox then keeps the row). Default: `10000`.
   */
  publishConfirmTimeoutMs?: number;
  /** How long `connect()` waits for the first connection before it fails with `BrokerConnectionError`. Default: `10000`. */
  connectTimeoutMs?: number;
  /**
   * How long startup (both connections, the service topology, the publish channel) may take in
   * all, reconnections included — e.g. when the broker closes the connections right after they
   * opened. Past it, startup fails with `BrokerConnectionError` naming the connection that is
   * down; it never hangs. Default: `60000`.
   */
  startupTimeoutMs?: number;
  /** AMQP heartbeat in seconds: a dead peer is detected after about two missed beats. `0` disables. Default: `10`. */
  heartbeatSeconds?: number;
  /** Delay between reconnection attempts after a connection is lost. Default: `1000`. */
  reconnectDelayMs?: number;
  /**
   * An event whose type no queue is bound to is returned by the broker (`mandatory`). `'warn'` logs it
   * and counts it in `returnedEvents` (an event nobody subscribes to is not an error);
   * `'reject'` rejects the publish with `UnroutableMessageError` (the outbox keeps retrying it).
   * Targeted publishes (retries, replays, dead letters) always reject when returned. Default: `'warn'`.
   */
  unroutableEvents?: UnroutableEventsBehaviour;
  /**
   * How long a dead-letter `list`/`replay`/`purge` waits while another one (possibly on another
   * instance) holds the dead-letter queue. Default: `30000`.
   */
  deadLetterLockTimeoutMs?: number;
  /**
   * A delivery that comes back from the broker marked `redelivered` (its consumer process died, its
   * channel or connection closed, or `consumer_timeout` hit before it was settled) counts as a further
   * attempt for the retry policy; once one came back this many times in a row it is dead-lettered
   * (`RedeliveryLimitError`) without running the handler again, so a message that kills its consumer
   * cannot loop forever. Default: `5`.
   */
  redeliveryLimit?: number;
  /** Connection name shown by the broker (`rabbitmqctl list_connections name`), suffixed with `publisher`/`consumer`. Default: the queue prefix. */
  connectionName?: string;
  /** Logger. Default: Nest's `Logger` with context `RabbitMqTransport`. */
  logger?: LoggerService;
}

/** Options with every default applied (the queue prefix is known once the service name is). */
export interface ResolvedRabbitMqOptions extends Required<
  Omit<RabbitMqTransportOptions, 'socketOptions' | 'queuePrefix' | 'prefetch' | 'logger' | 'connectionName'>
> {
  socketOptions: RabbitMqSocketOptions;
  queuePrefix?: string;
  prefetch?: number;
  connectionName?: string;
  logger?: LoggerService;
}

/** Default values of {@link RabbitMqTransportOptions}. */
export const RABBITMQ_DEFAULTS = {
  exchange: 'messaging.events',
  queueType: 'classic' as RabbitMqQueueType,
  publishConfirmTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  startupTimeoutMs: 60_000,
  heartbeatSeconds: 10,
  reconnectDelayMs: 1_000,
  unroutableEvents: 'warn' as UnroutableEventsBehaviour,
  deadLetterLockTimeoutMs: 30_000,
  redeliveryLimit: 5,
} as const;
