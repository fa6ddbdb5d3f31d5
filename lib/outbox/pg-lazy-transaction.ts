import type { DataSource, EntityManager } from 'typeorm';

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
interface PgConnection {
  parsedStatements: Record<string, string>;
  _send(buffer: Buffer): boolean;
  stream: { cork?: () => void; uncork?: () => void };
  parse(query: { text: string; name: string; types: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
}

/** A pure-JS `pg` client (pg-native has no `connection`). */
interface PgClientLike extends PgClient {
  connection?: PgConnection;
}

/** `pg`'s `Query` class. */
type PgQueryClass = new (text: string, values: unknown[]) => { submit(connection: PgConnection): Error | null };

/** A TypeORM query runner's fields that `QueryRunner.startTransaction()` sets. */
interface RunnerInternals {
  manager: EntityManager;
  isReleased: boolean;
  isTransactionActive: boolean;
  transactionDepth: number;
  broadcaster: { broadcast(event: string): Promise<void> };
  connect(): Promise<unknown>;
  commitTransaction(): Promise<void>;
  rollbackTransaction(): Promise<void>;
  release(): Promise<void>;
}

/** Query runners whose `BEGIN` was not sent yet, with their `pg` client. */
const pendingBegin = new WeakMap<object, PgClientLike>();
const combinedClasses = new WeakMap<object, PgQueryClass>();

/**
 * `pg`'s `Query` extended to send `BEGIN` in front of the statement, in the same write and the
 * same extended-protocol sync (Parse/Bind/Execute of `BEGIN`, then the statement's own messages
 * and one Sync): one round trip instead of two. `BEGIN` survives the Sync (an explicit
 * transaction block); if the statement fails, the block is aborted and the caller rolls back.
 */
function combinedClass(Query: PgQueryClass): PgQueryClass {
  let cls = combinedClasses.get(Query);
  if (cls === undefined) {
    cls = class BeginThenQuery extends Query {
      override submit(connection: PgConnection): Error | null {
        // every message of BEGIN and of the statement into one buffer, written once
        const parts: Buffer[] = [];
        const send = connection._send;
        connection._send = (buffer: Buffer) => parts.push(buffer) > 0;
        try {
          connection.parse({ text: 'BEGIN', name: '', types: [] });
          connection.bind({ portal: '', statement: '', values: [] });
          connection.execute({ portal: '', rows: 0 });
          return super.submit(connection);
        } finally {
          connection._send = send;
          if (parts.length > 0) send.call(connection, Buffer.concat(parts));
        }
      }
    };
    combinedClasses.set(Query, cls);
  }
  return cls;
}

/**
 * Runs `work` in a transaction of `dataSource` on PostgreSQL whose `BEGIN` is sent lazily: with
 * the transaction's first statement. When that statement is one of the outbox's
 * (`sendWithPendingBegin`: the outbox insert of a publishing transaction, the inbox insert of a
 * subscriber), `BEGIN` and it go in one round trip; any other first statement, or
 * `commit`/`rollback`, sends `BEGIN` first on its own (the query runner's `connect()` does, which every TypeORM query and the raw client
 * pass through). PostgreSQL takes the transaction's snapshot at its first statement, not at
 * `BEGIN`, so nothing is observable. The query runner looks exactly as after
 * `startTransaction()` (state, subscribers' transaction events); commit and rollback are
 * TypeORM's. With an `isolationLevel` on the DataSource, or a client this does not know
 * (pg-native), it is `dataSource.transaction(work)`.
 */
export async function runLazyTransaction<R>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<R>,
): Promise<R> {
  const Query = (dataSource.driver as unknown as { postgres?: { Query?: PgQueryClass } }).postgres?.Query;
  if ((dataSource.options as { isolationLevel?: string }).isolationLevel || typeof Query !== 'function') {
    return dataSource.transaction(work);
  }
  const qr = dataSource.createQueryRunner('master') as unknown as RunnerInternals;
  try {
    const client = (await qr.connect()) as PgClientLike;
    if (client.connection?.parsedStatements === undefined) return await qr.manager.transaction(work);
    qr.isTransactionActive = true;
    try {
      await qr.broadcaster.broadcast('BeforeTransactionStart');
    } catch (error) {
      qr.isTransactionActive = false;
      throw error;
    }
    pendingBegin.set(qr, client);
    // every statement of the transaction asks for the connection first: BEGIN goes ahead of it
    const connect = qr.connect;
    qr.connect = () => (pendingBegin.has(qr) ? flushBegin(qr, client) : connect.call(qr));
    qr.transactionDepth = 1;
    try {
      await qr.broadcaster.broadcast('AfterTransactionStart');
      const result = await work(qr.manager);
      await qr.commitTransaction();
      return result;
    } catch (error) {
      if (qr.isTransactionActive && !qr.isReleased) await qr.rollbackTransaction().catch(() => undefined);
      throw error;
    }
  } finally {
    pendingBegin.delete(qr);
    await qr.release();
  }
}

/** Sends the pending `BEGIN` on its own; resolves with the client once it is done. */
function flushBegin(qr: object, client: PgClientLike): Promise<unknown> {
  pendingBegin.delete(qr);
  return client.query('BEGIN').then(() => client);
}

/**
 * Sends `query` on the connection of `queryRunner` and, when the lazy transaction of that runner
 * has not sent its `BEGIN` yet, sends it together with `BEGIN` (one round trip). Resolves with the
 * statement's result, or `undefined` (nothing sent) when no `BEGIN` is pending — the caller then
 * sends the statement the usual way. A named statement is combined only once parsed on this
 * connection (the first use sends `BEGIN` on its own, then prepares the statement).
 */
export function sendWithPendingBegin(
  dataSource: DataSource,
  queryRunner: object | undefined,
  query: PgQuery,
): Promise<PgResult> | undefined {
  const client = queryRunner === undefined ? undefined : pendingBegin.get(queryRunner);
  if (client === undefined) return undefined;
  const connection = client.connection as PgConnection;
  if (query.name !== undefined && connection.parsedStatements[query.name] !== query.text) {
    return flushBegin(queryRunner as object, client).then(() => sendQuery(dataSource, client, query));
  }
  pendingBegin.delete(queryRunner as object);
  return sendQuery(dataSource, client, query, true);
}

/**
 * Sends `query` (named: a prepared statement) on a `pg` client, with `BEGIN` in front when
 * `withBegin`. Builds `pg`'s `Query` from text and values and names it afterwards: a config object
 * would be copied property by property (`pg` clones it), which costs more than the statement.
 */
export function sendQuery(
  dataSource: DataSource,
  client: PgClient,
  query: PgQuery,
  withBegin = false,
): Promise<PgResult> {
  const Query = (dataSource.driver as unknown as { postgres?: { Query?: PgQueryClass } }).postgres?.Query;
  if (typeof Query !== 'function' || (client as PgClientLike).connection === undefined) {
    if (withBegin) throw new Error('outbox: BEGIN can be combined on a pg client only');
    return client.query(query) as Promise<PgResult>;
  }
  return new Promise<PgResult>((resolve, reject) => {
    const q = new (withBegin ? combinedClass(Query) : Query)(query.text, query.values) as unknown as {
      name?: string;
      callback: (err: Error | null, res?: unknown) => void;
    };
    if (query.name !== undefined) q.name = query.name;
    q.callback = (err, res) => {
      if (err) reject(err);
      else resolve((Array.isArray(res) ? res[res.length - 1] : res) as PgResult);
    };
    void client.query(q);
  });
}
