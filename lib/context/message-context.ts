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
  /**
   * True while a dry run (`MessagingOperationsService.dryRun`) runs the handler: its transaction
   * is rolled back, and a publish through any other transaction is refused.
   */
  dryRun?: boolean;
  /** @internal What a dry run's handler published (type and id per message), in order; set with `dryRun`. */
  dryRunPublishes?: DryRunPublish[];
}

/** One message a dry run's handler published (written to the outbox in the rolled-back transaction). */
export interface DryRunPublish {
  /** Message type. */
  type: string;
  /** Message id. */
  id: string;
}

/** The one AsyncLocalStorage behind `MessageContext`. */
export const messageContextStorage = new AsyncLocalStorage<MessageContextState>();

/** Runs `fn` with `state` as the current context. */
export function runInMessageContext<R>(state: MessageContextState, fn: () => R): R {
  return messageContextStorage.run(state, fn);
}

/**
 * A copy of `state` with `patch` applied, field by field: a state may expose its fields as
 * accessors (lazily made ids), which an object spread would not copy.
 */
export function deriveMessageContext(
  state: MessageContextState | undefined,
  patch: Partial<MessageContextState> & { correlationId?: string },
): MessageContextState {
  return {
    correlationId: patch.correlationId ?? (state?.correlationId as string),
    message: 'message' in patch ? patch.message : state?.message,
    kind: 'kind' in patch ? patch.kind : state?.kind,
    subscriber: 'subscriber' in patch ? patch.subscriber : state?.subscriber,
    attempt: 'attempt' in patch ? patch.attempt : state?.attempt,
    transaction: 'transaction' in patch ? patch.transaction : state?.transaction,
    ...dryRunOf(state),
  };
}

/** The dry-run fields of `state` (none outside a dry run), for a state derived from it. */
export function dryRunOf(
  state: MessageContextState | undefined,
): Pick<MessageContextState, 'dryRun' | 'dryRunPublishes'> {
  return state?.dryRun ? { dryRun: true, dryRunPublishes: state.dryRunPublishes } : {};
}

/** The current context state, or undefined outside any handler or correlation scope. */
export function currentMessageContext(): MessageContextState | undefined {
  return messageContextStorage.getStore();
}
