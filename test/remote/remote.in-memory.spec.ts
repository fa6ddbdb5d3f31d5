import type { TestingModule } from '@nestjs/testing';
import {
  CommandBus,
  DeadLetterService,
  InMemoryBroker,
  MESSAGING_TRANSPORT,
  UnroutableMessageError,
  type MessageTransport,
} from '../../lib';
import { encodeEnvelope } from '../../lib/message/cloudevents.codec';
import { uuidv7 } from '../../lib/message/uuid-v7';
import { waitFor } from '../setup/wait';
import { OrderFlow, shippingHandlers, startService, GetStock, ShipOrder } from './remote-scenario';
import { remoteScenarioCases, type ScenarioEnv } from './remote-scenario.cases';

describe('commands and queries across services: two Nest apps in memory', () => {
  const broker = new InMemoryBroker();
  const apps: TestingModule[] = [];
  let env: ScenarioEnv;

  beforeAll(async () => {
    const routes = { shipping: [ShipOrder, GetStock], nobody: ['remote.Orphan'] };
    const common = {
      inMemory: { broker },
      retry: { maxRetries: 2, initialDelayMs: 20, jitter: 0 },
      remote: { routes, maxReplyBytes: 16_384 },
    };
    const shipping = [];
    for (const instance of ['a', 'b']) {
      shipping.push(await startService({ serviceName: 'shipping', ...common }, shippingHandlers('shipping', instance)));
    }
    const orders = await startService({ serviceName: 'orders', ...common }, [OrderFlow]);
    apps.push(...shipping, orders);
    env = { orders, shipping, shippingName: 'shipping', nobody: 'nobody', tag: `m${Date.now().toString(36)}` };
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  remoteScenarioCases(() => env);

  it('dead-letters a command of a type the service does not accept, with the reason', async () => {
    const id = uuidv7();
    const envelope = {
      id,
      type: 'remote.Unknown',
      version: 1,
      time: new Date().toISOString(),
      source: 'elsewhere',
      correlationId: id,
      headers: {},
      data: {},
    };
    const transport = env.orders.get<string, MessageTransport>(MESSAGING_TRANSPORT);
    await transport.publish({
      envelope,
      body: encodeEnvelope(envelope),
      destination: 'commands',
      endpoint: 'shipping',
    });
    const letters = env.shipping[0].get(DeadLetterService);
    await waitFor(async () => (await letters.list()).some((d) => d.messageId === id), 'the dead letter');
    const letter = (await letters.list()).find((d) => d.messageId === id)!;
    expect(letter.subscriber).toBe('commands');
    expect(letter.error.name).toBe('UnknownMessageTypeError');
  });

  it('refuses a routed command for a service that never subscribed (UnroutableMessageError, as RabbitMQ does)', async () => {
    await expect(env.orders.get(CommandBus).execute({ type: 'remote.Orphan' })).rejects.toBeInstanceOf(
      UnroutableMessageError,
    );
  });
});
