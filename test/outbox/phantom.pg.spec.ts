import { Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import type { TestingModule } from '@nestjs/testing';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { EventBus, Message, Subscribe, TransactionNotActiveError, TransactionRequiredError } from '../../lib';
import { FakeTransport } from './helpers/fake.transport';
import { dropAll, outbound, pgDataSource, testLogger, uniqueTables } from './helpers/outbox-test.db';
import { startApp } from '../core/app.helper';
import { waitFor } from '../setup/wait';

// "Nothing applied that never happened": an outbox row is written in the caller's transaction or
// not at all. A transaction that ended (released runner, lost connection) is never replaced by an
// auto-commit write.

const tables = uniqueTables('tph');
let ds: DataSource;

beforeAll(async () => {
  ds = await pgDataSource(tables);
});
afterAll(async () => {
  await dropAll(ds, tables);
});
beforeEach(async () => {
  await ds.query(`DELETE FROM "${tables.outboxTable}"`);
  await ds.query(`DELETE FROM "${tables.ordersTable}"`);
});

function feature(extra: Record<string, unknown> = {}): OutboxFeature {
  return new OutboxFeature(
    { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, relay: false, ...extra },
    ds,
    new FakeTransport(),
    testLogger(),
  );
}

async function outboxRows(): Promise<number> {
  const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM "${tables.outboxTable}"`);
  return n;
}

/** Terminates the backend of `manager`'s connection and waits until TypeORM saw it go. */
async function killConnectionOf(manager: EntityManager): Promise<void> {
  const [{ pid }] = await manager.query('SELECT pg_backend_pid() AS pid');
  await ds.query('SELECT pg_terminate_backend($1)', [pid]);
  // the next statement on the dead connection fails; TypeORM releases the runner on the error
  await manager.query('SELECT 1').catch(() => undefined);
  await waitFor(() => manager.queryRunner?.isReleased === true, 'the query runner released after the kill', 5000);
}

describe('publish never writes outside the caller transaction (PostgreSQL outbox)', () => {
  it('a released query runner: TransactionNotActiveError, nothing written', async () => {
    const f = feature();
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    await qr.rollbackTransaction();
    await qr.release();
    await expect(f.publisher.publish([outbound('OrderPlaced', { id: 1 })], { manager: qr.manager })).rejects.toThrow(
      TransactionNotActiveError,
    );
    expect(await outboxRows()).toBe(0);
  });

  it('explicit manager whose connection was terminated mid-transaction: rejected, nothing written', async () => {
    const f = feature();
    await expect(
      ds.transaction(async (manager) => {
        await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('k1')`);
        await killConnectionOf(manager);
        await f.publisher.publish([outbound('OrderPlaced', { id: 'k1' })], { manager });
      }),
    ).rejects.toThrow();
    expect(await outboxRows()).toBe(0);
    expect(await ds.query(`SELECT id FROM "${tables.ordersTable}"`)).toHaveLength(0);
  });

  it('transactions.run whose connection was terminated: publish() rejects instead of auto-committing', async () => {
    const f = feature();
    let publishError: unknown;
    await expect(
      f.transactions.run(async (manager: EntityManager) => {
        await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('k2')`);
        await killConnectionOf(manager);
        try {
          await f.publisher.publish([outbound('OrderPlaced', { id: 'k2' })], {});
        } catch (error) {
          publishError = error;
          throw error;
        }
      }),
    ).rejects.toThrow();
    expect(publishError).toBeInstanceOf(TransactionNotActiveError);
    expect(await outboxRows()).toBe(0);
    expect(await ds.query(`SELECT id FROM "${tables.ordersTable}"`)).toHaveLength(0);
  });

  it('work that outlives transactions.run: a late publish() is rejected, not auto-committed', async () => {
    const f = feature();
    let late: Promise<void> | undefined;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await f.transactions.run(async () => {
      late = gate.then(() => f.publisher.publish([outbound('OrderPlaced', { id: 'late' })], {}));
    });
    release();
    await expect(late).rejects.toThrow(TransactionNotActiveError);
    expect(await outboxRows()).toBe(0);
  });

  it('requireTransaction: a { manager } forgotten inside ds.transaction is refused, the rollback leaves nothing', async () => {
    const f = feature({ requireTransaction: true });
    await expect(
      ds.transaction(async (manager) => {
        await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('k3')`);
        await f.publisher.publish([outbound('OrderPlaced', { id: 'k3' })], {});
      }),
    ).rejects.toThrow(TransactionRequiredError);
    expect(await outboxRows()).toBe(0);
    // the ways that enlist still work
    await f.transactions.run(() => f.publisher.publish([outbound('OrderPlaced', { id: 'k4' })], {}));
    await ds.transaction((manager) => f.publisher.publish([outbound('OrderPlaced', { id: 'k5' })], { manager }));
    expect(await outboxRows()).toBe(2);
  });

  it('without requireTransaction, publishing outside any transaction is one durable auto-commit write', async () => {
    const f = feature();
    await f.publisher.publish([outbound('OrderPlaced', { id: 'k6' })], {});
    expect(await outboxRows()).toBe(1);
  });
});

@Message('PhantomProbe')
class PhantomProbe {
  constructor(readonly key: string) {}
}

@Injectable()
class ProbeSubscriber {
  readonly seen: string[] = [];
  @Subscribe(PhantomProbe)
  on(event: PhantomProbe): void {
    this.seen.push(event.key);
  }
}

describe('publish(event, { manager }) without the outbox', () => {
  let app: TestingModule;
  let bus: EventBus;
  let probe: ProbeSubscriber;

  beforeAll(async () => {
    app = await startApp([ProbeSubscriber]);
    bus = app.get(EventBus);
    probe = app.get(ProbeSubscriber);
  });
  afterAll(() => app?.close());

  it('sends after the transaction commits, never for a rollback', async () => {
    let sentBeforeCommit = true;
    await ds.transaction(async (manager) => {
      await bus.publish(new PhantomProbe('committed'), { manager });
      await bus.publish(new PhantomProbe('committed-2'), { manager });
      // give the in-memory transport every chance to deliver early
      await new Promise((resolve) => setImmediate(resolve));
      sentBeforeCommit = probe.seen.includes('committed');
    });
    await expect(
      ds.transaction(async (manager) => {
        await bus.publish(new PhantomProbe('rolled-back'), { manager });
        throw new Error('business rule');
      }),
    ).rejects.toThrow('business rule');
    await bus.publish(new PhantomProbe('sentinel'));
    await waitFor(() => probe.seen.includes('sentinel'), 'the sentinel', 5000);
    await waitFor(() => probe.seen.includes('committed-2'), 'the committed events', 5000);
    expect(sentBeforeCommit).toBe(false);
    expect(probe.seen).not.toContain('rolled-back');
  });

  it('a finished transaction: TransactionNotActiveError', async () => {
    let manager!: EntityManager;
    await ds.transaction(async (m) => {
      manager = m;
    });
    await expect(bus.publish(new PhantomProbe('late'), { manager })).rejects.toThrow(TransactionNotActiveError);
  });
});
