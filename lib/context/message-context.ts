import { AsyncLocalStorage } from 'node:async_hooks';
import type { MessageEnvelope } from '../message/envelope';

/** The kind of message being handled. */
export type MessageKind = 'command' | 'query' | 'event';

/**
 * What is known about the current unit of work: the message being handled (if any), the
 * correlation it belongs to and the open database transaction (if any).
 */
export interface MessageContextState {
  /** Correlation id every message sent from here inherits. */
  correlationId: string;
  /** The message being handled; its id becomes the `causationId` of messages sent from here. */
  message?: MessageEnvelope;
  /** Kind of the message being handled. */
  kind?: MessageKind;
  /** The subscriber handling it (events only). */
  subscriber?: string;
  /** Delivery attempt, 1 for the first delivery (events only). */
  attempt?: number;
  /**
   * The open transaction's TypeORM `EntityManager`, when one is active: set for a subscriber with
   * the inbox on and by `TransactionRunner.run`; `EventBus.publish` writes the outbox through it.
   */
  transaction?: unknown;
}

/** The one AsyncLocalStorage behind `MessageContext`. */
export const messageContextStorage = new AsyncLocalStorage<MessageContextState>();

/** Runs `fn` with `state` as the current context. */
export function runInMessageContext<R>(state: MessageContextState, fn: () => R): R {
  return messageContextStorage.run(state, fn);
}

/** The current context state, or undefined outside any handler or correlation scope. */
export function currentMessageContext(): MessageContextState | undefined {
  return messageContextStorage.getStore();
}
