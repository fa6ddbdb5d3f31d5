import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CommandBus, MessagingTestHarness, MessagingTestingModule, QueryBus } from '../../lib';
import { sampleDatabase } from '../../sample/app.module';
import { CreateOrder } from '../../sample/orders/create-order.command';
import { CreateOrderHandler } from '../../sample/orders/create-order.handler';
import { GetOrder } from '../../sample/orders/get-order.query';
import { GetOrderHandler } from '../../sample/orders/get-order.handler';
import { OrderCreated } from '../../sample/orders/order-created.event';
import { InventoryService } from '../../sample/inventory/inventory.service';
import { NotificationService, UNREACHABLE_CUSTOMER } from '../../sample/notifications/notification.service';

// The sample's handlers and subscribers tested the way the README's "Testing your app" shows: the
// testing module, SQLite in memory, no HTTP and no broker (the end-to-end test covers those).

describe('the orders sample, with MessagingTestingModule', () => {
  let app: TestingModule;
  let harness: MessagingTestHarness;

  beforeEach(async () => {
    app = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot(sampleDatabase({})),
        MessagingTestingModule.forRoot({
          serviceName: 'orders',
          outbox: { pollIntervalMs: 50 }, // its retries wait their real delay (notifications: 200 + 400 ms)
        }),
      ],
      providers: [CreateOrderHandler, GetOrderHandler, InventoryService, NotificationService],
    }).compile();
    await app.init();
    harness = app.get(MessagingTestHarness);
  });
  afterEach(() => app.close());

  it('creating an order publishes OrderCreated; inventory and notifications both handle it', async () => {
    const order = await app.get(CommandBus).execute(new CreateOrder('alice', 42));
    await harness.whenIdle();

    const [created] = harness.published(OrderCreated);
    expect(created.data).toEqual({ orderId: order.id, customerId: 'alice', totalAmount: 42 });
    expect(
      harness
        .handled(OrderCreated)
        .map((d) => d.subscriber)
        .sort(),
    ).toEqual(['inventory', 'notifications']);
    const view = await app.get(QueryBus).execute(new GetOrder(order.id)); // typed OrderView | null
    expect(view?.reservations).toHaveLength(1);
    expect(view?.notifications).toHaveLength(1);
  });

  it('an unreachable customer: notifications retries twice, then dead-letters; inventory is unaffected', async () => {
    await app.get(CommandBus).execute(new CreateOrder(UNREACHABLE_CUSTOMER, 7));
    await harness.whenIdle();

    const [letter] = harness.deadLettered(OrderCreated, 'notifications');
    expect(letter).toMatchObject({ attempts: 3, error: { message: expect.stringMatching(/mail server refused/) } });
    expect(harness.handled(OrderCreated, 'inventory')).toHaveLength(1);
    expect(await app.get(DataSource).query('SELECT count(*) AS n FROM sample_notifications')).toEqual([{ n: 0 }]);
  });
});
