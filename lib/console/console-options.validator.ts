import { createHash } from 'node:crypto';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import type {
  ConsoleRuntimeOptions,
  MessagingConsoleOptions,
  ResolvedConsoleOptions,
} from './console-options.interface';

/** The path the console is mounted at when `path` is not set. */
export const DEFAULT_CONSOLE_PATH = '/messaging';
/** The largest dry-run sample (`MessagingOperationsService.dryRunGroup` runs at most 50). */
export const MAX_DRY_RUN_SAMPLE = 50;

/** The shortest token accepted. */
export const MIN_CONSOLE_TOKEN_LENGTH = 16;

const PATH_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/** The console's mount path, checked and normalized (`/ops/messaging`, no trailing slash). */
export function resolveConsolePath(path: unknown): string {
  if (path === undefined) return DEFAULT_CONSOLE_PATH;
  if (typeof path !== 'string') throw invalid(`path must be a string such as '${DEFAULT_CONSOLE_PATH}'`);
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length === 0 || !segments.every((s) => PATH_SEGMENT.test(s) && s !== '.' && s !== '..')) {
    throw invalid(
      `path must be a URL path below the root made of letters, digits, '.', '_', '~' and '-' (e.g. '${DEFAULT_CONSOLE_PATH}'), got ${JSON.stringify(path)}`,
    );
  }
  return `/${segments.join('/')}`;
}

/** Throws unless `guard` is a `CanActivate` class or instance (or undefined). */
export function checkConsoleGuard(guard: unknown): void {
  if (guard === undefined) return;
  const canActivate =
    typeof guard === 'function'
      ? (guard as { prototype?: { canActivate?: unknown } }).prototype?.canActivate
      : (guard as { canActivate?: unknown } | null)?.canActivate;
  if (typeof canActivate !== 'function') {
    throw invalid('guard must be a class implementing CanActivate (or an instance of one)');
  }
}

/**
 * Checks the options and completes them. Refuses a console without an auth hook: the error says
 * to set `guard` or `token`. The token is kept only as its digest, so the resolved options can be
 * inspected or logged without revealing it.
 */
export function resolveConsoleOptions(
  options: (ConsoleRuntimeOptions & Pick<MessagingConsoleOptions, 'path' | 'guard'>) | undefined,
): ResolvedConsoleOptions {
  const o = options ?? {};
  if (typeof o !== 'object') throw invalid('options must be an object');
  const path = resolveConsolePath(o.path);
  checkConsoleGuard(o.guard);
  const { token } = o;
  if (token !== undefined && (typeof token !== 'string' || token.trim().length < MIN_CONSOLE_TOKEN_LENGTH)) {
    const got = typeof token === 'string' ? `${token.trim().length} characters` : typeof token;
    throw invalid(`token must be a string of at least ${MIN_CONSOLE_TOKEN_LENGTH} characters (got ${got})`);
  }
  if (o.guard === undefined && token === undefined) {
    throw invalid(
      'MessagingConsoleModule needs an auth hook and is not served without one: set `guard` (a CanActivate ' +
        `class of your app that authenticates operators) or \`token\` (a secret of at least ${MIN_CONSOLE_TOKEN_LENGTH} ` +
        'characters, e.g. from an environment variable), or both',
    );
  }
  for (const name of ['actor', 'onAction'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw invalid(`${name} must be a function`);
  }
  const title = o.title ?? 'Messaging console';
  if (typeof title !== 'string' || title.length === 0 || title.length > 100) {
    throw invalid('title must be a string of 1 to 100 characters');
  }
  return {
    path,
    hasGuard: o.guard !== undefined,
    // trimmed: a token read from a secret file often ends with a newline nobody can type
    ...(token !== undefined ? { tokenDigest: digestToken(token.trim()) } : {}),
    ...(o.actor ? { actor: o.actor } : {}),
    ...(o.onAction ? { onAction: o.onAction } : {}),
    title,
    refreshIntervalMs: integer('refreshIntervalMs', o.refreshIntervalMs, 5_000, 1_000, 3_600_000),
    dryRunSample: integer('dryRunSample', o.dryRunSample, 5, 1, MAX_DRY_RUN_SAMPLE),
  };
}

/** SHA-256 of a token: equal-length values for a constant-time comparison. */
export function digestToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function invalid(message: string): InvalidConfigurationError {
  return new InvalidConfigurationError(`console: ${message}`);
}
