import { MessagingError } from './messaging.error';

/**
 * `EventBus.publish` was asked to write into a transaction that is no longer open: it committed,
 * rolled back, or lost its database connection. Nothing was written: an event never leaves a
 * transaction that did not commit. Publish inside the transaction, before it ends.
 */
export class TransactionNotActiveError extends MessagingError {
  constructor(
    /**
     * Where the transaction came from: the `manager` argument or the message context of a publish,
     * or the message context of `MessagingTransactions.run` (work that outlived its handler).
     */
    readonly source: 'manager' | 'context' | 'run',
    reason: string,
  ) {
    super(
      source === 'manager'
        ? `publish(event, { manager }): the transaction of this EntityManager is not open (${reason}); ` +
            'nothing was written. Publish before the transaction ends, with its own manager'
        : source === 'run'
          ? `transactions.run(): the transaction of the current handler is not open (${reason}); ` +
            'nothing was run. Await the work inside the handler, not after it'
          : `publish(event): the transaction of the current handler or transactions.run() is not open (${reason}); ` +
            'nothing was written. Await publish() inside the handler or the transaction callback, not after it',
    );
  }
}
