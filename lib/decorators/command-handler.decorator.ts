import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CQRS_COMMAND_HANDLER_METADATA, CQRS_COMMAND_METADATA, COMMAND_HANDLER_OPTIONS } from './metadata.keys';
import { assertTypeAndVersion, type MessageClass } from '../message/message-type';
import type { Command } from '../message/command-query';

/** Options of `@CommandHandler` and `@QueryHandler`. */
export interface RequestHandlerOptions {
  /**
   * Run the handler inside a database transaction (needs the outbox), so its writes and the
   * events it publishes commit together. Default false.
   */
  transactional?: boolean;
}

/** What a command or query handler class implements (the same shape as `@nestjs/cqrs`'s). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface IRequestHandler<TMessage = any, TResult = any> {
  /** Handles the command or query. */
  execute(message: TMessage): Promise<TResult> | TResult;
}

/**
 * A command handler: `execute(command)` returns the command's result. For a `Command<R>` the
 * result type is `R` (a handler returning something else does not compile); otherwise `TResult`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ICommandHandler<TCommand = any, TResult = any> = 0 extends 1 & TCommand
  ? IRequestHandler<TCommand, TResult> // TCommand is any
  : TCommand extends Command<infer R>
    ? IRequestHandler<TCommand, R>
    : IRequestHandler<TCommand, TResult>;

/**
 * A handler class for messages of type `M`: its `execute` must accept an `M` (so
 * `@CommandHandler(PlaceOrder)` on a class whose `execute` takes another command does not compile).
 */
export type HandlerClassOf<M> = abstract new (...args: never[]) => { execute(message: M): unknown };

/** @internal writes the cqrs-compatible metadata (or ours for string types). */
export function defineRequestHandler(
  target: Function,
  message: MessageClass | string,
  handlerKey: string,
  messageKey: string,
  optionsKey: string,
  options: RequestHandlerOptions,
): void {
  if (typeof message === 'string') {
    assertTypeAndVersion(
      message,
      1,
      `@${handlerKey === CQRS_COMMAND_HANDLER_METADATA ? 'CommandHandler' : 'QueryHandler'} on ${target.name}`,
    );
  } else if (!Reflect.hasOwnMetadata(messageKey, message)) {
    Reflect.defineMetadata(messageKey, { id: randomUUID() }, message);
  }
  Reflect.defineMetadata(handlerKey, message, target);
  Reflect.defineMetadata(optionsKey, options, target);
  Injectable()(target);
}

/**
 * Marks a provider as the one handler of a command: a class (instances are dispatched by
 * constructor) or a type name (plain objects with that `type`). Compatible with `@nestjs/cqrs`:
 * classes decorated with either package's `@CommandHandler` are found by both.
 */
export function CommandHandler<C extends object>(
  command: MessageClass<C> | string,
  options: RequestHandlerOptions = {},
): <H extends HandlerClassOf<C>>(target: H) => void {
  return (target) =>
    defineRequestHandler(
      target,
      command,
      CQRS_COMMAND_HANDLER_METADATA,
      CQRS_COMMAND_METADATA,
      COMMAND_HANDLER_OPTIONS,
      options,
    );
}
