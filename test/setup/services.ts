import { connect as amqpConnect } from 'amqplib';
import { Client } from 'pg';

/** PostgreSQL connection settings for tests (override with TEST_DATABASE_URL). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** RabbitMQ URL for tests (override with TEST_AMQP_URL). */
export const TEST_AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Throws a clear error when PostgreSQL is unreachable. */
export async function assertPostgres(): Promise<void> {
  const client = new Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_DATABASE_URL.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}). ` +
        `Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Throws a clear error when RabbitMQ is unreachable. */
export async function assertRabbitMq(): Promise<void> {
  try {
    const conn = await amqpConnect(TEST_AMQP_URL, { timeout: 5000 });
    await conn.close();
  } catch (err) {
    throw new Error(
      `RabbitMQ is not reachable at ${TEST_AMQP_URL.replace(/:[^:@/]*@/, ':***@')} (${(err as Error).message}). ` +
        `Start it: rabbitmq-server -detached`,
    );
  }
}
