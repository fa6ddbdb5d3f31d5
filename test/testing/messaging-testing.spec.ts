import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  Command,
  CommandBus,
  CommandHandler,
  EventBus,
  Message,
  MessageContext,
  MessagingTestHarness,
  MessagingTestingModule,
  MessagingTransactions,
  Subscribe,
  createMessagingEntities,
  type ICommandHandler,
} from '../../lib';

@Message('testing.OrderPlaced')
class OrderPlaced {
  constructor(
    readonly orderId: string,
    readonly sku: string,
  ) {}
}

@Message('testing.ParcelShipped')
class ParcelShipped {
  constructor(readonly orderId: string) {}
}

class PlaceOrder extends Command<string> {
  constructor(readonly sku: string) {
    super();
  }
}

@CommandHandler(PlaceOrder)
class PlaceOrderHandler implements ICommandHandler<PlaceOrder> {
  constructor(private readonly events: EventBus) {}
  async execute(command: PlaceOrder): Promise<string> {
    const orderId = `o-${command.sku}`;
    await this.events.publish(new OrderPlaced(orderId, command.sku));
    return orderId;
  }
}

const flaky = { failuresLeft: 0 };

@Injectable()
class Shipping {
  constructor(
    private readonly events: EventBus,
    private readonly ctx: MessageContext,
  ) {}

  @Subscribe(OrderPlaced, { name: 'shipping' })
  async ship(event: OrderPlaced): Promise<void> {
    if (flaky.failuresLeft > 0) {
      flaky.failuresLeft--;
      throw new Error('carrier unavailable');
    }
    if (event.sku === 'poison') throw new Error(`cannot ship ${event.sku}`);
    if (event.sku === 'hang') await new Promise(() => undefined);
    await this.events.publish(new ParcelShipped(event.orderId));
    void this.ctx;
  }
}

@Injectable()
class Billing {
  readonly billed: string[] = [];
  @Subscribe(OrderPlaced, { name: 'billing' })
  bill(event: OrderPlaced): void {
    this.billed.push(event.orderId);
  }
}

@Injectable()
class FakeBilling {
  @Subscribe(OrderPlaced, { name: 'billing' })
  bill(): void {
    throw new Error('fake billing refuses everything');
  }
}

async function start(build?: (b: ReturnType<typeof Test.createTestingModule>) => void): Promise<TestingModule> {
  const builder = Test.createTestingModule({
    imports: [
      MessagingTestingModule.forRoot({
        serviceName: 'orders',
        // back-off delays a test must not wait for
        retry: { maxRetries: 3, initialDelayMs: 60_000, maxDelayMs: 60_000 },
        handlerTimeoutMs: 60_000,
        shutdownTimeoutMs: 300, // the hanging handler of the last test is not waited for
      }),
    ],
    providers: [PlaceOrderHandler, Shipping, Billing],
  });
  build?.(builder);
  const moduleRef = await builder.compile();
  await moduleRef.init();
  return moduleRef;
}

describe('MessagingTestingModule', () => {
  const apps: TestingModule[] = [];
  afterEach(async () => {
    flaky.failuresLeft = 0;
    for (const app of apps.splice(0)) await app.close();
  });

  it('waits until idle and records what was published and handled, with metadata', async () => {
    const app = await start();
    apps.push(app);
    const harness = app.get(MessagingTestHarness);
    const orderId = await app.get(CommandBus).execute(new PlaceOrder('sku-1'));
    await harness.whenIdle();

    const placed = harness.published(OrderPlaced);
    expect(placed).toHaveLength(1);
    expect(placed[0].data).toEqual({ orderId, sku: 'sku-1' });
    expect(
      harness
        .handled(OrderPlaced)
        .map((d) => d.subscriber)
        .sort(),
    ).toEqual(['billing', 'shipping']);
    // what a subscriber published while handling is waited for too, and carries the causation
    const shipped = harness.published(ParcelShipped);
    expect(shipped).toHaveLength(1);
    expect(shipped[0].causationId).toBe(placed[0].id);
    expect(shipped[0].correlationId).toBe(placed[0].correlationId);
    expect(harness.published('testing.ParcelShipped')).toHaveLength(1);
    expect(app.get(Billing).billed).toEqual([orderId]);
  });

  it('retries without waiting for the back-off delays', async () => {
    const app = await start();
    apps.push(app);
    const harness = app.get(MessagingTestHarness);
    flaky.failuresLeft = 2;
    await app.get(CommandBus).execute(new PlaceOrder('sku-2'));
    await harness.whenIdle(); // with 60 s delays, this would time out
    expect(harness.deliveries(OrderPlaced, 'shipping').map((d) => [d.attempt, d.outcome])).toEqual([
      [1, 'retried'],
      [2, 'retried'],
      [3, 'handled'],
    ]);
    expect(harness.deadLettered()).toEqual([]);
  });

  it('records dead letters with their reason, after the configured retries', async () => {
    const app = await start();
    apps.push(app);
    const harness = app.get(MessagingTestHarness);
    await app.get(CommandBus).execute(new PlaceOrder('poison'));
    await harness.whenIdle();
    const dead = harness.deadLettered(OrderPlaced, 'shipping');
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ attempts: 4, error: { message: 'cannot ship poison' } });
    expect(harness.handled(OrderPlaced, 'billing')).toHaveLength(1);
    harness.clear();
    expect([harness.published(), harness.deliveries(), harness.deadLettered()]).toEqual([[], [], []]);
  });

  it('isolates testing modules from each other', async () => {
    const a = await start();
    const b = await start();
    apps.push(a, b);
    await a.get(CommandBus).execute(new PlaceOrder('only-in-a'));
    await a.get(MessagingTestHarness).whenIdle();
    await b.get(MessagingTestHarness).whenIdle();
    expect(a.get(MessagingTestHarness).published(OrderPlaced)).toHaveLength(1);
    expect(b.get(MessagingTestHarness).published()).toEqual([]);
    expect(b.get(MessagingTestHarness).deliveries()).toEqual([]);
  });

  it('lets a test replace one subscriber with overrideProvider', async () => {
    const app = await start((b) => b.overrideProvider(Billing).useClass(FakeBilling));
    apps.push(app);
    const harness = app.get(MessagingTestHarness);
    await app.get(CommandBus).execute(new PlaceOrder('sku-3'));
    await harness.whenIdle();
    expect(harness.deadLettered(OrderPlaced, 'billing')[0]?.error.message).toBe('fake billing refuses everything');
    expect(harness.handled(OrderPlaced, 'shipping')).toHaveLength(1);
  });

  it('whenIdle says what is still pending when a handler never finishes', async () => {
    const app = await start();
    apps.push(app);
    const harness = app.get(MessagingTestHarness);
    await app.get(CommandBus).execute(new PlaceOrder('hang'));
    await expect(harness.whenIdle(300)).rejects.toThrow(/not idle after 300 ms: 1 message\(s\) still queued/);
  });
});

describe('MessagingTestingModule with the outbox (SQLite)', () => {
  @Injectable()
  class Ledger {
    readonly entries: string[] = [];
    @Subscribe(OrderPlaced, { name: 'ledger' })
    async record(event: OrderPlaced): Promise<void> {
      const manager = this.ctx.manager as { query(sql: string, params: unknown[]): Promise<unknown> };
      await manager.query('INSERT INTO ledger (order_id) VALUES (?)', [event.orderId]);
      this.entries.push(event.orderId);
    }
    constructor(private readonly ctx: MessageContext) {}
  }

  it('whenIdle waits for rows the relay has not published yet, then for their handling', async () => {
    const app = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database: ':memory:',
          entities: createMessagingEntities({ database: 'sqlite' }),
          synchronize: true,
        }),
        // a slow relay: an event committed now is published a second later at the earliest
        MessagingTestingModule.forRoot({ serviceName: 'ledger', outbox: { pollIntervalMs: 1_000 } }),
      ],
      providers: [Ledger],
    }).compile();
    await app.init();
    try {
      await app.get(DataSource).query('CREATE TABLE ledger (order_id text NOT NULL)');
      const harness = app.get(MessagingTestHarness);
      await app.get(MessagingTransactions).run(async () => {
        await app.get(EventBus).publish(new OrderPlaced('o-9', 'sku-9'));
      });
      await harness.whenIdle();
      expect(app.get(Ledger).entries).toEqual(['o-9']);
      expect(await app.get(DataSource).query('SELECT order_id FROM ledger')).toEqual([{ order_id: 'o-9' }]);
      expect(harness.handled(OrderPlaced, 'ledger')).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});
