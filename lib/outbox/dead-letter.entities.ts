import { EntitySchema } from 'typeorm';
import { indexName } from './outbox.ddl';
import { DEFAULT_DEAD_LETTER_TABLE } from './dead-letter.ddl';
import { isValidTableName } from './outbox-options.validator';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';

/**
 * The TypeORM entity schema of the durable dead-letter table (PostgreSQL), for DataSources with
 * `synchronize: true`. The library reads and writes it with plain SQL; the schema only describes it.
 */
export function createDeadLetterEntities(table: string = DEFAULT_DEAD_LETTER_TABLE): EntitySchema[] {
  if (!isValidTableName(table)) throw new InvalidConfigurationError(`invalid table name ${JSON.stringify(table)}`);
  const parts = table.split('.');
  const where = parts.length === 2 ? { schema: parts[0], tableName: parts[1] } : { tableName: parts[0] };
  const text = (nullable = false) => ({ type: 'text' as const, nullable });
  const varchar = (length: number, nullable = true) => ({ type: 'varchar' as const, length, nullable });
  const ts = (nullable = false) => ({ type: 'timestamptz' as const, nullable });
  return [
    new EntitySchema({
      name: `MessagingDeadLetters_${table}`,
      ...where,
      columns: {
        id: { type: 'varchar', length: 200, primary: true, primaryKeyConstraintName: indexName(table, 'pkey') },
        message_id: varchar(200),
        type: varchar(255),
        subscriber: varchar(255, false),
        source_queue: varchar(255, false),
        correlation_id: varchar(200),
        causation_id: varchar(200),
        group_id: varchar(32, false),
        error_name: varchar(255, false),
        error_message: text(),
        error_stack: text(true),
        attempts: { type: 'integer' },
        first_failure_at: ts(),
        dead_lettered_at: ts(),
        body: text(),
        status: { type: 'varchar', length: 16, default: 'dead' },
        status_at: ts(true),
        status_by: varchar(100),
      },
      indices: [
        { name: indexName(table, 'group_idx'), columns: ['group_id', 'status'] },
        { name: indexName(table, 'correlation_idx'), columns: ['correlation_id'] },
        { name: indexName(table, 'message_idx'), columns: ['message_id'] },
        { name: indexName(table, 'time_idx'), columns: ['dead_lettered_at'] },
      ],
    }),
  ];
}
