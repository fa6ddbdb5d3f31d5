/**
 * The contract between the operations back end (failure groups, dry runs, journeys: issue 16) and
 * the console page (MessagingConsoleModule). The back end implements `MessagingOperations`; the page
 * and the CLI only call it. Change it only by agreement (both sides build on it at once).
 */
import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import type { ErrorInfo } from '../errors/error-info';

/** Dead letters that failed in one subscriber for one cause. */
export interface FailureGroup {
  /** Stable id of the group (a hash of its key): the same cause gets the same id across runs. */
  id: string;
  /** The subscriber that failed (part of the key). */
  subscriber: string;
  /** Error class name, e.g. `QueryFailedError` (part of the key). */
  errorName: string;
  /** The error message with ids, numbers and quoted values replaced by placeholders (part of the key). */
  normalizedMessage: string;
  /** The top application stack frame (not node_modules or node:internal), e.g. `OrderProjector.onCreated (orders/projector)`: no line, no script extension (part of the key). */
  topFrame?: string;
  /** How many dead letters. */
  count: number;
  /** When the first and the last were dead-lettered (ISO). */
  firstSeenAt: string;
  lastSeenAt: string;
  /** Count per message type (`?` when the body could not be decoded). */
  types: Record<string, number>;
  /** The subscribers affected (today: the one in the key). */
  subscribers: string[];
  /** The newest dead letter of the group, as an example. */
  example: DeadLetter;
  /** Dead-letter ids, oldest first. */
  ids: string[];
}

/**
 * Failure groups with how much of the dead-letter queue they were built from: the oldest dead
 * letters up to a limit (10,000). `truncated` says the queue held more, so counts are partial and
 * groups of newer dead letters may be missing.
 */
export interface FailureGroupScan {
  /** Failure groups, largest first. */
  groups: FailureGroup[];
  /** How many dead letters were read (of every subscriber, also with a subscriber filter). */
  scanned: number;
  /** Whether the queue held more dead letters than were read. */
  truncated: boolean;
}

/** What a dry run of one dead letter found. */
export interface DryRunResult {
  deadLetterId: string;
  messageId?: string;
  subscriber: string;
  /** `would-succeed`: the handler returned; `would-fail`: it threw (or the message cannot be decoded/validated). */
  outcome: 'would-succeed' | 'would-fail';
  error?: ErrorInfo;
  /** Messages the handler published or sent, captured and not sent (type and id only). */
  captured: Array<{ type: string; id: string }>;
  durationMs: number;
}

/** One message in a journey, with what became of it. */
export interface JourneyMessage {
  id: string;
  type: string;
  /** Service that published it. */
  source?: string;
  time?: string;
  correlationId?: string;
  causationId?: string;
  /** Outbox state where this service's outbox recorded it. */
  outbox?: { status: string; attempts: number; createdAt: string; sentAt?: string; lastError?: string };
  /** Subscribers whose inbox recorded it as processed. */
  handledBy: Array<{ subscriber: string; processedAt: string }>;
  /** Dead letters of it, if any. */
  deadLetters: Array<{
    id: string;
    subscriber: string;
    error: ErrorInfo;
    attempts: number;
    deadLetteredAt: string;
    /** `dead` while in the dead-letter queue; `replayed` or `purged` (by `statusBy`) from the durable record. */
    status?: 'dead' | 'replayed' | 'purged';
    statusBy?: string;
  }>;
  /** Messages it caused (causationId = this id). */
  children: JourneyMessage[];
}

/** The causation tree of one correlation id. */
export interface Journey {
  /** The id asked for (a correlation id or a message id). */
  query: string;
  correlationId?: string;
  /** Messages with no known parent, oldest first. */
  roots: JourneyMessage[];
  /** How many messages in all. */
  total: number;
  /** How many dead letters of the queue were read for it (when the queue was read). */
  deadLettersScanned?: number;
  /** Whether the queue held more dead letters than were read: dead letters of this journey may be missing. */
  deadLettersTruncated?: boolean;
}

/** Operations on failures and journeys, injectable (exported from the package root). */
export interface MessagingOperations {
  /** Failure groups, largest first. */
  failureGroups(filter?: { subscriber?: string }): Promise<FailureGroup[]>;
  /** Failure groups with how many dead letters were read and whether the queue held more (optional: newer back ends). */
  failureGroupScan?(filter?: { subscriber?: string }): Promise<FailureGroupScan>;
  /** One group by id, or undefined. */
  failureGroup(id: string): Promise<FailureGroup | undefined>;
  /** Replays the group's dead letters to the subscriber that failed; returns how many. */
  retryGroup(id: string, actor: string): Promise<number>;
  /** Replays one dead letter (by dead-letter id or message id); returns 1 or 0. */
  retryOne(deadLetterId: string, actor: string): Promise<number>;
  /** A token that `purgeGroup` needs: it changes when the group changes (count, last seen). */
  purgeToken(id: string): Promise<string | undefined>;
  /** Deletes the group's dead letters when `token` is the current `purgeToken`; throws a typed error otherwise. */
  purgeGroup(id: string, token: string, actor: string): Promise<number>;
  /** Runs the subscriber's handler on one dead letter in a transaction that is always rolled back, publishing captured. */
  dryRun(deadLetterId: string): Promise<DryRunResult>;
  /** Dry-runs a sample (default 5) of a group. */
  dryRunGroup(id: string, sample?: number): Promise<DryRunResult[]>;
  /** The journey of a correlation id or message id. */
  journey(id: string): Promise<Journey>;
}
