import { MessagingError } from './messaging.error';

/**
 * The database connection under a transaction of the library (a subscriber's inbox transaction,
 * `MessagingTransactions.run`) was lost: terminated by the server, a failover, a network cut.
 * The transaction did not commit. Transient: a delivery is retried.
 */
export class DatabaseConnectionLostError extends MessagingError {
  constructor(
    /** What the connection reported. */
    readonly connectionError: Error,
    /** What the work saw (often a failed statement or a released query runner). */
    readonly workError?: unknown,
  ) {
    super(`database connection lost, the transaction did not commit: ${connectionError.message}`);
  }
}
