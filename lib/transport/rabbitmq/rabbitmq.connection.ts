import type { LoggerService } from '@nestjs/common';
import type { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import type { Channel, ChannelModel } from 'amqplib';
import { requireOptional } from '../../errors/missing-dependency.error';
import { closeAmqp, connectionLoss, openChannelUntil, sleep } from './amqp-settle.util';
import { maskAmqpUrl, redact, urlSecrets } from './amqp-url.util';
import { BrokerConnectionError } from './errors/broker-connection.error';
import { TransportNotConnectedError } from './errors/transport-not-connected.error';
import type { ResolvedRabbitMqOptions } from './rabbitmq-options.interface';

type Golevelup = typeof import('@golevelup/nestjs-rabbitmq');

/** Loads the optional peer dependency at run time, with a readable error when it is missing. */
function loadGolevelup(): Golevelup {
  return requireOptional(
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    () => require('@golevelup/nestjs-rabbitmq') as Golevelup,
    '@golevelup/nestjs-rabbitmq',
    'The RabbitMQ transport',
  );
}

/** golevelup announces that it skips its own connection wait; we do that wait ourselves, so drop the notice. */
function withoutWaitNotice(logger: LoggerService): LoggerService {
  return {
    log: (message: unknown, ...rest: unknown[]) => {
      if (typeof message === 'string' && message.startsWith('Skipping connection health checks')) return;
      logger.log(message, ...rest);
    },
    error: (message: unknown, ...rest: unknown[]) => logger.error(message, ...rest),
    warn: (message: unknown, ...rest: unknown[]) => logger.warn(message, ...rest),
    debug: (message: unknown, ...rest: unknown[]) => logger.debug?.(message, ...rest),
    verbose: (message: unknown, ...rest: unknown[]) => logger.verbose?.(message, ...rest),
  };
}

/**
 * One self-healing AMQP connection (the publisher and the consumer side each have their own, so a
 * resource alarm blocking publishers never stops consumers from draining).
 *
 * The connection lifecycle — connect with timeout, heartbeats, reconnect after loss — is
 * golevelup's `AmqpConnection` (over amqp-connection-manager), constructed outside DI with no
 * handlers, no RPC reply queue and no topology. Channels are opened by {@link ManagedChannel} on the
 * raw amqplib connection it exposes.
 */
export class RabbitMqConnection {
  private amqp?: AmqpConnection;
  private closed = false;
  private readonly secrets: string[];
  /** Masked URL, for messages. */
  readonly maskedUrl: string;

  constructor(
    /** `publisher`, `consumer` or `requests` (routed queries), shown in the broker's connection name and in logs. */
    readonly role: 'publisher' | 'consumer' | 'requests',
    private readonly options: ResolvedRabbitMqOptions,
    private readonly connectionName: string,
    private readonly logger: LoggerService,
  ) {
    this.secrets = urlSecrets(options.url);
    if (typeof options.socketOptions.passphrase === 'string') this.secrets.push(options.socketOptions.passphrase);
    this.maskedUrl = maskAmqpUrl(options.url);
  }

  /** Connects, waiting up to `connectTimeoutMs`; fails fast on refused credentials. */
  async open(): Promise<void> {
    const { AmqpConnection: AmqpConnectionClass } = loadGolevelup();
    const o = this.options;
    const amqp = new AmqpConnectionClass({
      name: `${this.connectionName} ${this.role}`,
      uri: o.url,
      prefetchCount: 1,
      enableDirectReplyTo: false,
      registerHandlers: false,
      logger: withoutWaitNotice(this.logger),
      // we wait for the first connection ourselves (golevelup's wait leaves a timer running after a failure)
      connectionInitOptions: { wait: false, skipConnectionFailedLogging: true, skipDisconnectFailedLogging: true },
      connectionManagerOptions: {
        heartbeatIntervalInSeconds: o.heartbeatSeconds,
        reconnectTimeInSeconds: o.reconnectDelayMs / 1000,
        connectionOptions: {
          // amqplib's socket timeout also covers the AMQP handshake: a connection cut while opening
          // fails (and is retried) instead of leaving the connection manager waiting for good
          timeout: o.connectTimeoutMs,
          // acks go out at once on the consumer connection (measured: consume 0.86-0.95x of raw amqplib
          // with Nagle's algorithm on, amqplib's default, 1.01-1.03x without); publishing keeps it on,
          // it batches the frames of windowed publishes (0.87x without it); request/reply (routed
          // queries) waits for each answer, so Nagle's delay would be in every round trip
          ...(this.role !== 'publisher' ? { noDelay: true } : {}),
          ...o.socketOptions,
          clientProperties: {
            connection_name: `${this.connectionName} ${this.role}`,
          },
        },
      },
    });
    this.amqp = amqp;
    // creates the connection manager synchronously; what it then sets up (golevelup's default
    // channel, unused here) must not hold up or fail our startup when the broker drops the
    // connection during it: we wait for the connection, and channels are ours (ManagedChannel)
    const initialising = amqp.init();
    initialising.catch((err: Error) =>
      this.logger.debug?.(`RabbitMQ ${this.role}: golevelup setup: ${this.scrub(err?.message ?? String(err))}`),
    );
    const manager = amqp.managedConnection;
    const connected = this.firstConnection(manager, o.connectTimeoutMs);
    connected.catch(() => undefined);
    manager.on('disconnect', ({ err }: { err?: Error }) => {
      if (!this.closed) {
        this.logger.warn?.(
          `RabbitMQ ${this.role} connection lost (${this.scrub(err?.message ?? 'closed')}); reconnecting`,
        );
      }
    });
    manager.on('blocked', ({ reason }: { reason: string }) =>
      this.logger.warn?.(
        `RabbitMQ blocked the ${this.role} connection (${reason}): publishes wait until it is unblocked`,
      ),
    );
    manager.on('unblocked', () => this.logger.log?.(`RabbitMQ unblocked the ${this.role} connection`));
    try {
      await connected;
    } catch (err) {
      this.closed = true;
      this.amqp = undefined;
      await closeAmqp(amqp);
      throw new BrokerConnectionError(this.maskedUrl, this.scrub((err as Error).message));
    }
  }

  /** Resolves on the first connection; rejects on refused credentials or after `timeoutMs`. */
  private firstConnection(manager: AmqpConnection['managedConnection'], timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let lastFailure = 'no answer from the broker';
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        manager.removeListener('connect', onConnect);
        manager.removeListener('connectFailed', onFailed);
        if (err) reject(err);
        else resolve();
      };
      const onConnect = (): void => finish();
      const onFailed = ({ err }: { err?: Error }): void => {
        lastFailure = this.scrub(err?.message ?? String(err));
        if (/ACCESS.REFUSED|\b403\b/.test(lastFailure)) finish(new Error(lastFailure));
        // the broker closes the connection instead of opening the vhost: no retry will change that
        else if (/Expected ConnectionOpenOk; got <ConnectionClose|NOT.ALLOWED|\b530\b/.test(lastFailure)) {
          finish(new Error(this.vhostRefused()));
        }
      };
      const timer = setTimeout(() => finish(new Error(`${lastFailure} (gave up after ${timeoutMs} ms)`)), timeoutMs);
      manager.on('connect', onConnect);
      manager.on('connectFailed', onFailed);
      if (manager.isConnected()) finish();
    });
  }

  /** The current raw amqplib connection, or undefined while disconnected. */
  get raw(): ChannelModel | undefined {
    return this.closed ? undefined : (this.amqp?.managedConnection.connection as ChannelModel | undefined);
  }

  /** Whether the connection is up. */
  isConnected(): boolean {
    return this.raw !== undefined;
  }

  /** How long opening a channel may take before it counts as failed (`connectTimeoutMs`). */
  get openTimeoutMs(): number {
    return this.options.connectTimeoutMs;
  }

  /** Whether `close()` was called. */
  isClosed(): boolean {
    return this.closed;
  }

  /** Calls `listener` with each new raw connection (after the first connect and every reconnect). */
  onConnect(listener: (connection: ChannelModel) => void): () => void {
    const manager = this.amqp?.managedConnection;
    if (!manager) throw new TransportNotConnectedError('onConnect');
    const wrapped = ({ connection }: { connection: ChannelModel }) => listener(connection);
    manager.on('connect', wrapped);
    return () => manager.removeListener('connect', wrapped);
  }

  /** Waits until connected (at most until `deadline`, epoch ms); rejects with `TransportNotConnectedError` otherwise. */
  async waitConnected(deadline: number, operation: string): Promise<ChannelModel> {
    for (;;) {
      if (this.closed) throw new TransportNotConnectedError(operation);
      const raw = this.raw;
      if (raw) return raw;
      if (Date.now() >= deadline) throw new TransportNotConnectedError(`${operation}: broker unreachable`);
      await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    }
  }

  /**
   * Opens a short-lived raw channel (topology, stats, dead-letter scans). A channel error closes
   * only that channel; the caller closes it when done.
   */
  async openChannel(operation: string, timeoutMs = this.options.connectTimeoutMs): Promise<Channel> {
    const raw = await this.waitConnected(Date.now() + timeoutMs, operation);
    const lost = connectionLoss(raw, operation, timeoutMs);
    try {
      const channel = await openChannelUntil<Channel>(raw, false, lost);
      channel.on('error', () => undefined); // surfaced by the failed operation itself
      return channel;
    } finally {
      lost.dispose();
    }
  }

  /** What to say when the broker refuses to open the URL's virtual host (never the password). */
  private vhostRefused(): string {
    let vhost = '/';
    let user = 'guest';
    try {
      const url = new URL(this.options.url);
      vhost = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : '/';
      user = url.username ? decodeURIComponent(url.username) : user;
    } catch {
      /* the URL was validated at startup; keep the defaults */
    }
    return (
      `the broker refused to open virtual host "${vhost}" for user "${user}": the vhost does not exist or the ` +
      `user has no permission on it (the vhost is the URL's path; see rabbitmqctl list_vhosts and list_permissions -p "${vhost}")`
    );
  }

  /** Removes secrets from a broker or socket message. */
  scrub(text: string): string {
    return redact(text, this.secrets);
  }

  /** Closes the connection and stops reconnecting. */
  async close(): Promise<void> {
    if (this.closed && !this.amqp) return;
    this.closed = true;
    const amqp = this.amqp;
    this.amqp = undefined;
    if (amqp) await closeAmqp(amqp);
  }
}
