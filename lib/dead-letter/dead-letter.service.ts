import { Inject, Injectable, Optional } from '@nestjs/common';
import { MESSAGING_TRANSPORT } from '../messaging.tokens';
import type { MessageTransport } from '../transport/transport.interface';
import { OutboxIntegration } from '../outbox/outbox-integration';
import type { DeadLetter, DeadLetterFilter } from './dead-letter.interface';
import type { DeadLetterRecordsHolder } from './dead-letter-records';

/**
 * List, replay and purge dead letters of this service, whatever the transport (injectable, for
 * admin endpoints). Replay sends a message back to the one subscriber that failed, as attempt 1;
 * running it twice is safe with the inbox on (the duplicate is absorbed).
 */
@Injectable()
export class DeadLetterService {
  constructor(
    @Inject(MESSAGING_TRANSPORT) private readonly transport: MessageTransport,
    /** The durable dead-letter record, when on (`outbox.deadLetterTable`): replays and purges are marked there. */
    @Optional() @Inject(OutboxIntegration) private readonly records?: DeadLetterRecordsHolder,
  ) {}

  /** Dead letters, oldest first. */
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]> {
    return this.transport.deadLetters.list(filter);
  }

  /** How many dead letters there are. */
  count(): Promise<number> {
    return this.transport.deadLetters.count();
  }

  /** Replays the selected dead letters to their failed subscriber; returns how many. */
  replay(filter?: DeadLetterFilter): Promise<number> {
    return this.marked(filter, 'replayed', (f) => this.transport.deadLetters.replay(f));
  }

  /** Deletes the selected dead letters; returns how many. */
  purge(filter?: DeadLetterFilter): Promise<number> {
    return this.marked(filter, 'purged', (f) => this.transport.deadLetters.purge(f));
  }

  /** Applies `apply`; with the durable table on, to the ids listed first, which are then marked. */
  private async marked(
    filter: DeadLetterFilter | undefined,
    status: 'replayed' | 'purged',
    apply: (filter?: DeadLetterFilter) => Promise<number>,
  ): Promise<number> {
    const records = this.records?.feature?.deadLetters;
    if (!records) return apply(filter);
    const ids = (await this.transport.deadLetters.list(filter)).map((d) => d.id);
    if (ids.length === 0) return 0;
    const n = await apply({ ids });
    await records.mark(ids, status, '');
    return n;
  }
}
