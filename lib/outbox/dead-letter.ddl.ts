import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { indexName } from './outbox.ddl';
import { isValidTableName, quoteTable } from './outbox-options.validator';

/** Default name of the durable dead-letter table. */
export const DEFAULT_DEAD_LETTER_TABLE = 'messaging_dead_letters';

function check(table: string): string {
  if (!isValidTableName(table)) throw new InvalidConfigurationError(`invalid table name ${JSON.stringify(table)}`);
  return quoteTable(table);
}

/**
 * `CREATE TABLE` / `CREATE INDEX` statements of the durable dead-letter table (PostgreSQL): one
 * row per dead letter, kept when the queue is purged; `status` is `dead`, `replayed` or `purged`.
 */
export function createDeadLetterTableSql(table: string = DEFAULT_DEAD_LETTER_TABLE): string[] {
  const t = check(table);
  return [
    `CREATE TABLE IF NOT EXISTS ${t} ("id" varchar(200) NOT NULL, "message_id" varchar(200), ` +
      `"type" varchar(255), "subscriber" varchar(255) NOT NULL, "source_queue" varchar(255) NOT NULL, ` +
      `"correlation_id" varchar(200), "causation_id" varchar(200), "group_id" varchar(32) NOT NULL, ` +
      `"error_name" varchar(255) NOT NULL, "error_message" text NOT NULL, "error_stack" text, ` +
      `"attempts" integer NOT NULL, "first_failure_at" timestamptz NOT NULL, ` +
      `"dead_lettered_at" timestamptz NOT NULL, "body" text NOT NULL, ` +
      `"status" varchar(16) NOT NULL DEFAULT 'dead', "status_at" timestamptz, "status_by" varchar(100), ` +
      `CONSTRAINT "${indexName(table, 'pkey')}" PRIMARY KEY ("id"))`,
    `CREATE INDEX IF NOT EXISTS "${indexName(table, 'group_idx')}" ON ${t} ("group_id", "status")`,
    `CREATE INDEX IF NOT EXISTS "${indexName(table, 'correlation_idx')}" ON ${t} ("correlation_id")`,
    `CREATE INDEX IF NOT EXISTS "${indexName(table, 'message_idx')}" ON ${t} ("message_id")`,
    `CREATE INDEX IF NOT EXISTS "${indexName(table, 'time_idx')}" ON ${t} ("dead_lettered_at")`,
  ];
}

/** `DROP TABLE` of the durable dead-letter table. */
export function dropDeadLetterTableSql(table: string = DEFAULT_DEAD_LETTER_TABLE): string[] {
  return [`DROP TABLE IF EXISTS ${check(table)}`];
}
