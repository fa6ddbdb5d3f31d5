import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { MESSAGING_TRANSPORT } from '../../messaging.tokens';
import type { MessageTransport } from '../../transport/transport.interface';
import type { DeadLetter, DeadLetterFilter } from '../../dead-letter/dead-letter.interface';
import { DEAD_LETTER_REMOVED_OUTSIDE, type DeadLetterRecordsHolder } from '../../dead-letter/dead-letter-records';
import type { FailureGroup } from '../../console/console-api.interface';
import { OutboxIntegration } from '../../outbox/outbox-integration';
import { DeadLetterReplayError } from '../../transport/rabbitmq/errors/dead-letter-replay.error';
import { groupDeadLetters, type DeadLetterGroup } from './dead-letter-groups';
import { groupFailures } from './failure-groups';

/** Called as a long replay or purge advances. */
export type ProgressCallback = (done: number, total: number) => void;

/** Which dead letters an operation applies to; `{}` selects all of them. */
export type DeadLetterSelection = Omit<DeadLetterFilter, 'limit'>;

/**
 * Most dead letters one read for failure groups or a journey takes in: the oldest this many (the
 * RabbitMQ store holds at most 10,000 in one snapshot). A result says when the queue held more.
 */
export const DEAD_LETTER_SCAN_LIMIT = 10_000;

/** The oldest dead letters, read at once, and whether the queue held more than were read. */
export interface DeadLetterScan {
  /** The dead letters read, oldest first. */
  deadLetters: DeadLetter[];
  /** How many were read (`deadLetters.length`). */
  scanned: number;
  /** Whether the queue held more than the limit: what is built on `deadLetters` is then partial. */
  truncated: boolean;
}

/**
 * A durable record is closed as removed outside the library only when it was dead-lettered at least
 * this long before a full read of the queue began (a dead letter is recorded as it is dead-lettered,
 * and reaches the queue a moment later; also covers clocks of instances that differ a little).
 */
const RECONCILE_MARGIN_MS = 60_000;

const MIN_BATCH = 100;
const PROGRESS_STEPS = 20;

/**
 * Operator tooling over the transport's dead letters, shared by the CLI and admin endpoints:
 * grouped listing, lookup by dead-letter or message id, and replay/purge of a selection in
 * batches with progress. Replay sends each message back to the one subscriber that failed, as
 * attempt 1; with the inbox on, replaying twice is harmless.
 */
@Injectable()
export class DeadLetterAdmin {
  private readonly logger = new Logger('DeadLetterAdmin');
  /** How many dead letters `scan` reads at most (internal: tests lower it). */
  scanLimit = DEAD_LETTER_SCAN_LIMIT;
  /** How old an open record must be before a full read closes it as removed (internal: tests lower it). */
  reconcileMarginMs = RECONCILE_MARGIN_MS;

  constructor(
    @Inject(MESSAGING_TRANSPORT) private readonly transport: Pick<MessageTransport, 'deadLetters'>,
    /** The durable dead-letter record, when on: replayed and purged dead letters are marked there. */
    @Optional() @Inject(OutboxIntegration) private readonly records?: DeadLetterRecordsHolder,
  ) {}

  /** Dead letters matching `filter`, oldest first. */
  list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.transport.deadLetters.list(filter);
  }

  /**
   * The oldest dead letters, at most `scanLimit` (one read of the queue), and whether the queue held
   * more: only when the read was full is the queue's count asked for. A read that was not truncated
   * saw the whole queue: the durable record is then reconciled with it (see `closeMissing`).
   */
  async scan(): Promise<DeadLetterScan> {
    const limit = this.scanLimit;
    const started = Date.now();
    const deadLetters = await this.list({ limit });
    const truncated = deadLetters.length >= limit && (await this.transport.deadLetters.count()) > deadLetters.length;
    if (!truncated) await this.closeMissing(deadLetters, started);
    return { deadLetters, scanned: deadLetters.length, truncated };
  }

  /**
   * After a full read of the queue: open (`dead`) durable records of this service's dead letters that
   * are not in the queue — removed outside the library (management UI, a TTL, a purge of the queue) —
   * are marked `purged` by {@link DEAD_LETTER_REMOVED_OUTSIDE}, so their group no longer counts them as open
   * (new/growing). Only those dead-lettered over a minute before the read began. A failure is logged.
   */
  private async closeMissing(present: DeadLetter[], started: number): Promise<void> {
    const records = this.records?.feature?.deadLetters;
    const prefix = this.transport.deadLetters.sourceQueuePrefix?.();
    if (!records?.closeMissing || !prefix) return;
    try {
      const before = new Date(started - this.reconcileMarginMs).toISOString();
      const closed = await records.closeMissing(
        prefix,
        present.map((d) => d.id),
        before,
        DEAD_LETTER_REMOVED_OUTSIDE,
      );
      if (closed > 0) {
        this.logger.log(`${closed} dead letter(s) recorded as open are no longer in the queue: marked purged`);
      }
    } catch (error) {
      this.logger.warn(`could not reconcile ${records.table} with the queue: ${(error as Error)?.message}`);
    }
  }

  /** Dead letters matching `filter`, grouped by subscriber and error name. */
  async groups(filter: DeadLetterFilter = {}): Promise<DeadLetterGroup[]> {
    return groupDeadLetters(await this.list(filter));
  }

  /** Dead letters matching `filter` as failure groups (subscriber + error + normalized message + top frame). */
  async failureGroups(filter: DeadLetterFilter = {}): Promise<FailureGroup[]> {
    return groupFailures(await this.list(filter));
  }

  /** One dead letter by its dead-letter id, or else by its message id. */
  async find(id: string): Promise<DeadLetter | undefined> {
    const [byId] = await this.list({ ids: [id] });
    if (byId) return byId;
    return (await this.list()).find((d) => d.messageId === id);
  }

  /**
   * Replays the selection (listed first, then replayed by id in batches); returns how many. With the
   * durable dead-letter table, each batch is then marked `replayed` there (by `actor`, if given).
   */
  replay(selection: DeadLetterSelection, onProgress?: ProgressCallback, actor?: string): Promise<number> {
    return this.inBatches(
      selection,
      (filter) => this.transport.deadLetters.replay(filter),
      onProgress,
      (ids) => this.mark(ids, 'replayed', actor),
    );
  }

  /** Deletes the selection (by id, in batches); returns how many. Marked `purged` in the durable table, when on. */
  purge(selection: DeadLetterSelection, onProgress?: ProgressCallback, actor?: string): Promise<number> {
    return this.inBatches(
      selection,
      (filter) => this.transport.deadLetters.purge(filter),
      onProgress,
      (ids) => this.mark(ids, 'purged', actor),
    );
  }

  private async mark(ids: string[], status: 'replayed' | 'purged', actor: string | undefined): Promise<void> {
    await this.records?.feature?.deadLetters?.mark(ids, status, actor ?? '');
  }

  /** The ids of the dead letters a selection covers now. */
  async select(selection: DeadLetterSelection): Promise<string[]> {
    return (await this.list(selection)).map((d) => d.id);
  }

  private async inBatches(
    selection: DeadLetterSelection,
    apply: (filter: DeadLetterFilter) => Promise<number>,
    onProgress?: ProgressCallback,
    applied?: (ids: string[]) => Promise<void>,
  ): Promise<number> {
    // a selection of ids only (a failure group, ids the caller just listed) is not listed again:
    // the store applies exactly those ids that are still there, nothing else
    const ids = onlyIds(selection) ? [...new Set(selection.ids)] : await this.select(selection);
    const total = ids.length;
    if (total === 0) return 0;
    // each call may scan the whole dead-letter queue (RabbitMQ): one call without progress to show,
    // else few, large batches
    const size = onProgress ? Math.max(MIN_BATCH, Math.ceil(total / PROGRESS_STEPS)) : total;
    let done = 0;
    for (let i = 0; i < total; i += size) {
      const batch = ids.slice(i, i + size);
      try {
        done += await apply({ ids: batch });
      } catch (error) {
        // replayed in part: those that went are marked all the same (the failed ones stay in the queue)
        if (error instanceof DeadLetterReplayError) {
          const failed = new Set(error.failures.map((f) => f.id));
          await applied?.(batch.filter((id) => !failed.has(id)));
        }
        throw error;
      }
      await applied?.(batch);
      onProgress?.(Math.min(i + size, total), total);
    }
    return done;
  }
}

/** Whether a selection names ids and nothing else. */
function onlyIds(selection: DeadLetterSelection): selection is { ids: string[] } {
  return Array.isArray(selection.ids) && Object.values({ ...selection, ids: undefined }).every((v) => v === undefined);
}
