import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { outboxDatabaseOf } from './outbox.ddl';
import type { MessagingMigrationClass } from './outbox.migration';
import { createDeadLetterTableSql, DEFAULT_DEAD_LETTER_TABLE, dropDeadLetterTableSql } from './dead-letter.ddl';

/**
 * Builds a TypeORM migration class that creates (and, on `down`, drops) the durable dead-letter
 * table (PostgreSQL only). Add it to the DataSource's `migrations` after the outbox's
 * (`createMessagingMigration`), and set `outbox.deadLetterTable` to the same name. Use either this
 * migration or `synchronize: true` with `createDeadLetterEntities()`, not both.
 *
 * @param table the table name. Default `messaging_dead_letters`.
 * @param timestamp migration timestamp (TypeORM orders migrations by it). Default `1764835200000`.
 */
export function createDeadLetterMigration(
  table: string = DEFAULT_DEAD_LETTER_TABLE,
  timestamp = 1764835200000,
): MessagingMigrationClass {
  const name = `MessagingDeadLetters${timestamp}`;
  const postgresOnly = (type: unknown) => {
    if (outboxDatabaseOf(type) !== 'postgres') {
      throw new InvalidConfigurationError('the durable dead-letter table is supported on PostgreSQL only');
    }
  };
  return class MessagingDeadLettersMigration {
    name = name;

    async up(queryRunner: Parameters<InstanceType<MessagingMigrationClass>['up']>[0]): Promise<void> {
      postgresOnly(queryRunner.connection.options.type);
      for (const sql of createDeadLetterTableSql(table)) await queryRunner.query(sql);
    }

    async down(queryRunner: Parameters<InstanceType<MessagingMigrationClass>['down']>[0]): Promise<void> {
      postgresOnly(queryRunner.connection.options.type);
      for (const sql of dropDeadLetterTableSql(table)) await queryRunner.query(sql);
    }
  };
}
