import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { IN_PROCESS_BATCH_SIZE, OutboxFeature } from '../../lib/outbox/outbox.feature';
import { createMessagingEntities } from '../../lib/outbox/outbox.entities';
import { currentMessageContext } from '../../lib/context/message-context';
import { FakeTransport } from './helpers/fake.transport';
import { dropAll, eventually, outbound, sqliteDataSource, testLogger, uniqueTables } from './helpers/outbox-test.db';

const tables = uniqueTables('tsq');
let ds: DataSource;

beforeAll(async () => {
  ds = await sqliteDataSource(tables, join(mkdtempSync(join(tmpdir(), 'outbox-sqlite-')), 'app.db'));
});
afterAll(async () => {
  await dropAll(ds, tables);
});
beforeEach(async () => {
  await ds.query(`DELETE FROM "${tables.outboxTable}"`);
  await ds.query(`DELETE FROM "${tables.inboxTable}"`);
  await ds.query(`DELETE FROM "${tables.ordersTable}"`);
});

function feature(transport: FakeTransport, extra: Record<string, unknown> = {}): OutboxFeature {
  return new OutboxFeature(
    { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, pollIntervalMs: 50, ...extra },
    ds,
    transport,
    testLogger(),
  );
}
const rows = (): Promise<Record<string, any>[]> => ds.query(`SELECT * FROM "${tables.outboxTable}" ORDER BY id`);

describe('outbox on SQLite (better-sqlite3, embedded default)', () => {
  it('commits and rolls back the business row and the outbox row together', async () => {
    const f = feature(new FakeTransport());
    await f.transactions.run(async (manager) => {
      await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('s1')`);
      await f.publisher.publish([outbound('OrderCreated', { orderId: 's1' })], {});
    });
    await expect(
      f.transactions.run(async (manager) => {
        await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('s2')`);
        await f.publisher.publish([outbound('OrderCreated', { orderId: 's2' })], {});
        throw new Error('nope');
      }),
    ).rejects.toThrow('nope');
    expect(await ds.query(`SELECT id FROM "${tables.ordersTable}"`)).toEqual([{ id: 's1' }]);
    expect((await rows()).map((r) => JSON.parse(r.payload).data.orderId)).toEqual(['s1']);
  });

  it('publishes after commit (local wake-up, no NOTIFY), marks sent, keeps key order', async () => {
    const transport = new FakeTransport();
    const f = feature(transport, { pollIntervalMs: 60_000 });
    await f.start();
    try {
      await ds.transaction(async (manager) => {
        for (let n = 1; n <= 5; n++)
          await f.publisher.publish([outbound('Changed', { n }, { partitionKey: 'k' })], { manager });
      });
      await transport.waitFor(5, 3000);
      expect(transport.published.map((m) => (m.envelope.data as { n: number }).n)).toEqual([1, 2, 3, 4, 5]);
      await eventually(async () => (await rows()).every((r) => r.status === 'sent'), 3000, 'sent');
    } finally {
      await f.stop();
    }
  });

  it('the relay never publishes an uncommitted row of an open transaction on the shared connection', async () => {
    const transport = new FakeTransport();
    const f = feature(transport, { pollIntervalMs: 10 });
    await f.start();
    try {
      await expect(
        ds.transaction(async (manager) => {
          await f.publisher.publish([outbound('Uncommitted', {})], { manager });
          await new Promise((r) => setTimeout(r, 150)); // the relay polls meanwhile
          throw new Error('rollback');
        }),
      ).rejects.toThrow('rollback');
      await new Promise((r) => setTimeout(r, 50));
      expect(transport.published).toHaveLength(0);
      expect(await rows()).toHaveLength(0);
    } finally {
      await f.stop();
    }
  });

  it('inbox: one effect for redeliveries and for concurrent deliveries; events of the handler join its transaction', async () => {
    const f = feature(new FakeTransport());
    const m = outbound('OrderCreated', { orderId: 'i1' });
    const work = (id: string) => async (tx: unknown) => {
      expect(currentMessageContext()?.transaction).toBe(tx);
      await (tx as DataSource['manager']).query(`INSERT INTO "${tables.ordersTable}" (id) VALUES (?)`, [id]);
      await f.publisher.publish([outbound('FollowUp', {})], {});
    };
    const results = await Promise.all([0, 1, 2].map((k) => f.unitOfWork!.run(m.envelope, 'Sub.x', work(`e${k}`))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await f.unitOfWork!.run(m.envelope, 'Sub.x', work('again'))).toBe(false);
    expect(await ds.query(`SELECT count(*) AS n FROM "${tables.ordersTable}"`)).toEqual([{ n: 1 }]);
    expect((await rows()).map((r) => r.type)).toEqual(['FollowUp']);
  });

  it('failing publish: backoff, attempts, failed after max; delayed retry rows published when due', async () => {
    const transport = new FakeTransport();
    transport.failWhen = (m) => m.envelope.type === 'Poison';
    const f = feature(transport, { maxAttempts: 2, backoff: { initialDelayMs: 30, jitter: 0 } });
    await f.publisher.publish([outbound('Poison', {}), outbound('Fine', {})], {});
    const m = outbound('Retried', {});
    await f.retryScheduler.scheduleRetry(m.envelope, m.body, 'Sub.y', 200, 3, '2026-01-01T00:00:00.000Z');
    await f.start();
    try {
      await eventually(async () => (await rows())[0].status === 'failed', 3000, 'failed');
      expect((await rows())[0]).toMatchObject({ attempts: 2, last_error: expect.stringContaining('injected failure') });
      await transport.waitFor(2, 3000);
      expect(transport.published[1]).toMatchObject({ destination: 'Sub.y', attempt: 3 });
      await eventually(async () => (await f.stats()).pending === 0, 3000, 'all sent');
      expect(await f.stats()).toMatchObject({ failed: 1, pending: 0 });
    } finally {
      await f.stop();
    }
  });

  it('relay batch: 20 by default with a transport that is not durable, 100 with a durable one, as set otherwise', () => {
    const durable = Object.assign(new FakeTransport(), { capabilities: { competingConsumers: true, durable: true } });
    expect(feature(new FakeTransport()).options.batchSize).toBe(IN_PROCESS_BATCH_SIZE);
    expect(IN_PROCESS_BATCH_SIZE).toBe(20);
    expect(feature(durable).options.batchSize).toBe(100);
    expect(feature(new FakeTransport(), { batchSize: 100 }).options.batchSize).toBe(100);
    expect(feature(durable, { batchSize: 7 }).options.batchSize).toBe(7);
  });

  it('retention deletes only old sent rows and old inbox rows', async () => {
    const f = feature(new FakeTransport(), { retention: { sentMs: 60_000, inboxMs: 3_600_000, batchSize: 1 } });
    const old = new Date(Date.now() - 120_000).toISOString();
    const recent = new Date().toISOString();
    const ins = (status: string, sentAt: string | null) =>
      ds.query(
        `INSERT INTO "${tables.outboxTable}" (message_id, type, payload, status, sent_at, available_at, created_at) VALUES (?, 'T', '{}', ?, ?, ?, ?)`,
        [`m${Math.random()}`, status, sentAt, recent, recent],
      );
    await ins('sent', old);
    await ins('sent', old);
    await ins('sent', recent);
    await ins('pending', null);
    await ds.query(`INSERT INTO "${tables.inboxTable}" VALUES ('a', 's', ?), ('b', 's', ?)`, [
      new Date(Date.now() - 7_200_000).toISOString(),
      recent,
    ]);
    expect(await f.retention.runOnce()).toEqual({ sent: 2, processed: 1 });
    expect((await rows()).map((r) => r.status)).toEqual(['sent', 'pending']);
  });
});

describe('entities for synchronize: true', () => {
  it('creates working tables on SQLite', async () => {
    const names = uniqueTables('tsync');
    const sync = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: createMessagingEntities({ ...names, database: 'sqlite' }),
      synchronize: true,
    });
    await sync.initialize();
    try {
      const transport = new FakeTransport();
      const f = new OutboxFeature(
        { outboxTable: names.outboxTable, inboxTable: names.inboxTable },
        sync,
        transport,
        testLogger(),
      );
      await f.start();
      await f.publisher.publish([outbound('Synced', {})], {});
      await transport.waitFor(1, 3000);
      const m = outbound('X', {});
      expect(await f.unitOfWork!.run(m.envelope, 's', async () => undefined)).toBe(true);
      expect(await f.unitOfWork!.run(m.envelope, 's', async () => undefined)).toBe(false);
      await f.stop();
    } finally {
      await sync.destroy();
    }
  });
});
