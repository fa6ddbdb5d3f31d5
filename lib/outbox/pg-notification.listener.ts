import type { DataSource } from 'typeorm';
import type { LoggerService } from '@nestjs/common';

/* eslint-disable @typescript-eslint/no-explicit-any */

const MAX_RECONNECT_MS = 30_000;

/**
 * A dedicated `pg.Client` that `LISTEN`s on the outbox channel and calls `onNotify` for each
 * notification, and once after every (re)connect so nothing committed meanwhile waits for the poll.
 * Built from the DataSource's own connection options (same `pg` module, credentials, ssl and
 * `extra`); reconnects with backoff. Logs host and database only, never credentials.
 */
export class PgNotificationListener {
  private client: any;
  private stopped = true;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelay = 500;

  constructor(
    private readonly dataSource: DataSource,
    private readonly channel: string,
    private readonly onNotify: () => void,
    private readonly logger: LoggerService,
    /** Notifications with this payload (our own) are ignored. */
    private readonly ownPayload?: string,
  ) {}

  /** Connects and listens; rejects when the first connection fails (the relay then only polls and retries). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  /** Server process id of the listening connection, when up (for diagnostics). */
  get backendPid(): number | undefined {
    return this.client?.processID;
  }

  /** Whether the listening connection is up. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Stops listening and closes the connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private where(): string {
    const o = (this.dataSource.options as any).replication?.master ?? this.dataSource.options;
    if (o.url) {
      try {
        const u = new URL(o.url);
        return `${u.hostname}:${u.port || 5432}${u.pathname}`;
      } catch {
        return 'the configured database';
      }
    }
    return `${o.host ?? 'localhost'}:${o.port ?? 5432}/${o.database ?? ''}`;
  }

  private async connect(): Promise<void> {
    const driver = this.dataSource.driver as any;
    const options = this.dataSource.options as any;
    const credentials = options.replication?.master ?? options;
    const client = new driver.postgres.Client({
      connectionString: credentials.url,
      host: credentials.host,
      user: credentials.username,
      password: credentials.password,
      database: credentials.database,
      port: credentials.port,
      ssl: credentials.ssl,
      connectionTimeoutMillis: options.connectTimeoutMS,
      application_name: 'nestjs-messaging-relay',
      ...(options.extra ?? {}),
    });
    client.on('notification', (n: { payload?: string }) => {
      if (this.ownPayload === undefined || n.payload !== this.ownPayload) this.onNotify();
    });
    client.on('error', (err: Error) => {
      this.logger.warn?.(`outbox LISTEN connection to ${this.where()} failed: ${err.message}; reconnecting`);
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectDelay = 500;
    this.onNotify();
  }

  private lost(client: any): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  /** Keeps trying to listen again, with backoff; the relay polls meanwhile. */
  scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(MAX_RECONNECT_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((err: Error) => {
        this.logger.warn?.(`outbox LISTEN on ${this.where()} still failing: ${err.message}`);
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref?.();
  }
}
