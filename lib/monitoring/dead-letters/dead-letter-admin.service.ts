import { Inject, Injectable, Optional } from '@nestjs/common';
import { MESSAGING_TRANSPORT } from '../../messaging.tokens';
import type { MessageTransport } from '../../transport/transport.interface';
import type { DeadLetter, DeadLetterFilter } from '../../dead-letter/dead-letter.interface';
import type { DeadLetterRecordsHolder } from '../../dead-letter/dead-letter-records';
import type { FailureGroup } from '../../console/console-api.interface';
import { OutboxIntegration } from '../../outbox/outbox-integration';
import { groupDeadLetters, type DeadLetterGroup } from './dead-letter-groups';
import { groupFailures } from './failure-groups';

/** Called as a long replay or purge advances. */
export type ProgressCallback = (done: number, total: number) => void;

/** Which dead letters an operation applies to; `{}` selects all of them. */
export type DeadLetterSelection = Omit<DeadLetterFilter, 'limit'>;

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
  constructor(
    @Inject(MESSAGING_TRANSPORT) private readonly transport: Pick<MessageTransport, 'deadLetters'>,
    /** The durable dead-letter record, when on: replayed and purged dead letters are marked there. */
    @Optional() @Inject(OutboxIntegration) private readonly records?: DeadLetterRecordsHolder,
  ) {}

  /** Dead letters matching `filter`, oldest first. */
  list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.transport.deadLetters.list(filter);
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
    const ids = await this.select(selection);
    const total = ids.length;
    if (total === 0) return 0;
    // each call may scan the whole dead-letter queue (RabbitMQ): few, large batches
    const size = Math.max(MIN_BATCH, Math.ceil(total / PROGRESS_STEPS));
    let done = 0;
    for (let i = 0; i < total; i += size) {
      const batch = ids.slice(i, i + size);
      done += await apply({ ids: batch });
      await applied?.(batch);
      onProgress?.(Math.min(i + size, total), total);
    }
    return done;
  }
}
