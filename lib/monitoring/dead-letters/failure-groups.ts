import type { DeadLetter } from '../../dead-letter/dead-letter.interface';
import type { FailureGroup } from '../../console/console-api.interface';
import { failureGroupId, failureKeyOf } from './failure-key';

/**
 * Groups dead letters by failure key — subscriber, error class, normalized message and top
 * application frame (see `failureKeyOf`) — largest groups first, then by subscriber and error.
 * Each group has a stable id (a hash of its key), counts, first/last seen, an example (the newest)
 * and its dead-letter ids, oldest first (in the order given).
 */
export function groupFailures(deadLetters: readonly DeadLetter[]): FailureGroup[] {
  const groups = new Map<string, FailureGroup>();
  // message types come from the wire: counted in a Map, never used as property names of a live object
  const types = new Map<string, Map<string, number>>();
  for (const dl of deadLetters) {
    const key = failureKeyOf(dl);
    const id = failureGroupId(key);
    let g = groups.get(id);
    if (!g) {
      g = {
        id,
        ...key,
        count: 0,
        firstSeenAt: dl.deadLetteredAt,
        lastSeenAt: dl.deadLetteredAt,
        types: {},
        subscribers: [dl.subscriber],
        example: dl,
        ids: [],
      };
      if (g.topFrame === undefined) delete g.topFrame;
      groups.set(id, g);
    }
    g.count++;
    const type = dl.type ?? '?';
    let counts = types.get(id);
    if (!counts) types.set(id, (counts = new Map()));
    counts.set(type, (counts.get(type) ?? 0) + 1);
    g.ids.push(dl.id);
    if (dl.deadLetteredAt < g.firstSeenAt) g.firstSeenAt = dl.deadLetteredAt;
    if (dl.deadLetteredAt >= g.lastSeenAt) {
      g.lastSeenAt = dl.deadLetteredAt;
      g.example = dl;
    }
  }
  for (const [id, counts] of types) groups.get(id)!.types = Object.fromEntries(counts); // own data properties
  return [...groups.values()].sort(
    (a, b) =>
      b.count - a.count ||
      a.subscriber.localeCompare(b.subscriber) ||
      a.errorName.localeCompare(b.errorName) ||
      a.id.localeCompare(b.id),
  );
}
