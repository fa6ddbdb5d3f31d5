/** Every DI token this library defines, in one place. */

/** The resolved (validated, defaults filled) module options. */
export const MESSAGING_OPTIONS = Symbol('nestjs-messaging:options');
/** The active `MessageTransport`. */
export const MESSAGING_TRANSPORT = Symbol('nestjs-messaging:transport');
