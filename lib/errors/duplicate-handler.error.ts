import { MessagingError } from './messaging.error';

/** Two handlers were registered for one command or query (detected at bootstrap). */
export class DuplicateHandlerError extends MessagingError {
  constructor(
    readonly kind: 'command' | 'query' | 'subscriber',
    readonly messageType: string,
    readonly handlers: string[],
  ) {
    super(
      kind === 'subscriber'
        ? `Two subscribers are named "${messageType}" (${handlers.join(' and ')}). ` +
            `Give one of them another name with @Subscribe(..., { name: '…' }).`
        : `Two ${kind} handlers for "${messageType}": ${handlers.join(' and ')}. ` +
            `A ${kind} has exactly one handler; remove or rename one of them.`,
    );
  }
}
