import type { MessageEnvelope } from '../message/envelope';

/**
 * Runs a subscriber's handling of one message (`work`: the handler with its timeout) inside
 * something — a tracing span. Must call `work` exactly once and settle as it does.
 */
export type ConsumeWrapper = (
  envelope: MessageEnvelope,
  subscriber: string,
  attempt: number,
  work: () => Promise<void>,
) => Promise<void>;
