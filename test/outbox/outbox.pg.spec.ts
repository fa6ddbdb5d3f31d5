import type { DataSource } from 'typeorm';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { currentMessageContext, runInMessageContext } from '../../lib/context/message-context';
import { FakeTransport } from './helpers/fake.transport';
import { dropAll, eventually, outbound, pgDataSource, testLogger, uniqueTables } from './helpers/outbox-test.db';

const tables = uniqueTables('tpg');
let ds: DataSource;

beforeAll(async () => {
  ds = await pgDataSource(tables);
});
afterAll(async () => {
  await dropAll(ds, tables);
});

async function reset(): Promise<void> {
  await ds.query(`DELETE FROM "${tables.outboxTable}"`);
  await ds.query(`DELETE FROM "${tables.inboxTable}"`);
  await ds.query(`DELETE FROM "${tables.ordersTable}"`);
}

function feature(transport: FakeTransport, extra: Record<string, unknown> = {}): OutboxFeature {
  return new OutboxFeature(
    { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, pollIntervalMs: 50, ...extra },
    ds,
    transport,
    testLogger(),
  );
}

async function rows(): Promise<Record<string, any>[]> {
  return ds.query(`SELECT * FROM "${tables.outboxTable}" ORDER BY id`);
}

describe('outbox on PostgreSQL', () => {
  beforeEach(reset);

  describe('atomicity', () => {
    it('commits the business row and the outbox row together (explicit manager)', async () => {
      const f = feature(new FakeTransport());
      await ds.transaction(async (manager) => {
        await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('o1')`);
        await f.publisher.publish([outbound('OrderCreated', { orderId: 'o1' })], { manager });
      });
      expect(await ds.query(`SELECT id FROM "${tables.ordersTable}"`)).toHaveLength(1);
      const r = await rows();
      expect(r).toHaveLength(1);
      expect(r[0]).toMatchObject({ type: 'OrderCreated', status: 'pending', attempts: 0 });
    });

    it('rolls both back together', async () => {
      const f = feature(new FakeTransport());
      await expect(
        ds.transaction(async (manager) => {
          await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('o2')`);
          await f.publisher.publish([outbound('OrderCreated', { orderId: 'o2' })], { manager });
          throw new Error('business rule violated');
        }),
      ).rejects.toThrow('business rule violated');
      expect(await ds.query(`SELECT id FROM "${tables.ordersTable}"`)).toHaveLength(0);
      expect(await rows()).toHaveLength(0);
    });

    it('TransactionRunner puts the transaction into the context: no manager argument needed', async () => {
      const f = feature(new FakeTransport());
      await f.transactions.run(async (manager) => {
        expect(currentMessageContext()?.transaction).toBe(manager);
        await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('o3')`);
        await f.publisher.publish([outbound('OrderCreated', { orderId: 'o3' })], {});
      });
      expect(await rows()).toHaveLength(1);
      await expect(
        f.transactions.run(async (manager) => {
          await manager.query(`INSERT INTO "${tables.ordersTable}" (id) VALUES ('o4')`);
          await f.publisher.publish([outbound('OrderCreated', { orderId: 'o4' })], {});
          throw new Error('rollback');
        }),
      ).rejects.toThrow('rollback');
      expect(await rows()).toHaveLength(1);
      expect(await ds.query(`SELECT id FROM "${tables.ordersTable}"`)).toEqual([{ id: 'o3' }]);
    });

    it('keeps the correlation of the current context and joins an open transaction when nested', async () => {
      const f = feature(new FakeTransport());
      await runInMessageContext({ correlationId: 'corr-1' }, () =>
        f.transactions.run(async (outer) => {
          expect(currentMessageContext()?.correlationId).toBe('corr-1');
          await f.transactions.run(async (inner) => {
            expect(inner).toBe(outer);
          });
        }),
      );
    });

    it('without any transaction the row is written at once (auto-commit)', async () => {
      const f = feature(new FakeTransport());
      await f.publisher.publish([outbound('Standalone', {})], {});
      expect(await rows()).toHaveLength(1);
    });

    it('refuses a manager of another DataSource', async () => {
      const f = feature(new FakeTransport());
      const otherTables = uniqueTables('tother');
      const other = await pgDataSource(otherTables, 2);
      try {
        await expect(
          other.transaction((manager) => f.publisher.publish([outbound('X', {})], { manager })),
        ).rejects.toThrow(/another DataSource/);
      } finally {
        await dropAll(other, otherTables);
      }
    });
  });

  describe('relay', () => {
    it('publishes committed rows promptly (NOTIFY) and marks them sent only after confirm', async () => {
      const transport = new FakeTransport();
      const f = feature(transport, { pollIntervalMs: 60_000 }); // only NOTIFY / local wake-up can be prompt
      await f.start();
      try {
        const started = Date.now();
        await ds.transaction((manager) => f.publisher.publish([outbound('A', { n: 1 })], { manager }));
        await transport.waitFor(1, 5000);
        expect(Date.now() - started).toBeLessThan(2000);
        expect(transport.published[0].envelope.type).toBe('A');
        expect(transport.published[0].destination).toBeUndefined();
        await eventually(async () => (await rows())[0].status === 'sent', 5000, 'sent');
        expect((await rows())[0].sent_at).not.toBeNull();
      } finally {
        await f.stop();
      }
    });

    it('wakes on NOTIFY from another connection (another app instance)', async () => {
      const transport = new FakeTransport();
      const relayFeature = feature(transport, { pollIntervalMs: 60_000 });
      const writer = feature(new FakeTransport(), { relay: false }); // a second "instance" that only writes
      await relayFeature.start();
      await writer.start();
      try {
        await writer.publisher.publish([outbound('FromElsewhere', {})], {});
        await transport.waitFor(1, 3000);
        expect((await relayFeature.stats()).listening).toBe(true);
      } finally {
        await writer.stop();
        await relayFeature.stop();
      }
    });

    it('re-establishes LISTEN after the connection is killed, and catches up at once', async () => {
      const transport = new FakeTransport();
      const relayFeature = feature(transport, { pollIntervalMs: 60_000 });
      const writer = feature(new FakeTransport(), { relay: false });
      await relayFeature.start();
      await writer.start();
      try {
        const pid = relayFeature.listener!.backendPid;
        expect(pid).toBeDefined();
        await ds.query('SELECT pg_terminate_backend($1)', [pid]);
        await eventually(
          () => relayFeature.listener!.backendPid !== undefined && relayFeature.listener!.backendPid !== pid,
          5000,
          'reconnect',
        );
        await writer.publisher.publish([outbound('AfterReconnect', {})], {});
        await transport.waitFor(1, 3000);
      } finally {
        await writer.stop();
        await relayFeature.stop();
      }
    });

    it('a failing row backs off, counts attempts, fails after maxAttempts, and does not block other rows', async () => {
      const transport = new FakeTransport();
      transport.failWhen = (m) => (m.envelope.type === 'Poison' ? new Error('broker says no') : undefined);
      // a back-off long enough that a busy machine cannot use it up between the write and the checks
      const f = feature(transport, { maxAttempts: 3, backoff: { initialDelayMs: 1000, maxDelayMs: 1000, jitter: 0 } });
      await f.publisher.publish([outbound('Poison', {}), outbound('Fine', { n: 1 }), outbound('Fine', { n: 2 })], {});
      await f.relay.runOnce();
      expect(transport.published.map((m) => m.envelope.type)).toEqual(['Fine', 'Fine']);
      let r = await rows();
      expect(r[0]).toMatchObject({ status: 'pending', attempts: 1, last_error: 'Error: broker says no' });
      expect(new Date(r[0].available_at).getTime()).toBeGreaterThan(Date.now() + 10);
      expect(r[1].status).toBe('sent');
      // not due yet: nothing claimed
      expect(await f.relay.runOnce()).toBe(0);
      await f.start();
      try {
        await eventually(async () => (await rows())[0].status === 'failed', 15_000, 'failed');
        r = await rows();
        expect(r[0].attempts).toBe(3);
        const stats = await f.stats();
        expect(stats).toMatchObject({ failed: 1, pending: 0 });
        expect(stats.totals.gaveUp).toBe(1);
      } finally {
        await f.stop();
      }
      // an operator fixes the cause and requeues
      transport.failWhen = undefined;
      expect(await f.requeueFailed()).toBe(1);
      await f.relay.runOnce();
      expect(transport.published.map((m) => m.envelope.type)).toContain('Poison');
    });

    it('does not claim while the transport is disconnected (an outage uses up no attempts)', async () => {
      const transport = new FakeTransport();
      transport.connected = false;
      const f = feature(transport);
      await f.start();
      try {
        await f.publisher.publish([outbound('Waiting', {})], {});
        await new Promise((r) => setTimeout(r, 200));
        expect(transport.published).toHaveLength(0);
        expect((await rows())[0].attempts).toBe(0);
        transport.connected = true;
        await transport.waitFor(1, 3000);
      } finally {
        await f.stop();
      }
    });

    it('publishes a delayed row when due (retry scheduler: destination, attempt, firstFailureAt)', async () => {
      const transport = new FakeTransport();
      const f = feature(transport, { pollIntervalMs: 60_000 });
      await f.start();
      try {
        const m = outbound('Retried', { x: 1 });
        const scheduledAt = Date.now();
        await f.retryScheduler.scheduleRetry(
          m.envelope,
          m.body,
          'Inventory.onRetried',
          300,
          2,
          '2026-01-01T00:00:00.000Z',
        );
        await new Promise((r) => setTimeout(r, 100));
        expect(transport.published).toHaveLength(0);
        await transport.waitFor(1, 3000);
        expect(Date.now() - scheduledAt).toBeGreaterThanOrEqual(290);
        expect(transport.published[0]).toMatchObject({
          destination: 'Inventory.onRetried',
          attempt: 2,
          firstFailureAt: '2026-01-01T00:00:00.000Z',
          body: m.body,
        });
        expect(transport.published[0].envelope.id).toBe(m.envelope.id);
      } finally {
        await f.stop();
      }
    });

    it('keeps the order of one partition key, even when a row of it fails and is retried', async () => {
      const transport = new FakeTransport();
      let failOnce = true;
      transport.failWhen = (m) => {
        if (m.envelope.partitionKey === 'agg-1' && (m.envelope.data as { n: number }).n === 2 && failOnce) {
          failOnce = false;
          return true;
        }
        return undefined;
      };
      const f = feature(transport, { backoff: { initialDelayMs: 100, jitter: 0 } });
      const msgs = [];
      for (let n = 1; n <= 5; n++) {
        msgs.push(outbound('Changed', { n }, { partitionKey: 'agg-1' }));
        msgs.push(outbound('Changed', { n }, { partitionKey: 'agg-2' }));
      }
      for (const m of msgs) await f.publisher.publish([m], {});
      await f.start();
      try {
        await transport.waitFor(10, 5000);
      } finally {
        await f.stop();
      }
      const order = (key: string) =>
        transport.published
          .filter((m) => m.envelope.partitionKey === key)
          .map((m) => (m.envelope.data as { n: number }).n);
      expect(order('agg-1')).toEqual([1, 2, 3, 4, 5]);
      expect(order('agg-2')).toEqual([1, 2, 3, 4, 5]);
      // agg-2 was not held up by agg-1's retry
      const firstAgg1After = transport.published.findIndex(
        (m) => m.envelope.partitionKey === 'agg-1' && (m.envelope.data as { n: number }).n === 2,
      );
      expect(firstAgg1After).toBeGreaterThan(
        transport.published.findIndex(
          (m) => m.envelope.partitionKey === 'agg-2' && (m.envelope.data as { n: number }).n === 5,
        ),
      );
    });

    it.each([
      [2, 2],
      [1, 1],
    ])(
      'relayConcurrency %i: that many batches in flight at once, each row published once',
      async (relayConcurrency, expectedLanes) => {
        const transport = new FakeTransport();
        let inFlight = 0;
        let maxInFlight = 0;
        const gate: Array<() => void> = [];
        const original = transport.publish.bind(transport);
        transport.publish = async (m) => {
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          await new Promise<void>((r) => gate.push(r)); // the confirm waits until the test lets it go
          inFlight--;
          return original(m);
        };
        const f = feature(transport, { batchSize: 2, relayConcurrency, pollIntervalMs: 20 });
        await f.publisher.publish(
          Array.from({ length: 8 }, (_, n) => outbound('Laned', { n })),
          {},
        );
        await f.start();
        await eventually(() => inFlight === 2 * expectedLanes, 3000); // every lane's batch of 2 is waiting
        await new Promise((r) => setTimeout(r, 100)); // and no further batch is claimed meanwhile
        expect(maxInFlight).toBe(2 * expectedLanes);
        const release = setInterval(() => gate.splice(0).forEach((r) => r()), 5);
        try {
          await transport.waitFor(8);
          await eventually(async () => (await rows()).every((r) => r.status === 'sent'), 3000);
        } finally {
          clearInterval(release);
          await f.stop();
        }
        const ns = transport.published.map((m) => (m.envelope.data as { n: number }).n).sort((a, b) => a - b);
        expect(ns).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      },
    );

    it('stop() finishes the in-flight batch', async () => {
      const transport = new FakeTransport();
      transport.latencyMs = 100;
      const f = feature(transport);
      await f.publisher.publish([outbound('Slow', {}), outbound('Slow', {})], {});
      const inFlight = new Promise<void>((resolve) => (transport.onPublishStart = () => resolve()));
      await f.start();
      await inFlight; // the batch is being published (100 ms each) when stop() is called
      expect(transport.published).toHaveLength(0);
      await f.stop();
      const r = await rows();
      expect(r.every((row) => row.status === 'sent')).toBe(true);
      expect(transport.published).toHaveLength(2);
    });
  });

  describe('retention', () => {
    it('deletes only sent rows older than the window and inbox rows older than theirs, in batches', async () => {
      const f = feature(new FakeTransport(), { retention: { sentMs: 60_000, inboxMs: 3_600_000, batchSize: 2 } });
      const o = `"${tables.outboxTable}"`;
      const insert = (status: string, sentAgo: string | null) =>
        ds.query(
          `INSERT INTO ${o} (message_id, type, payload, status, sent_at) VALUES ($1, 'T', '{}', $2, ` +
            (sentAgo ? `now() - interval '${sentAgo}'` : 'NULL') +
            `)`,
          [`m-${Math.random()}`, status],
        );
      for (let i = 0; i < 5; i++) await insert('sent', '2 minutes'); // old sent: delete
      await insert('sent', '10 seconds'); // recent sent: keep
      await insert('pending', null); // keep
      await insert('failed', null); // keep
      const i = `"${tables.inboxTable}"`;
      await ds.query(
        `INSERT INTO ${i} (message_id, subscriber, processed_at) VALUES ('a', 's', now() - interval '2 hours')`,
      );
      await ds.query(
        `INSERT INTO ${i} (message_id, subscriber, processed_at) VALUES ('b', 's', now() - interval '30 minutes')`,
      );
      await ds.query(
        `INSERT INTO ${i} (message_id, subscriber, processed_at) VALUES ('c', 's', now() - interval '3 hours')`,
      );
      const result = await f.retention.runOnce();
      expect(result).toEqual({ sent: 5, processed: 2 });
      const left = await rows();
      expect(left.map((r) => r.status).sort()).toEqual(['failed', 'pending', 'sent']);
      expect(await ds.query(`SELECT message_id FROM ${i}`)).toEqual([{ message_id: 'b' }]);
    });
  });

  describe('stats', () => {
    it('reports pending, due, failed counts and the age of the oldest due row', async () => {
      const f = feature(new FakeTransport());
      const o = `"${tables.outboxTable}"`;
      await ds.query(
        `INSERT INTO ${o} (message_id, type, payload, available_at) VALUES ('x', 'T', '{}', now() - interval '5 seconds')`,
      );
      await ds.query(
        `INSERT INTO ${o} (message_id, type, payload, available_at) VALUES ('y', 'T', '{}', now() + interval '1 hour')`,
      );
      await ds.query(`INSERT INTO ${o} (message_id, type, payload, status) VALUES ('z', 'T', '{}', 'failed')`);
      const stats = await f.stats();
      expect(stats).toMatchObject({ pending: 2, due: 1, failed: 1, relayRunning: false });
      expect(stats.oldestDueAgeMs).toBeGreaterThanOrEqual(4900);
      expect(stats.oldestDueAgeMs).toBeLessThan(30_000);
    });
  });

  describe('start checks', () => {
    it('fails with a readable error when the tables do not exist', async () => {
      const f = new OutboxFeature({ outboxTable: 'no_such_outbox_table' }, ds, new FakeTransport(), testLogger());
      await expect(f.start()).rejects.toThrow(/no_such_outbox_table.*createMessagingMigration/);
    });
  });
});
