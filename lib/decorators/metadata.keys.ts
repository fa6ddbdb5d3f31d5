/**
 * Every metadata key this library defines, in one place. The cqrs-compatible keys are the exact
 * strings `@nestjs/cqrs` uses, so handlers decorated by either package are found by both.
 */
export const CQRS_COMMAND_METADATA = '__command__';
export const CQRS_COMMAND_HANDLER_METADATA = '__commandHandler__';
export const CQRS_QUERY_METADATA = '__query__';
export const CQRS_QUERY_HANDLER_METADATA = '__queryHandler__';
export const CQRS_EVENT_METADATA = '__event__';
export const CQRS_EVENTS_HANDLER_METADATA = '__eventsHandler__';

/** `@Message(type, { version })` on a message class. */
export const MESSAGE_METADATA = 'nestjs-messaging:message';
/** Handler options of `@CommandHandler` / `@QueryHandler` (and string types). */
export const COMMAND_HANDLER_OPTIONS = 'nestjs-messaging:command-handler';
export const QUERY_HANDLER_OPTIONS = 'nestjs-messaging:query-handler';
/** List of `@Subscribe` declarations on a class. */
export const SUBSCRIBE_METADATA = 'nestjs-messaging:subscribe';
/** `@nestjs/cqrs`' `@Saga()` (property keys of a class). */
export const CQRS_SAGA_METADATA = '__saga__';
