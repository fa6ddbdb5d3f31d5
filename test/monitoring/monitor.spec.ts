import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { EventBus, Message, Subscribe, MESSAGING_TRANSPORT, type MessageTransport } from '../../lib';
import { MessagingMonitor } from '../../lib/monitoring/messaging-monitor.service';
import type { MessagingAlert } from '../../lib/monitoring/monitoring-options.interface';
import type { SubscriberSnapshot } from '../../lib/monitoring/messaging-snapshot.interface';
import { compileMonitoredModule, waitUntil as waitFor } from './monitoring-app.helper';

@Message('MonOrderPlaced')
class OrderPlaced {
  constructor(readonly n: number) {}
}
@Message('MonPaymentFailed')
class PaymentFailed {
  constructor(readonly n: number) {}
}
@Message('MonReportRequested')
class ReportRequested {
  constructor(readonly n: number) {}
}

/** Lets the stalled subscriber go on. */
let release: () => void = () => undefined;
let gate = new Promise<void>((r) => (release = r));

@Injectable()
class Subscribers {
  @Subscribe(OrderPlaced, { name: 'orders' })
  onOrder() {}

  @Subscribe(PaymentFailed, { name: 'payments', retry: { maxRetries: 1, initialDelayMs: 5, jitter: 0 } })
  onPayment() {
    throw new RangeError('card declined');
  }

  @Subscribe(ReportRequested, { name: 'reports', concurrency: 1 })
  async onReport() {
    await gate;
  }
}

const N = 20; // handled by `orders`
const M = 3; // dead-lettered by `payments` after 1 retry each
const K = 6; // queued behind a stalled `reports`

describe('MessagingMonitor snapshot on the in-memory transport', () => {
  let moduleRef: TestingModule;
  let monitor: MessagingMonitor;
  const alerts: MessagingAlert[] = [];
  const sub = (subs: SubscriberSnapshot[], name: string) => subs.find((s) => s.subscriber === name)!;

  beforeAll(async () => {
    gate = new Promise<void>((r) => (release = r));
    moduleRef = await compileMonitoredModule([Subscribers], {
      monitoring: {
        thresholds: { maxDeadLetters: M - 1, maxQueueDepth: 2, maxConsumerLagMs: 150 },
        onAlert: (a) => void alerts.push(a),
        checkIntervalMs: 0,
      },
    });
    await moduleRef.init();
    monitor = moduleRef.get(MessagingMonitor);
  });

  afterAll(async () => {
    release();
    await moduleRef?.close();
  });

  it('starts with every subscriber at zero, connected, nothing breached', async () => {
    const snap = await monitor.snapshot();
    expect(snap.transport).toEqual({ name: 'memory', connected: true, statsError: undefined });
    expect(snap.outbox).toBeUndefined();
    expect(snap.subscribers.map((s) => s.subscriber).sort()).toEqual(['orders', 'payments', 'reports']);
    for (const s of snap.subscribers) {
      expect(s).toMatchObject({ handled: 0, failed: 0, retried: 0, deadLettered: 0, duplicates: 0, currentLagMs: 0 });
      expect(s.queue).toMatchObject({ depth: 0, consumers: 1, name: `${snap.service}.${s.subscriber}` });
    }
    expect(snap.deadLetterQueue).toEqual({ name: `${snap.service}.dead-letter`, depth: 0 });
    expect(snap.breaches).toEqual([]);
  });

  it('counts N handled, M retried and dead-lettered, and a stalled consumer whose depth and lag grow', async () => {
    const bus = moduleRef.get(EventBus);
    for (let i = 0; i < N; i++) await bus.publish(new OrderPlaced(i));
    for (let i = 0; i < M; i++) await bus.publish(new PaymentFailed(i));
    for (let i = 0; i < K; i++) await bus.publish(new ReportRequested(i));
    await waitFor(async () => (await monitor.snapshot()).deadLetterQueue.depth === M, 'M dead letters');

    const early = await monitor.snapshot();
    expect(sub(early.subscribers, 'orders')).toMatchObject({ handled: N, failed: 0, currentLagMs: 0 });
    expect(sub(early.subscribers, 'orders').queue!.depth).toBe(0);
    expect(sub(early.subscribers, 'payments')).toMatchObject({
      handled: 0,
      retried: M,
      deadLettered: M,
      failed: 2 * M,
    });
    const reports = sub(early.subscribers, 'reports');
    expect(reports.handled).toBe(0);
    expect(reports.queue).toMatchObject({ depth: K - 1, consumers: 1 }); // one in flight, stuck
    expect(early.breaches.map((b) => `${b.threshold}:${b.subscriber ?? ''}`).sort()).toEqual(
      ['maxDeadLetters:', 'maxQueueDepth:reports']
        .concat(reports.currentLagMs > 150 ? ['maxConsumerLagMs:reports'] : [])
        .sort(),
    );

    // the stall goes on: current lag grows past the threshold
    await new Promise((r) => setTimeout(r, 250));
    const stalled = await monitor.snapshot();
    const lagging = sub(stalled.subscribers, 'reports');
    expect(lagging.currentLagMs).toBeGreaterThanOrEqual(250);
    expect(lagging.currentLagMs).toBeGreaterThan(reports.currentLagMs);
    expect(stalled.breaches).toContainEqual(
      expect.objectContaining({ threshold: 'maxConsumerLagMs', subscriber: 'reports', limit: 150 }),
    );

    // recovery: the queue drains, the handled messages carry the lag they accumulated
    release();
    await waitFor(async () => sub((await monitor.snapshot()).subscribers, 'reports').handled === K, 'reports drained');
    const after = await monitor.snapshot();
    const recovered = sub(after.subscribers, 'reports');
    expect(recovered.queue!.depth).toBe(0);
    expect(recovered.currentLagMs).toBe(0);
    expect(recovered.lagMs.max).toBeGreaterThanOrEqual(250);
    expect(recovered.lagMs.p99).toBeGreaterThanOrEqual(250);
    expect(sub(after.subscribers, 'orders').durationMs.p99).toBeGreaterThan(0); // every handling takes some time
    expect(after.breaches.map((b) => b.threshold)).toEqual(['maxDeadLetters']);
  });

  it('alerted once per dead letter and on each threshold change, without payloads in the breach', () => {
    const dead = alerts.filter((a) => a.kind === 'dead-letter');
    expect(dead).toHaveLength(M);
    for (const a of dead) {
      if (a.kind !== 'dead-letter') continue;
      expect(a).toMatchObject({ subscriber: 'payments', error: { name: 'RangeError', message: 'card declined' } });
    }
    const changes = alerts
      .filter((a) => a.kind === 'threshold')
      .map((a) => (a.kind === 'threshold' ? `${a.state}:${a.breach.threshold}:${a.breach.subscriber ?? ''}` : ''));
    expect(changes.filter((c) => c === 'firing:maxDeadLetters:')).toHaveLength(1);
    expect(changes).toContain('firing:maxQueueDepth:reports');
    expect(changes).toContain('firing:maxConsumerLagMs:reports');
    expect(changes).toContain('resolved:maxQueueDepth:reports');
    expect(changes).toContain('resolved:maxConsumerLagMs:reports');
    expect(changes).not.toContain('resolved:maxDeadLetters:');
  });

  it('reports a disconnected transport without failing', async () => {
    const transport = moduleRef.get<MessageTransport>(MESSAGING_TRANSPORT);
    await transport.close(100);
    const snap = await monitor.snapshot();
    expect(snap.transport.connected).toBe(false);
    expect(snap.transport.statsError).toBe('transport not connected');
    expect(snap.deadLetterQueue.depth).toBeUndefined();
    expect(sub(snap.subscribers, 'orders').handled).toBe(N);
  });
});
