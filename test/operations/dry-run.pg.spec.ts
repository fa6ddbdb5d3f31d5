import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource, EntityManager } from 'typeorm';
import {
  DeadLetterService,
  EventBus,
  Message,
  MessageContext,
  MessagingOperationsService,
  Subscribe,
  type DeadLetter,
} from '../../lib';
import { startApp, waitFor } from '../core/app.helper';
import { dropAll, pgDataSource, uniqueTables } from '../outbox/helpers/outbox-test.db';

/*
 * Dry runs on the PostgreSQL outbox (in-memory transport): the rollback with the publish captured,
 * the time limit, a publish inside a nested transaction (a savepoint) captured, a publish through a
 * transaction of the handler's own refused (would-fail, nothing committed or sent), and
 * `MessageContext.isDryRun`.
 */
const tables = uniqueTables('dryrun');
let ds: DataSource;

@Message('DryRunOrdered')
class Ordered {
  constructor(readonly id: string) {}
}
@Message('DryRunNested')
class NestedOrdered {
  constructor(readonly id: string) {}
}
@Message('DryRunOutside')
class OutsideOrdered {
  constructor(readonly id: string) {}
}
@Message('DryRunSlow')
class SlowOrdered {
  constructor(readonly id: string) {}
}
@Message('DryRunShipped')
class Shipped {
  constructor(readonly id: string) {}
}

const state = { broken: true, slowMs: 0, shipped: 0, seen: [] as boolean[] };

@Injectable()
class Orders {
  constructor(
    private readonly context: MessageContext,
    private readonly events: EventBus,
  ) {}

  private async insert(manager: { query(sql: string, p: unknown[]): Promise<unknown> }, id: string) {
    await manager.query(`INSERT INTO "${tables.ordersTable}" (id, note) VALUES ($1, 'x')`, [id]);
  }

  @Subscribe(Ordered, { name: 'plain', retry: { maxRetries: 0 } })
  async onOrdered(event: Ordered) {
    state.seen.push(this.context.isDryRun);
    await this.insert(this.context.manager, event.id);
    if (state.broken) throw new Error('broken');
    await this.events.publish(new Shipped(event.id));
  }

  @Subscribe(NestedOrdered, { name: 'nested', retry: { maxRetries: 0 } })
  async onNested(event: NestedOrdered) {
    if (state.broken) throw new Error('broken');
    await (this.context.manager as unknown as EntityManager).transaction(async (inner) => {
      await this.insert(inner, event.id);
      await this.events.publish(new Shipped(event.id));
    });
  }

  @Subscribe(OutsideOrdered, { name: 'outside', retry: { maxRetries: 0 } })
  async onOutside(event: OutsideOrdered) {
    if (state.broken) throw new Error('broken');
    await ds.transaction(async (own) => {
      await this.insert(own, event.id);
      await this.events.publish(new Shipped(event.id), { manager: own });
    });
  }

  @Subscribe(SlowOrdered, { name: 'slow', retry: { maxRetries: 0 }, timeoutMs: 300 })
  async onSlow(event: SlowOrdered) {
    await this.insert(this.context.manager, event.id);
    await new Promise((r) => setTimeout(r, state.slowMs));
    if (state.broken) throw new Error('broken');
  }

  @Subscribe(Shipped, { name: 'shipper' })
  onShipped() {
    state.shipped++;
  }
}

describe('dry runs on the PostgreSQL outbox', () => {
  let app: TestingModule;
  let ops: MessagingOperationsService;
  const letters = new Map<string, DeadLetter>();
  const count = async (sql: string) => Number((await ds.query(sql))[0].n);
  const orders = () => count(`SELECT count(*)::int AS n FROM "${tables.ordersTable}"`);
  const shippedRows = () =>
    count(`SELECT count(*)::int AS n FROM "${tables.outboxTable}" WHERE type = 'DryRunShipped'`);

  beforeAll(async () => {
    ds = await pgDataSource(tables);
    app = await startApp([Orders], {
      serviceName: 'dryrun',
      outbox: { dataSource: ds, outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, pollIntervalMs: 20 },
    });
    ops = app.get(MessagingOperationsService);
    const bus = app.get(EventBus);
    for (const e of [new Ordered('p1'), new NestedOrdered('n1'), new OutsideOrdered('o1'), new SlowOrdered('s1')]) {
      await bus.publish(e);
    }
    await waitFor(async () => (await app.get(DeadLetterService).count()) === 4, 'four dead letters');
    for (const dl of await app.get(DeadLetterService).list()) letters.set(dl.subscriber, dl);
    state.broken = false;
  });

  afterAll(async () => {
    await app?.close();
    await dropAll(ds, tables);
  });

  it('rolls the handler back and captures what it would publish; isDryRun is true only in the dry run', async () => {
    expect(state.seen).toEqual([false]); // the real delivery
    const result = await ops.dryRun(letters.get('plain')!.id);
    expect(result).toMatchObject({ outcome: 'would-succeed', subscriber: 'plain' });
    expect(result.captured).toEqual([{ type: 'DryRunShipped', id: expect.any(String) }]);
    expect(state.seen).toEqual([false, true]);
    expect(await orders()).toBe(0);
    expect(await shippedRows()).toBe(0);
  });

  it('captures a publish made inside a nested transaction (a savepoint), and rolls it back', async () => {
    const result = await ops.dryRun(letters.get('nested')!.id);
    expect(result).toMatchObject({ outcome: 'would-succeed', subscriber: 'nested' });
    expect(result.captured).toEqual([{ type: 'DryRunShipped', id: expect.any(String) }]);
    expect(await orders()).toBe(0);
    expect(await shippedRows()).toBe(0);
  });

  it("refuses a publish through the handler's own transaction: would-fail, nothing committed or sent", async () => {
    const result = await ops.dryRun(letters.get('outside')!.id);
    expect(result).toMatchObject({
      outcome: 'would-fail',
      captured: [],
      error: {
        name: 'DryRunOutsideTransactionError',
        message: expect.stringContaining('writes outside the message transaction cannot be rolled back'),
      },
    });
    expect(await orders()).toBe(0); // its own transaction rolled back when publish threw
    expect(await shippedRows()).toBe(0);
    await new Promise((r) => setTimeout(r, 200)); // a few relay polls
    expect(state.shipped).toBe(0);
  });

  it('a dry run that outlives the handler time limit would fail with HandlerTimeoutError, and leaves nothing', async () => {
    state.slowMs = 600;
    const started = Date.now();
    const result = await ops.dryRun(letters.get('slow')!.id);
    expect(result).toMatchObject({ outcome: 'would-fail', error: { name: 'HandlerTimeoutError' } });
    expect(Date.now() - started).toBeLessThan(550); // abandoned at the limit, not when the handler returns
    await new Promise((r) => setTimeout(r, 400)); // the handler returns; its later work fails
    expect(await orders()).toBe(0);
    expect(await app.get(DeadLetterService).count()).toBe(4);
  });
});
