import type { DeadLetter, DeadLetterFilter } from './dead-letter.interface';

/** `filter.ids` as a set, made once per filter (a store matches a page of dead letters against it). */
const idSets = new WeakMap<readonly string[], ReadonlySet<string>>();

function idSet(ids: readonly string[]): ReadonlySet<string> {
  let set = idSets.get(ids);
  if (!set) idSets.set(ids, (set = new Set(ids)));
  return set;
}

/** Whether `deadLetter` matches every field given in `filter` (the `limit` aside). Shared by every store. */
export function matchesDeadLetter(deadLetter: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.subscriber === undefined || deadLetter.subscriber === filter.subscriber) &&
    (filter.type === undefined || deadLetter.type === filter.type) &&
    (filter.errorName === undefined || deadLetter.error.name === filter.errorName) &&
    (filter.ids === undefined || idSet(filter.ids).has(deadLetter.id))
  );
}
