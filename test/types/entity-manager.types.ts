// Type-level tests of `manager` (compiled by the type check of `npm test`, never run; each
// `@ts-expect-error` line must be an error). TypeORM's EntityManager and Repository are
// assignable to the library's structural MessagingEntityManager / MessagingRepository, and the
// calls applications make on `manager` type-check with the entity's types.
import { Injectable } from '@nestjs/common';
import { Column, Entity, PrimaryGeneratedColumn, type DataSource, type EntityManager, type Repository } from 'typeorm';
import {
  EventBus,
  MessageContext,
  MessagingTransactions,
  Subscribe,
  type MessagingEntityManager,
  type MessagingRepository,
} from '../../lib';

@Entity()
class Order {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column() customerId!: string;
  @Column('int') totalAmount!: number;
}

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

// TypeORM's own types satisfy the structural ones
export function fromTypeorm(manager: EntityManager, repo: Repository<Order>, dataSource: DataSource): void {
  const m: MessagingEntityManager = manager;
  const r: MessagingRepository<Order> = repo;
  const fromDataSource: MessagingEntityManager = dataSource.manager;
  void [m, r, fromDataSource];
}

export async function calls(manager: MessagingEntityManager): Promise<void> {
  const order = manager.create(Order, { customerId: 'c', totalAmount: 1 });
  assertType<Equals<typeof order, Order>>();
  const saved = await manager.save(order);
  assertType<Equals<typeof saved, Order>>();
  const savedMany = await manager.save([order, order]);
  assertType<Equals<typeof savedMany, Order[]>>();
  const plain = await manager.save(Order, { customerId: 'c', totalAmount: 2 });
  const id: string = plain.id;
  const found = await manager.findOneBy(Order, { id });
  assertType<Equals<typeof found, Order | null>>();
  const all: Order[] = await manager.find(Order, { where: { customerId: 'c' }, order: { id: 'ASC' }, take: 10 });
  const n: number = await manager.count(Order, { where: [{ customerId: 'c' }, { totalAmount: 1 }] });
  await manager.insert(Order, { customerId: 'c', totalAmount: 3 });
  await manager.update(Order, { id }, { totalAmount: 4 });
  await manager.update(Order, id, { totalAmount: 4 });
  const deleted = await manager.delete(Order, { customerId: 'c' });
  const affected: number | null | undefined = deleted.affected;
  // raw SQL: untyped rows, as in TypeORM, or typed by the caller
  const [{ pid }] = await manager.query('SELECT pg_backend_pid() AS pid');
  const rows = await manager.query<{ id: string }[]>('SELECT id FROM "order" WHERE id = $1', [id]);
  const firstId: string = rows[0].id;
  const repo = manager.getRepository(Order);
  const one = await repo.findOne({ where: { id } });
  assertType<Equals<typeof one, Order | null>>();
  const mine = await repo.save(repo.create({ customerId: 'c', totalAmount: 5 }));
  assertType<Equals<typeof mine, Order>>();
  const byName = await manager.findBy<Order>('Order', { customerId: 'c' });
  void [saved, savedMany, found, one, mine, all, n, affected, pid, firstId, byName];

  // @ts-expect-error a property Order does not have
  manager.create(Order, { customerName: 'c' });
  // @ts-expect-error a wrong property type
  manager.create(Order, { totalAmount: 'many' });
  // @ts-expect-error find conditions on a property Order does not have
  await manager.findOneBy(Order, { customerName: 'c' });
  // @ts-expect-error the result is an Order, not a string
  const wrong: string = await manager.save(order);
  // @ts-expect-error getRepository's result is the entity's
  const wrongRepo: MessagingRepository<string> = manager.getRepository(Order);
  void [wrong, wrongRepo];
}

// the places the library hands a manager out, used the way applications use them
@Injectable()
export class Subscriber {
  constructor(
    private readonly ctx: MessageContext,
    private readonly transactions: MessagingTransactions,
    private readonly events: EventBus,
  ) {}

  @Subscribe('OrderPlaced')
  async onPlaced(event: { orderId: string }): Promise<void> {
    // no undefined check needed in a subscriber with the inbox (the transaction is always open)
    await this.ctx.manager.save(this.ctx.manager.create(Order, { id: event.orderId }));
    await this.ctx.manager.query('UPDATE "order" SET "totalAmount" = 0 WHERE id = $1', [event.orderId]);
  }

  place(customerId: string): Promise<Order> {
    return this.transactions.run(async (manager) => {
      const order = await manager.save(manager.create(Order, { customerId, totalAmount: 1 }));
      await this.events.publish({ type: 'OrderPlaced', orderId: order.id }, { manager });
      return order;
    });
  }

  // TypeORM's own type, for its full find options: annotated, the callback still fits
  placeTyped(customerId: string): Promise<Order> {
    return this.transactions.run(async (manager: EntityManager) => {
      return manager.getRepository(Order).save({ customerId, totalAmount: 1 });
    });
  }

  // a manager of the application's own transaction is accepted by publish
  publishIn(dataSource: DataSource): Promise<void> {
    return dataSource.transaction((manager) => this.events.publish({ type: 'X' }, { manager }));
  }

  current(): MessagingEntityManager {
    return this.transactions.manager;
  }
}
