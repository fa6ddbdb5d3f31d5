import { Injectable } from '@nestjs/common';
import type { MessageEnvelope } from '../message/envelope';
import { currentMessageContext, runInMessageContext } from './message-context';
import { isValidIdValue } from '../message/cloudevents.codec';
import { uuidv7 } from '../message/uuid-v7';
import type { MessagingEntityManager } from './messaging-entity-manager.interface';

/**
 * Read the message being handled from anywhere inside a handler (injectable; backed by
 * AsyncLocalStorage, so it needs no request scope).
 */
@Injectable()
export class MessageContext {
  /** The envelope of the message being handled (id, type, version, time, correlation, headers). */
  get message(): MessageEnvelope | undefined {
    return currentMessageContext()?.message;
  }

  /** Message id being handled. */
  get messageId(): string | undefined {
    return currentMessageContext()?.message?.id;
  }

  /** Current correlation id (of the message being handled, or of the HTTP request). */
  get correlationId(): string | undefined {
    return currentMessageContext()?.correlationId;
  }

  /** Causation id of the message being handled. */
  get causationId(): string | undefined {
    return currentMessageContext()?.message?.causationId;
  }

  /** Extension headers of the message being handled. */
  get headers(): Readonly<Record<string, string>> {
    return currentMessageContext()?.message?.headers ?? {};
  }

  /** Delivery attempt (1 = first) of the event being handled. */
  get attempt(): number | undefined {
    return currentMessageContext()?.attempt;
  }

  /** Subscriber handling the current event. */
  get subscriber(): string | undefined {
    return currentMessageContext()?.subscriber;
  }

  /**
   * The open transaction's TypeORM `EntityManager` (inbox subscribers, transactional commands,
   * `MessagingTransactions.run`), typed structurally as {@link MessagingEntityManager}.
   *
   * Where the library runs your code in a transaction it is always set, so its type has no
   * `undefined` (`this.ctx.manager.save(...)` needs no check there). Anywhere else (a subscriber with
   * `inbox: false`, no outbox, outside any handler) it is `undefined` at run time: check
   * `ctx.manager !== undefined` when the code may run there.
   */
  get manager(): MessagingEntityManager {
    return currentMessageContext()?.transaction as MessagingEntityManager;
  }

  /**
   * True while the handler runs in a dry run (an operator checking whether a dead letter would now
   * succeed): its writes through the message's transaction are rolled back and its publishes are
   * captured, not sent, but nothing else is undone. Skip e-mails, HTTP calls, files and other
   * outside effects when it is true. False in a real delivery and outside any handler.
   */
  get isDryRun(): boolean {
    return currentMessageContext()?.dryRun === true;
  }

  /**
   * Runs `fn` in a correlation scope: everything sent inside carries `correlationId` (a new
   * one when absent or invalid).
   */
  withCorrelation<R>(correlationId: string | undefined, fn: () => R): R {
    return runInMessageContext({ correlationId: isValidIdValue(correlationId) ? correlationId : uuidv7() }, fn);
  }
}
