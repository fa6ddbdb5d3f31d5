import type { OutboxDatabase } from './outbox.ddl';

/**
 * The part of TypeORM's `EntityManager` the outbox uses: `query`, and the transaction's
 * `queryRunner` (present for a transactional manager).
 */
export interface SqlManager {
  query(sql: string, parameters?: unknown[]): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly queryRunner?: { isTransactionActive?: boolean } | undefined;
}

/** An outbox row to insert. */
export interface NewOutboxRow {
  /** Message id (envelope id). */
  messageId: string;
  /** Message type. */
  type: string;
  /** The encoded body (CloudEvents JSON). */
  payload: string;
  /** JSON object of delivery headers (`attempt`, `firstFailureAt`). */
  headers: string;
  /** One subscriber only (retries), or null for every subscriber. */
  destination: string | null;
  /** Ordering key (aggregate id), or null. */
  partitionKey: string | null;
  /** Publish no earlier than this many ms after now (0: at once). */
  delayMs: number;
}

/** A row claimed by the relay. */
export interface ClaimedOutboxRow {
  /** Row id (a bigint, as a string). */
  id: string;
  messageId: string;
  type: string;
  payload: string;
  headers: string;
  destination: string | null;
  partitionKey: string | null;
  /** Failed publish attempts so far. */
  attempts: number;
}

/** A row whose publish failed. */
export interface RowFailure {
  id: string;
  /** Failed attempts including this one. */
  attempts: number;
  /** Error text (truncated). */
  error: string;
  /** Give up: status `failed`. */
  giveUp: boolean;
  /** When not giving up, retry after this many ms. */
  retryInMs: number;
}

/** What the relay did with a claimed batch. */
export interface BatchResult {
  /** Rows the transport confirmed. */
  sent: string[];
  /** Rows that failed. */
  failed: RowFailure[];
}

/** Counts for monitoring. */
export interface OutboxTableStats {
  /** Rows waiting to be published (due now or scheduled later). */
  pending: number;
  /** Pending rows whose `available_at` has passed. */
  due: number;
  /** Rows given up (status `failed`). */
  failed: number;
  /** Age of the oldest due pending row, ms (0 when none). */
  oldestDueAgeMs: number;
}

/** Limits the inbox insert sets for the rest of its transaction. */
export interface InboxLimits {
  /**
   * PostgreSQL: the `statement_timeout` of the handler's statements (`SET LOCAL`), so a statement
   * still running when its attempt is abandoned is cancelled by the server instead of holding its
   * locks until it ends. Ignored by SQLite.
   */
  statementTimeoutMs?: number;
}

/** How a transaction of the store may be ended from outside. */
export interface TransactionControl {
  /**
   * Aborting abandons the transaction: it is rolled back (PostgreSQL: its connection is closed,
   * which also frees its locks while a statement is still running) and `transaction` rejects with
   * the signal's reason; statements the work still sends fail.
   */
  signal?: AbortSignal;
}

/** Result of one `processBatch` call: rows claimed, or `busy` (SQLite: another transaction is open). */
export type ClaimOutcome = number | 'busy';

/**
 * SQL access to the outbox and inbox tables for one database dialect. Every statement is
 * parameterized; table names come from validated options only.
 */
export interface OutboxStore {
  /** Which dialect. */
  readonly database: OutboxDatabase;
  /** Whether several relays may work on the table at once (PostgreSQL). */
  readonly supportsConcurrentRelays: boolean;
  /** Inserts rows through `manager` (joining its transaction), or in an auto-commit statement. */
  insert(manager: SqlManager | undefined, rows: NewOutboxRow[]): Promise<void>;
  /** Claims up to `limit` due rows, lets `publish` publish them, records the result atomically. */
  processBatch(limit: number, publish: (rows: ClaimedOutboxRow[]) => Promise<BatchResult>): Promise<ClaimOutcome>;
  /** Inserts the inbox row through `manager`; false when it already existed (a duplicate). */
  markProcessed(manager: SqlManager, messageId: string, subscriber: string, limits?: InboxLimits): Promise<boolean>;
  /**
   * Inserts the inbox rows of several messages through `manager`, in one statement where the
   * dialect allows it, in the given order; resolves the ids that were inserted (the others were
   * processed already). A commit group's inbox step.
   */
  markProcessedMany(
    manager: SqlManager,
    messageIds: readonly string[],
    subscriber: string,
    limits?: InboxLimits,
  ): Promise<Set<string>>;
  /** Runs `work` in a transaction of the DataSource (serialized on SQLite); see `TransactionControl`. */
  transaction<R>(work: (manager: SqlManager) => Promise<R>, control?: TransactionControl): Promise<R>;
  /** Deletes up to `limit` sent rows older than `ageMs`; returns how many. */
  deleteSent(ageMs: number, limit: number): Promise<number>;
  /** Deletes up to `limit` inbox rows older than `ageMs`; returns how many. */
  deleteProcessed(ageMs: number, limit: number): Promise<number>;
  /** Counts for monitoring. */
  stats(): Promise<OutboxTableStats>;
  /** Puts failed rows (all, or those ids) back to pending with attempts reset; returns how many. */
  requeueFailed(ids?: string[]): Promise<number>;
}

/** Truncates an error text for the `last_error` column. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 2000);
}

/** A stable 32-bit hash of a string (advisory-lock namespace of a table). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

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
