import { MessagingError } from './messaging.error';

/** A feature needs an optional peer dependency that is not installed. */
export class MissingDependencyError extends MessagingError {
  constructor(
    readonly packageName: string,
    readonly feature: string,
  ) {
    super(`${feature} needs the package "${packageName}": run npm install ${packageName}`);
  }
}
