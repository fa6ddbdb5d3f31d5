import { EntitySchema } from 'typeorm';
import { checkTableFor, indexName, type MessagingTableNames, type OutboxDatabase } from './outbox.ddl';
import { DEFAULT_INBOX_TABLE, DEFAULT_OUTBOX_TABLE } from './outbox-options.interface';

/** Options of `createMessagingEntities`. */
export interface MessagingEntitiesOptions extends MessagingTableNames {
  /** Which database the DataSource uses (column types differ). Default `postgres`. */
  database?: OutboxDatabase;
}

function split(table: string): { schema?: string; tableName: string } {
  const parts = table.split('.');
  return parts.length === 2 ? { schema: parts[0], tableName: parts[1] } : { tableName: parts[0] };
}

/**
 * TypeORM entity schemas of the outbox and inbox tables, for DataSources with `synchronize: true`:
 * `entities: [...myEntities, ...createMessagingEntities({ database: 'sqlite' })]`.
 * Names must equal the module's `outbox.outboxTable` / `outbox.inboxTable`. The library itself
 * reads and writes these tables with plain SQL; the schemas only describe them.
 */
export function createMessagingEntities(options: MessagingEntitiesOptions = {}): EntitySchema[] {
  const database = options.database ?? 'postgres';
  const outboxTable = options.outboxTable ?? DEFAULT_OUTBOX_TABLE;
  const inboxTable = options.inboxTable ?? DEFAULT_INBOX_TABLE;
  checkTableFor(database, outboxTable);
  checkTableFor(database, inboxTable);
  const pg = database === 'postgres';
  const ts = pg ? ('timestamptz' as const) : ('datetime' as const);
  const now = pg ? { default: () => 'now()' } : {};
  const outbox = new EntitySchema({
    name: `MessagingOutbox_${outboxTable}`,
    ...split(outboxTable),
    columns: {
      id: {
        type: pg ? 'bigint' : 'integer',
        primary: true,
        generated: 'increment',
        primaryKeyConstraintName: indexName(outboxTable, 'pkey'),
      },
      message_id: { type: 'varchar', length: 200 },
      type: { type: 'varchar', length: 255 },
      payload: { type: 'text' },
      headers: { type: 'text', default: '{}' },
      destination: { type: 'varchar', length: 255, nullable: true },
      partition_key: { type: 'varchar', length: 200, nullable: true },
      available_at: { type: ts, ...now },
      attempts: { type: 'integer', default: 0 },
      status: { type: 'varchar', length: 16, default: 'pending' },
      last_error: { type: 'text', nullable: true },
      created_at: { type: ts, ...now },
      sent_at: { type: ts, nullable: true },
    },
    indices: [
      { name: indexName(outboxTable, 'pending_idx'), columns: ['id'], where: `"status" = 'pending'` },
      {
        name: indexName(outboxTable, 'partition_idx'),
        columns: ['partition_key', 'id'],
        where: `"status" = 'pending' AND "partition_key" IS NOT NULL`,
      },
      { name: indexName(outboxTable, 'sent_idx'), columns: ['sent_at'], where: `"status" = 'sent'` },
      { name: indexName(outboxTable, 'failed_idx'), columns: ['id'], where: `"status" = 'failed'` },
    ],
  });
  const inbox = new EntitySchema({
    name: `MessagingInbox_${inboxTable}`,
    ...split(inboxTable),
    columns: {
      message_id: {
        type: 'varchar',
        length: 200,
        primary: true,
        primaryKeyConstraintName: indexName(inboxTable, 'pkey'),
      },
      subscriber: {
        type: 'varchar',
        length: 255,
        primary: true,
        primaryKeyConstraintName: indexName(inboxTable, 'pkey'),
      },
      processed_at: { type: ts, ...now },
    },
    indices: [{ name: indexName(inboxTable, 'processed_idx'), columns: ['processed_at'] }],
  });
  return [outbox, inbox];
}
