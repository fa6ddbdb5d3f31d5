import type { DataSource } from 'typeorm';
import { quoteTable } from './outbox-options.validator';
import {
  hash32,
  type BatchResult,
  type ClaimOutcome,
  type ClaimedOutboxRow,
  type NewOutboxRow,
  type OutboxStore,
  type OutboxTableStats,
  type SqlManager,
} from './outbox.store';

const INSERT_CHUNK = 1000;
/** Keys are taken from the next `batchSize × KEY_WINDOW` due rows. */
const KEY_WINDOW = 4;

/** Maps a result row (snake_case columns) to a claimed row. */
export function toClaimedRow(r: Record<string, unknown>): ClaimedOutboxRow {
  return {
    id: String(r.id),
    messageId: r.message_id as string,
    type: r.type as string,
    payload: r.payload as string,
    headers: (r.headers as string) ?? '{}',
    destination: (r.destination as string | null) ?? null,
    partitionKey: (r.partition_key as string | null) ?? null,
    attempts: Number(r.attempts),
  };
}

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
  private readonly lockSpace: number;
  private readonly lockKeysSql: string;
  private readonly claimSql: string;

  constructor(
    private readonly dataSource: DataSource,
    outboxTable: string,
    inboxTable: string,
  ) {
    this.outbox = quoteTable(outboxTable);
    this.inbox = quoteTable(inboxTable);
    this.lockSpace = hash32(outboxTable);
    const t = this.outbox;
    this.lockKeysSql =
      `SELECT k FROM (SELECT DISTINCT w.partition_key AS k FROM (SELECT partition_key FROM ${t} ` +
      `WHERE status = 'pending' AND available_at <= now() AND partition_key IS NOT NULL ORDER BY id LIMIT $1) w) d ` +
      `WHERE pg_try_advisory_xact_lock($2, hashtext(d.k))`;
    this.claimSql =
      `SELECT o.id, o.message_id, o.type, o.payload, o.headers, o.destination, o.partition_key, o.attempts ` +
      `FROM ${t} o WHERE o.status = 'pending' AND o.available_at <= now() ` +
      `AND (o.partition_key IS NULL OR (o.partition_key = ANY($2::text[]) AND NOT EXISTS (SELECT 1 FROM ${t} e ` +
      `WHERE e.status = 'pending' AND e.partition_key = o.partition_key AND e.id < o.id AND e.available_at > now()))) ` +
      `ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED`;
  }

  async insert(manager: SqlManager | undefined, rows: NewOutboxRow[]): Promise<void> {
    const target: SqlManager = manager ?? this.dataSource.manager;
    for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
      const params: unknown[] = [];
      const values = rows.slice(start, start + INSERT_CHUNK).map((row) => {
        const b = params.length;
        params.push(row.messageId, row.type, row.payload, row.headers, row.destination, row.partitionKey, row.delayMs);
        return (
          `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, ` +
          `now() + ($${b + 7}::double precision * interval '1 millisecond'))`
        );
      });
      await target.query(
        `INSERT INTO ${this.outbox} (message_id, type, payload, headers, destination, partition_key, available_at) ` +
          `VALUES ${values.join(', ')}`,
        params,
      );
    }
  }

  async processBatch(
    limit: number,
    publish: (rows: ClaimedOutboxRow[]) => Promise<BatchResult>,
  ): Promise<ClaimOutcome> {
    const qr = this.dataSource.createQueryRunner('master');
    await qr.connect();
    try {
      await qr.startTransaction();
      // 1. take the partition keys of the next due rows that no other relay is working on
      const keys: { k: string }[] = await qr.query(this.lockKeysSql, [limit * KEY_WINDOW, this.lockSpace]);
      // 2. claim in id order: unkeyed rows (SKIP LOCKED shares them out) and rows of our keys only;
      //    a fresh snapshot, taken after the locks, sees everything the previous holder committed
      const raw: Record<string, unknown>[] = await qr.query(this.claimSql, [limit, keys.map((r) => r.k)]);
      if (raw.length === 0) {
        await qr.commitTransaction();
        return 0;
      }
      const result = await publish(raw.map(toClaimedRow));
      if (result.sent.length > 0) {
        await qr.query(
          `UPDATE ${this.outbox} SET status = 'sent', sent_at = now() WHERE id = ANY($1::bigint[])`,
          [result.sent],
        );
      }
      for (const f of result.failed) {
        await qr.query(
          `UPDATE ${this.outbox} SET attempts = $2, last_error = $3, status = $4, ` +
            `available_at = now() + ($5::double precision * interval '1 millisecond') WHERE id = $1`,
          [f.id, f.attempts, f.error, f.giveUp ? 'failed' : 'pending', f.giveUp ? 0 : f.retryInMs],
        );
      }
      await qr.commitTransaction();
      return raw.length;
    } catch (error) {
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await qr.release();
    }
  }

  async markProcessed(manager: SqlManager, messageId: string, subscriber: string): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `INSERT INTO ${this.inbox} (message_id, subscriber, processed_at) VALUES ($1, $2, now()) ` +
        `ON CONFLICT DO NOTHING RETURNING message_id`,
      [messageId, subscriber],
    );
    return rows.length > 0;
  }

  transaction<R>(work: (manager: SqlManager) => Promise<R>): Promise<R> {
    return this.dataSource.transaction((manager) => work(manager));
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
