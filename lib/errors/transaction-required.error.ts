import { MessagingError } from './messaging.error';

/**
 * `outbox.requireTransaction` is on and `EventBus.publish` found no transaction to write into:
 * no `{ manager }`, and not inside a handler's inbox transaction or `MessagingTransactions.run()`.
 * Typically a `{ manager }` forgotten inside the application's own `dataSource.transaction(...)`.
 */
export class TransactionRequiredError extends MessagingError {
  constructor() {
    super(
      'publish(event) outside any transaction, with outbox.requireTransaction on: publish inside ' +
        'MessagingTransactions.run(...), or pass { manager } of your own transaction',
    );
  }
}
