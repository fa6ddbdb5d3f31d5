import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { MESSAGING_OPTIONS, MESSAGING_TRANSPORT } from '../messaging.tokens';
import type { ResolvedMessagingOptions } from '../config/messaging-options.interface';
import type { MessageTransport, QueueStats } from '../transport/transport.interface';
import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import { OutboxIntegration, type OutboxStatsSnapshot } from '../outbox/outbox-integration';
import { SubscriberStats, type SubscriberStatsSnapshot } from './subscriber-stats';
import { MESSAGING_MONITORING_OPTIONS } from './monitoring.tokens';
import type { MonitoringThresholds, ResolvedMonitoringOptions, ThresholdBreach } from './monitoring-options.interface';
import { resolveMonitoringOptions } from './monitoring-options.validator';
import type { MessagingSnapshot, SubscriberSnapshot } from './messaging-snapshot.interface';
import { findBreaches } from './threshold-checker';
import { AlertNotifier } from './alert-notifier';
import { FailureGroupTracker } from './dead-letters/failure-group-tracker';
import { RemoteMessaging } from '../remote/remote-messaging';

const DEAD_LETTER = 'dead-letter';

/**
 * One snapshot of the messaging runtime of this service: transport connection, outbox, routed
 * queries (in flight, stray replies), per subscriber counters, timings, queue depth and consumers, dead-letter depth, and the thresholds
 * breached. Also runs the alert hook (`monitoring.onAlert`): per dead letter, and when a threshold
 * starts or stops being breached (on each `snapshot()` and every `checkIntervalMs`).
 */
/** How long a snapshot waits for the transport's queue statistics. */
const STATS_TIMEOUT_MS = 5_000;

@Injectable()
export class MessagingMonitor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** The resolved monitoring options. */
  readonly monitoring: ResolvedMonitoringOptions;
  private readonly logger = new Logger('MessagingMonitor');
  private readonly notifier: AlertNotifier;
  private readonly groups: FailureGroupTracker;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(MESSAGING_OPTIONS) private readonly options: ResolvedMessagingOptions,
    @Inject(MESSAGING_TRANSPORT) private readonly transport: MessageTransport,
    private readonly stats: SubscriberStats,
    @Optional() @Inject(MESSAGING_MONITORING_OPTIONS) monitoring?: ResolvedMonitoringOptions,
    @Optional() private readonly outbox?: OutboxIntegration,
    @Optional() private readonly remote?: RemoteMessaging,
  ) {
    this.monitoring = monitoring ?? resolveMonitoringOptions(undefined);
    this.notifier = new AlertNotifier(options.serviceName, this.monitoring.onAlert);
    this.groups = new FailureGroupTracker(() => this.outbox?.feature?.deadLetters);
  }

  /** This service's name. */
  get service(): string {
    return this.options.serviceName;
  }

  /** The thresholds checked by default (`monitoring.thresholds`). */
  get thresholds(): MonitoringThresholds {
    return this.monitoring.thresholds;
  }

  /** Starts the periodic threshold check, when configured. */
  onApplicationBootstrap(): void {
    const every = this.monitoring.checkIntervalMs;
    if (every > 0 && this.notifier.enabled) {
      this.timer = setInterval(() => {
        this.snapshot().catch((err) => this.logger.warn(`threshold check failed: ${(err as Error).message}`));
      }, every);
      this.timer.unref?.();
    }
  }

  /** Stops the periodic check. */
  beforeApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Reports a dead letter (called by the runtime for each dead letter): records it in the durable
   * dead-letter table when that is on, then calls the alert hook with its failure group.
   * Resolves when both are done (never rejects); callers need not wait.
   */
  notifyDeadLetter(deadLetter: DeadLetter): Promise<void> {
    return this.groups.track(deadLetter).then(
      (group) => this.notifier.deadLettered(deadLetter, group),
      (error: unknown) =>
        this.logger.error(
          `dead letter ${deadLetter.id} not reported: ${(error as Error)?.message ?? String(error)} (subscriber=${deadLetter.subscriber})`,
        ),
    );
  }

  /**
   * Takes a snapshot. With `thresholds`, breaches are checked against those instead of the
   * configured ones, and the alert hook is not involved.
   */
  async snapshot(thresholds?: MonitoringThresholds): Promise<MessagingSnapshot> {
    const now = Date.now();
    const [queues, outbox] = await Promise.all([this.queueStats(), this.outboxStats()]);
    const byName = new Map((queues.stats ?? []).map((q) => [q.subscriber, q]));
    const dlq = byName.get(DEAD_LETTER);
    const base: Omit<MessagingSnapshot, 'breaches'> = {
      takenAt: new Date(now).toISOString(),
      service: this.options.serviceName,
      transport: {
        name: this.transport.name,
        connected: this.transport.isConnected(),
        ...(this.transport.connections ? { connections: this.transport.connections() } : {}),
        statsError: queues.error,
      },
      outbox,
      ...(this.remote?.client !== undefined ? { remote: this.remote.stats() } : {}),
      subscribers: this.stats.snapshot().map((s) => subscriberSnapshot(s, byName.get(s.subscriber), now)),
      deadLetterQueue: { name: dlq?.queue, depth: dlq?.depth },
    };
    const breaches = findBreaches(base, thresholds ?? this.monitoring.thresholds);
    if (!thresholds) this.notifier.update(breaches);
    return { ...base, breaches };
  }

  /** Checks the configured thresholds now (alerting on changes); returns the current breaches. */
  async check(): Promise<ThresholdBreach[]> {
    return (await this.snapshot()).breaches;
  }

  private async queueStats(): Promise<{ stats?: QueueStats[]; error?: string }> {
    if (!this.transport.isConnected()) return { error: 'transport not connected' };
    let timer: NodeJS.Timeout | undefined;
    // a health check must answer, even when the broker does not
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`queue statistics took longer than ${STATS_TIMEOUT_MS} ms`)),
        STATS_TIMEOUT_MS,
      );
    });
    try {
      return { stats: await Promise.race([this.transport.stats(), late]) };
    } catch (err) {
      return { error: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  private async outboxStats(): Promise<OutboxStatsSnapshot | undefined> {
    if (!this.outbox) return undefined;
    try {
      return await this.outbox.stats();
    } catch (err) {
      this.logger.warn(`outbox stats unavailable: ${(err as Error).message}`);
      return undefined;
    }
  }
}

/** Joins a subscriber's counters with its queue and estimates its current lag. */
export function subscriberSnapshot(
  s: SubscriberStatsSnapshot,
  queue: QueueStats | undefined,
  now: number,
): SubscriberSnapshot {
  const since = s.lastHandledAt ?? s.registeredAt;
  const idleMs = since ? Math.max(0, now - Date.parse(since)) : 0;
  const last = s.lastLagMs ?? 0;
  // queue unknown: the last lag is the best guess; empty queue: caught up
  const currentLagMs = queue === undefined ? last : queue.depth === 0 ? 0 : Math.max(last, idleMs);
  return {
    subscriber: s.subscriber,
    handled: s.handled,
    failed: s.failed,
    retried: s.retried,
    deadLettered: s.deadLettered,
    duplicates: s.duplicates,
    durationMs: s.durationMs,
    lagMs: s.lagMs,
    currentLagMs,
    lastHandledAt: s.lastHandledAt,
    inFlight: s.inFlight ?? 0,
    queue: queue && { name: queue.queue, depth: queue.depth, consumers: queue.consumers },
  };
}
