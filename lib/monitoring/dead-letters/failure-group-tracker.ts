import { Logger } from '@nestjs/common';
import type { DeadLetter } from '../../dead-letter/dead-letter.interface';
import type { DeadLetterRecords } from '../../dead-letter/dead-letter-records';
import { failureGroupId, failureKeyOf, type FailureKey } from './failure-key';

/** The failure group of a dead letter as an alert carries it. */
export interface DeadLetterAlertGroup extends FailureKey {
  /** Stable id of the group (as in `FailureGroup.id`, `dlq groups`). */
  id: string;
  /**
   * `new`: the first open dead letter of this group (the problem just appeared, or came back after
   * its dead letters were retried or purged); `growing`: the group already had open ones.
   */
  state: 'new' | 'growing';
  /** Open dead letters of the group including this one (as far as the tracker knows, see `FailureGroupTracker`). */
  count: number;
}

/** Groups remembered in memory at most (the oldest are forgotten first). */
const MAX_REMEMBERED = 10_000;

/**
 * Tells, for each dead letter, its failure group and whether the group is new or growing. With the
 * durable dead-letter table (`outbox.deadLetterTable`) it records the dead letter there and counts
 * the group's open (`dead`) records, so "new" holds across instances and restarts, and a group whose
 * dead letters were retried or purged is new again when it recurs. Without it (or while the
 * database fails), it counts in memory: "new" then means the first seen by this instance since it
 * started.
 */
export class FailureGroupTracker {
  private readonly logger = new Logger('MessagingAlerts');
  private readonly counts = new Map<string, number>();

  constructor(private readonly records: () => DeadLetterRecords | undefined = () => undefined) {}

  /** The previous `track`: dead letters of this instance are counted one after another, in order. */
  private last: Promise<unknown> = Promise.resolve();

  /**
   * Records the dead letter (when the table is on) and resolves its group. Calls are handled one
   * after another, so this instance never reports two dead letters of one group both as new
   * (instances may still race each other). A database failure is logged and counted in memory.
   */
  track(deadLetter: DeadLetter): Promise<DeadLetterAlertGroup> {
    const next = this.last.then(() => this.trackNow(deadLetter));
    this.last = next.catch(() => undefined); // one failure does not stop the ones after it
    return next;
  }

  private async trackNow(deadLetter: DeadLetter): Promise<DeadLetterAlertGroup> {
    const key = failureKeyOf(deadLetter);
    const id = failureGroupId(key);
    const remembered = this.remember(id);
    const records = this.records();
    if (records) {
      try {
        const { openBefore } = await records.record(deadLetter, id);
        return { ...key, id, state: openBefore === 0 ? 'new' : 'growing', count: openBefore + 1 };
      } catch (error) {
        this.logger.error(
          `could not record dead letter ${deadLetter.id} in ${records.table}: ${(error as Error)?.message} ` +
            `(group ${id}: new/growing counted in memory)`,
        );
      }
    }
    return { ...key, id, state: remembered === 1 ? 'new' : 'growing', count: remembered };
  }

  /** Counts one more of group `id` in memory; returns the count. */
  private remember(id: string): number {
    const count = (this.counts.get(id) ?? 0) + 1;
    this.counts.delete(id); // re-inserted last: the map's order is least recently seen first
    this.counts.set(id, count);
    if (this.counts.size > MAX_REMEMBERED) this.counts.delete(this.counts.keys().next().value as string);
    return count;
  }
}
