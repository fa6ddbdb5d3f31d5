import { Injectable } from '@nestjs/common';
import type { CommandOptions } from '../remote/call-options';
import type { Command } from '../message/command-query';
import { RequestDispatcher } from './request-dispatcher';
import { HandlerRegistry } from '../discovery/handler.registry';
import { MessageValidator } from '../message/message.validator';
import { EnvelopeFactory } from '../message/envelope.factory';

/**
 * Sends a command to its one handler (in process) and returns the handler's result. The
 * command gets metadata (id, correlation and causation) visible to the handler through
 * `MessageContext`; class-validator rules on its class are checked first (`InvalidMessageError`).
 */
@Injectable()
export class CommandBus {
  /** @internal */
  readonly dispatcher: RequestDispatcher;

  constructor(registry: HandlerRegistry, validator: MessageValidator, envelopes: EnvelopeFactory) {
    this.dispatcher = new RequestDispatcher('command', registry.commands, registry, validator, envelopes);
  }

  /**
   * Executes `command` with its handler. Throws `HandlerNotFoundError` when none is registered,
   * `InvalidMessageError` when it breaks its validation rules, or whatever the handler throws.
   * A `Command<R>` resolves to `R`. A command routed to another service (option `remote`,
   * `@Message(..., { endpoint })`) resolves to `undefined` once it is stored (outbox write in the
   * caller's transaction, else broker confirm), not when it is handled.
   */
  execute<R>(command: Command<R>, options?: CommandOptions): Promise<R>;
  /** Executes a command that does not extend `Command<R>`: type its result with `execute<R>(...)`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  execute<R = any>(command: object, options?: CommandOptions): Promise<R>;
  execute(command: object, options?: CommandOptions): Promise<unknown> {
    return this.dispatcher.dispatch(command, options);
  }
}
