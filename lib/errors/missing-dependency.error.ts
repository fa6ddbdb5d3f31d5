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

/**
 * Runs `load` (a `require` of an optional peer, or of our module that imports it) and turns "Cannot
 * find module '<packageName>'" into a `MissingDependencyError` saying what to install. Any other
 * failure (a missing module other than the peer, an error inside it) is rethrown as is.
 * @internal
 */
export function requireOptional<T>(load: () => T, packageName: string, feature: string): T {
  try {
    return load();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${packageName}'`)) {
      throw new MissingDependencyError(packageName, feature);
    }
    throw err;
  }
}
