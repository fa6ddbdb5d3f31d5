import { Logger, type LoggerService } from '@nestjs/common';

const MAX_ACTOR = 100;

/** `text` as one log line: control and line-separator characters as spaces, trimmed, at most `max` characters. */
export function oneLine(text: string, max: number): string {
  return text
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .trim()
    .slice(0, max);
}

/**
 * The actor as it may appear in a log line: control characters removed, at most 100 characters,
 * `unknown` when empty. An actor is a name (user, e-mail, `cli:<os user>`), never a credential:
 * callers pass who acted, not how they authenticated.
 */
export function safeActor(actor: unknown): string {
  return (typeof actor === 'string' ? oneLine(actor, MAX_ACTOR) : '') || 'unknown';
}

/** Logs operator actions, one line each, with the actor: `operator <actor>: <what>`. */
export class OperatorLog {
  constructor(private readonly logger: LoggerService = new Logger('MessagingOperations')) {}

  /** Records that `actor` did `what` (no secrets: callers never pass tokens or bodies). */
  action(actor: string, what: string): void {
    this.logger.log(`operator ${safeActor(actor)}: ${what}`);
  }

  /** Records something done on an operator's behalf whose actor the caller logs (a dry run). */
  note(what: string): void {
    this.logger.log(what);
  }
}
