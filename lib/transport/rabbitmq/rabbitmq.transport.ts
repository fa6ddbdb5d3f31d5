/*
 * RabbitMQ transport.
 *
 * Why this shape: the issue asks for @golevelup/nestjs-rabbitmq. We use its `AmqpConnection`
 * (constructed directly, outside DI, with no handlers/RPC/topology) for what it does well —
 * connecting with a timeout, heartbeats, reconnecting after a loss — one instance for publishing and
 * one for consuming, so a memory alarm that blocks the publisher connection never stops consumers.
 * We do not use its publish/subscribe: its defaults are unsafe for us (requeue forever on error,
 * non-persistent publishes, JSON (de)serialisation of our already-encoded bodies) and its publish
 * path (ChannelWrapper queue) reaches about 0.8x raw amqplib. Instead we keep our own raw amqplib
 * channels on its connections (`ManagedChannel`, which also recovers from channel-level errors that
 * amqp-connection-manager only heals on the next reconnect): a confirm channel for publishing
 * (persistent, mandatory, confirm with timeout, republish after a reconnect) and one channel per
 * subscriber (manual ack, prefetch). Responsibilities live in separate files: connection, channel,
 * topology, publisher, consumer, failure publisher (retries, dead letters), dead-letter store, options,
 * naming, message properties.
 */
import { Logger, type LoggerService } from '@nestjs/common';
import type { DeadLetterStore } from '../../dead-letter/dead-letter.interface';
import { InvalidConfigurationError } from '../../errors/invalid-configuration.error';
import { uuidv7 } from '../../message/uuid-v7';
import type {
  DeliveryHandler,
  MessageTransport,
  OutboundMessage,
  QueueStats,
  SubscriberDescriptor,
  TransportCapabilities,
  TransportContext,
} from '../transport.interface';
import { TransportNotConnectedError } from './errors/transport-not-connected.error';
import { BrokerConnectionError } from './errors/broker-connection.error';
import { maskAmqpUrl, redact, urlSecrets } from './amqp-url.util';
import { retryStartupStep, startupTimeoutError, type StartupState } from './startup-retry';
import { queueStats } from './rabbitmq-stats';
import { RabbitMqConnection } from './rabbitmq.connection';
import { SubscriberConsumer } from './rabbitmq.consumer';
import { RabbitMqDeadLetterStore, type DeadLetterStoreRuntime } from './rabbitmq-dead-letter.store';
import { outboundProperties } from './rabbitmq.message';
import { RabbitMqNaming, publishRoute } from './rabbitmq.naming';
import type { RabbitMqTransportOptions, ResolvedRabbitMqOptions } from './rabbitmq-options.interface';
import { resolveRabbitMqOptions, validateRabbitMqOptions } from './rabbitmq-options.validator';
import { RabbitMqPublisher } from './rabbitmq.publisher';
import { RabbitMqTopology } from './rabbitmq.topology';

interface Runtime {
  context: TransportContext;
  naming: RabbitMqNaming;
  publisherConnection: RabbitMqConnection;
  consumerConnection: RabbitMqConnection;
  publisher: RabbitMqPublisher;
  topology: RabbitMqTopology;
}

/**
 * {@link MessageTransport} over RabbitMQ: one durable topic exchange for events (routing key =
 * type), one durable queue per subscriber, TTL delay queues per delay level for retries, one
 * dead-letter queue per service. See `rabbitmq.topology.ts` for names and arguments.
 */
export class RabbitMqTransport implements MessageTransport {
  /** Transport name. */
  readonly name = 'rabbitmq';
  /** Several instances share a subscriber's queue; messages survive restarts. */
  readonly capabilities: TransportCapabilities = { competingConsumers: true, durable: true };
  /** Dead letters in the broker queue `<prefix>.dead-letter`. */
  readonly deadLetters: DeadLetterStore;
  private readonly options: ResolvedRabbitMqOptions;
  private readonly logger: LoggerService;
  private readonly consumers = new Map<string, SubscriberConsumer>();
  private runtime?: Runtime;
  private starting?: StartupState;
  private closing = false;

  /** Validates the options (throws `InvalidConfigurationError`); connects in {@link connect}. */
  constructor(options: RabbitMqTransportOptions) {
    this.options = resolveRabbitMqOptions(options);
    this.logger = options.logger ?? new Logger('RabbitMqTransport');
    this.deadLetters = new RabbitMqDeadLetterStore(() => this.storeRuntime());
  }

  /** Opens the publisher and consumer connections, declares the service topology and the publish channel. */
  async connect(context: TransportContext): Promise<void> {
    if (this.runtime) return;
    if (this.closing) throw new TransportNotConnectedError('connect after close');
    const prefix = this.options.queuePrefix ?? context.serviceName;
    try {
      validateRabbitMqOptions({ url: this.options.url, queuePrefix: prefix });
    } catch {
      throw new InvalidConfigurationError(
        `the service name ${JSON.stringify(prefix)} cannot be a RabbitMQ queue prefix: set the rabbitmq option "queuePrefix" ` +
          `(letters, digits, "_", ".", ":", "-")`,
      );
    }
    const naming = new RabbitMqNaming(this.options.exchange, prefix);
    const name = this.options.connectionName ?? prefix;
    const publisherConnection = new RabbitMqConnection('publisher', this.options, name, this.logger);
    const consumerConnection = new RabbitMqConnection('consumer', this.options, name, this.logger);
    let publisher: RabbitMqPublisher | undefined;
    let givenUp = false;
    const until = Date.now() + this.options.startupTimeoutMs;
    const step = <T>(what: string, work: () => Promise<T>): Promise<T> =>
      this.retrying(until, what, work, () => givenUp);
    const inProgress: StartupState = { publisherConnection, consumerConnection };
    this.starting = inProgress;
    const startup = async (): Promise<Runtime> => {
      await Promise.all([publisherConnection.open(), consumerConnection.open()]);
      const topology = new RabbitMqTopology(consumerConnection, naming, this.options.queueType);
      await step('declaring the service topology', () => topology.declareService());
      publisher = new RabbitMqPublisher(publisherConnection, this.options, this.logger);
      inProgress.publisher = publisher;
      const started = publisher;
      await step('opening the publish channel', () => started.start(until));
      return { context, naming, publisherConnection, consumerConnection, publisher: started, topology };
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(this.startupTimeout('startup', { publisherConnection, consumerConnection, publisher }));
      }, this.options.startupTimeoutMs);
    });
    const starting = startup();
    try {
      this.runtime = await Promise.race([starting, deadline]);
    } catch (err) {
      givenUp = true;
      starting.catch(() => undefined); // given up on: its own failure is no news
      await Promise.all([publisher?.stop(), publisherConnection.close(), consumerConnection.close()]);
      throw err;
    } finally {
      clearTimeout(timer);
      this.starting = undefined;
    }
  }

  /** Publishes with a broker confirm, where `publishRoute` says (events exchange, or one queue). */
  publish(message: OutboundMessage): Promise<void> {
    const rt = this.runtime;
    if (!rt) return Promise.reject(new TransportNotConnectedError('publish'));
    let route: ReturnType<typeof publishRoute>;
    try {
      route = publishRoute(rt.naming, message);
    } catch (err) {
      return Promise.reject(err);
    }
    return rt.publisher.publish({
      ...route,
      content: Buffer.from(message.body, 'utf8'),
      properties: outboundProperties(message),
    });
  }

  /** Declares the subscriber's queue, bindings and delay levels, then consumes it. */
  async subscribe(subscriber: SubscriberDescriptor, handler: DeliveryHandler): Promise<void> {
    const rt = this.requireRuntime('subscribe');
    if (this.consumers.has(subscriber.name)) {
      throw new InvalidConfigurationError(`subscriber "${subscriber.name}" is already subscribed on this transport`);
    }
    // the broker may drop the connection while the queue is declared or the consumer set up
    // (during startup, typically): try again until the startup deadline
    const until = Date.now() + this.options.startupTimeoutMs;
    await this.retrying(until, `subscribing ${subscriber.name}`, () =>
      this.startConsumer(rt, subscriber, handler, until),
    );
  }

  private async startConsumer(
    rt: Runtime,
    subscriber: SubscriberDescriptor,
    handler: DeliveryHandler,
    until: number,
  ): Promise<void> {
    const consumer = new SubscriberConsumer(subscriber, handler, {
      connection: rt.consumerConnection,
      publisher: rt.publisher,
      topology: rt.topology,
      naming: rt.naming,
      context: rt.context,
      logger: this.logger,
      prefetch: this.options.prefetch,
      reconnectDelayMs: this.options.reconnectDelayMs,
      redeliveryLimit: this.options.redeliveryLimit,
      newId: uuidv7,
    });
    this.consumers.set(subscriber.name, consumer);
    try {
      await consumer.start(until);
    } catch (err) {
      this.consumers.delete(subscriber.name);
      await consumer.close();
      throw err;
    }
  }

  /** Depth and consumer count of each subscriber queue and of the dead-letter queue (passive declare). */
  async stats(): Promise<QueueStats[]> {
    const rt = this.requireRuntime('stats');
    const queues: Array<[string, string]> = [...this.consumers.values()].map((c) => [c.descriptor.name, c.queue]);
    queues.push(['dead-letter', rt.naming.deadLetterQueue]);
    return queueStats(rt.consumerConnection, queues);
  }

  /**
   * @internal A new connection (not yet open) for the request/reply of routed queries (`lib/remote`),
   * with this transport's settings, and the naming of this service.
   */
  requestConnection(): { connection: RabbitMqConnection; naming: RabbitMqNaming } {
    const rt = this.requireRuntime('request/reply');
    const name = this.options.connectionName ?? rt.naming.prefix;
    return { connection: new RabbitMqConnection('requests', this.options, name, this.logger), naming: rt.naming };
  }

  private startupTimeout(what: string, state: StartupState | undefined): BrokerConnectionError {
    return startupTimeoutError(maskAmqpUrl(this.options.url), this.options.startupTimeoutMs, what, state);
  }

  /** Runs a startup step with `retryStartupStep` (its timeout names what is down). */
  private retrying<T>(until: number, what: string, work: () => Promise<T>, givenUp = () => false): Promise<T> {
    const secrets = urlSecrets(this.options.url);
    return retryStartupStep(
      {
        until,
        what,
        timeoutError: () => this.startupTimeout(what, this.runtime ?? this.starting),
        stop: () => givenUp() || this.closing,
        delayMs: this.options.reconnectDelayMs,
        warn: (reason) => this.logger.warn?.(`RabbitMQ: ${what} failed (${redact(reason, secrets)}); trying again`),
      },
      work,
    );
  }

  /**
   * Each connection's state for health checks: `publisher` is up when its connection and the
   * publish channel are, `consumer` when its connection is.
   */
  connections(): Record<string, 'up' | 'down'> {
    const rt = this.runtime;
    const up = (ok: boolean | undefined) => (ok && !this.closing ? 'up' : 'down');
    return {
      publisher: up(rt && rt.publisherConnection.isConnected() && rt.publisher.isReady()),
      consumer: up(rt?.consumerConnection.isConnected()),
    };
  }

  /** Whether both connections and the publish channel are up. */
  isConnected(): boolean {
    const rt = this.runtime;
    return (
      !!rt &&
      !this.closing &&
      rt.publisherConnection.isConnected() &&
      rt.consumerConnection.isConnected() &&
      rt.publisher.isReady()
    );
  }

  /** Events returned by the broker because no queue was bound to their type (`unroutableEvents: 'warn'`). */
  get returnedEvents(): number {
    return this.runtime?.publisher.returnedEvents ?? 0;
  }

  /**
   * Cancels every consumer, gives the deliveries not started back uncounted (see
   * `SubscriberConsumer`), waits up to `drainTimeoutMs` for in-flight handlers (they are acked or
   * their retries/dead letters published as usual), then closes channels and connections.
   * Deliveries not finished by then return to their queue marked `redelivered` (counted).
   */
  async close(drainTimeoutMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const rt = this.runtime;
    if (!rt) return;
    const consumers = [...this.consumers.values()];
    const deadline = Date.now() + Math.max(0, drainTimeoutMs);
    await Promise.all(consumers.map((c) => c.stopConsuming()));
    await Promise.all(consumers.map((c) => c.drain(deadline)));
    await Promise.all(consumers.map((c) => c.close()));
    await rt.consumerConnection.close();
    await rt.publisher.stop();
    await rt.publisherConnection.close();
    this.runtime = undefined;
  }

  private requireRuntime(operation: string): Runtime {
    if (!this.runtime || this.closing) throw new TransportNotConnectedError(operation);
    return this.runtime;
  }

  private storeRuntime(): DeadLetterStoreRuntime {
    const rt = this.requireRuntime('dead letters');
    return {
      connection: rt.consumerConnection,
      publisher: rt.publisher,
      naming: rt.naming,
      lockTimeoutMs: this.options.deadLetterLockTimeoutMs,
      logger: this.logger,
    };
  }
}
