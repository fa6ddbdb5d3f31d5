import { CQRS_QUERY_HANDLER_METADATA, CQRS_QUERY_METADATA, QUERY_HANDLER_OPTIONS } from './metadata.keys';
import { defineRequestHandler, type IRequestHandler, type RequestHandlerOptions } from './command-handler.decorator';
import type { MessageClass } from '../message/message-type';

/** A query handler: `execute(query)` returns the answer. */
export type IQueryHandler<TQuery = any, TResult = any> = IRequestHandler<TQuery, TResult>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Marks a provider as the one handler of a query (a class, or a type name for plain objects).
 * Compatible with `@nestjs/cqrs`'s `@QueryHandler`.
 */
export function QueryHandler(query: MessageClass | string, options: RequestHandlerOptions = {}): ClassDecorator {
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
