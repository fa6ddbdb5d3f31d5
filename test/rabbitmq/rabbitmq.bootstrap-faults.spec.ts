import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { EventBus, Message, Subscribe } from '../../lib';
import { MessagingHealthIndicator } from '../../lib/monitoring/health/messaging-health.indicator';
import { BrokerConnectionError } from '../../lib/transport/rabbitmq/errors/broker-connection.error';
import { TEST_AMQP_URL } from '../setup/services';
import { TcpProxy } from '../setup/tcp-proxy';
import { startApp } from '../core/app.helper';
import { waitFor } from '../setup/wait';
import { cleanup, closeConnections, makeContext, makeTransport, runId } from './rabbitmq-test.helpers';

// The broker drops connections during startup and while running: startup finishes after
// reconnecting or fails on time with a clear error (never hangs), and health says which
// connection is down.

const run = runId();
const broker = new URL(TEST_AMQP_URL);

@Message('BootPing')
class Ping {
  constructor(readonly n: number) {}
}

const received: number[] = [];
@Injectable()
class Pings {
  @Subscribe(Ping, { name: 'pings' })
  on(ping: Ping): void {
    received.push(ping.n);
  }
  @Subscribe('BootOther', { name: 'others' })
  other(): void {}
}

/** The broker URL through the proxy. */
function viaProxy(port: number): string {
  const url = new URL(TEST_AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

describe('RabbitMQ bootstrap and connection faults', () => {
  const proxy = new TcpProxy(broker.hostname, Number(broker.port || 5672));
  let port: number;
  const apps: TestingModule[] = [];

  beforeAll(async () => {
    port = await proxy.start();
  });
  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await proxy.stop();
    await cleanup(run, [], [`${run}.events`, ...Array.from({ length: 5 }, (_, i) => `${run}.close${i}.retry`)]);
  });

  it('startup finishes after the broker dropped the connections right after they opened', async () => {
    proxy.accepted = 0;
    proxy.cutAfterMs = 60; // after the AMQP handshake, while the topology is being declared
    proxy.cutFirst = 4;
    const app = await startApp([Pings], {
      serviceName: `${run}-boot`,
      transport: 'rabbitmq',
      rabbitmq: {
        url: viaProxy(port),
        exchange: `${run}.events`,
        reconnectDelayMs: 100,
        connectTimeoutMs: 2_000, // a handshake cut mid-way is given up after this
        startupTimeoutMs: 30_000,
      },
    });
    apps.push(app);
    proxy.cutAfterMs = undefined;
    expect(proxy.accepted).toBeGreaterThan(2); // it did reconnect
    await app.get(EventBus).publish(new Ping(1));
    await waitFor(() => received.includes(1), 'the event consumed after the faulty startup', 10_000);
  }, 50_000);

  it('a broker that keeps dropping every connection fails startup on time, naming what is down', async () => {
    proxy.cutAfterMs = 5; // before the AMQP handshake and the topology can be done
    proxy.cutFirst = Number.POSITIVE_INFINITY;
    const started = Date.now();
    let error: unknown;
    try {
      apps.push(
        await startApp([Pings], {
          serviceName: `${run}-never`,
          transport: 'rabbitmq',
          rabbitmq: { url: viaProxy(port), exchange: `${run}.events`, reconnectDelayMs: 100, startupTimeoutMs: 2_000 },
        }),
      );
    } catch (err) {
      error = err;
    } finally {
      proxy.cutAfterMs = undefined;
    }
    expect(error).toBeInstanceOf(BrokerConnectionError);
    expect((error as Error).message).toMatch(
      /did not finish within 2000 ms \(rabbitmq.startupTimeoutMs\): publisher connection (up|down), consumer connection (up|down)/,
    );
    expect((error as Error).message).not.toContain(`:${broker.password}@`);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 30_000);

  it('closing while the broker drops the connections finishes, and nothing reconnects afterwards', async () => {
    // amqplib leaves a channel's or a connection's close pending when the socket dies before the
    // broker's close-ok: close must not wait for it forever, nor leave the connection manager
    // reconnecting (it did: a closed app kept opening connections)
    const own = new TcpProxy(broker.hostname, Number(broker.port || 5672)); // no other test's app behind it
    const ownPort = await own.start();
    try {
      for (let round = 0; round < 5; round++) {
        own.accepted = 0;
        own.cutAfterMs = 60;
        own.cutFirst = 4;
        const transport = makeTransport(run, {
          url: viaProxy(ownPort),
          queuePrefix: `${run}.close${round}`,
          reconnectDelayMs: 100,
          connectTimeoutMs: 2_000,
          startupTimeoutMs: 20_000,
        });
        await transport.connect(makeContext('close'));
        const started = Date.now();
        await transport.close(1_000);
        expect(Date.now() - started).toBeLessThan(30_000); // each close step is bounded (5 s); a hang would be unbounded
        const after = own.accepted;
        await new Promise((r) => setTimeout(r, 400)); // four reconnect delays
        expect(own.accepted).toBe(after);
        expect(own.open).toBe(0);
      }
    } finally {
      await own.stop();
    }
  }, 200_000);

  it('health names the connection that is down, and both come back by themselves', async () => {
    // straight to the broker, reconnecting after 3 s: the health check has time to see the gap
    const app = await startApp([Pings], {
      serviceName: `${run}-health`,
      transport: 'rabbitmq',
      rabbitmq: { url: TEST_AMQP_URL, exchange: `${run}.events`, reconnectDelayMs: 3_000 },
    });
    apps.push(app);
    const health = app.get(MessagingHealthIndicator);
    const connectionsNow = async () =>
      ((await health.isHealthy('messaging'))['messaging'] as { connections?: Record<string, string> }).connections;
    await waitFor(async () => (await connectionsNow())?.consumer === 'up', 'both up', 10_000);
    expect(await connectionsNow()).toEqual({ publisher: 'up', consumer: 'up' });
    // only the consumer connection of this app (its client-provided name ends in "consumer")
    const closing = closeConnections(`${run}-health consumer`, 'health test');
    let sawDown: unknown;
    await waitFor(
      async () => {
        const result = await health.isHealthy('messaging');
        const details = result['messaging'] as {
          status: string;
          connections?: Record<string, string>;
          reasons?: string[];
        };
        if (details.connections?.consumer === 'down') sawDown = details;
        return sawDown !== undefined;
      },
      'the consumer connection reported down',
      10_000,
    );
    expect(await closing).toBe(1);
    expect(sawDown).toMatchObject({
      status: 'down',
      connections: { publisher: 'up', consumer: 'down' },
      reasons: expect.arrayContaining(['rabbitmq consumer connection is down']),
    });
    await waitFor(async () => (await connectionsNow())?.consumer === 'up', 'the consumer connection back', 15_000);
    await app.get(EventBus).publish(new Ping(2));
    await waitFor(() => received.includes(2), 'consuming resumed', 10_000);
  }, 40_000);
});
