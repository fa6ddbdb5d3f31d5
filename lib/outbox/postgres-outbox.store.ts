import { QueryFailedError, type DataSource, type QueryRunner } from 'typeorm';
import { pgTransaction } from './pg-transaction';
import { quoteTable } from './outbox-options.validator';
import { postgresOutboxSql, PREPARED_ROWS, type PostgresOutboxSql } from './postgres-outbox.sql';
import { guardClient, statementName, type PgClient, type PgQuery, type PgResult } from './pg-client';
import {
  hash32,
  type BatchResult,
  type ClaimOutcome,
  toClaimedRow,
  type ClaimedOutboxRow,
  type NewOutboxRow,
  type OutboxStore,
  type OutboxTableStats,
  type SqlManager,
  type InboxLimits,
  type TransactionControl,
} from './outbox.store';

const INSERT_CHUNK = 1000;
/** Keys are taken from the next `batchSize × KEY_WINDOW` due rows. */
const KEY_WINDOW = 4;

/**
 * PostgreSQL outbox store. The relay claims with `FOR UPDATE SKIP LOCKED` inside a transaction
 * that lasts until the batch is published and marked, so a crash before the mark leaves the rows
 * pending (redelivered: at-least-once). Partition keys are claimed whole: a relay first takes
 * transaction-scoped advisory locks on the keys of the next due rows (skipping keys another relay
 * holds), then claims, in a new statement, unkeyed rows plus rows of its keys only, in id order,
 * except rows behind an earlier row of their key that is backing off. So the rows of one key are
 * published in id order even with several relays.
 */
export class PostgresOutboxStore implements OutboxStore {
  readonly database = 'postgres' as const;
  readonly supportsConcurrentRelays = true;
  private readonly outbox: string;
  private readonly inbox: string;
  private readonly sql: PostgresOutboxSql;

  constructor(
    private readonly dataSource: DataSource,
    outboxTable: string,
    inboxTable: string,
    private readonly preparedStatements = true,
  ) {
    this.outbox = quoteTable(outboxTable);
    this.inbox = quoteTable(inboxTable);
    this.sql = postgresOutboxSql(this.outbox, this.inbox, hash32(outboxTable));
  }

  async insert(manager: SqlManager | undefined, rows: NewOutboxRow[]): Promise<void> {
    for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
      const params: unknown[] = [];
      const chunk = rows.slice(start, start + INSERT_CHUNK);
      for (const row of chunk) {
        params.push(row.messageId, row.type, row.payload, row.headers, row.destination, row.partitionKey, row.delayMs);
      }
      // the usual one-event publish is a prepared statement; a batch of other sizes is parsed each time
      await this.prepared(manager, this.sql.insert(chunk.length), params, chunk.length <= PREPARED_ROWS);
    }
  }

  async processBatch(
    limit: number,
    publish: (rows: ClaimedOutboxRow[]) => Promise<BatchResult>,
  ): Promise<ClaimOutcome> {
    // Three round trips per batch (claim → publish → mark), on the pool client itself: TypeORM's
    // QueryRunner would send START TRANSACTION, the two selects, the UPDATE and COMMIT separately.
    // The statements whose parameters are integers only are sent with the simple protocol, several
    // to a message. `synchronous_commit = off`: the mark's commit does not wait for the WAL flush —
    // if the database crashed before that flush, the rows would be pending again and published
    // again, which is the at-least-once the relay gives anyway (the inbox absorbs the duplicates).
    const qr = this.dataSource.createQueryRunner('master');
    const client = (await qr.connect()) as PgClient;
    guardClient(client);
    let open = false;
    try {
      // 1. begin, and take the partition keys of the next due rows that no other relay is working on
      open = true;
      const begun = await this.run(
        client,
        qr,
        `BEGIN; SET LOCAL synchronous_commit = off; ${this.sql.lockKeys(limit * KEY_WINDOW)}`,
      );
      const keys = (Array.isArray(begun) ? begun[begun.length - 1] : begun).rows as { k: string }[];
      // 2. claim in id order: unkeyed rows (SKIP LOCKED shares them out) and rows of our keys only;
      //    a fresh snapshot, taken after the locks, sees everything the previous holder committed
      const params = [limit, keys.map((r) => r.k)];
      const claimed = await this.run(
        client,
        qr,
        this.preparedStatements
          ? { name: statementName(this.sql.claim), text: this.sql.claim, values: params }
          : this.sql.claim,
        params,
      );
      const raw = (claimed as PgResult).rows;
      if (raw.length === 0) {
        await this.run(client, qr, 'COMMIT');
        open = false;
        return 0;
      }
      const result = await publish(raw.map(toClaimedRow));
      for (const f of result.failed) {
        await this.run(
          client,
          qr,
          `UPDATE ${this.outbox} SET attempts = $2, last_error = $3, status = $4, ` +
            `available_at = now() + ($5::double precision * interval '1 millisecond') WHERE id = $1`,
          [f.id, f.attempts, f.error, f.giveUp ? 'failed' : 'pending', f.giveUp ? 0 : f.retryInMs],
        );
      }
      // 3. mark the confirmed rows sent and commit, in one message (the ids are our own bigints)
      const sent = result.sent.filter((id) => /^[0-9]{1,19}$/.test(id));
      if (sent.length !== result.sent.length) throw new Error('outbox: unexpected row id');
      await this.run(
        client,
        qr,
        sent.length > 0
          ? `UPDATE ${this.outbox} SET status = 'sent', sent_at = now() WHERE id = ANY('{${sent.join(',')}}'::bigint[]); COMMIT`
          : 'COMMIT',
      );
      open = false;
      return raw.length;
    } catch (error) {
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      await qr.release();
    }
  }

  /** Runs a statement on the relay's client, through TypeORM's query logger. */
  private async run(
    client: PgClient,
    qr: QueryRunner,
    query: string | PgQuery,
    params?: unknown[],
  ): Promise<PgResult | PgResult[]> {
    const text = typeof query === 'string' ? query : query.text;
    return this.logged(qr, text, params, () =>
      typeof query === 'string' ? client.query(query, params) : client.query(query),
    );
  }

  /** Logs `text` through TypeORM's logger, runs it, and wraps a failure in `QueryFailedError`. */
  private async logged<T>(
    qr: QueryRunner,
    text: string,
    params: unknown[] | undefined,
    send: () => Promise<T>,
  ): Promise<T> {
    this.dataSource.logger.logQuery(text, params, qr);
    try {
      return await send();
    } catch (error) {
      this.dataSource.logger.logQueryError(error as Error, text, params, qr);
      throw new QueryFailedError(text, params, error as Error);
    }
  }

  async markProcessed(
    manager: SqlManager,
    messageId: string,
    subscriber: string,
    limits: InboxLimits = {},
  ): Promise<boolean> {
    const timeout = limits.statementTimeoutMs;
    const result =
      timeout === undefined
        ? await this.prepared(manager, this.sql.mark, [messageId, subscriber], true, ' RETURNING message_id')
        : await this.prepared(
            manager,
            this.sql.markWithTimeout,
            [messageId, subscriber, String(Math.max(1, Math.ceil(timeout)))],
            true,
          );
    return typeof result.rowCount === 'number' ? result.rowCount > 0 : result.rows.length > 0;
  }

  async markProcessedMany(
    manager: SqlManager,
    messageIds: readonly string[],
    subscriber: string,
    limits: InboxLimits = {},
  ): Promise<Set<string>> {
    // null keeps the session's statement_timeout
    const ms = limits.statementTimeoutMs;
    const timeout = ms === undefined ? null : String(Math.max(1, Math.ceil(ms)));
    const result = await this.prepared(manager, this.sql.markMany, [[...messageIds], subscriber, timeout], true);
    return new Set(result.rows.map((row) => String(row.message_id)));
  }

  /**
   * Runs one of our statements inside `manager`'s transaction (or, without one, on a pooled
   * connection in auto-commit), as a named prepared statement when `prepare`: PostgreSQL then
   * parses and plans it once per connection instead of on every call — measured here, that is a
   * third of the server's work for a one-row outbox insert. It goes to the `pg` client that
   * TypeORM's QueryRunner holds (`queryRunner.connect()`), logged through TypeORM's logger.
   * (Connection poolers in transaction mode need protocol-level prepared statement support,
   * e.g. PgBouncer ≥ 1.21 with `max_prepared_statements`; `outbox.preparedStatements: false` turns this off.)
   */
  private async prepared(
    manager: SqlManager | undefined,
    sql: string,
    params: unknown[],
    prepare: boolean,
    returning = '',
  ): Promise<PgResult> {
    const runner = manager?.queryRunner as (QueryRunner & { connect?: () => Promise<unknown> }) | undefined;
    if (manager !== undefined && (runner === undefined || typeof runner.connect !== 'function' || runner.isReleased)) {
      // not a TypeORM transaction we can reach the connection of: TypeORM's own query path
      const rows: unknown = await manager.query(sql + returning, params);
      return { rows: Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [] };
    }
    const qr = runner ?? this.dataSource.createQueryRunner('master');
    try {
      const name = prepare && this.preparedStatements ? statementName(sql) : undefined;
      const client = (await qr.connect()) as PgClient;
      guardClient(client);
      return (await this.run(client, qr, name ? { name, text: sql, values: params } : sql, params)) as PgResult;
    } finally {
      if (runner === undefined) await qr.release();
    }
  }

  /** A TypeORM transaction on a connection of its own; see `pgTransaction`. */
  transaction<R>(work: (manager: SqlManager) => Promise<R>, control: TransactionControl = {}): Promise<R> {
    return pgTransaction(this.dataSource, work, control);
  }

  async deleteSent(ageMs: number, limit: number): Promise<number> {
    return this.affected(
      `DELETE FROM ${this.outbox} WHERE id IN (SELECT id FROM ${this.outbox} WHERE status = 'sent' ` +
        `AND sent_at < now() - ($1::double precision * interval '1 millisecond') LIMIT $2)`,
      [ageMs, limit],
    );
  }

  async deleteProcessed(ageMs: number, limit: number): Promise<number> {
    return this.affected(
      `DELETE FROM ${this.inbox} WHERE ctid IN (SELECT ctid FROM ${this.inbox} ` +
        `WHERE processed_at < now() - ($1::double precision * interval '1 millisecond') LIMIT $2)`,
      [ageMs, limit],
    );
  }

  async stats(): Promise<OutboxTableStats> {
    const [row] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending, ` +
        `count(*) FILTER (WHERE status = 'pending' AND available_at <= now())::int AS due, ` +
        `count(*) FILTER (WHERE status = 'failed')::int AS failed, ` +
        `COALESCE(extract(epoch FROM now() - min(available_at) FILTER ` +
        `(WHERE status = 'pending' AND available_at <= now())) * 1000, 0)::float8 AS oldest ` +
        `FROM ${this.outbox} WHERE status IN ('pending', 'failed')`,
    );
    return {
      pending: Number(row.pending),
      due: Number(row.due),
      failed: Number(row.failed),
      oldestDueAgeMs: Math.max(0, Math.round(Number(row.oldest))),
    };
  }

  async requeueFailed(ids?: string[]): Promise<number> {
    const filter = ids ? ` AND id = ANY($1::bigint[])` : '';
    return this.affected(
      `UPDATE ${this.outbox} SET status = 'pending', attempts = 0, last_error = NULL, available_at = now() ` +
        `WHERE status = 'failed'${filter}`,
      ids ? [ids] : [],
    );
  }

  private async affected(sql: string, params: unknown[]): Promise<number> {
    const qr = this.dataSource.createQueryRunner('master');
    try {
      const result = await qr.query(sql, params, true);
      return result.affected ?? 0;
    } finally {
      await qr.release();
    }
  }
}
