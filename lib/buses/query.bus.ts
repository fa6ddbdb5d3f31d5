import { Injectable } from '@nestjs/common';
import { EnvelopeFactory } from '../message/envelope.factory';
import type { QueryOptions } from '../remote/call-options';
import { RequestDispatcher } from './request-dispatcher';
import type { Query } from '../message/command-query';
import { HandlerRegistry } from '../discovery/handler.registry';
import { MessageValidator } from '../message/message.validator';

/** Sends a query to its one handler (in process) and returns the answer. */
@Injectable()
export class QueryBus {
  /** @internal */
  readonly dispatcher: RequestDispatcher;

  constructor(registry: HandlerRegistry, validator: MessageValidator, envelopes: EnvelopeFactory) {
    this.dispatcher = new RequestDispatcher('query', registry.queries, registry, validator, envelopes);
  }

  /**
   * Executes `query` with its handler and returns the answer (errors as for `CommandBus.execute`).
   * A `Query<R>` resolves to `R`. A query routed to another service is a request with a reply:
   * `RemoteHandlerError` (the remote handler threw), `QueryTimeoutError`, `NoResponderError`,
   * `ReplyTooLargeError` or `QueryInterruptedError`; it is never sent twice.
   */
  execute<R>(query: Query<R>, options?: QueryOptions): Promise<R>;
  /** Executes a query that does not extend `Query<R>`: type its answer with `execute<R>(...)`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  execute<R = any>(query: object, options?: QueryOptions): Promise<R>;
  execute(query: object, options?: QueryOptions): Promise<unknown> {
    return this.dispatcher.dispatch(query, options);
  }
}
