/**
 * The SQL text of the PostgreSQL outbox store, built once per table pair. Table names arrive
 * quoted (`quoteTable`); every value is a parameter, but for the integers noted below.
 */

/** Rows up to which a multi-row outbox insert is still a prepared statement (one name per row count). */
export const PREPARED_ROWS = 4;

/** The statements of one outbox table and one inbox table. */
export interface PostgresOutboxSql {
  /** Advisory-locks the partition keys of the next `limit` due rows that no other relay holds. */
  lockKeys(limit: number): string;
  /** Claims due rows: unkeyed ones and those of the locked keys (`$1` limit, `$2` keys). */
  readonly claim: string;
  /** Inserts one inbox row (`$1` message id, `$2` subscriber). */
  readonly mark: string;
  /** The same, setting the transaction's `statement_timeout` (`$3`) for the statements after it. */
  readonly markWithTimeout: string;
  /** A commit group's inbox rows in one statement (`$1` ids, `$2` subscriber, `$3` timeout or null). */
  readonly markMany: string;
  /** Inserts `rows` outbox rows (7 parameters each). */
  insert(rows: number): string;
}

/** Builds the statements for quoted table names `outbox` and `inbox`; `lockSpace` is an integer. */
export function postgresOutboxSql(outbox: string, inbox: string, lockSpace: number): PostgresOutboxSql {
  const t = outbox;
  const inserts: string[] = [];
  return {
    // integers only (sent inline, with the BEGIN)
    lockKeys: (limit) =>
      `SELECT k FROM (SELECT DISTINCT w.partition_key AS k FROM (SELECT partition_key FROM ${t} ` +
      `WHERE status = 'pending' AND available_at <= now() AND partition_key IS NOT NULL ORDER BY id ` +
      `LIMIT ${Math.max(1, Math.floor(limit))}) w) d WHERE pg_try_advisory_xact_lock(${Math.trunc(lockSpace)}, hashtext(d.k))`,
    claim:
      `SELECT o.id, o.message_id, o.type, o.payload, o.headers, o.destination, o.partition_key, o.attempts ` +
      `FROM ${t} o WHERE o.status = 'pending' AND o.available_at <= now() ` +
      `AND (o.partition_key IS NULL OR (o.partition_key = ANY($2::text[]) AND NOT EXISTS (SELECT 1 FROM ${t} e ` +
      `WHERE e.status = 'pending' AND e.partition_key = o.partition_key AND e.id < o.id AND e.available_at > now()))) ` +
      `ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`,
    mark:
      `INSERT INTO ${inbox} (message_id, subscriber, processed_at) VALUES ($1, $2, now()) ` + `ON CONFLICT DO NOTHING`, // inserted or not: the row count (RETURNING on TypeORM's path)
    markWithTimeout:
      `WITH cfg AS (SELECT set_config('statement_timeout', $3, true) AS v) ` +
      `INSERT INTO ${inbox} (message_id, subscriber, processed_at) SELECT $1, $2, now() FROM cfg ` +
      `ON CONFLICT DO NOTHING RETURNING message_id`,
    // in the order given (sorted ids: two groups never wait on each other's rows in opposite
    // orders), the group's statement_timeout set first
    markMany:
      `WITH cfg AS (SELECT set_config('statement_timeout', COALESCE($3::text, current_setting('statement_timeout')), true) AS v) ` +
      `INSERT INTO ${inbox} (message_id, subscriber, processed_at) SELECT u.m, $2, now() ` +
      `FROM cfg, unnest($1::varchar[]) WITH ORDINALITY AS u(m, n) ORDER BY u.n ` +
      `ON CONFLICT DO NOTHING RETURNING message_id`,
    insert(rows) {
      const cached = inserts[rows];
      if (cached !== undefined) return cached;
      const values = Array.from({ length: rows }, (_, i) => {
        const b = i * 7;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, now() + ($${b + 7}::double precision * interval '1 millisecond'))`;
      });
      const sql = `INSERT INTO ${outbox} (message_id, type, payload, headers, destination, partition_key, available_at) VALUES ${values.join(', ')}`;
      if (rows <= PREPARED_ROWS) inserts[rows] = sql;
      return sql;
    },
  };
}
