import { DataSource } from 'typeorm';
import { createDeadLetterEntities, createDeadLetterMigration, InvalidConfigurationError } from '../../lib';
import { validateOutboxOptions } from '../../lib/outbox/outbox-options.validator';
import { TEST_DATABASE_URL } from '../setup/services';
import { uniqueTables } from './helpers/outbox-test.db';

describe('durable dead-letter table: migration, entity, option', () => {
  it('the migration creates exactly what the entity describes (PostgreSQL: no schema diff), and down drops it', async () => {
    const table = `${uniqueTables('tdl').outboxTable}_dead`;
    const ds = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL, entities: createDeadLetterEntities(table) });
    await ds.initialize();
    const Migration = createDeadLetterMigration(table);
    const qr = ds.createQueryRunner();
    try {
      await new Migration().up(qr);
      await new Migration().up(qr); // idempotent
      const diff = await ds.driver.createSchemaBuilder().log();
      expect(diff.upQueries.map((q) => q.query)).toEqual([]);
      await new Migration().down(qr);
      expect(await qr.hasTable(table)).toBe(false);
    } finally {
      await new Migration().down(qr).catch(() => undefined);
      await qr.release();
      await ds.destroy();
    }
  });

  it('refuses SQLite and bad names; names the migration after its timestamp', async () => {
    const sqlite = new DataSource({ type: 'better-sqlite3', database: ':memory:' });
    await sqlite.initialize();
    const qr = sqlite.createQueryRunner();
    try {
      await expect(new (createDeadLetterMigration())().up(qr)).rejects.toThrow(/PostgreSQL only/);
    } finally {
      await qr.release();
      await sqlite.destroy();
    }
    expect(() => createDeadLetterEntities('bad name')).toThrow(InvalidConfigurationError);
    expect(new (createDeadLetterMigration('x', 1700000000000))().name).toBe('MessagingDeadLetters1700000000000');
  });

  it('outbox.deadLetterTable: off by default, a validated name distinct from the outbox tables', () => {
    expect(validateOutboxOptions({}).deadLetterTable).toBeUndefined();
    expect(validateOutboxOptions({ deadLetterTable: false }).deadLetterTable).toBeUndefined();
    expect(validateOutboxOptions({ deadLetterTable: 'ops.dead_letters' }).deadLetterTable).toBe('ops.dead_letters');
    expect(() => validateOutboxOptions({ deadLetterTable: 'x y' })).toThrow(
      /outbox\.deadLetterTable must be a table name/,
    );
    expect(() => validateOutboxOptions({ deadLetterTable: 'messaging_outbox' })).toThrow(/must differ/);
  });
});
