import type { MessageEnvelope } from '../message/envelope';
import type { ErrorInfo } from '../errors/error-info';

/** A message that failed for good, with why and where. */
export interface DeadLetter {
  /** Id of this dead-letter record (unique within the store). */
  id: string;
  /** Id of the message, when it could be decoded. */
  messageId?: string;
  /** Message type, when known. */
  type?: string;
  /** The decoded envelope, when the body could be decoded. */
  envelope?: MessageEnvelope;
  /** The body exactly as it was received. */
  body: string;
  /** The subscriber that failed. */
  subscriber: string;
  /** The queue it was consumed from. */
  sourceQueue: string;
  /** The last error. */
  error: ErrorInfo;
  /** Attempts made. */
  attempts: number;
  /** ISO times. */
  firstFailureAt: string;
  lastFailureAt: string;
  deadLetteredAt: string;
}

/** Selects dead letters. All fields are optional and combine with AND. */
export interface DeadLetterFilter {
  /** Only this subscriber's. */
  subscriber?: string;
  /** Only these dead-letter ids. */
  ids?: string[];
  /** Only this message type. */
  type?: string;
  /** Only those whose error name equals this. */
  errorName?: string;
  /** At most this many. */
  limit?: number;
}

/** List, replay and purge dead letters. Implemented by each transport. */
export interface DeadLetterStore {
  /** Dead letters, oldest first. */
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /** How many dead letters there are. */
  count(): Promise<number>;
  /**
   * Sends the selected dead letters back to the one subscriber that failed (attempt 1) and
   * removes them from the store. Returns how many were replayed.
   */
  replay(filter?: DeadLetterFilter): Promise<number>;
  /** Deletes the selected dead letters. Returns how many were deleted. */
  purge(filter?: DeadLetterFilter): Promise<number>;
}
