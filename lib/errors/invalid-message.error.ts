import { PermanentMessageError } from './permanent-message.error';

/** One failed validation rule. */
export interface ValidationFailure {
  /** Property path, e.g. `items.0.quantity`. */
  property: string;
  /** Failed constraints and their messages. */
  constraints: Record<string, string>;
}

/**
 * A message failed its class-validator rules. Thrown to the caller of `CommandBus.execute`,
 * `QueryBus.execute` and `EventBus.publish`; a received invalid event is dead-lettered, never retried.
 */
export class InvalidMessageError extends PermanentMessageError {
  constructor(
    readonly messageType: string,
    readonly failures: ValidationFailure[],
  ) {
    super(
      `Invalid ${messageType}: ` +
        failures.map((f) => `${f.property} (${Object.values(f.constraints).join('; ') || 'invalid'})`).join(', '),
    );
  }
}
