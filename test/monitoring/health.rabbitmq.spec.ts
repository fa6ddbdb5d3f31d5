import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Message, Subscribe } from '../../lib';
import { MessagingHealthIndicator } from '../../lib/monitoring/health/messaging-health.indicator';
import { MessagingMonitor } from '../../lib/monitoring/messaging-monitor.service';
import { TEST_AMQP_URL } from '../setup/services';
import { cleanup, closeConnections, runId } from '../rabbitmq/rabbitmq-test.helpers';
import { compileMonitoredModule, waitUntil } from './monitoring-app.helper';

const run = runId();
const service = `health-${run}`;
const exchange = `${run}.events`;

@Message('HealthPing')
class Ping {}

@Injectable()
class Subscribers {
  @Subscribe(Ping, { name: 'pings' })
  onPing() {}
}

/** Force-closes only this test's broker connections (client-provided name contains the run id). */
function cutConnections(): Promise<number> {
  return closeConnections(run, 'health test');
}

describe('MessagingHealthIndicator on RabbitMQ', () => {
  let moduleRef: TestingModule;

  beforeAll(async () => {
    moduleRef = await compileMonitoredModule([Subscribers], {
      serviceName: service,
      transport: 'rabbitmq',
      rabbitmq: { url: TEST_AMQP_URL, exchange, reconnectDelayMs: 200 },
    });
    await moduleRef.init();
  });

  afterAll(async () => {
    await moduleRef?.close();
    await cleanup(run, [], [exchange, `${service}.retry`]);
  });

  it('goes down when the broker connection is cut and up again once the transport reconnected', async () => {
    const health = moduleRef.get(MessagingHealthIndicator);
    const up = await health.isHealthy('broker');
    expect(up.broker).toMatchObject({ status: 'up', transport: 'rabbitmq', connected: true, deadLetters: 0 });

    expect(await cutConnections()).toBeGreaterThanOrEqual(2); // publisher + consumer connections
    // the first down result, caught as it happens (the transport starts recovering at once)
    let down: Awaited<ReturnType<MessagingHealthIndicator['isHealthy']>> | undefined;
    await waitUntil(
      async () => {
        const result = await health.isHealthy('broker');
        if (result.broker.status === 'down') down = result;
        return down !== undefined;
      },
      'health down',
      10_000,
    );
    expect(down!.broker.reasons).toEqual(
      expect.arrayContaining([expect.stringMatching(/^rabbitmq (publisher|consumer) connection is down$/)]),
    );

    await waitUntil(async () => (await health.isHealthy('broker')).broker.status === 'up', 'health up again', 30_000);
    // connections are back first; the consumer re-subscribes on its new channel right after
    await waitUntil(
      async () => (await moduleRef.get(MessagingMonitor).snapshot()).subscribers[0].queue?.consumers === 1,
      'consumer re-subscribed',
      10_000,
    );
    const snap = await moduleRef.get(MessagingMonitor).snapshot();
    expect(snap.transport.connected).toBe(true);
    expect(snap.subscribers[0].queue).toMatchObject({ name: `${service}.pings`, consumers: 1 });
  }, 60_000);
});
