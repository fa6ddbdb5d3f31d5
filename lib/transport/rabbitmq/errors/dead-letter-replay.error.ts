import { MessagingError } from '../../../errors/messaging.error';

/** Some selected dead letters could not be replayed; they stay in the dead-letter queue. */
export class DeadLetterReplayError extends MessagingError {
  constructor(
    /** How many were replayed (and removed from the dead-letter queue). */
    readonly replayed: number,
    /** Ids of the dead letters that were not replayed, with the reason. */
    readonly failures: Array<{ id: string; reason: string }>,
  ) {
    super(
      `Replayed ${replayed} dead letter(s) but ${failures.length} failed and stay in the dead-letter queue: ` +
        failures
          .slice(0, 5)
          .map((f) => `${f.id} (${f.reason})`)
          .join('; ') +
        (failures.length > 5 ? '; …' : ''),
    );
  }
}
