/**
 * Carries a command's or a query's result type at compile time only (no property at run time).
 * Declared, never created: nothing can set or read it.
 */
declare const RESULT_TYPE: unique symbol;

/**
 * Base class of a command whose handler returns `R`: `CommandBus.execute(new PlaceOrder(...))`
 * is then typed `Promise<R>` with no annotation, and `ICommandHandler<PlaceOrder>` must return
 * `R`. The same shape as `@nestjs/cqrs`'s `Command<R>`; extending it is optional (any class or
 * object can still be executed, its result typed by the caller).
 *
 * @example
 * class PlaceOrder extends Command<{ orderId: string }> {
 *   constructor(readonly sku: string) { super(); }
 * }
 */
export abstract class Command<R = void> {
  /** Compile-time only: the result type. */
  declare readonly [RESULT_TYPE]: R;
}

/**
 * Base class of a query whose handler answers `R`: `QueryBus.execute(new GetOrder(id))` is typed
 * `Promise<R>`. The same shape as `@nestjs/cqrs`'s `Query<R>`.
 */
export abstract class Query<R> {
  /** Compile-time only: the answer's type. */
  declare readonly [RESULT_TYPE]: R;
}

/** The result type a `Command<R>` or `Query<R>` carries (`unknown` for other messages). */
export type ResultOf<M> = M extends { readonly [RESULT_TYPE]: infer R } ? R : unknown;
