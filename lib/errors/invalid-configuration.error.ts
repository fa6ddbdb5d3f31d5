import { MessagingError } from './messaging.error';

/** The module options (or a decorator's options) are wrong; the message names the option and what is accepted. */
export class InvalidConfigurationError extends MessagingError {
  constructor(message: string) {
    super(`nestjs-messaging configuration: ${message}`);
  }
}
