import 'reflect-metadata';
import type { TestingModule } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { InMemoryBroker, Message, Query, QueryBus, QueryHandler, QueryTimeoutError, RemoteMessaging } from '../../lib';
import { MessagingMetrics } from '../../lib/monitoring/prometheus/messaging-metrics.service';
import { MessagingMonitor } from '../../lib/monitoring/messaging-monitor.service';
import { compileMonitoredModule, uniqueService, waitUntil } from './monitoring-app.helper';
import { parseExposition, valueOf } from './prometheus-text';

@Message('MetricsSlowCount')
class SlowCount extends Query<number> {
  constructor(readonly delayMs: number) {
    super();
  }
}

@QueryHandler(SlowCount)
class SlowCountHandler {
  async execute(query: SlowCount): Promise<number> {
    await new Promise((r) => setTimeout(r, query.delayMs));
    return query.delayMs;
  }
}

const LATE = 3;

describe('routed queries in the Prometheus metrics (two apps in memory)', () => {
  const apps: TestingModule[] = [];
  const registry = new Registry();
  const broker = new InMemoryBroker();
  const stock = uniqueService('stock');
  const shop = uniqueService('shop');
  const remote = { routes: { [stock]: [SlowCount] } };
  let sender: TestingModule;

  beforeAll(async () => {
    const receiver = await compileMonitoredModule([SlowCountHandler], {
      serviceName: stock,
      inMemory: { broker },
      remote,
      monitoring: { prometheus: { registry } }, // the same registry: it answers, sends no query
    });
    await receiver.init();
    sender = await compileMonitoredModule([], {
      serviceName: shop,
      inMemory: { broker },
      remote,
      monitoring: { prometheus: { registry } },
    });
    await sender.init();
    apps.push(receiver, sender);
  });

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
  });

  const scrape = async () => parseExposition(await sender.get(MessagingMetrics).metrics());

  it('exports the stray replies as a counter and the queries in flight as a gauge', async () => {
    const exp0 = await scrape();
    expect(exp0.types).toMatchObject({
      messaging_remote_stray_replies_total: 'counter',
      messaging_remote_queries_in_flight: 'gauge',
    });
    expect(valueOf(exp0, 'messaging_remote_stray_replies_total', { service: shop })).toBe(0);
    // replies that come after their query timed out are stray
    const queries = sender.get(QueryBus);
    for (let i = 0; i < LATE; i++) {
      await expect(queries.execute(new SlowCount(200), { timeoutMs: 20 })).rejects.toBeInstanceOf(QueryTimeoutError);
    }
    const slow = queries.execute(new SlowCount(3_000), { timeoutMs: 8_000 });
    await waitUntil(() => sender.get(RemoteMessaging).stats().strayReplies === LATE, 'the late replies');
    await new Promise((r) => setTimeout(r, 1_100)); // past the snapshot reuse window of the last scrape
    const exp = await scrape();
    expect(valueOf(exp, 'messaging_remote_stray_replies_total', { service: shop })).toBe(LATE);
    expect(valueOf(exp, 'messaging_remote_queries_in_flight', { service: shop })).toBe(1);
    await expect(slow).resolves.toBe(3_000);
    expect((await sender.get(MessagingMonitor).snapshot()).remote).toEqual({ inFlight: 0, strayReplies: LATE });
  });

  it('has no remote series for a service that sends no routed queries (the receiver, on the same registry)', async () => {
    const exp = await scrape();
    expect(exp.samples.some((s) => s.labels.service === stock)).toBe(true);
    expect(exp.samples.filter((s) => s.name.startsWith('messaging_remote_')).map((s) => s.labels.service)).toEqual([
      shop,
      shop,
    ]);
  });
});
