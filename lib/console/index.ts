/** The operations console page (issue 16): `MessagingConsoleModule` and its options. */
export { MessagingConsoleModule } from './messaging-console.module';
export { MessagingConsoleService } from './console.service';
export type {
  MessagingConsoleOptions,
  MessagingConsoleAsyncOptions,
  ConsoleRuntimeOptions,
  ConsoleAction,
  ResolvedConsoleOptions,
} from './console-options.interface';
export { resolveConsoleOptions, DEFAULT_CONSOLE_PATH, MIN_CONSOLE_TOKEN_LENGTH } from './console-options.validator';
export { CONSOLE_TOKEN_HEADER, CONSOLE_REQUEST_HEADER } from './console-access.guard';
export { MESSAGING_CONSOLE_OPTIONS, MESSAGING_CONSOLE_OPERATIONS } from './console.tokens';
