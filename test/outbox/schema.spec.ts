import { DataSource } from 'typeorm';
import { createMessagingEntities } from '../../lib/outbox/outbox.entities';
import { createMessagingMigration } from '../../lib/outbox/outbox.migration';
import { validateOutboxOptions } from '../../lib/outbox/outbox-options.validator';
import { OutboxFeature } from '../../lib/outbox/outbox.feature';
import { InvalidConfigurationError } from '../../lib/errors/invalid-configuration.error';
import { TEST_DATABASE_URL } from '../setup/services';
import { FakeTransport } from './helpers/fake.transport';
import { uniqueTables } from './helpers/outbox-test.db';

describe('outbox options', () => {
  it('applies documented defaults', () => {
    expect(validateOutboxOptions({})).toMatchObject({
      enabled: true,
      outboxTable: 'messaging_outbox',
      inboxTable: 'messaging_processed_messages',
      relay: true,
      pollIntervalMs: 1000,
      batchSize: 100,
      relayConcurrency: 2,
      maxAttempts: 10,
      backoff: { initialDelayMs: 1000, multiplier: 2, maxDelayMs: 300_000, jitter: 0.2 },
      listenNotify: true,
      inbox: true,
      retention: { enabled: true, sentMs: 86_400_000, inboxMs: 604_800_000, intervalMs: 60_000, batchSize: 1000 },
    });
  });

  it.each([
    [{ outboxTable: 'bad name' }, /outbox\.outboxTable must be a table name/],
    [{ inboxTable: 'x; drop table y' }, /outbox\.inboxTable/],
    [{ outboxTable: 'a.b.c' }, /outbox\.outboxTable/],
    [{ outboxTable: 'same', inboxTable: 'same' }, /must differ/],
    [{ pollIntervalMs: 0 }, /outbox\.pollIntervalMs must be an integer from 5/],
    [{ relayConcurrency: 0 }, /outbox\.relayConcurrency must be an integer from 1/],
    [{ batchSize: 1.5 }, /outbox\.batchSize/],
    [{ maxAttempts: 0 }, /outbox\.maxAttempts/],
    [{ backoff: { jitter: 2 } }, /outbox\.backoff\.jitter/],
    [{ backoff: { initialDelayMs: 10_000, maxDelayMs: 1000 } }, /maxDelayMs must not be smaller/],
    [{ retention: { inboxMs: 1000 } }, /outbox\.retention\.inboxMs must be an integer from 3600000/],
    [{ listenNotify: 'yes' }, /outbox\.listenNotify must be true or false/],
    [{ dataSource: 42 }, /outbox\.dataSource/],
  ])('rejects %j', (options, message) => {
    expect(() => validateOutboxOptions(options as never)).toThrow(InvalidConfigurationError);
    expect(() => validateOutboxOptions(options as never)).toThrow(message);
  });

  it('accepts schema-qualified names on PostgreSQL but not on SQLite', async () => {
    expect(validateOutboxOptions({ outboxTable: 'app.outbox' }).outboxTable).toBe('app.outbox');
    const sqlite = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    expect(() => new OutboxFeature({ outboxTable: 'app.outbox' }, sqlite, new FakeTransport())).toThrow(
      /no schema prefix/,
    );
  });

  it('refuses unsupported databases', () => {
    const mysql = { options: { type: 'mysql' }, query: () => undefined } as never;
    expect(() => new OutboxFeature({}, mysql, new FakeTransport())).toThrow(/"postgres" or "better-sqlite3"/);
  });
});

describe('migration and entities', () => {
  it.each(['postgres', 'better-sqlite3'] as const)(
    'the migration creates exactly what the entities describe (%s: no schema diff), and down drops it',
    async (type) => {
      const names = uniqueTables('tschema');
      const ds = new DataSource({
        ...(type === 'postgres' ? { type, url: TEST_DATABASE_URL } : { type, database: ':memory:' }),
        entities: createMessagingEntities({ ...names, database: type === 'postgres' ? 'postgres' : 'sqlite' }),
      } as never);
      await ds.initialize();
      const Migration = createMessagingMigration(names);
      const qr = ds.createQueryRunner();
      try {
        await new Migration().up(qr);
        await new Migration().up(qr); // idempotent
        const diff = await ds.driver.createSchemaBuilder().log();
        expect(diff.upQueries.map((q) => q.query)).toEqual([]);
        await new Migration().down(qr);
        expect(await qr.hasTable(names.outboxTable)).toBe(false);
        expect(await qr.hasTable(names.inboxTable)).toBe(false);
      } finally {
        await new Migration().down(qr).catch(() => undefined);
        await qr.release();
        await ds.destroy();
      }
    },
  );

  it('names the migration after its timestamp', () => {
    expect(new (createMessagingMigration({}, 1700000000000))().name).toBe('MessagingTables1700000000000');
  });
});
