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

/** Limits of `FailureGroupTracker`. */
export interface FailureGroupTrackerOptions {
  /**
   * How long one dead letter's alert waits for the durable table's answer before it is counted in
   * memory instead (the write goes on in the background). Default 2000 ms.
   */
  recordTimeoutMs?: number;
  /**
   * Durable writes not yet answered (waiting or running) at most; beyond it a dead letter is alerted
   * at once from the in-memory count, without a durable record, and counted in `stats().dropped`.
   * Default 1000.
   */
  maxPending?: number;
}

/** The tracker's durable-table health, for monitoring. */
export interface FailureGroupTrackerStats {
  /** Durable writes not yet answered. */
  pending: number;
  /** Dead letters alerted without a durable record because `maxPending` writes were waiting. */
  dropped: number;
  /** Whether a durable write timed out and none has succeeded since (alerts count in memory meanwhile). */
  outage: boolean;
}

/**
 * Tells, for each dead letter, its failure group and whether the group is new or growing. With the
 * durable dead-letter table (`outbox.deadLetterTable`) it records the dead letter there and counts
 * the group's open (`dead`) records, so "new" holds across instances and restarts, and a group whose
 * dead letters were retried or purged is new again when it recurs. Without it (or while the
 * database fails), it counts in memory: "new" then means the first seen by this instance since it
 * started.
 *
 * Open records are the table's view of the queue: dead letters removed outside the library
 * (management UI, a message TTL) leave their records open, and their group counts as growing.
 *
 * A slow or hung database never stops alerts: a durable write that takes longer than
 * `recordTimeoutMs` is counted in memory for that dead letter (one warning per outage); until a
 * write succeeds again, alerts do not wait for the table (writes still go on in the background);
 * at most `maxPending` writes are kept waiting (each holds its dead letter), beyond that the dead
 * letter is not recorded durably and is counted as dropped.
 */
export class FailureGroupTracker {
  private readonly logger = new Logger('MessagingAlerts');
  private readonly counts = new Map<string, number>();
  /** The last `track` of each group: dead letters of one group are counted one after another, in order. */
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly recordTimeoutMs: number;
  private readonly maxPending: number;
  private pending = 0;
  private dropped = 0;
  private outage = false;
  private saturated = false;

  constructor(
    private readonly records: () => DeadLetterRecords | undefined = () => undefined,
    options: FailureGroupTrackerOptions = {},
  ) {
    this.recordTimeoutMs = options.recordTimeoutMs ?? 2000;
    this.maxPending = options.maxPending ?? 1000;
  }

  /** Durable writes waiting, dead letters not recorded durably, and whether the table is in an outage. */
  stats(): FailureGroupTrackerStats {
    return { pending: this.pending, dropped: this.dropped, outage: this.outage };
  }

  /**
   * Records the dead letter (when the table is on) and resolves its group. Calls of one group are
   * handled one after another, so this instance never reports two dead letters of one group both as
   * new (instances may still race each other); groups do not wait for each other. A database
   * failure or timeout is logged and counted in memory.
   */
  track(deadLetter: DeadLetter): Promise<DeadLetterAlertGroup> {
    const key = failureKeyOf(deadLetter);
    const id = failureGroupId(key);
    const remembered = this.remember(id);
    const inMemory: DeadLetterAlertGroup = {
      ...key,
      id,
      state: remembered === 1 ? 'new' : 'growing',
      count: remembered,
    };
    const records = this.records();
    if (!records) return Promise.resolve(inMemory);
    if (this.pending >= this.maxPending) {
      this.dropped++;
      if (!this.saturated) {
        this.saturated = true;
        this.logger.warn(
          `${this.pending} dead-letter records are waiting for ${records.table}: further dead letters are ` +
            `alerted without a durable record until they drain (${this.dropped} so far, see stats().dropped)`,
        );
      }
      return Promise.resolve(inMemory);
    }
    this.pending++;
    const previous = this.chains.get(id) ?? Promise.resolve();
    const next = previous.then(() => this.trackNow(deadLetter, id, inMemory, records));
    const settled = next.catch(() => undefined); // one failure does not stop the ones after it
    this.chains.set(id, settled);
    void settled.then(() => {
      if (this.chains.get(id) === settled) this.chains.delete(id);
    });
    return next;
  }

  private async trackNow(
    deadLetter: DeadLetter,
    id: string,
    inMemory: DeadLetterAlertGroup,
    records: DeadLetterRecords,
  ): Promise<DeadLetterAlertGroup> {
    let write: Promise<{ openBefore: number }>;
    try {
      write = records.record(deadLetter, id);
    } catch (error) {
      write = Promise.reject(error);
    }
    const answered = write.then(
      (result) => {
        this.release();
        if (this.outage) {
          this.outage = false;
          this.logger.log(`${records.table} answers again: alerts use the durable group counts`);
        }
        return result;
      },
      (error: unknown) => {
        this.release();
        throw error;
      },
    );
    const failed = (error: unknown) => {
      this.logger.error(
        `could not record dead letter ${deadLetter.id} in ${records.table}: ${(error as Error)?.message} ` +
          `(group ${id}: new/growing counted in memory)`,
      );
      return inMemory;
    };
    if (this.outage) {
      answered.catch(failed); // recorded in the background; this alert does not wait for it
      return inMemory;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.recordTimeoutMs);
      timer.unref?.();
    });
    try {
      const result = await Promise.race([answered, timedOut]);
      if (result !== 'timeout') {
        const { openBefore } = result;
        return { ...inMemory, state: openBefore === 0 ? 'new' : 'growing', count: openBefore + 1 };
      }
    } catch (error) {
      return failed(error);
    } finally {
      clearTimeout(timer);
    }
    answered.catch(failed);
    if (!this.outage) {
      this.outage = true;
      this.logger.warn(
        `${records.table} did not answer within ${this.recordTimeoutMs} ms (database slow or its pool exhausted): ` +
          `dead-letter alerts count groups in memory until a record succeeds again; records go on in the background`,
      );
    }
    return inMemory;
  }

  /** One durable write answered. */
  private release(): void {
    this.pending--;
    if (this.saturated && this.pending < this.maxPending / 2) {
      this.saturated = false;
      this.logger.warn(`dead-letter records drain again; ${this.dropped} dead letters so far have no durable record`);
    }
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
