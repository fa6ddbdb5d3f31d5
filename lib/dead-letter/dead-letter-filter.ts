import type { DeadLetter, DeadLetterFilter } from './dead-letter.interface';

/** Whether `deadLetter` matches every field given in `filter` (the `limit` aside). Shared by every store. */
export function matchesDeadLetter(deadLetter: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.subscriber === undefined || deadLetter.subscriber === filter.subscriber) &&
    (filter.type === undefined || deadLetter.type === filter.type) &&
    (filter.errorName === undefined || deadLetter.error.name === filter.errorName) &&
    (filter.ids === undefined || filter.ids.includes(deadLetter.id))
  );
}
