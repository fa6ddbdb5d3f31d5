import { Socket } from 'node:net';
import type { DataSource, EntityManager } from 'typeorm';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { FakeTransport } from './helpers/fake.transport';
import { dropAll, outbound, pgDataSource, testLogger, uniqueTables } from './helpers/outbox-test.db';

// One pooled connection: every transaction below runs on the same PostgreSQL session, where the
// outbox insert is already a parsed prepared statement after the first use.
const tables = uniqueTables('tlazy');
let ds: DataSource;
let feature: OutboxFeature;

beforeAll(async () => {
  ds = await pgDataSource(tables, 1);
  feature = new OutboxFeature(
    { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, relay: false, listenNotify: false },
    ds,
    new FakeTransport(),
    testLogger(),
  );
  // the one- and two-row outbox inserts become prepared statements of the session
  await feature.transactions.run(() => feature.publisher.publish([outbound('WarmUp', {})], {}));
  await feature.transactions.run(() => feature.publisher.publish([outbound('WarmUp', {}), outbound('WarmUp', {})], {}));
});
afterAll(async () => {
  await dropAll(ds, tables);
});
beforeEach(async () => {
  await ds.query(`DELETE FROM "${tables.outboxTable}"`);
  await ds.query(`DELETE FROM "${tables.ordersTable}"`);
});

/** Socket writes (round trips to PostgreSQL, here: each of ours is one buffer) made while `work` runs. */
async function writesDuring(work: () => Promise<unknown>): Promise<number> {
  const write = Socket.prototype.write;
  let writes = 0;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    writes++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof write;
  try {
    await work();
  } finally {
    Socket.prototype.write = write;
  }
  return writes;
}

/** Runs `work` while the outbox refuses rows of type `Refused` (a CHECK constraint, dropped afterwards). */
async function whileOutboxRefuses(work: () => Promise<void>): Promise<void> {
  const constraint = `"${tables.outboxTable}_refused"`;
  await ds.query(`ALTER TABLE "${tables.outboxTable}" ADD CONSTRAINT ${constraint} CHECK (type <> 'Refused')`);
  try {
    await work();
  } finally {
    await ds.query(`ALTER TABLE "${tables.outboxTable}" DROP CONSTRAINT ${constraint}`);
  }
}

const count = async (table: string): Promise<number> =>
  Number((await ds.query(`SELECT count(*)::int AS n FROM "${table}"`))[0].n);

describe('lazy transactions on PostgreSQL (BEGIN and outbox inserts sent with the next statement)', () => {
  it('a transaction that only publishes is one round trip: BEGIN, the insert and COMMIT together', async () => {
    const writes = await writesDuring(() =>
      feature.transactions.run(() => feature.publisher.publish([outbound('Published', { n: 1 })], {})),
    );
    expect(writes).toBe(1);
    const rows = await ds.query(`SELECT type, status FROM "${tables.outboxTable}"`);
    expect(rows).toEqual([{ type: 'Published', status: 'pending' }]);
  });

  it('a business write and an event: two round trips (BEGIN + business insert; outbox insert + COMMIT)', async () => {
    const writes = await writesDuring(() =>
      feature.transactions.run(async (manager) => {
        await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, ['o-1']);
        await feature.publisher.publish([outbound('OrderCreated', { orderId: 'o-1' })], {});
      }),
    );
    expect(writes).toBe(2);
    expect(await count(tables.ordersTable)).toBe(1);
    expect(await count(tables.outboxTable)).toBe(1);
  });

  it('keeps statement order: the transaction reads its own outbox row', async () => {
    const seen = await feature.transactions.run(async (manager) => {
      await feature.publisher.publish([outbound('ReadBack', {})], {});
      return (await manager.query(`SELECT type FROM "${tables.outboxTable}"`)) as { type: string }[];
    });
    expect(seen).toEqual([{ type: 'ReadBack' }]);
  });

  it('a failing deferred insert fails the COMMIT and rolls the whole transaction back', async () => {
    await whileOutboxRefuses(async () => {
      await expect(
        feature.transactions.run(async (manager) => {
          await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('o-2')`);
          await feature.publisher.publish([outbound('Refused', {})], {}); // resolves: the insert waits for COMMIT
        }),
      ).rejects.toThrow(/refused/);
      expect(await count(tables.ordersTable)).toBe(0);
      expect(await count(tables.outboxTable)).toBe(0);
      // the session is usable again
      await feature.transactions.run(() => feature.publisher.publish([outbound('After', {})], {}));
      expect(await count(tables.outboxTable)).toBe(1);
    });
  });

  it('a rollback never sends the deferred insert', async () => {
    await expect(
      feature.transactions.run(async () => {
        await feature.publisher.publish([outbound('Dropped', {})], {});
        throw new Error('business rule violated');
      }),
    ).rejects.toThrow('business rule violated');
    expect(await count(tables.outboxTable)).toBe(0);
  });

  it('several events in one transaction and nested runs share the one write with the COMMIT', async () => {
    const writes = await writesDuring(() =>
      feature.transactions.run(async () => {
        await feature.publisher.publish([outbound('A', {})], {});
        await feature.transactions.run(() => feature.publisher.publish([outbound('B', {})], {}));
        await feature.publisher.publish([outbound('C', {}), outbound('D', {})], {});
      }),
    );
    expect(writes).toBe(1);
    const rows = (await ds.query(`SELECT type FROM "${tables.outboxTable}" ORDER BY id`)) as { type: string }[];
    expect(rows.map((r) => r.type)).toEqual(['A', 'B', 'C', 'D']);
  });

  it('an insert issued after the COMMIT went out is sent at once, not deferred into nothing', async () => {
    const subscriber = {
      afterTransactionCommit: (event: { queryRunner: { manager: unknown } }) => {
        if (late) return;
        late = feature.publisher.publish([outbound('AfterCommit', {})], { manager: event.queryRunner.manager });
      },
    };
    let late: Promise<void> | undefined;
    (ds.subscribers as unknown[]).push(subscriber);
    try {
      await feature.transactions.run(() => feature.publisher.publish([outbound('InTx', {})], {}));
      await late;
    } finally {
      (ds.subscribers as unknown[]).splice((ds.subscribers as unknown[]).indexOf(subscriber), 1);
    }
    const rows = (await ds.query(`SELECT type FROM "${tables.outboxTable}" ORDER BY id`)) as { type: string }[];
    expect(rows.map((r) => r.type)).toEqual(['InTx', 'AfterCommit']);
  });

  it('a rolled-back savepoint drops the inserts deferred after it; the outer transaction commits', async () => {
    await feature.transactions.run(async (manager) => {
      await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, ['outer']);
      await manager
        .transaction(async (inner: EntityManager) => {
          await feature.publisher.publish([outbound('InnerOnly', {})], { manager: inner });
          throw new Error('inner rule');
        })
        .catch(() => undefined);
      await feature.publisher.publish([outbound('Outer', {})], {});
    });
    const rows = (await ds.query(`SELECT type FROM "${tables.outboxTable}"`)) as { type: string }[];
    expect(rows.map((r) => r.type)).toEqual(['Outer']);
    expect(await count(tables.ordersTable)).toBe(1);
  });

  it('a failure inside a savepoint with an event deferred after it leaves no open transaction behind', async () => {
    await expect(
      feature.transactions.run(async (manager) => {
        await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, ['must-not-exist']);
        await manager.transaction(async (inner: EntityManager) => {
          try {
            await inner.query('SELECT 1 / 0 WHERE $1::int = 1', [1]);
          } catch (error) {
            await feature.publisher.publish([outbound('InCatch', {})], { manager: inner });
            throw error;
          }
        });
      }),
    ).rejects.toThrow(/division by zero/);
    // the next transaction on the (only) pooled connection commits just its own work
    await feature.transactions.run(async (manager) => {
      await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, ['next']);
    });
    const ids = (await ds.query(`SELECT id FROM "${tables.ordersTable}"`)) as { id: string }[];
    expect(ids.map((r) => r.id)).toEqual(['next']);
    expect(await count(tables.outboxTable)).toBe(0);
  });

  it('a deferred insert that fails with a statement whose error the caller swallows still fails the COMMIT', async () => {
    await whileOutboxRefuses(async () => {
      await expect(
        feature.transactions.run(async (manager) => {
          await feature.publisher.publish([outbound('Refused', {})], {});
          await manager.query('SELECT $1::int AS one', [1]).catch(() => undefined); // "best effort"
        }),
      ).rejects.toThrow(/refused/);
      expect(await count(tables.outboxTable)).toBe(0);
    });
  });

  it('the connection handed out while an insert is pending is the pg client (callbacks, its other members)', async () => {
    const result = await feature.transactions.run(async (manager) => {
      await feature.publisher.publish([outbound('BeforeCallback', {})], {});
      const client = (await manager.queryRunner!.connect()) as {
        query(text: string, cb: (err: Error | null, res: { rows: unknown[] }) => void): void;
        escapeLiteral(s: string): string;
      };
      expect(client.escapeLiteral("it's")).toBe("'it''s'");
      return new Promise<unknown[]>((resolve, reject) =>
        client.query(`SELECT type FROM "${tables.outboxTable}"`, (err, res) => (err ? reject(err) : resolve(res.rows))),
      );
    });
    expect(result).toEqual([{ type: 'BeforeCallback' }]);
  });

  it('a savepoint that failed with an event deferred in it and was rolled back lets the outer transaction commit', async () => {
    await ds.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('dup')`);
    await feature.transactions.run(async (manager) => {
      await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, ['outer']);
      await manager
        .transaction(async (inner: EntityManager) => {
          await feature.publisher.publish([outbound('Inner', {})], { manager: inner });
          await inner.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, ['dup']); // unique violation
        })
        .catch(() => undefined);
      await feature.publisher.publish([outbound('Outer', {})], {});
    });
    const ids = (await ds.query(`SELECT id FROM "${tables.ordersTable}" ORDER BY id`)) as { id: string }[];
    expect(ids.map((r) => r.id)).toEqual(['dup', 'outer']);
    const rows = (await ds.query(`SELECT type FROM "${tables.outboxTable}"`)) as { type: string }[];
    expect(rows.map((r) => r.type)).toEqual(['Outer']);
  });

  it('a deferred insert failing in front of a non-deferrable publish, caught by the caller, still fails the COMMIT', async () => {
    await whileOutboxRefuses(async () => {
      await expect(
        feature.transactions.run(async (manager) => {
          await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ($1)`, ['biz']);
          await feature.publisher.publish([outbound('Refused', {})], {}); // deferred
          const five = [1, 2, 3, 4, 5].map((i) => outbound(`B${i}`, {})); // not a prepared size: sent now
          await feature.publisher.publish(five, {}).catch(() => undefined);
        }),
      ).rejects.toThrow(/refused/);
      expect(await count(tables.ordersTable)).toBe(0);
      expect(await count(tables.outboxTable)).toBe(0);
    });
  });
});
