import { CQRS_QUERY_HANDLER_METADATA, CQRS_QUERY_METADATA, QUERY_HANDLER_OPTIONS } from './metadata.keys';
import {
  defineRequestHandler,
  type HandlerClassOf,
  type IRequestHandler,
  type RequestHandlerOptions,
} from './command-handler.decorator';
import type { MessageClass } from '../message/message-type';
import type { Query } from '../message/command-query';

/**
 * A query handler: `execute(query)` returns the answer; for a `Query<R>`, of type `R` (a handler
 * answering something else does not compile), otherwise `TResult`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type IQueryHandler<TQuery = any, TResult = any> = 0 extends 1 & TQuery
  ? IRequestHandler<TQuery, TResult> // TQuery is any
  : TQuery extends Query<infer R>
    ? IRequestHandler<TQuery, R>
    : IRequestHandler<TQuery, TResult>;

/**
 * Marks a provider as the one handler of a query (a class, or a type name for plain objects).
 * Compatible with `@nestjs/cqrs`'s `@QueryHandler`.
 */
export function QueryHandler<Q extends object>(
  query: MessageClass<Q> | string,
  options: RequestHandlerOptions = {},
): <H extends HandlerClassOf<Q>>(target: H) => void {
  return (target) =>
    defineRequestHandler(
      target,
      query,
      CQRS_QUERY_HANDLER_METADATA,
      CQRS_QUERY_METADATA,
      QUERY_HANDLER_OPTIONS,
      options,
    );
}
