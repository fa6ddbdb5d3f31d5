import type { DataSource } from 'typeorm';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { currentMessageContext, runInMessageContext } from '../../lib/context/message-context';
import { FakeTransport } from './helpers/fake.transport';
import { dropAll, eventually, outbound, pgDataSource, testLogger, uniqueTables } from './helpers/outbox-test.db';

const tables = uniqueTables('tinb');
let ds: DataSource;
let f: OutboxFeature;

beforeAll(async () => {
  ds = await pgDataSource(tables);
  f = new OutboxFeature(
    { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable },
    ds,
    new FakeTransport(),
    testLogger(),
  );
});
afterAll(async () => {
  await dropAll(ds, tables);
});
beforeEach(async () => {
  await ds.query(`DELETE FROM "${tables.outboxTable}"`);
  await ds.query(`DELETE FROM "${tables.inboxTable}"`);
  await ds.query(`DELETE FROM "${tables.ordersTable}"`);
});

const effects = async () => Number((await ds.query(`SELECT count(*)::int AS n FROM "${tables.ordersTable}"`))[0].n);

/** A subscriber whose effect is one row; it also publishes a follow-up event. */
function handler(id: string, delayMs = 0) {
  return async (tx: unknown) => {
    const manager = tx as { query(sql: string, p?: unknown[]): Promise<unknown> };
    expect(currentMessageContext()?.transaction).toBe(tx);
    await manager.query(`INSERT INTO "${tables.ordersTable}" (id, note) VALUES ($1, 'effect')`, [id]);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    await f.publisher.publish([outbound('FollowUp', { of: id })], {});
  };
}

describe('inbox (SubscriberUnitOfWork) on PostgreSQL', () => {
  it('runs the handler once, skips a redelivery, and commits handler writes + outbox rows with the inbox row', async () => {
    const m = outbound('OrderCreated', { orderId: 'x' });
    expect(await f.unitOfWork!.run(m.envelope, 'Sub.a', handler('e1'))).toBe(true);
    expect(await f.unitOfWork!.run(m.envelope, 'Sub.a', handler('e1-again'))).toBe(false);
    expect(await effects()).toBe(1);
    expect(await ds.query(`SELECT type FROM "${tables.outboxTable}"`)).toEqual([{ type: 'FollowUp' }]);
    // another subscriber of the same message is independent
    expect(await f.unitOfWork!.run(m.envelope, 'Sub.b', handler('e2'))).toBe(true);
    expect(await effects()).toBe(2);
  });

  it('a failing handler rolls back its writes, its events and the inbox row (so a retry runs again)', async () => {
    const m = outbound('OrderCreated', { orderId: 'y' });
    await expect(
      f.unitOfWork!.run(m.envelope, 'Sub.a', async (tx) => {
        await handler('e3')(tx);
        throw new Error('handler failed');
      }),
    ).rejects.toThrow('handler failed');
    expect(await effects()).toBe(0);
    expect(await ds.query(`SELECT * FROM "${tables.outboxTable}"`)).toHaveLength(0);
    expect(await ds.query(`SELECT * FROM "${tables.inboxTable}"`)).toHaveLength(0);
    expect(await f.unitOfWork!.run(m.envelope, 'Sub.a', handler('e3'))).toBe(true);
    expect(await effects()).toBe(1);
  });

  it('concurrent deliveries of one message to one subscriber: exactly one effect, the losers are duplicates', async () => {
    for (let round = 0; round < 5; round++) {
      const m = outbound('OrderCreated', { round });
      const results = await Promise.all(
        [0, 1, 2, 3].map((k) => f.unitOfWork!.run(m.envelope, 'Sub.c', handler(`r${round}-${k}`, 30))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    }
    expect(await effects()).toBe(5);
    expect(await ds.query(`SELECT * FROM "${tables.outboxTable}"`)).toHaveLength(5);
  });

  it('when the first delivery rolls back, the concurrent second one performs the effect', async () => {
    const m = outbound('OrderCreated', { orderId: 'z' });
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let fail!: () => void;
    const failNow = new Promise<void>((resolve) => (fail = resolve));
    const first = f.unitOfWork!.run(m.envelope, 'Sub.d', async (tx) => {
      await handler('first')(tx);
      entered(); // the first holds the inbox row now
      await failNow;
      throw new Error('first fails');
    });
    await inHandler;
    const second = f.unitOfWork!.run(m.envelope, 'Sub.d', handler('second'));
    // explicitly: the second delivery is waiting on the inbox row's lock before the first fails
    await eventually(
      async () =>
        (
          await ds.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
          )
        )[0].n > 0,
      5000,
      'the second delivery waiting on the inbox row',
    );
    fail();
    await expect(first).rejects.toThrow('first fails');
    expect(await second).toBe(true);
    expect(await ds.query(`SELECT id FROM "${tables.ordersTable}"`)).toEqual([{ id: 'second' }]);
  });

  it('keeps the pipeline context (correlation, message) and adds the transaction', async () => {
    const m = outbound('OrderCreated', {});
    await runInMessageContext({ correlationId: 'c-9', message: m.envelope, subscriber: 'Sub.e' }, () =>
      f.unitOfWork!.run(m.envelope, 'Sub.e', async (tx) => {
        const ctx = currentMessageContext();
        expect(ctx).toMatchObject({ correlationId: 'c-9', subscriber: 'Sub.e' });
        expect(ctx?.transaction).toBe(tx);
      }),
    );
  });

  it('is absent when the inbox is turned off', () => {
    const off = new OutboxFeature(
      { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, inbox: false },
      ds,
      new FakeTransport(),
      testLogger(),
    );
    expect(off.unitOfWork).toBeUndefined();
  });
});
