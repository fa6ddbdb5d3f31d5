import { Logger, type LoggerService } from '@nestjs/common';

const MAX_ACTOR = 100;

/**
 * The actor as it may appear in a log line: control characters removed, at most 100 characters,
 * `unknown` when empty. An actor is a name (user, e-mail, `cli:<os user>`), never a credential:
 * callers pass who acted, not how they authenticated.
 */
export function safeActor(actor: unknown): string {
  const text = typeof actor === 'string' ? actor.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim() : '';
  return text.length === 0 ? 'unknown' : text.slice(0, MAX_ACTOR);
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
