/**
 * The naive baseline's PostgreSQL side, shared by the outbox and full-path benchmarks: its tables,
 * one transaction per statement group, and a relay polling every 10 ms that claims up to 100 rows
 * `FOR UPDATE SKIP LOCKED`.
 */
import { Pool, type PoolClient } from 'pg';

/** The benchmarks' database: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else a local default. */
export const BENCH_DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Table names of the baseline's business (orders), outbox, inbox and effect tables. */
export interface BaselineTables {
  orders: string;
  outbox: string;
  inbox: string;
  effect: string;
}

/** Creates the baseline's tables. */
export async function createBaselineTables(pool: Pool, t: BaselineTables): Promise<void> {
  await pool.query(
    `CREATE TABLE "${t.orders}" (id varchar(200) PRIMARY KEY, customer varchar(200) NOT NULL, total numeric NOT NULL);` +
      `CREATE TABLE "${t.outbox}" (id bigserial PRIMARY KEY, payload text NOT NULL, sent boolean NOT NULL DEFAULT false);` +
      `CREATE INDEX ON "${t.outbox}" (id) WHERE NOT sent;` +
      `CREATE TABLE "${t.inbox}" (message_id varchar(200), subscriber varchar(255), PRIMARY KEY (message_id, subscriber));` +
      `CREATE TABLE "${t.effect}" (id varchar(200) PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`,
  );
}

/** Empties the baseline's tables (before each run). */
export async function truncateBaselineTables(pool: Pool, t: BaselineTables): Promise<void> {
  await pool.query(`TRUNCATE "${t.orders}", "${t.outbox}", "${t.inbox}", "${t.effect}"`);
}

/** Drops the baseline's tables (at the end). */
export async function dropBaselineTables(pool: Pool, t: BaselineTables): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS "${t.orders}", "${t.outbox}", "${t.inbox}", "${t.effect}"`);
}

/** Runs `work` between BEGIN and COMMIT on a pooled client. */
export async function inTransaction<R>(pool: Pool, work: (c: PoolClient) => Promise<R>): Promise<R> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const result = await work(c);
    await c.query('COMMIT');
    return result;
  } finally {
    c.release();
  }
}

/** The business row every real writer has (an order), in the writer's transaction; both sides write it. */
export const ORDER_SQL = (t: { orders: string }) =>
  `INSERT INTO "${t.orders}" (id, customer, total) VALUES ($1, 'c-1', 42)`;

/** One write: the order row and the outbox row, in one transaction. */
export function insertIntoOutbox(pool: Pool, t: BaselineTables, payload: string, orderId: string): Promise<void> {
  return inTransaction(pool, async (c) => {
    await c.query(ORDER_SQL(t), [orderId]);
    await c.query(`INSERT INTO "${t.outbox}" (payload) VALUES ($1)`, [payload]);
  });
}

/** The subscriber's transaction: the inbox row for `messageId`, then (if new) the effect row `effectId`. */
export function recordEffect(pool: Pool, t: BaselineTables, messageId: string, effectId: string): Promise<void> {
  return inTransaction(pool, async (c) => {
    const r = await c.query(`INSERT INTO "${t.inbox}" VALUES ($1, 'effects') ON CONFLICT DO NOTHING`, [messageId]);
    if (r.rowCount === 1) await c.query(`INSERT INTO "${t.effect}" (id) VALUES ($1)`, [effectId]);
  });
}

/** The baseline's relay loop, which runs only while its side is measured. */
export interface PollingRelay {
  /** Starts the loop (no-op when running). */
  resume(): void;
  /** Stops the loop; resolves when the batch in progress has ended. */
  pause(): Promise<void>;
}

/**
 * The polling relay: claims up to 100 unsent rows, hands them to `publish` (only when there are
 * some), marks them sent and commits, with `synchronous_commit = off` like the library's relay (a
 * mark lost in a database crash means the rows are published again, absorbed by the inbox); sleeps 10 ms whenever fewer than 100 were claimed. Created
 * running. The benchmarks pause it while the other side is measured: its 100 polls a second
 * would otherwise load the database (and this process) during the other side's runs.
 */
export function startPollingRelay(
  pool: Pool,
  t: BaselineTables,
  publish: (payloads: string[]) => Promise<void>,
): PollingRelay {
  let stopping = false;
  let loop: Promise<void> | undefined;
  const run = async () => {
    while (!stopping) {
      const n = await inTransaction(pool, async (c) => {
        await c.query('SET LOCAL synchronous_commit = off');
        const { rows } = await c.query(
          `SELECT id, payload FROM "${t.outbox}" WHERE NOT sent ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED`,
        );
        if (rows.length) {
          await publish(rows.map((r) => r.payload as string));
          await c.query(`UPDATE "${t.outbox}" SET sent = true WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
        }
        return rows.length;
      });
      if (n < 100) await new Promise((r) => setTimeout(r, 10));
    }
  };
  const relay: PollingRelay = {
    resume() {
      if (loop) return;
      stopping = false;
      loop = run();
    },
    async pause() {
      stopping = true;
      await loop;
      loop = undefined;
    },
  };
  relay.resume();
  return relay;
}

/**
 * Every measured run starts from the same state: every side's tables empty (no dead rows of the last
 * run for autovacuum to work on during this one) and a checkpoint just taken (no dirty pages of the
 * last run flushed during this one). A database user that may not CHECKPOINT skips that part.
 */
export async function settleBetweenRuns(sides: { reset(): Promise<void> }[]): Promise<void> {
  for (const side of sides) await side.reset();
  const pool = new Pool({ connectionString: BENCH_DATABASE_URL, max: 1 });
  try {
    await pool.query('CHECKPOINT');
  } catch {
    // not a superuser (nor pg_checkpoint): runs start from empty tables only
  } finally {
    await pool.end();
  }
}
