import { HandlerNotFoundError } from '../errors/handler-not-found.error';
import {
  currentMessageContext,
  runInMessageContext,
  dryRunOf,
  type MessageContextState,
  type MessageKind,
} from '../context/message-context';
import type { EnvelopeFactory, RequestEnvelope, SendOptions } from '../message/envelope.factory';
import type { MessageValidator } from '../message/message.validator';
import type { HandlerRegistry, RequestHandlerEntry } from '../discovery/handler.registry';
import type { TransactionRunner } from './transaction-runner.interface';

function typeName(message: object): string {
  const t = (message as { type?: unknown }).type;
  if (typeof t === 'string') return t;
  return message?.constructor?.name ?? typeof message;
}

/**
 * The shared dispatch path of `CommandBus` and `QueryBus`: find the one handler, validate, give
 * the message its metadata, run the handler in the message context (in a transaction if asked).
 * @internal
 */
export class RequestDispatcher {
  /** Set when the outbox is on: runs transactional handlers. */
  transactions?: TransactionRunner;
  /** Whether handlers without an explicit `transactional` option run in a transaction. */
  transactionalByDefault = false;

  constructor(
    private readonly kind: Extract<MessageKind, 'command' | 'query'>,
    private readonly handlers: Map<Function | string, RequestHandlerEntry>,
    private readonly registry: HandlerRegistry,
    private readonly validator: MessageValidator,
    private readonly envelopes: EnvelopeFactory,
  ) {}

  /**
   * Not `async` on purpose: without validation rules the whole path is synchronous up to the
   * handler, and the handler's own promise is returned (one promise per call instead of three).
   * Every failure, synchronous or not, still reaches the caller as a rejected promise.
   */
  dispatch<R>(message: object, options?: SendOptions): Promise<R> {
    try {
      if (message === null || typeof message !== 'object') {
        throw new TypeError(`${this.kind} must be an object, got ${message === null ? 'null' : typeof message}`);
      }
      const entry = this.registry.find(this.handlers, message);
      if (!entry) throw new HandlerNotFoundError(this.kind, typeName(message));
      if (this.validator.hasRules(message.constructor)) {
        return this.validator.validateInstance(entry.type, message).then(() => this.run<R>(entry, message, options));
      }
      return this.run<R>(entry, message, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Gives the message its metadata and runs the handler in the message context. May throw. */
  private run<R>(entry: RequestHandlerEntry, message: object, options: SendOptions | undefined): Promise<R> {
    const parent = currentMessageContext();
    const envelope = this.envelopes.createRequest(entry.type, entry.version, message, options, parent);
    // a command sent inside an open transaction (a subscriber's inbox, MessagingTransactions.run)
    // joins it: the events its handler publishes commit or roll back with the caller's work
    const transaction = parent?.transaction;
    // routed to another service: sent in the caller's transaction (if any), never in one of its own
    const send = entry.send;
    const tx =
      send === undefined && this.transactions && (entry.transactional ?? this.transactionalByDefault)
        ? this.transactions
        : undefined;
    if (tx) {
      const state: MessageContextState = {
        correlationId: envelope.correlationId,
        message: envelope,
        kind: this.kind,
        transaction,
        ...dryRunOf(parent),
      };
      return runInMessageContext(state, () => tx.run(async () => (await entry.execute(message)) as R));
    }
    const state: MessageContextState = envelope.startsNewFlow()
      ? new NewFlowState(envelope, this.kind)
      : { correlationId: envelope.correlationId, message: envelope, kind: this.kind, transaction };
    if (parent?.dryRun) Object.assign(state, dryRunOf(parent)); // a command a dry-run handler sends is part of it
    if (send !== undefined) return runInMessageContext(state, () => send(envelope, options) as Promise<R>);
    return runInMessageContext(state, () => Promise.resolve(entry.execute(message) as R | Promise<R>));
  }
}

/**
 * The context of a command or query that starts a new flow: its correlation id is its own id,
 * read through the envelope so that the id is still made only if someone asks for it.
 *
 * `correlationId` is an accessor on the prototype, so a spread copy of this state lacks it: copy
 * states with `deriveMessageContext`, which reads field by field.
 */
class NewFlowState implements MessageContextState {
  /** Set when someone overrides the correlation id. */
  #correlationId: string | undefined;
  transaction?: unknown;

  constructor(
    public message: RequestEnvelope,
    public kind: MessageKind,
  ) {
    this.#correlationId = undefined;
  }

  get correlationId(): string {
    return this.#correlationId ?? this.message.correlationId;
  }
  set correlationId(value: string) {
    this.#correlationId = value;
  }
}
