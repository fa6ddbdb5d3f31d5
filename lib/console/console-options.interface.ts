import type { CanActivate, FactoryProvider, ModuleMetadata, Type } from '@nestjs/common';

/** An operator action on the console, as logged and as passed to `onAction`. */
export interface ConsoleAction {
  /** What was done. */
  action: 'retry-group' | 'retry-one' | 'purge-group' | 'dry-run-group' | 'dry-run-one';
  /** The failure group id or the dead-letter id acted on. */
  target: string;
  /** Who did it: the guard's `request.user` (see `actor`), or `token` when the console token authenticated. */
  actor: string;
  /** `done` with how many dead letters, or `failed` with the error message. */
  outcome: 'done' | 'failed';
  /** How many dead letters were retried, purged or dry-run (when done). */
  count?: number;
  /** The error message (when failed). */
  error?: string;
  /** When (ISO). */
  at: string;
}

/**
 * Options of `MessagingConsoleModule.forRoot()`. The console is off unless the module is imported,
 * and it needs an auth hook: a `guard`, a `token`, or both (both must then pass).
 */
export interface MessagingConsoleOptions {
  /** Where the page is mounted; its JSON API is under `<path>/api`. Default `/messaging`. */
  path?: string;
  /**
   * A guard of your app that authenticates the operator (a `CanActivate` class, resolved by Nest
   * in the console's module: put what it injects in `imports` or in a global module, or pass an
   * instance). It runs on the page and on every API call; its `request.user` names the actor.
   * It must check the operator itself: the console's routes carry no metadata of yours, so a guard
   * that lets routes without, say, `@Roles(...)` through would let everyone in.
   */
  guard?: Type<CanActivate> | CanActivate;
  /**
   * A shared secret (at least 16 characters, e.g. from your config): the page asks for it once per
   * tab and sends it in the `X-Messaging-Console-Token` header. Compared in constant time, never
   * logged. Actions taken with it are logged with the actor `token`.
   */
  token?: string;
  /** Modules the guard's dependencies come from. */
  imports?: ModuleMetadata['imports'];
  /**
   * Names the operator from the request (after the guard ran). Default: `request.user` when a
   * string, else its `username`, `name`, `email`, `id` or `sub`; `token` when the token
   * authenticated; `anonymous` otherwise.
   */
  actor?: (request: unknown) => string | undefined;
  /** Called after each operator action (retry, purge, dry run), e.g. to keep an audit trail. */
  onAction?: (action: ConsoleAction) => void;
  /** The page's title. Default: `Messaging console`. */
  title?: string;
  /** How often the page refreshes, ms (the operator can pause it). Default 5000; at least 1000. */
  refreshIntervalMs?: number;
  /** How many dead letters of a group a dry run tries. Default 5. */
  dryRunSample?: number;
}

/**
 * Options of `MessagingConsoleModule.forRootAsync()`: `path`, `guard` and `imports` are needed
 * when the routes are declared, the rest may come from a factory (e.g. the token from config).
 */
export interface MessagingConsoleAsyncOptions extends Pick<MessagingConsoleOptions, 'path' | 'guard' | 'imports'> {
  /** Providers to inject into `useFactory`. */
  inject?: FactoryProvider['inject'];
  /** Returns the remaining options (`token`, `actor`, `onAction`, `title`, …). */
  useFactory: (...args: never[]) => ConsoleRuntimeOptions | Promise<ConsoleRuntimeOptions>;
}

/** The options `forRootAsync`'s factory returns. */
export type ConsoleRuntimeOptions = Omit<MessagingConsoleOptions, 'path' | 'guard' | 'imports'>;

/** The console options, checked and completed; the token is kept only as its SHA-256 digest. */
export interface ResolvedConsoleOptions {
  /** The mount path, normalized (`/ops/messaging`). */
  path: string;
  /** Whether the app's guard protects the console. */
  hasGuard: boolean;
  /** SHA-256 of the token, when a token protects the console. */
  tokenDigest?: Buffer;
  /** See `MessagingConsoleOptions.actor`. */
  actor?: (request: unknown) => string | undefined;
  /** See `MessagingConsoleOptions.onAction`. */
  onAction?: (action: ConsoleAction) => void;
  /** The page's title. */
  title: string;
  /** The page's refresh interval, ms. */
  refreshIntervalMs: number;
  /** Dead letters a group dry run tries. */
  dryRunSample: number;
}
