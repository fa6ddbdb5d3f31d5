import type { DataSource } from 'typeorm';
import { DatabaseConnectionLostError } from '../errors/database-connection-lost.error';
import { abortable } from './abortable';
import { guardClient, type PgClient } from './pg-client';
import type { SqlManager, TransactionControl } from './outbox.store';

/**
 * A TypeORM transaction on a connection of its own. Aborting `control.signal` abandons it: the
 * connection is closed (PostgreSQL rolls the transaction back and frees its locks at once, even
 * while a statement of the work is still running), the pool discards it, it rejects
 * with the signal's reason, and whatever the work still sends fails (the query runner is
 * released). A connection lost mid-way (`pg_terminate_backend`, a failover) rejects with
 * `DatabaseConnectionLostError`, whatever error the work saw.
 */
export async function pgTransaction<R>(
  dataSource: DataSource,
  work: (manager: SqlManager) => Promise<R>,
  control: TransactionControl = {},
): Promise<R> {
  const { signal } = control;
  signal?.throwIfAborted();
  const qr = dataSource.createQueryRunner('master');
  let client: PgClient | undefined;
  let lost: Error | undefined;
  const onError = (err: Error) => (lost ??= err);
  const abandon = () => void client?.end?.().catch(() => undefined);
  const connecting = (qr.connect() as Promise<PgClient>).then((c) => {
    client = c;
    guardClient(c);
    c.on?.('error', onError);
    return c;
  });
  const body = async (): Promise<R> => {
    await connecting;
    if (signal?.aborted) throw signal.reason;
    await qr.startTransaction();
    const result = await work(qr.manager);
    if (signal?.aborted) throw signal.reason;
    await qr.commitTransaction();
    return result;
  };
  try {
    return await abortable(body(), signal, abandon);
  } catch (error) {
    if (signal?.aborted) {
      abandon();
      throw signal.reason;
    }
    if (lost === undefined && qr.isTransactionActive && !qr.isReleased) {
      // never hand a connection back to the pool inside a transaction
      await qr.rollbackTransaction().catch(abandon);
    }
    if (lost !== undefined) throw new DatabaseConnectionLostError(lost, error);
    throw error;
  } finally {
    if (client !== undefined) {
      client.removeListener?.('error', onError);
      if (!qr.isReleased) await qr.release().catch(() => undefined);
    } else {
      // aborted while waiting for a pooled connection: close and release it once it comes
      void connecting
        .then(
          (c) => {
            c.removeListener?.('error', onError);
            abandon();
            return qr.isReleased ? undefined : qr.release();
          },
          () => (qr.isReleased ? undefined : qr.release()),
        )
        .catch(() => undefined);
    }
  }
}
