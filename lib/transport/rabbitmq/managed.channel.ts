import type { LoggerService } from '@nestjs/common';
import type { Channel } from 'amqplib';
import { TransportNotConnectedError } from './errors/transport-not-connected.error';
import { closeChannel, connectionLoss, openChannelUntil, sleep } from './amqp-settle.util';
import type { RabbitMqConnection } from './rabbitmq.connection';

const MAX_BACKOFF_MS = 30_000;
const WATCHDOG_MS = 1_000;

/** Options of a {@link ManagedChannel}. */
export interface ManagedChannelOptions<C extends Channel> {
  /** For logs. */
  name: string;
  /** Open a confirm channel (publisher) or a plain one (consumer). */
  confirm: boolean;
  /** Runs on every new channel before it is used (prefetch, consume, return listener…). */
  setup: (channel: C) => Promise<void>;
  /** Base delay between re-open attempts (doubled on each failure, capped at 30 s). */
  reopenDelayMs: number;
}

/**
 * Keeps one raw amqplib channel open on a {@link RabbitMqConnection}: re-opens it (and re-runs
 * `setup`) after a reconnection *and* after a channel-level error while the connection stays up —
 * the case amqp-connection-manager's ChannelWrapper leaves without a channel until the next reconnect.
 */
export class ManagedChannel<C extends Channel = Channel> {
  private current?: C;
  private opening = false;
  private stopped = false;
  private failures = 0;
  private reopenTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private unsubscribe?: () => void;

  constructor(
    private readonly connection: RabbitMqConnection,
    private readonly options: ManagedChannelOptions<C>,
    private readonly logger: LoggerService,
  ) {}

  /**
   * Opens the channel; the first setup error (e.g. a topology mismatch) is thrown to the caller.
   * While the connection is down, waits for it until `until` (epoch ms).
   */
  async start(until = Date.now() + 30_000): Promise<void> {
    this.stopped = false; // a start that failed (and stopped) may be tried again
    this.unsubscribe = this.connection.onConnect(() => void this.open(false));
    // a safety net under the events above: whatever the order of close, reconnect and reopen
    // events was, a connection that is up never stays without this channel for long
    this.watchdog = setInterval(() => this.heal(), WATCHDOG_MS);
    this.watchdog.unref();
    try {
      await this.open(true);
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (!this.current && !this.stopped) await this.get(until, this.options.name);
  }

  /** The open channel, if any (synchronous fast path). */
  get channel(): C | undefined {
    return this.current;
  }

  /** Waits for an open channel until `deadline` (epoch ms). */
  async get(deadline: number, operation: string): Promise<C> {
    for (;;) {
      if (this.current) return this.current;
      if (this.stopped) throw new TransportNotConnectedError(operation);
      if (Date.now() >= deadline) throw new TransportNotConnectedError(`${operation}: no channel before the deadline`);
      await sleep(Math.min(10, Math.max(1, deadline - Date.now())));
    }
  }

  /** Closes the current channel and re-opens a fresh one (e.g. after a consumer was cancelled by the broker). */
  recycle(): void {
    const channel = this.current;
    this.current = undefined;
    if (channel) void closeChannel(channel);
    this.scheduleReopen();
  }

  /** Closes the channel for good. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    const channel = this.current;
    this.current = undefined;
    if (channel) await closeChannel(channel);
  }

  private async open(throwOnError: boolean): Promise<void> {
    if (this.opening || this.stopped || this.current) return;
    const raw = this.connection.raw;
    if (!raw) return; // the next 'connect' opens it
    this.opening = true;
    let channel: C | undefined;
    // a connection that dies while the channel is opened or set up (or a broker that never answers)
    // may leave those calls without an answer: give up on them then, or `opening` would stay set
    const lost = connectionLoss(raw, `opening channel ${this.options.name}`, this.connection.openTimeoutMs);
    try {
      channel = await openChannelUntil<C>(raw, this.options.confirm, lost);
      channel.on('error', (err: Error) =>
        this.logger.warn?.(`RabbitMQ channel ${this.options.name} failed: ${this.connection.scrub(err.message)}`),
      );
      const opened = channel;
      opened.once('close', () => this.onClose(opened));
      await Promise.race([this.options.setup(channel), lost.promise]);
      if (this.stopped) {
        await closeChannel(channel);
        return;
      }
      this.current = channel;
      this.failures = 0;
    } catch (err) {
      if (channel) void closeChannel(channel);
      if (throwOnError) throw err;
      this.failures++;
      this.logger.error?.(
        `RabbitMQ channel ${this.options.name} could not be set up: ${this.connection.scrub((err as Error).message)}; retrying`,
      );
      this.scheduleReopen();
    } finally {
      lost.dispose();
      this.opening = false;
    }
  }

  /** Re-opens the channel when the connection is up and nothing else is about to. */
  private heal(): void {
    if (this.stopped || this.current || this.opening || this.reopenTimer) return;
    if (!this.connection.isConnected()) return; // the next 'connect' opens it
    this.logger.warn?.(`RabbitMQ channel ${this.options.name} was missing on a live connection; re-opening it`);
    void this.open(false);
  }

  private onClose(channel: C): void {
    if (this.current === channel) this.current = undefined;
    // after a connection loss, the connection's 'connect' event re-opens it
    if (!this.stopped && this.connection.isConnected()) this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.stopped || this.reopenTimer) return;
    const delay = Math.min(MAX_BACKOFF_MS, this.options.reopenDelayMs * 2 ** Math.min(this.failures, 10));
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.open(false);
    }, delay);
    this.reopenTimer.unref();
  }
}
