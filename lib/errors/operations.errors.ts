import { MessagingError } from './messaging.error';

/** An operator action named a failure group that does not exist (any more): drained, purged, or a wrong id. */
export class FailureGroupNotFoundError extends MessagingError {
  constructor(readonly groupId: string) {
    super(`no failure group with id ${JSON.stringify(groupId)} (it may have been retried or purged meanwhile)`);
  }
}

/** An operator action named a dead letter (by dead-letter id or message id) that does not exist. */
export class DeadLetterNotFoundError extends MessagingError {
  constructor(readonly deadLetterId: string) {
    super(`no dead letter with id ${JSON.stringify(deadLetterId)}`);
  }
}

/**
 * `purgeGroup` was called with a confirmation token that is not the group's current one: the token
 * was mistyped, or the group changed (a dead letter arrived) since it was read. Read the group and
 * its token again, then confirm.
 */
export class PurgeTokenMismatchError extends MessagingError {
  constructor(readonly groupId: string) {
    super(
      `the purge token of failure group ${groupId} does not match: the group changed since it was read, ` +
        `or the token is wrong. Read the group again and confirm with its current token`,
    );
  }
}

/**
 * A dry run needs a database transaction to roll back: the transactional outbox (option `outbox`).
 * Without it, the handler's writes and publishes could not be undone, so no dry run is attempted.
 */
export class DryRunUnavailableError extends MessagingError {
  constructor(readonly reason: string) {
    super(`dry run unavailable: ${reason}`);
  }
}

/** `journey(id)` was called with something that is not an id (empty, not a string, longer than 200 characters). */
export class InvalidJourneyQueryError extends MessagingError {
  constructor(query: unknown) {
    super(
      `a journey needs a correlation id or message id (1 to 200 characters), got ${typeof query === 'string' ? `${query.length} characters` : typeof query}`,
    );
  }
}

/** A dead-letter history query with a field that is not what it should be (e.g. `since` not a time). */
export class InvalidDeadLetterQueryError extends MessagingError {
  constructor(readonly field: string) {
    super(`invalid dead-letter query: ${field}`);
  }
}

/**
 * During a dry run, a handler published through a transaction other than the message's own (its
 * own `dataSource.transaction()`, `publish(event, { manager })` with another EntityManager) or with
 * no transaction at all: that write could not be rolled back with the dry run, so nothing was
 * written and the dry run reports would-fail with this error. Real deliveries are not affected.
 */
export class DryRunOutsideTransactionError extends MessagingError {
  constructor() {
    super(
      'dry run: writes outside the message transaction cannot be rolled back; publish through the ' +
        "message's transaction (no manager argument, or MessageContext.manager) or check MessageContext.isDryRun",
    );
  }
}
