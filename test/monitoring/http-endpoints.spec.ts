import 'reflect-metadata';
import { Controller, Get, Injectable, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Registry } from 'prom-client';
import request from 'supertest';
import { EventBus, Message, Subscribe, MESSAGING_OPTIONS, MESSAGING_TRANSPORT, type MessageTransport } from '../../lib';
import { MessagingMetricsController } from '../../lib/monitoring/prometheus/metrics.controller';
import { MessagingHealthIndicator } from '../../lib/monitoring/health/messaging-health.indicator';
import { MessagingMonitor } from '../../lib/monitoring/messaging-monitor.service';
import { compileMonitoredModule, uniqueService, waitUntil } from './monitoring-app.helper';
import { parseExposition, valueOf } from './prometheus-text';

@Message('HttpOrderPlaced')
class OrderPlaced {
  constructor(readonly n: number) {}
}
@Message('HttpPaymentFailed')
class PaymentFailed {
  constructor(readonly n: number) {}
}
@Message('HttpReportRequested')
class ReportRequested {
  constructor(readonly n: number) {}
}

let release: () => void = () => undefined;
const gate = new Promise<void>((r) => (release = r));

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

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly messaging: MessagingHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.messaging.isHealthy('messaging', { maxDeadLetters: 10 })]);
  }
}

const N = 12;
const M = 2;
const K = 4;

describe('GET /metrics and GET /health (Nest HTTP app, in-memory transport)', () => {
  let app: INestApplication;
  const registry = new Registry();
  const service = uniqueService('http');

  beforeAll(async () => {
    const moduleRef = await compileMonitoredModule(
      [Subscribers],
      { serviceName: service, monitoring: { prometheus: { registry } } },
      [TerminusModule.forRoot({ logger: false })],
      [MessagingMetricsController, HealthController],
    );
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const bus = app.get(EventBus);
    for (let i = 0; i < N; i++) await bus.publish(new OrderPlaced(i));
    for (let i = 0; i < M; i++) await bus.publish(new PaymentFailed(i));
    for (let i = 0; i < K; i++) await bus.publish(new ReportRequested(i));
    const monitor = app.get(MessagingMonitor);
    await waitUntil(async () => (await monitor.snapshot()).deadLetterQueue.depth === M, 'dead letters');
  });

  afterAll(async () => {
    release();
    await app?.close();
  });

  it('serves the expected series, named by Prometheus conventions', async () => {
    const res = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const exp = parseExposition(res.text);
    const of = (subscriber: string) => ({ service, subscriber });

    expect(exp.types).toMatchObject({
      messaging_messages_handled_total: 'counter',
      messaging_messages_retried_total: 'counter',
      messaging_messages_dead_lettered_total: 'counter',
      messaging_messages_duplicate_total: 'counter',
      messaging_handler_duration_seconds: 'histogram',
      messaging_consumer_lag_seconds: 'histogram',
      messaging_queue_depth: 'gauge',
      messaging_queue_consumers: 'gauge',
      messaging_consumer_current_lag_seconds: 'gauge',
      messaging_dead_letter_queue_depth: 'gauge',
      messaging_transport_connected: 'gauge',
    });
    expect(valueOf(exp, 'messaging_messages_handled_total', of('orders'))).toBe(N);
    expect(valueOf(exp, 'messaging_messages_handled_total', of('reports'))).toBe(0); // registered at zero
    expect(valueOf(exp, 'messaging_messages_retried_total', of('payments'))).toBe(M);
    expect(valueOf(exp, 'messaging_messages_dead_lettered_total', of('payments'))).toBe(M);
    expect(valueOf(exp, 'messaging_handler_duration_seconds_count', of('orders'))).toBe(N);
    expect(valueOf(exp, 'messaging_handler_duration_seconds_bucket', { ...of('orders'), le: '+Inf' })).toBe(N);
    expect(valueOf(exp, 'messaging_consumer_lag_seconds_count', of('orders'))).toBe(N);
    // every lag observed lands in a bucket, and no lag is longer than this test has run
    expect(valueOf(exp, 'messaging_consumer_lag_seconds_bucket', { ...of('orders'), le: '+Inf' })).toBe(N);
    expect(valueOf(exp, 'messaging_consumer_lag_seconds_sum', of('orders'))).toBeLessThan(N * 60);
    expect(valueOf(exp, 'messaging_queue_depth', of('reports'))).toBe(K - 1);
    expect(valueOf(exp, 'messaging_queue_depth', of('orders'))).toBe(0);
    expect(valueOf(exp, 'messaging_queue_consumers', of('reports'))).toBe(1);
    expect(valueOf(exp, 'messaging_consumer_current_lag_seconds', of('reports'))).toBeGreaterThan(0);
    expect(valueOf(exp, 'messaging_dead_letter_queue_depth', { service })).toBe(M);
    expect(valueOf(exp, 'messaging_transport_connected', { service, transport: 'memory' })).toBe(1);
    // the outbox is off: no outbox series
    expect(exp.samples.some((s) => s.name.startsWith('messaging_outbox_'))).toBe(false);
    // every metric name follows the conventions: prefix, base units, _total on counters
    for (const [name, type] of Object.entries(exp.types)) {
      expect(name).toMatch(/^messaging_[a-z_]+$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      if (type === 'histogram') expect(name).toMatch(/_seconds$/);
    }
  });

  it('is up while connected and under the thresholds, down when the transport disconnects, up again after', async () => {
    const ok = await request(app.getHttpServer()).get('/health').expect(200);
    expect(ok.body.status).toBe('ok');
    expect(ok.body.info.messaging).toMatchObject({
      status: 'up',
      transport: 'memory',
      connected: true,
      deadLetters: M,
    });

    const transport = app.get<MessageTransport>(MESSAGING_TRANSPORT);
    await transport.close(50);
    const down = await request(app.getHttpServer()).get('/health').expect(503);
    expect(down.body.status).toBe('error');
    expect(down.body.error.messaging).toMatchObject({ status: 'down', connected: false });
    expect(down.body.error.messaging.reasons).toContain('transport memory is not connected');

    await transport.connect({ serviceName: app.get(MESSAGING_OPTIONS).serviceName, onDeadLetter: () => undefined });
    const back = await request(app.getHttpServer()).get('/health').expect(200);
    expect(back.body.info.messaging).toMatchObject({ status: 'up', connected: true });
  });

  it('goes down when the dead-letter queue is over its threshold', async () => {
    const result = await app.get(MessagingHealthIndicator).isHealthy('dlq', { maxDeadLetters: M - 1 });
    expect(result.dlq).toMatchObject({ status: 'down', deadLetters: M });
    expect(result.dlq.reasons).toEqual([`${M} message(s) in the dead-letter queue (limit ${M - 1})`]);
  });
});
