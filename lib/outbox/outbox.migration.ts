import { outboxDatabaseOf, createTablesSql, dropTablesSql, type MessagingTableNames } from './outbox.ddl';
import { DEFAULT_INBOX_TABLE, DEFAULT_OUTBOX_TABLE } from './outbox-options.interface';

/** The part of TypeORM's `QueryRunner` a migration uses. */
interface MigrationQueryRunner {
  connection: { options: { type: unknown } };
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/** A TypeORM migration class (`MigrationInterface`). */
export interface MessagingMigrationClass {
  new (): {
    name: string;
    up(queryRunner: MigrationQueryRunner): Promise<void>;
    down(queryRunner: MigrationQueryRunner): Promise<void>;
  };
}

/**
 * Builds a TypeORM migration class that creates (and, on `down`, drops) the outbox and inbox
 * tables with the given names, for PostgreSQL or SQLite (better-sqlite3), whichever the DataSource is.
 * Add it to the DataSource's `migrations`. Use either this migration or `synchronize: true`
 * with `createMessagingEntities()`, not both.
 *
 * @param tables table names; must equal the module's `outbox.outboxTable` / `outbox.inboxTable`.
 * @param timestamp migration timestamp (TypeORM orders migrations by it). Default `1764230400000`.
 */
export function createMessagingMigration(
  tables: MessagingTableNames = {},
  timestamp = 1764230400000,
): MessagingMigrationClass {
  const outboxTable = tables.outboxTable ?? DEFAULT_OUTBOX_TABLE;
  const inboxTable = tables.inboxTable ?? DEFAULT_INBOX_TABLE;
  const name = `MessagingTables${timestamp}`;
  return class MessagingTablesMigration {
    name = name;

    async up(queryRunner: MigrationQueryRunner): Promise<void> {
      const database = outboxDatabaseOf(queryRunner.connection.options.type);
      for (const sql of createTablesSql(database, outboxTable, inboxTable)) await queryRunner.query(sql);
    }

    async down(queryRunner: MigrationQueryRunner): Promise<void> {
      const database = outboxDatabaseOf(queryRunner.connection.options.type);
      for (const sql of dropTablesSql(database, outboxTable, inboxTable)) await queryRunner.query(sql);
    }
  };
}

/** Migration creating the tables under their default names. */
export const MessagingTables1764230400000 = createMessagingMigration();
