/**
 * `remote.endpoints` in memory: a contract routed to the logical endpoint "shipping" reaches the
 * service deployed under another queue prefix (a staging deployment), commands and queries alike;
 * errors name both forms; bad maps fail at startup.
 */
import 'reflect-metadata';
import type { TestingModule } from '@nestjs/testing';
import {
  Command,
  CommandBus,
  CommandHandler,
  InMemoryBroker,
  InvalidConfigurationError,
  Message,
  MessageContext,
  NoResponderError,
  Query,
  QueryBus,
  QueryHandler,
  QueryTimeoutError,
  messagingOptionsFromEnv,
  type MessagingModuleOptions,
} from '../../lib';
import { waitFor } from '../setup/wait';
import { startService } from './remote-scenario';

@Message('endpoints.Ship')
class Ship extends Command<void> {
  constructor(readonly parcelId: string) {
    super();
  }
}

@Message('endpoints.Count')
class Count extends Query<number> {
  constructor(readonly prefix: string) {
    super();
  }
}

const shipped: Array<{ parcelId: string; subscriber?: string }> = [];

@CommandHandler(Ship)
class ShipHandler {
  constructor(private readonly ctx: MessageContext) {}
  execute(command: Ship): void {
    shipped.push({ parcelId: command.parcelId, subscriber: this.ctx.subscriber });
  }
}

@QueryHandler(Count)
class CountHandler {
  async execute(query: Count): Promise<number> {
    if (query.prefix === 'stall') await new Promise((r) => setTimeout(r, 1_000));
    return shipped.filter((s) => s.parcelId.startsWith(query.prefix)).length;
  }
}

const routes = { shipping: [Ship, Count], gone: ['endpoints.Gone'] };
const endpoints = { shipping: 'staging-shipping', gone: 'staging-gone' };

describe('remote.endpoints: a logical endpoint sent to a prefixed deployment (in memory)', () => {
  const apps: TestingModule[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  async function staging(): Promise<{ orders: TestingModule; shipping: TestingModule }> {
    const broker = new InMemoryBroker();
    const common: Partial<MessagingModuleOptions> = { inMemory: { broker }, remote: { routes, endpoints } };
    // in memory the queue prefix is the service name: the receiver runs as "staging-shipping"
    const shipping = await startService({ serviceName: 'staging-shipping', ...common }, [ShipHandler, CountHandler]);
    const orders = await startService({ serviceName: 'staging-orders', ...common }, []);
    apps.push(shipping, orders);
    return { orders, shipping };
  }

  it('delivers a command and answers a query routed to "shipping" through the staging-shipping queues', async () => {
    const { orders } = await staging();
    await orders.get(CommandBus).execute(new Ship('mem-1'));
    await waitFor(() => shipped.some((s) => s.parcelId === 'mem-1'), 'the command in staging-shipping');
    expect(shipped.find((s) => s.parcelId === 'mem-1')!.subscriber).toBe('commands');
    await expect(orders.get(QueryBus).execute(new Count('mem-'))).resolves.toBe(1);
  });

  it('names the endpoint and its queue prefix in query errors', async () => {
    const { orders } = await staging();
    const queries = orders.get(QueryBus);
    const none = await queries.execute({ type: 'endpoints.Gone' }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(NoResponderError);
    expect((none as NoResponderError).endpoint).toBe('gone');
    expect((none as NoResponderError).queuePrefix).toBe('staging-gone');
    expect((none as Error).message).toContain('service "gone" (queue prefix "staging-gone")');
    const late = await queries.execute(new Count('stall'), { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(QueryTimeoutError);
    expect((late as Error).message).toContain('service "shipping" (queue prefix "staging-shipping")');
  });

  it('fails at startup when a handler of this service is routed to an endpoint mapped elsewhere, naming both forms', async () => {
    await expect(
      startService({ serviceName: 'shipping', remote: { routes, endpoints: { shipping: 'staging-shipping' } } }, [
        ShipHandler,
      ]),
    ).rejects.toThrow(/routed to service "shipping" \(queue prefix "staging-shipping"\) but ShipHandler handles it/);
  });

  it('fails at startup on a bad map, saying what to fix', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [['shipping'], /remote\.endpoints must be an object: \{ <endpoint>: "<queue prefix>" \}/],
      [{ 'bad name': 'x' }, /remote\.endpoints: endpoint "bad name" must be 1-100 letters/],
      [{ shipping: 'staging shipping' }, /remote\.endpoints\.shipping must be the queue prefix of that service/],
      [{ shipping: 42 }, /remote\.endpoints\.shipping must be the queue prefix .* got 42/],
    ];
    for (const [map, message] of cases) {
      const error = await startService({ serviceName: 'shop', remote: { endpoints: map } } as never, []).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidConfigurationError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('reads the map from MESSAGING_REMOTE_ENDPOINTS, kept under remote overrides, and refuses a malformed one', () => {
    const env = {
      MESSAGING_SERVICE_NAME: 'orders',
      MESSAGING_REMOTE_ENDPOINTS: 'shipping=staging-shipping, billing = staging-billing,',
    };
    expect(messagingOptionsFromEnv(env).remote).toEqual({
      endpoints: { shipping: 'staging-shipping', billing: 'staging-billing' },
    });
    expect(messagingOptionsFromEnv(env, { remote: { routes } }).remote).toEqual({
      routes,
      endpoints: { shipping: 'staging-shipping', billing: 'staging-billing' },
    });
    expect(messagingOptionsFromEnv({ MESSAGING_SERVICE_NAME: 'orders' }).remote).toBeUndefined();
    for (const raw of ['shipping', 'shipping=', '=staging', 'a=b=c', 'shipping=x,shipping=y']) {
      expect(() => messagingOptionsFromEnv({ ...env, MESSAGING_REMOTE_ENDPOINTS: raw })).toThrow(
        /MESSAGING_REMOTE_ENDPOINTS (must be <endpoint>=<queue prefix> pairs|names endpoint "shipping" twice)/,
      );
    }
    // a name no endpoint can have is refused, not dropped (assigning "__proto__" would silently do nothing)
    for (const raw of ['__proto__=x', 'ship ping=x', 'shipping=x,constructor!=y']) {
      expect(() => messagingOptionsFromEnv({ ...env, MESSAGING_REMOTE_ENDPOINTS: raw })).toThrow(
        /MESSAGING_REMOTE_ENDPOINTS: endpoint ".*" must be 1-100 letters/,
      );
    }
  });
});
