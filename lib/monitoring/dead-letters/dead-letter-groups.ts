import type { DeadLetter } from '../../dead-letter/dead-letter.interface';

/** Dead letters of one subscriber that failed with one error name. */
export interface DeadLetterGroup {
  /** The subscriber that failed. */
  subscriber: string;
  /** The error class name, e.g. `InvalidMessageError`. */
  errorName: string;
  /** How many dead letters. */
  count: number;
  /** Count per message type (`?` when the body could not be decoded). */
  types: Record<string, number>;
  /** Error message of the most recent one (first 200 characters). */
  lastErrorMessage: string;
  /** When the oldest and newest were dead-lettered (ISO). */
  oldestAt: string;
  newestAt: string;
  /** Dead-letter ids, oldest first. */
  ids: string[];
}

/** Groups dead letters by subscriber and error name; largest groups first, then by name. */
export function groupDeadLetters(deadLetters: readonly DeadLetter[]): DeadLetterGroup[] {
  const groups = new Map<string, DeadLetterGroup>();
  for (const dl of deadLetters) {
    const key = `${dl.subscriber}\u0000${dl.error.name}`;
    let g = groups.get(key);
    if (!g) {
      g = {
        subscriber: dl.subscriber,
        errorName: dl.error.name,
        count: 0,
        types: {},
        lastErrorMessage: '',
        oldestAt: dl.deadLetteredAt,
        newestAt: dl.deadLetteredAt,
        ids: [],
      };
      groups.set(key, g);
    }
    g.count++;
    const type = dl.type ?? '?';
    g.types[type] = (g.types[type] ?? 0) + 1;
    g.ids.push(dl.id);
    if (dl.deadLetteredAt < g.oldestAt) g.oldestAt = dl.deadLetteredAt;
    if (dl.deadLetteredAt >= g.newestAt) {
      g.newestAt = dl.deadLetteredAt;
      g.lastErrorMessage = dl.error.message.slice(0, 200);
    }
    if (!g.lastErrorMessage) g.lastErrorMessage = dl.error.message.slice(0, 200);
  }
  return [...groups.values()].sort(
    (a, b) => b.count - a.count || a.subscriber.localeCompare(b.subscriber) || a.errorName.localeCompare(b.errorName),
  );
}
