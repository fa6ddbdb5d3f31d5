/**
 * Carries a command's or a query's result type at compile time only (no property at run time).
 * Declared, never created: nothing can set or read it.
 */
declare const RESULT_TYPE: unique symbol;

/**
 * A command's result again, under a key `Query` does not have: a command routed to another service
 * resolves to `undefined` once stored, so routes accept a `Command<R>` only when `R` is `void`
 * (see `RoutableClass`). Declared, never created.
 */
declare const ROUTED_COMMAND_RESULT: unique symbol;

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
  /** Compile-time only: the result type, checked against `void` where the command is routed to another service. */
  declare readonly [ROUTED_COMMAND_RESULT]: R;
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

/**
 * An instance that may be routed to another service (`remote.routes`, `@Message(..., { endpoint })`):
 * any object except a `Command<R>` whose `R` is not `void`. A routed command resolves to `undefined`
 * once it is stored, not to its handler's result, so such a route does not compile
 * (`Types of property '[ROUTED_COMMAND_RESULT]' are incompatible`): declare the command
 * `Command<void>`, or send what needs an answer as a `Query<R>`.
 */
export type RoutableMessage = object & { readonly [ROUTED_COMMAND_RESULT]?: void };

/** A class whose instances may be routed to another service (see `RoutableMessage`). */
export type RoutableClass = abstract new (...args: never[]) => RoutableMessage;
