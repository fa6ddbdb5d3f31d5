import type { DataSource } from 'typeorm';
import { quoteTable } from './outbox-options.validator';
import { toClaimedRow } from './outbox.store';
import { AsyncMutex } from './async.mutex';
import type {
  BatchResult,
  ClaimOutcome,
  ClaimedOutboxRow,
  NewOutboxRow,
  OutboxStore,
  OutboxTableStats,
  SqlManager,
} from './outbox.store';

/** The part of a better-sqlite3 `Database` used here. */
interface SqliteDatabase {
  readonly inTransaction: boolean;
  prepare(sql: string): { all(...params: unknown[]): unknown[]; run(...params: unknown[]): { changes: number } };
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
}

const INSERT_CHUNK = 100;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * SQLite (better-sqlite3) outbox store, for the embedded default: one relay, plain polling.
 * better-sqlite3 has a single connection, so the relay reads and writes synchronously and only
 * while no transaction is open on it — it never sees (or joins) an uncommitted transaction —
 * and the library's own transactions (inbox, `TransactionRunner`) are serialized by a mutex.
 * Times are stored as ISO-8601 UTC text, which sorts like time.
 */
export class SqliteOutboxStore implements OutboxStore {
  readonly database = 'sqlite' as const;
  readonly supportsConcurrentRelays = false;
  private readonly outbox: string;
  private readonly inbox: string;
  private readonly mutex = new AsyncMutex();

  constructor(
    private readonly dataSource: DataSource,
    outboxTable: string,
    inboxTable: string,
  ) {
    this.outbox = quoteTable(outboxTable);
    this.inbox = quoteTable(inboxTable);
  }

  private get db(): SqliteDatabase {
    return (this.dataSource.driver as unknown as { databaseConnection: SqliteDatabase }).databaseConnection;
  }

  async insert(manager: SqlManager | undefined, rows: NewOutboxRow[]): Promise<void> {
    const target: SqlManager = manager ?? this.dataSource.manager;
    const now = Date.now();
    for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
      const params: unknown[] = [];
      const values = rows.slice(start, start + INSERT_CHUNK).map((row) => {
        params.push(row.messageId, row.type, row.payload, row.headers, row.destination, row.partitionKey);
        params.push(iso(now + row.delayMs), iso(now));
        return '(?, ?, ?, ?, ?, ?, ?, ?)';
      });
      await target.query(
        `INSERT INTO ${this.outbox} (message_id, type, payload, headers, destination, partition_key, available_at, ` +
          `created_at) VALUES ${values.join(', ')}`,
        params,
      );
    }
  }

  async processBatch(
    limit: number,
    publish: (rows: ClaimedOutboxRow[]) => Promise<BatchResult>,
  ): Promise<ClaimOutcome> {
    const db = this.db;
    if (db.inTransaction || this.mutex.locked) return 'busy';
    const now = iso(Date.now());
    const t = this.outbox;
    const raw = db
      .prepare(
        `SELECT o.id, o.message_id, o.type, o.payload, o.headers, o.destination, o.partition_key, o.attempts ` +
          `FROM ${t} o WHERE o.status = 'pending' AND o.available_at <= ? AND (o.partition_key IS NULL OR ` +
          `NOT EXISTS (SELECT 1 FROM ${t} e WHERE e.status = 'pending' AND e.partition_key = o.partition_key ` +
          `AND e.id < o.id AND e.available_at > ?)) ORDER BY o.id LIMIT ?`,
      )
      .all(now, now, limit) as Record<string, unknown>[];
    if (raw.length === 0) return 0;
    const result = await publish(raw.map(toClaimedRow));
    // record the outcome once no transaction is open (a short wait; the inbox/runner hold it briefly)
    await this.mutex.run(async () => {
      while (this.db.inTransaction) await new Promise((r) => setTimeout(r, 2));
      this.record(result);
    });
    return raw.length;
  }

  private record(result: BatchResult): void {
    const db = this.db;
    const now = Date.now();
    const sent = db.prepare(`UPDATE ${this.outbox} SET status = 'sent', sent_at = ? WHERE id = ?`);
    const failed = db.prepare(
      `UPDATE ${this.outbox} SET attempts = ?, last_error = ?, status = ?, available_at = ? WHERE id = ?`,
    );
    db.transaction(() => {
      for (const id of result.sent) sent.run(iso(now), Number(id));
      for (const f of result.failed) {
        failed.run(
          f.attempts,
          f.error,
          f.giveUp ? 'failed' : 'pending',
          iso(now + (f.giveUp ? 0 : f.retryInMs)),
          Number(f.id),
        );
      }
    })();
  }

  async markProcessed(manager: SqlManager, messageId: string, subscriber: string): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `INSERT INTO ${this.inbox} (message_id, subscriber, processed_at) VALUES (?, ?, ?) ` +
        `ON CONFLICT DO NOTHING RETURNING message_id`,
      [messageId, subscriber, iso(Date.now())],
    );
    return Array.isArray(rows) && rows.length > 0;
  }

  async markProcessedMany(
    manager: SqlManager,
    messageIds: readonly string[],
    subscriber: string,
  ): Promise<Set<string>> {
    const inserted = new Set<string>();
    for (const id of messageIds) if (await this.markProcessed(manager, id, subscriber)) inserted.add(id);
    return inserted;
  }

  /**
   * better-sqlite3 has one connection: a transaction cannot be abandoned while its work still runs
   * on it (its later statements would run outside any transaction), so `control.signal` is not
   * honoured; a hung handler holds the database until it returns. Use PostgreSQL in production.
   */
  transaction<R>(work: (manager: SqlManager) => Promise<R>): Promise<R> {
    return this.mutex.run(() => this.dataSource.transaction((manager) => work(manager)));
  }

  deleteSent(ageMs: number, limit: number): Promise<number> {
    return this.whenIdle(
      () =>
        this.db
          .prepare(
            `DELETE FROM ${this.outbox} WHERE id IN (SELECT id FROM ${this.outbox} WHERE status = 'sent' ` +
              `AND sent_at < ? LIMIT ?)`,
          )
          .run(iso(Date.now() - ageMs), limit).changes,
    );
  }

  deleteProcessed(ageMs: number, limit: number): Promise<number> {
    return this.whenIdle(
      () =>
        this.db
          .prepare(
            `DELETE FROM ${this.inbox} WHERE rowid IN (SELECT rowid FROM ${this.inbox} WHERE processed_at < ? LIMIT ?)`,
          )
          .run(iso(Date.now() - ageMs), limit).changes,
    );
  }

  async stats(): Promise<OutboxTableStats> {
    const now = Date.now();
    const [row] = this.db
      .prepare(
        `SELECT SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending, ` +
          `SUM(CASE WHEN status = 'pending' AND available_at <= ? THEN 1 ELSE 0 END) AS due, ` +
          `SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed, ` +
          `MIN(CASE WHEN status = 'pending' AND available_at <= ? THEN available_at END) AS oldest ` +
          `FROM ${this.outbox} WHERE status IN ('pending', 'failed')`,
      )
      .all(iso(now), iso(now)) as Record<string, unknown>[];
    const oldest = typeof row.oldest === 'string' ? Date.parse(row.oldest) : NaN;
    return {
      pending: Number(row.pending ?? 0),
      due: Number(row.due ?? 0),
      failed: Number(row.failed ?? 0),
      oldestDueAgeMs: Number.isNaN(oldest) ? 0 : Math.max(0, now - oldest),
    };
  }

  requeueFailed(ids?: string[]): Promise<number> {
    return this.whenIdle(() => {
      const stmt = this.db.prepare(
        `UPDATE ${this.outbox} SET status = 'pending', attempts = 0, last_error = NULL, available_at = ? ` +
          `WHERE status = 'failed'` +
          (ids ? ' AND id = ?' : ''),
      );
      const now = iso(Date.now());
      if (!ids) return stmt.run(now).changes;
      let n = 0;
      this.db.transaction(() => {
        for (const id of ids) n += stmt.run(now, Number(id)).changes;
      })();
      return n;
    });
  }

  /** Runs a synchronous statement while no transaction is open on the shared connection. */
  private whenIdle<R>(fn: () => R): Promise<R> {
    return this.mutex.run(async () => {
      while (this.db.inTransaction) await new Promise((r) => setTimeout(r, 2));
      return fn();
    });
  }
}
