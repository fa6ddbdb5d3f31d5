import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TEST_DATABASE_URL } from '../../setup/services';
import { createMessagingMigration } from '../../../lib/outbox/outbox.migration';
import { encodeEnvelope } from '../../../lib/message/cloudevents.codec';
import type { MessageEnvelope } from '../../../lib/message/envelope';
import { uuidv7 } from '../../../lib/message/uuid-v7';
import type { OutboundMessage } from '../../../lib/transport/transport.interface';

/** Unique table names for one test file. */
export function uniqueTables(prefix = 'tob'): { outboxTable: string; inboxTable: string; ordersTable: string } {
  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  return {
    outboxTable: `${prefix}_outbox_${suffix}`,
    inboxTable: `${prefix}_inbox_${suffix}`,
    ordersTable: `${prefix}_orders_${suffix}`,
  };
}

/** A PostgreSQL DataSource on the test database, initialized, with the outbox tables and a business table. */
export async function pgDataSource(
  tables: { outboxTable: string; inboxTable: string; ordersTable: string },
  poolSize = 20,
): Promise<DataSource> {
  const ds = new DataSource({ type: 'postgres', url: TEST_DATABASE_URL, poolSize });
  await ds.initialize();
  await createTables(ds, tables);
  return ds;
}

/** A better-sqlite3 DataSource (file or `:memory:`), initialized, with the tables. */
export async function sqliteDataSource(
  tables: { outboxTable: string; inboxTable: string; ordersTable: string },
  database = ':memory:',
): Promise<DataSource> {
  const ds = new DataSource({ type: 'better-sqlite3', database });
  await ds.initialize();
  await createTables(ds, tables);
  return ds;
}

async function createTables(
  ds: DataSource,
  tables: { outboxTable: string; inboxTable: string; ordersTable: string },
): Promise<void> {
  const Migration = createMessagingMigration(tables);
  const qr = ds.createQueryRunner();
  try {
    await new Migration().up(qr);
    await qr.query(`CREATE TABLE IF NOT EXISTS "${tables.ordersTable}" (id varchar(100) PRIMARY KEY, note text)`);
  } finally {
    await qr.release();
  }
}

/** Drops the tables and destroys the DataSource. */
export async function dropAll(
  ds: DataSource | undefined,
  tables: { outboxTable: string; inboxTable: string; ordersTable: string },
): Promise<void> {
  if (!ds?.isInitialized) return;
  const Migration = createMessagingMigration(tables);
  const qr = ds.createQueryRunner();
  try {
    await new Migration().down(qr);
    await qr.query(`DROP TABLE IF EXISTS "${tables.ordersTable}"`);
  } finally {
    await qr.release();
  }
  await ds.destroy();
}

/** An encoded event as the EventBus would hand it over. */
export function outbound(
  type: string,
  data: unknown,
  options: { partitionKey?: string; id?: string } = {},
): OutboundMessage {
  const id = options.id ?? uuidv7();
  const envelope: MessageEnvelope = {
    id,
    type,
    version: 1,
    time: new Date().toISOString(),
    source: 'outbox-tests',
    correlationId: id,
    headers: {},
    data,
    ...(options.partitionKey !== undefined ? { partitionKey: options.partitionKey } : {}),
  };
  return { envelope, body: encodeEnvelope(envelope) };
}

/** Waits until `check` returns true (polling), or fails after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Silent logger for features under test (collects lines). */
export function testLogger(): { lines: string[]; log(m: string): void; warn(m: string): void; error(m: string): void } {
  const lines: string[] = [];
  return {
    lines,
    log: (m: string) => void lines.push(`log ${m}`),
    warn: (m: string) => void lines.push(`warn ${m}`),
    error: (m: string) => void lines.push(`error ${m}`),
  };
}
