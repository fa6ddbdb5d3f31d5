/* The `pg` wire helpers of the outbox: prepared statement names, and statements sent together in one write. */
import type { DataSource } from 'typeorm';

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

/** The part of a `pg` client (what TypeORM's PostgreSQL QueryRunner connects to) the outbox uses. */
export interface PgClient {
  query(query: unknown, params?: unknown[]): Promise<PgResult | PgResult[]>;
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

/** The part of `pg`'s wire connection the combined query writes to. */
export interface PgConnection {
  parsedStatements: Record<string, string>;
  _send(buffer: Buffer): boolean;
  stream: { cork?: () => void; uncork?: () => void };
  parse(query: { text: string; name: string; types: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
}

/** A pure-JS `pg` client (pg-native has no `connection`). */
export interface PgClientLike extends PgClient {
  connection?: PgConnection;
}

/** `pg`'s `Query` class. */
export type PgQueryClass = new (text: string, values: unknown[]) => { submit(connection: PgConnection): Error | null };

const prefixedClasses = new WeakMap<object, PgQueryClass>();

/** Bind values as `pg` sends them (our statements' parameters are strings, numbers and nulls). */
function wireValues(values: unknown[]): unknown[] {
  return values.map((v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : String(v)));
}

/**
 * `pg`'s `Query` extended to send statements in front of its own, in the same write and the same
 * extended-protocol sync: `BEGIN` (when `withBegin`), then each of `prefix` (Bind/Execute of a
 * named statement already parsed on the connection, else Parse/Bind/Execute), then the query
 * itself and one Sync. If one fails, PostgreSQL skips the rest up to the Sync and the query fails
 * with that error (the transaction block is then aborted; the caller rolls back). `BEGIN` survives
 * the Sync (an explicit transaction block). The results of the statements in front come first in
 * `pg`'s result list.
 */
function prefixedClass(Query: PgQueryClass): PgQueryClass {
  let cls = prefixedClasses.get(Query);
  if (cls === undefined) {
    cls = class PrefixedQuery extends Query {
      withBegin = false;
      prefix: PgQuery[] = [];
      override submit(connection: PgConnection): Error | null {
        // every message into one buffer, written once
        const parts: Buffer[] = [];
        const send = connection._send;
        connection._send = (buffer: Buffer) => parts.push(buffer) > 0;
        try {
          if (this.withBegin) {
            connection.parse({ text: 'BEGIN', name: '', types: [] });
            connection.bind({ portal: '', statement: '', values: [] });
            connection.execute({ portal: '', rows: 0 });
          }
          for (const q of this.prefix) {
            if (q.name === undefined) connection.parse({ text: q.text, name: '', types: [] });
            connection.bind({ portal: '', statement: q.name ?? '', values: wireValues(q.values) });
            connection.execute({ portal: '', rows: 0 });
          }
          const error = super.submit(connection);
          if (error) parts.length = 0; // nothing of it may reach the server (no Sync would follow)
          return error;
        } catch (error) {
          parts.length = 0;
          throw error;
        } finally {
          connection._send = send;
          if (parts.length > 0) send.call(connection, Buffer.concat(parts));
        }
      }
    };
    prefixedClasses.set(Query, cls);
  }
  return cls;
}

/**
 * Sends `query` (named: a prepared statement) on a `pg` client, with `BEGIN` and `prefix` in front
 * when given (see `prefixedClass`). Builds `pg`'s `Query` from text and values and names it
 * afterwards: a config object would be copied property by property (`pg` clones it), which costs
 * more than the statement. Resolves with the result of `query` itself.
 */
export function sendQuery(
  dataSource: DataSource,
  client: PgClient,
  query: PgQuery,
  withBegin = false,
  prefix: PgQuery[] = [],
): Promise<PgResult> {
  const Query = (dataSource.driver as unknown as { postgres?: { Query?: PgQueryClass } }).postgres?.Query;
  const combined = withBegin || prefix.length > 0;
  if (typeof Query !== 'function' || (client as PgClientLike).connection === undefined) {
    if (combined) throw new Error('outbox: statements can be combined on a pg client only');
    return client.query(query) as Promise<PgResult>;
  }
  return new Promise<PgResult>((resolve, reject) => {
    const q = new (combined ? prefixedClass(Query) : Query)(query.text, query.values) as unknown as {
      name?: string;
      queryMode?: string;
      withBegin?: boolean;
      prefix?: PgQuery[];
      callback: (err: Error | null, res?: unknown) => void;
    };
    if (query.name !== undefined) q.name = query.name;
    if (combined) {
      q.withBegin = withBegin;
      q.prefix = prefix;
      q.queryMode = 'extended'; // one Sync for all, even for a statement without parameters
    }
    q.callback = (err, res) => {
      if (err) reject(err);
      else resolve((Array.isArray(res) ? res[res.length - 1] : res) as PgResult);
    };
    void client.query(q);
  });
}
