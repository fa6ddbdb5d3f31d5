import { MessagingError } from './messaging.error';

/** `CommandBus.execute` or `QueryBus.execute` was called with a message no handler is registered for. */
export class HandlerNotFoundError extends MessagingError {
  constructor(
    readonly kind: 'command' | 'query',
    readonly messageType: string,
  ) {
    const decorator = kind === 'command' ? '@CommandHandler' : '@QueryHandler';
    super(
      `No ${kind} handler for "${messageType}". Add a provider decorated with ${decorator}(${messageType}) ` +
        `to a module of the application.`,
    );
  }
}
