import { QueryFailedError, type DataSource, type EntityManager } from 'typeorm';
import { sendQuery, type PgClient, type PgClientLike, type PgQuery, type PgQueryClass, type PgResult } from './pg-wire';

/** A TypeORM query runner's fields that `QueryRunner.startTransaction()` sets. */
interface RunnerInternals {
  manager: EntityManager;
  isReleased: boolean;
  isTransactionActive: boolean;
  transactionDepth: number;
  broadcaster: { broadcast(event: string): Promise<void> };
  connect(): Promise<unknown>;
  query(query: string, ...rest: unknown[]): Promise<unknown>;
  /** TypeORM's: gives the connection back to the pool, which destroys it when given an error. */
  releasePostgresConnection?(error?: unknown): Promise<void>;
  commitTransaction(): Promise<void>;
  rollbackTransaction(): Promise<void>;
  release(): Promise<void>;
}

/**
 * What a lazy transaction has not sent yet: its `BEGIN`, and outbox inserts deferred to the next
 * statement (`deferStatement`). Both go out in front of that statement, in the same write; when
 * it is the `COMMIT`, a transaction that only published events costs a single round trip.
 */
interface LazyState {
  client: PgClientLike;
  beginPending: boolean;
  deferred: PgQuery[];
  /** `COMMIT` or `ROLLBACK` was issued: nothing may be deferred any more (later inserts go out at once). */
  closed: boolean;
  /** A deferred insert that failed while sent ahead of another statement: the `COMMIT` must fail too. */
  failed?: unknown;
  /** The client the query runner hands out while something is pending (see `orderedClient`). */
  proxy?: PgClient;
}

/** Query runners of the lazy transactions still open. */
const lazyRunners = new WeakMap<object, LazyState>();

/**
 * Runs `work` in a transaction of `dataSource` on PostgreSQL that sends nothing until it must:
 * - `BEGIN` goes with the transaction's first statement (PostgreSQL takes the snapshot at the
 *   first statement, not at `BEGIN`, so nothing is observable);
 * - outbox inserts (`deferStatement`) wait for the next statement and go in front of it.
 * Both travel in the same write as that statement: with the outbox/inbox statements, a TypeORM
 * statement, or the `COMMIT` (a transaction that only published events: `BEGIN`, inserts and
 * `COMMIT` in one round trip). Every TypeORM statement passes through the query runner's
 * `connect()`, which sends what is pending first. A failing deferred insert fails the statement it
 * travels with (usually the `COMMIT`): the transaction rolls back, nothing is half-written.
 * The query runner looks exactly as after `startTransaction()` (state, subscribers' transaction
 * events); commit and rollback are TypeORM's. With an `isolationLevel` on the DataSource, or a
 * client this does not know (pg-native), it is `dataSource.transaction(work)`.
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
    const st: LazyState = { client, beginPending: true, deferred: [], closed: false };
    lazyRunners.set(qr, st);
    const connect = qr.connect;
    qr.connect = () =>
      lazyRunners.get(qr) === st && (st.beginPending || st.deferred.length > 0)
        ? Promise.resolve((st.proxy ??= orderedClient(dataSource, st)))
        : connect.call(qr);
    const query = qr.query;
    qr.query = (text: string, ...rest: unknown[]) => {
      if (text === 'COMMIT' || text === 'ROLLBACK') st.closed = true;
      // never sent, nothing to undo: what is pending was deferred after the last savepoint sent
      if (text === 'ROLLBACK' || text.startsWith('ROLLBACK TO SAVEPOINT')) st.deferred.length = 0;
      if (text === 'COMMIT' && st.failed !== undefined) {
        // PostgreSQL would answer ROLLBACK without an error: the caller must not believe it committed
        return Promise.reject(new QueryFailedError('COMMIT', [], st.failed as Error));
      }
      const sent = query.call(qr, text, ...rest);
      // a rolled-back savepoint undoes the failure too (an aborted transaction takes no new savepoint,
      // so whatever failed came after it)
      return text.startsWith('ROLLBACK TO SAVEPOINT')
        ? sent.then((result) => {
            st.failed = undefined;
            return result;
          })
        : sent;
    };
    qr.transactionDepth = 1;
    try {
      await qr.broadcaster.broadcast('AfterTransactionStart');
      const result = await work(qr.manager);
      await qr.commitTransaction();
      return result;
    } catch (error) {
      try {
        // nested savepoints unwind one level per call
        while (qr.isTransactionActive && !qr.isReleased) await qr.rollbackTransaction();
      } catch {
        // never hand a connection back to the pool inside a transaction: the pool destroys it
        await qr.releasePostgresConnection?.(error);
      }
      throw error;
    }
  } finally {
    lazyRunners.delete(qr);
    await qr.release();
  }
}

/**
 * Sends `query` with what is pending in front (one write). When deferred inserts travel with it, a
 * failure aborts the transaction whatever failed: it is recorded so the `COMMIT` is refused even if
 * the caller swallows this statement's error.
 */
function sendWithPending(dataSource: DataSource, st: LazyState, query: PgQuery): Promise<PgResult> {
  const prefix = st.deferred.splice(0);
  const withBegin = st.beginPending;
  st.beginPending = false;
  const sent = sendQuery(dataSource, st.client, query, withBegin, prefix);
  return prefix.length === 0
    ? sent
    : sent.catch((error: unknown) => {
        st.failed ??= error;
        throw error;
      });
}

/**
 * The `pg` client as the query runner's `connect()` hands it out while something is pending: the
 * client itself, except for `query`. A statement that can travel in the extended protocol (it has
 * parameters, as TypeORM's statements do, or it is `COMMIT`) takes what is pending along in the same
 * write. Anything else (a statement without parameters could hold several commands, a stream, a
 * callback) is queued right behind what is pending, in the same call: `pg` runs a client's queries in
 * order, so nothing can come between them.
 */
function orderedClient(dataSource: DataSource, st: LazyState): PgClient {
  const client = st.client;
  const query = (statement: unknown, values?: unknown, callback?: unknown): unknown => {
    if (!st.beginPending && st.deferred.length === 0) {
      return (client.query as (...a: unknown[]) => unknown)(statement, values, callback);
    }
    if (
      typeof statement === 'string' &&
      callback === undefined &&
      (statement === 'COMMIT' || (Array.isArray(values) && values.length > 0))
    ) {
      return sendWithPending(dataSource, st, { text: statement, values: (values as unknown[]) ?? [] });
    }
    queuePending(dataSource, st);
    return (client.query as (...a: unknown[]) => unknown)(statement, values, callback);
  };
  return new Proxy(client, {
    get: (target, property, receiver) => (property === 'query' ? query : Reflect.get(target, property, receiver)),
  }) as PgClient;
}

/**
 * Queues what is pending (`BEGIN`, deferred inserts) on the client, in one write, ahead of the
 * statement the caller queues next (`pg` runs a client's queries in order). Not awaited: if it fails,
 * the statement behind it fails too (aborted transaction), and the failure is recorded so that the
 * `COMMIT` is refused.
 */
function queuePending(dataSource: DataSource, st: LazyState): void {
  const deferred = st.deferred.splice(0);
  const withBegin = st.beginPending;
  st.beginPending = false;
  const last = deferred.pop();
  const sent =
    last === undefined ? st.client.query('BEGIN') : sendQuery(dataSource, st.client, last, withBegin, deferred);
  sent.catch((error: unknown) => {
    st.failed ??= error;
  });
}

/**
 * Defers `query` (an outbox insert, whose result nobody reads) to the next statement of the lazy
 * transaction of `queryRunner`: returns true when deferred. Only a named statement already parsed
 * on that connection is deferred (its Bind can then travel ahead of anything); otherwise the
 * caller sends it now.
 */
export function deferStatement(queryRunner: object | undefined, query: PgQuery): boolean {
  const st = queryRunner === undefined ? undefined : lazyRunners.get(queryRunner);
  if (st === undefined || st.closed || query.name === undefined) return false;
  if (st.client.connection?.parsedStatements[query.name] !== query.text) return false;
  st.deferred.push(query);
  return true;
}

/**
 * Sends `query` on the connection of `queryRunner` together with what its lazy transaction has
 * pending (`BEGIN`, deferred inserts), in one round trip. Resolves with the statement's result, or
 * `undefined` (nothing sent) when nothing is pending — the caller then sends the statement the
 * usual way. A named statement is combined only once parsed on this connection (the first use
 * sends what is pending on its own, then prepares the statement).
 */
export function sendWithPendingBegin(
  dataSource: DataSource,
  queryRunner: object | undefined,
  query: PgQuery,
): Promise<PgResult> | undefined {
  const st = queryRunner === undefined ? undefined : lazyRunners.get(queryRunner);
  if (st === undefined || (!st.beginPending && st.deferred.length === 0)) return undefined;
  if (query.name !== undefined && st.client.connection?.parsedStatements[query.name] !== query.text) {
    // what is pending first, then the statement, queued in this order at once (it gets prepared)
    queuePending(dataSource, st);
    return sendQuery(dataSource, st.client, query);
  }
  return sendWithPending(dataSource, st, query);
}
