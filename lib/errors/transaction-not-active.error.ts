import { MessagingError } from './messaging.error';

/**
 * `EventBus.publish` was asked to write into a transaction that is no longer open: it committed,
 * rolled back, or lost its database connection. Nothing was written: an event never leaves a
 * transaction that did not commit. Publish inside the transaction, before it ends.
 */
export class TransactionNotActiveError extends MessagingError {
  constructor(
    /** Where the transaction came from: the `manager` argument, or the message context. */
    readonly source: 'manager' | 'context',
    reason: string,
  ) {
    super(
      source === 'manager'
        ? `publish(event, { manager }): the transaction of this EntityManager is not open (${reason}); ` +
            'nothing was written. Publish before the transaction ends, with its own manager'
        : `publish(event): the transaction of the current handler or transactions.run() is not open (${reason}); ` +
            'nothing was written. Await publish() inside the handler or the transaction callback, not after it',
    );
  }
}
