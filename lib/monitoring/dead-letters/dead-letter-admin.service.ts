import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { MESSAGING_TRANSPORT } from '../../messaging.tokens';
import type { MessageTransport } from '../../transport/transport.interface';
import type { DeadLetter, DeadLetterFilter } from '../../dead-letter/dead-letter.interface';
import type { DeadLetterRecordsHolder } from '../../dead-letter/dead-letter-records';
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
   * more: only when the read was full is the queue's count asked for.
   */
  async scan(): Promise<DeadLetterScan> {
    const limit = this.scanLimit;
    const deadLetters = await this.list({ limit });
    const truncated = deadLetters.length >= limit && (await this.transport.deadLetters.count()) > deadLetters.length;
    return { deadLetters, scanned: deadLetters.length, truncated };
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
    // listed first, ids only too: the durable table marks what was there, not every id asked for
    // (a dead letter removed meanwhile, outside the library, was neither replayed nor purged by us)
    const ids = await this.select(selection);
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
