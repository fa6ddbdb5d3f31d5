import type { DataSource } from 'typeorm';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { FakeTransport } from './helpers/fake.transport';
import { dropAll, outbound, pgDataSource, testLogger, uniqueTables } from './helpers/outbox-test.db';
import { TEST_DATABASE_URL } from '../setup/services';
import { DataSource as TypeOrmDataSource } from 'typeorm';

const tables = uniqueTables('trel');
let ds: DataSource;
const instances: { ds: DataSource; feature: OutboxFeature }[] = [];

beforeAll(async () => {
  ds = await pgDataSource(tables);
});
afterAll(async () => {
  await stopRelays();
  await dropAll(ds, tables);
});

async function startRelays(transport: FakeTransport, batchSize: number): Promise<void> {
  for (let k = 0; k < 3; k++) {
    const own = new TypeOrmDataSource({ type: 'postgres', url: TEST_DATABASE_URL, poolSize: 5 });
    await own.initialize();
    const feature = new OutboxFeature(
      { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, batchSize, pollIntervalMs: 20 },
      own,
      transport,
      testLogger(),
    );
    await feature.start();
    instances.push({ ds: own, feature });
  }
}

async function stopRelays(): Promise<void> {
  for (const i of instances.splice(0)) {
    await i.feature.stop();
    await i.ds.destroy();
  }
}

function checkOrder(transport: FakeTransport, perKey: number): void {
  const byKey = new Map<string, number[]>();
  for (const m of transport.published) {
    if (m.envelope.type !== 'Changed') continue;
    const { key, n } = m.envelope.data as { key: string; n: number };
    byKey.set(key, [...(byKey.get(key) ?? []), n]);
  }
  for (const [, ns] of byKey) expect(ns).toEqual(Array.from({ length: perKey }, (_, i) => i));
}

describe('several relays on one outbox table (PostgreSQL)', () => {
  afterEach(stopRelays);

  it('three relays while writers write: every row published exactly once, per-key order kept', async () => {
    const transport = new FakeTransport(); // one "broker" shared by the three instances
    transport.latencyMs = 1;
    await startRelays(transport, 25);
    const writer = new OutboxFeature(
      { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, relay: false },
      ds,
      transport,
      testLogger(),
    );
    const KEYS = 30;
    const PER_KEY = 40;
    // 10 writers, each owning 3 keys and writing them in its own transactions, in order
    await Promise.all(
      Array.from({ length: 10 }, async (_, w) => {
        for (let n = 0; n < PER_KEY; n++) {
          for (let j = 0; j < KEYS / 10; j++) {
            const key = `agg-${w * 3 + j}`;
            await writer.transactions.run(async () => {
              await writer.publisher.publish([outbound('Changed', { key, n }, { partitionKey: key })], {});
              if (n % 4 === 0) await writer.publisher.publish([outbound('Unkeyed', { key, n })], {});
            });
          }
        }
      }),
    );
    const total = KEYS * PER_KEY + KEYS * (PER_KEY / 4);
    await transport.waitFor(total, 30_000);
    // a barrier, not a sleep: stopping every relay finishes its in-flight batch; nothing can be
    // published after it, so a duplicate would be in `published` now
    await Promise.all(instances.map((i) => i.feature.stop()));
    const ids = transport.published.map((m) => m.envelope.id);
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
    checkOrder(transport, PER_KEY);
    // what is guaranteed: the relays together published each row once (how they shared it is chance)
    const published = instances.map((i) => i.feature.relay.meter.totals.published);
    expect(published.reduce((a, b) => a + b, 0)).toBe(total);
    const pending = await ds.query(`SELECT count(*)::int AS n FROM "${tables.outboxTable}" WHERE status <> 'sent'`);
    expect(pending[0].n).toBe(0);
  }, 60_000);

  it('three relays draining a backlog in small batches: no duplicates, per-key order kept across relays', async () => {
    await ds.query(`DELETE FROM "${tables.outboxTable}"`);
    const writer = new OutboxFeature(
      { outboxTable: tables.outboxTable, inboxTable: tables.inboxTable, relay: false },
      ds,
      new FakeTransport(),
      testLogger(),
    );
    const KEYS = 5;
    const PER_KEY = 200;
    const batch = [];
    for (let n = 0; n < PER_KEY; n++) {
      for (let k = 0; k < KEYS; k++) batch.push(outbound('Changed', { key: `b-${k}`, n }, { partitionKey: `b-${k}` }));
    }
    await writer.publisher.publish(batch, {});
    const transport = new FakeTransport();
    transport.latencyMs = 2; // batches overlap in time
    await startRelays(transport, 7);
    await transport.waitFor(KEYS * PER_KEY, 30_000);
    await Promise.all(instances.map((i) => i.feature.stop())); // no publish can follow
    expect(transport.published).toHaveLength(KEYS * PER_KEY);
    expect(new Set(transport.published.map((m) => m.envelope.id)).size).toBe(KEYS * PER_KEY);
    checkOrder(transport, PER_KEY);
    const published = instances.map((i) => i.feature.relay.meter.totals.published);
    expect(published.reduce((a, b) => a + b, 0)).toBe(KEYS * PER_KEY);
  }, 60_000);
});
