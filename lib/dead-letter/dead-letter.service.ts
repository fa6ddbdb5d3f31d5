import { Inject, Injectable } from '@nestjs/common';
import { MESSAGING_TRANSPORT } from '../messaging.tokens';
import type { MessageTransport } from '../transport/transport.interface';
import type { DeadLetter, DeadLetterFilter } from './dead-letter.interface';

/**
 * List, replay and purge dead letters of this service, whatever the transport (injectable, for
 * admin endpoints). Replay sends a message back to the one subscriber that failed, as attempt 1;
 * running it twice is safe with the inbox on (the duplicate is absorbed).
 */
@Injectable()
export class DeadLetterService {
  constructor(@Inject(MESSAGING_TRANSPORT) private readonly transport: MessageTransport) {}

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
    return this.transport.deadLetters.replay(filter);
  }

  /** Deletes the selected dead letters; returns how many. */
  purge(filter?: DeadLetterFilter): Promise<number> {
    return this.transport.deadLetters.purge(filter);
  }
}
