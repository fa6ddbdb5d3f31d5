import type { DeadLetter } from './dead-letter.interface';
import type { ErrorInfo } from '../errors/error-info';
import { InvalidDeadLetterQueryError } from '../errors/operations.errors';

/** What became of a dead letter: still in the dead-letter queue, replayed, or purged. */
export type DeadLetterRecordStatus = 'dead' | 'replayed' | 'purged';

/** One dead letter as kept in the database table (history: survives a queue purge). */
export interface DeadLetterRecord {
  /** The dead-letter id. */
  id: string;
  messageId?: string;
  type?: string;
  subscriber: string;
  sourceQueue: string;
  correlationId?: string;
  causationId?: string;
  /** The failure group's id (see `failureGroupId`). */
  groupId: string;
  error: ErrorInfo;
  attempts: number;
  firstFailureAt: string;
  deadLetteredAt: string;
  status: DeadLetterRecordStatus;
  /** When and by whom the status last changed (replayed/purged). */
  statusAt?: string;
  statusBy?: string;
}

/** Selects records; fields combine with AND. */
export interface DeadLetterRecordQuery {
  subscriber?: string;
  groupId?: string;
  status?: DeadLetterRecordStatus;
  correlationId?: string;
  /** Records of these message ids (or causation ids equal to them, with `orCausedBy`). */
  messageIds?: string[];
  /** Only dead-lettered at or after this ISO time. */
  since?: string;
  /** At most this many, newest first. Default 1000. */
  limit?: number;
}

/** Runs one parameterized statement (`$1`, `$2`…) and resolves its rows. */
export type SqlRows = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** The durable dead-letter record (PostgreSQL). */
export interface DeadLetterRecords {
  /** The table (validated name). */
  readonly table: string;
  /**
   * Records a dead letter (once per id) in failure group `groupId`; resolves how many open
   * (`dead`) records the group had before this one, and whether this one was new.
   */
  record(deadLetter: DeadLetter, groupId: string): Promise<{ openBefore: number; inserted: boolean }>;
  /**
   * Marks open records `replayed` or `purged` (by whom: empty when unknown); resolves how many changed.
   */
  mark(ids: readonly string[], status: Exclude<DeadLetterRecordStatus, 'dead'>, actor: string): Promise<number>;
  /** Records, newest first. */
  list(query?: DeadLetterRecordQuery): Promise<DeadLetterRecord[]>;
}

/** A database timestamp (a `Date`, or text) as an ISO string. */
export function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

function optional(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

/** Maps a row of the table to a record. */
function toRecord(r: Record<string, unknown>): DeadLetterRecord {
  return {
    id: String(r.id),
    messageId: optional(r.message_id),
    type: optional(r.type),
    subscriber: String(r.subscriber),
    sourceQueue: String(r.source_queue),
    correlationId: optional(r.correlation_id),
    causationId: optional(r.causation_id),
    groupId: String(r.group_id),
    error: { name: String(r.error_name), message: String(r.error_message), stack: optional(r.error_stack) },
    attempts: Number(r.attempts),
    firstFailureAt: iso(r.first_failure_at),
    deadLetteredAt: iso(r.dead_lettered_at),
    status: String(r.status) as DeadLetterRecordStatus,
    statusAt: r.status_at == null ? undefined : iso(r.status_at),
    statusBy: optional(r.status_by),
  };
}

const COLUMNS =
  'id, message_id, type, subscriber, source_queue, correlation_id, causation_id, group_id, error_name, ' +
  'error_message, error_stack, attempts, first_failure_at, dead_lettered_at, body';

/**
 * The dead-letter table on PostgreSQL, through `rows` (a DataSource's or a `pg` client's query).
 * Every statement is parameterized; the table name is validated and quoted by the caller.
 */
export class PostgresDeadLetterRecords implements DeadLetterRecords {
  constructor(
    readonly table: string,
    private readonly quoted: string,
    private readonly rows: SqlRows,
  ) {}

  async record(dl: DeadLetter, groupId: string): Promise<{ openBefore: number; inserted: boolean }> {
    const t = this.quoted;
    const params = [
      dl.id,
      dl.messageId ?? null,
      dl.type ?? null,
      dl.subscriber,
      dl.sourceQueue,
      dl.envelope?.correlationId ?? null,
      dl.envelope?.causationId ?? null,
      groupId,
      dl.error.name,
      dl.error.message,
      dl.error.stack ?? null,
      dl.attempts,
      dl.firstFailureAt,
      dl.deadLetteredAt,
      dl.body,
    ];
    // the main query's snapshot does not see the CTE's insert: "before" excludes this record
    const [row] = await this.rows(
      `WITH ins AS (INSERT INTO ${t} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ` +
        `ON CONFLICT (id) DO NOTHING RETURNING id) ` +
        `SELECT (SELECT count(*) FROM ${t} WHERE group_id = $8 AND status = 'dead' AND id <> $1)::int AS before, ` +
        `(SELECT count(*) FROM ins)::int AS inserted`,
      params,
    );
    return { openBefore: Number(row.before), inserted: Number(row.inserted) > 0 };
  }

  async mark(ids: readonly string[], status: 'replayed' | 'purged', actor: string): Promise<number> {
    if (ids.length === 0) return 0;
    const [row] = await this.rows(
      `WITH u AS (UPDATE ${this.quoted} SET status = $2, status_at = now(), status_by = $3 ` +
        `WHERE id = ANY($1::varchar[]) AND status = 'dead' RETURNING id) ` +
        `SELECT count(*)::int AS n FROM u`,
      [[...ids], status, actor ? actor.slice(0, 100) : null],
    );
    return Number(row.n);
  }

  async list(query: DeadLetterRecordQuery = {}): Promise<DeadLetterRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(sql(`$${params.length}`));
    };
    if (query.subscriber !== undefined) add((p) => `subscriber = ${p}`, query.subscriber);
    if (query.groupId !== undefined) add((p) => `group_id = ${p}`, query.groupId);
    if (query.status !== undefined) add((p) => `status = ${p}`, query.status);
    if (query.correlationId !== undefined) add((p) => `correlation_id = ${p}`, query.correlationId);
    if (query.messageIds !== undefined) add((p) => `message_id = ANY(${p}::varchar[])`, [...query.messageIds]);
    if (query.since !== undefined) {
      if (typeof query.since !== 'string' || Number.isNaN(Date.parse(query.since))) {
        throw new InvalidDeadLetterQueryError('since must be an ISO time');
      }
      add((p) => `dead_lettered_at >= ${p}::timestamptz`, new Date(query.since).toISOString());
    }
    if (query.messageIds !== undefined && !query.messageIds.every((m) => typeof m === 'string')) {
      throw new InvalidDeadLetterQueryError('messageIds must be strings');
    }
    params.push(Math.max(1, Math.min(100_000, Math.floor(query.limit ?? 1000))));
    const rows = await this.rows(
      `SELECT ${COLUMNS.replace(', body', '')}, status, status_at, status_by FROM ${this.quoted}` +
        `${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY dead_lettered_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toRecord);
  }
}

/** Where the durable dead-letter record is, if on: the `OutboxIntegration` in an app, set by hand in the CLI. */
export interface DeadLetterRecordsHolder {
  readonly feature?: { readonly deadLetters?: DeadLetterRecords };
}
