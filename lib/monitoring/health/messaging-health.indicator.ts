import { Inject, Injectable } from '@nestjs/common';
import { MESSAGING_OPTIONS } from '../../messaging.tokens';
import type { ResolvedMessagingOptions } from '../../config/messaging-options.interface';
import { MessagingMonitor } from '../messaging-monitor.service';
import type { MonitoringThresholds } from '../monitoring-options.interface';
import { healthSession, type HealthSession } from './terminus.loader';

/** A health result in terminus's shape: `{ [key]: { status: 'up' | 'down', ...details } }`. */
export type MessagingHealthResult = Record<string, { status: 'up' | 'down' } & Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A `@nestjs/terminus` health indicator (terminus is an optional peer dependency: without it the
 * same result object is built). Down when the transport is not connected, when this instance
 * should run the outbox relay and it is not running, or when a threshold is exceeded — by default
 * the configured `maxOutboxAgeMs` and `maxDeadLetters` only (lag and queue depth are for alerts,
 * not for restarting pods), or exactly the `thresholds` passed.
 *
 * @example
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.messaging.isHealthy('messaging', { maxDeadLetters: 100 })]); }
 * ```
 */
@Injectable()
export class MessagingHealthIndicator {
  constructor(
    private readonly monitor: MessagingMonitor,
    @Inject(MESSAGING_OPTIONS) private readonly options: ResolvedMessagingOptions,
  ) {}

  /** Checks the messaging runtime; resolves to an up or down result (never throws). */
  async isHealthy(key = 'messaging', thresholds?: MonitoringThresholds): Promise<MessagingHealthResult> {
    const session = healthSession(key) as HealthSession<MessagingHealthResult>;
    const limits = thresholds ?? {
      maxOutboxAgeMs: this.monitor.thresholds.maxOutboxAgeMs,
      maxDeadLetters: this.monitor.thresholds.maxDeadLetters,
    };
    let snap;
    try {
      snap = await this.monitor.snapshot(limits);
    } catch (err) {
      return session.down({ reasons: [`snapshot failed: ${(err as Error).message}`] });
    }
    const reasons: string[] = [];
    const connections = snap.transport.connections;
    const down = Object.entries(connections ?? {}).filter(([, state]) => state === 'down');
    for (const [role] of down) reasons.push(`${snap.transport.name} ${role} connection is down`);
    if (!snap.transport.connected && down.length === 0)
      reasons.push(`transport ${snap.transport.name} is not connected`);
    const outboxOn = this.options.outbox !== undefined && this.options.outbox.enabled !== false;
    const relayExpected = outboxOn && this.options.outbox?.relay !== false;
    if (relayExpected && snap.outbox && !snap.outbox.relay.running) reasons.push('the outbox relay is not running');
    for (const b of snap.breaches) reasons.push(b.message);
    const details: Record<string, unknown> = {
      transport: snap.transport.name,
      connected: snap.transport.connected,
      ...(connections ? { connections } : {}),
      deadLetters: snap.deadLetterQueue.depth,
    };
    if (snap.outbox) {
      details.outbox = {
        pending: snap.outbox.pending,
        failed: snap.outbox.failed,
        oldestPendingAgeMs: snap.outbox.oldestPendingAgeMs,
        relayRunning: snap.outbox.relay.running,
      };
    }
    return reasons.length === 0 ? session.up(details) : session.down({ ...details, reasons });
  }
}
