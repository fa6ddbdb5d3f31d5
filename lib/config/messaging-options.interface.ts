import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import type { ResolvedRetryPolicy, RetryPolicyOptions } from '../consumer/retry.policy';
import type { MessageTransport } from '../transport/transport.interface';
import type { UpcasterDefinition } from '../message/upcaster.registry';
import type { InMemoryBroker } from '../transport/in-memory/in-memory.broker';
import type { RabbitMqTransportOptions } from '../transport/rabbitmq/rabbitmq-options.interface';
import type { OutboxOptions } from '../outbox/outbox-options.interface';
import type { MonitoringOptions } from '../monitoring/monitoring-options.interface';
import type { RemoteOptions, ResolvedRemoteOptions } from '../remote/remote-options';

/** Options of `MessagingModule.forRoot()` / `forRootAsync()`. Only `serviceName` is required. */
export interface MessagingModuleOptions {
  /** This service's name: CloudEvents `source`, default queue prefix. Letters, digits, `.`, `_`, `-`. */
  serviceName: string;
  /**
   * `'memory'` (default: in-process, for development and tests), `'rabbitmq'`, or a
   * `MessageTransport` instance of your own.
   */
  transport?: 'memory' | 'rabbitmq' | MessageTransport;
  /** RabbitMQ settings, used when `transport` is `'rabbitmq'`. */
  rabbitmq?: RabbitMqTransportOptions;
  /** In-memory transport settings: share one `InMemoryBroker` between app instances in one process. */
  inMemory?: { broker?: InMemoryBroker };
  /** Transactional outbox and inbox (TypeORM). Default: off. */
  outbox?: OutboxOptions;
  /** Default retry policy of every subscriber (each may override it). Defaults: 3 retries, 1 s, ×2, ≤ 60 s, ±20 %. */
  retry?: RetryPolicyOptions;
  /** Deliveries one subscriber handles at once on this instance. Default 10. */
  concurrency?: number;
  /** Time a subscriber may take per message before it counts as a (transient) failure, ms. Default 30000. */
  handlerTimeoutMs?: number;
  /** Largest accepted message body, bytes; larger ones are dead-lettered. Default 1048576 (1 MiB). */
  maxMessageBytes?: number;
  /**
   * How long shutdown waits for in-flight handlers, ms. Deliveries whose handler has not started
   * (prefetched, or queued for a commit group) are given back to the queue at once, uncounted. Default 10000.
   */
  shutdownTimeoutMs?: number;
  /** Validate class-validator rules on send and receipt. Default true. */
  validate?: boolean;
  /** Upcasters for older payload versions (also declarable on `@Message`). */
  upcasters?: UpcasterDefinition[];
  /** Called after each message is dead-lettered (alerting). Errors it throws are logged, never rethrown. */
  onDeadLetter?: (deadLetter: DeadLetter) => void | Promise<void>;
  /** Monitoring: thresholds and alerts, Prometheus metrics, tracing (see `MonitoringOptions`). */
  monitoring?: MonitoringOptions;
  /**
   * With `CqrsModule` imported beside this module: route its `EventBus.publish()`, `CommandBus` and
   * `QueryBus` through this module (its sagas then see no events: a startup warning names them;
   * prefer `MessagingModule.forCqrs()`). Default true; ignored under `forCqrs`.
   */
  bridgeCqrsEventBus?: boolean;
  /** Commands and queries routed to other services (see `RemoteOptions`). Default: none. */
  remote?: RemoteOptions;
}

/** Options after defaults and validation. */
export interface ResolvedMessagingOptions {
  serviceName: string;
  transport: 'memory' | 'rabbitmq' | MessageTransport;
  rabbitmq?: RabbitMqTransportOptions;
  inMemory: { broker?: InMemoryBroker };
  outbox?: OutboxOptions;
  retry: ResolvedRetryPolicy;
  concurrency: number;
  handlerTimeoutMs: number;
  maxMessageBytes: number;
  shutdownTimeoutMs: number;
  validate: boolean;
  upcasters: UpcasterDefinition[];
  onDeadLetter?: (deadLetter: DeadLetter) => void | Promise<void>;
  bridgeCqrsEventBus: boolean;
  /** The `monitoring` option as given (resolved by the monitoring providers). */
  monitoring?: MonitoringOptions;
  /** Whether subscribers use the inbox unless they opt out. */
  inboxByDefault: boolean;
  /** `outbox.groupCommit` (1 when the outbox is off). */
  inboxGroupSize: number;
  /** The `remote` option with defaults. */
  remote: ResolvedRemoteOptions;
}
