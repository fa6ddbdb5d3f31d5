/** The resolved console options (`ResolvedConsoleOptions`). */
export const MESSAGING_CONSOLE_OPTIONS = Symbol('MESSAGING_CONSOLE_OPTIONS');
/** The `MessagingOperations` the console calls (the back end's provider). */
export const MESSAGING_CONSOLE_OPERATIONS = Symbol('MESSAGING_CONSOLE_OPERATIONS');
