import { InvalidConfigurationError } from '../errors/invalid-configuration.error';

/**
 * Fails on keys of `options` that are not in `allowed`, so a typo (`retry: { maxRetry: 0 }`) is a
 * startup error rather than a silently ignored setting. `where` names the option in the message.
 */
export function assertKnownKeys(options: object, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidConfigurationError(
        `unknown option ${where ? `${where}.` : ''}${key}; accepted: ${allowed.join(', ')}`,
      );
    }
  }
}
