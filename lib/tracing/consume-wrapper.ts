import type { MessageEnvelope } from '../message/envelope';

/**
 * Runs a subscriber's handling of one message (`work`: the handler in its message context, with
 * its timeout and inbox) inside something — a tracing span. Must call `work` exactly once and
 * return what it returns (a value when the handler finished synchronously, else its promise), so
 * the pipeline's synchronous fast path is kept.
 */
export type ConsumeWrapper = (<T>(
  envelope: MessageEnvelope,
  subscriber: string,
  attempt: number,
  work: () => T,
) => T) & {
  /** Whether it would wrap this message at all; when false the pipeline runs the work directly. */
  wraps?(envelope: MessageEnvelope): boolean;
};
