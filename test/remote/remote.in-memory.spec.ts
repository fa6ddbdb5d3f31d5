import type { TestingModule } from '@nestjs/testing';
import { InMemoryBroker } from '../../lib';
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
});
