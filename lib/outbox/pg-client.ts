/* The `pg` client as the PostgreSQL outbox store uses it: public `pg` API only. */

/** A query as the outbox sends it to `pg`: text, parameters and, when prepared, a statement name. */
export interface PgQuery {
  name?: string;
  text: string;
  values: unknown[];
}

/** The part of a `pg` result the outbox reads. */
export interface PgResult {
  rows: Record<string, unknown>[];
  rowCount?: number | null;
}

/**
 * The part of a `pg` client (what TypeORM's PostgreSQL `QueryRunner.connect()` resolves to) the
 * outbox uses: `query`, `end`, and its events.
 */
export interface PgClient {
  query(query: string | PgQuery, params?: unknown[]): Promise<PgResult | PgResult[]>;
  end?(): Promise<void>;
  on?(event: 'error', listener: (err: Error) => void): unknown;
  once?(event: 'error', listener: (err: Error) => void): unknown;
  removeListener?(event: 'error', listener: (err: Error) => void): unknown;
}

const statementNames = new Map<string, string>();

/** A per-process unique name for the prepared statement of `sql` (names are per connection in PostgreSQL). */
export function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `nestjs_messaging_${statementNames.size + 1}`;
    statementNames.set(sql, name);
  }
  return name;
}

const guarded = new WeakSet<object>();

/**
 * Gives a `pg` client the library checked out an `'error'` listener for the rest of its life.
 * `pg` emits `'error'` on a client whose connection dies (`pg_terminate_backend`, a failover); a
 * listener added only for the checkout (TypeORM removes its own on the first error) leaves a
 * window in which a second emission has none, and an `'error'` without a listener ends the
 * process. The failure itself reaches the caller through the failing statement.
 */
export function guardClient(client: PgClient, onError?: (err: Error) => void): void {
  if (typeof client.on !== 'function' || guarded.has(client)) return;
  guarded.add(client);
  client.on('error', (err) => onError?.(err));
}
