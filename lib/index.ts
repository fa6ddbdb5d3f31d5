/**
 * nestjs-messaging — the public API. Everything an application imports comes from here.
 */
export { MessagingModule } from './messaging.module';
export { MESSAGING_OPTIONS, MESSAGING_TRANSPORT } from './messaging.tokens';
export type { MessagingModuleOptions, ResolvedMessagingOptions } from './config/messaging-options.interface';
export { resolveMessagingOptions } from './config/messaging-options.validator';
export { messagingOptionsFromEnv, MESSAGING_ENV_VARIABLES } from './config/messaging-options.env';

export { CommandBus } from './buses/command.bus';
export { QueryBus } from './buses/query.bus';
export { EventBus, type EventMessage, type PublishOptions } from './buses/event.bus';
export type { EventPublisher, PublishContext } from './buses/event-publisher.interface';
export type { TransactionRunner } from './buses/transaction-runner.interface';
export { MessagingTransactions } from './buses/messaging-transactions.service';

export {
  CommandHandler,
  type ICommandHandler,
  type IRequestHandler,
  type RequestHandlerOptions,
} from './decorators/command-handler.decorator';
export { QueryHandler, type IQueryHandler } from './decorators/query-handler.decorator';
export { EventsHandler, type IEventHandler } from './decorators/events-handler.decorator';
export { Subscribe, type SubscribeOptions } from './decorators/subscribe.decorator';
export {
  Message,
  getMessageInfo,
  type MessageOptions,
  type MessageInfo,
  type MessageClass,
  type UpcastFunction,
} from './message/message-type';

export { Command, Query, type ResultOf } from './message/command-query';
export type { RemoteOptions } from './remote/remote-options';
export { RemoteMessaging, type RemoteQueryStats } from './remote/remote-messaging';
export type { CommandOptions, QueryOptions } from './remote/call-options';
export {
  COMMANDS_SUBSCRIBER,
  QUERIES_QUEUE,
  REPLY_TYPE,
  REPLY_STATUS,
  type RequestReplyTransport,
  type OutgoingRequest,
  type ReplySink,
  type RequestAnswerer,
} from './remote/request-reply.interface';
export { MessagingExceptionFilter, type InvalidMessageResponse } from './errors/messaging-exception.filter';
export { MessagingTestingModule, type MessagingTestingOptions } from './testing/messaging-testing.module';
export {
  MessagingTestHarness,
  RecordingTransport,
  type MessageSelector,
  type RecordedDelivery,
  type RecordedMessage,
} from './testing/messaging-test.harness';
export type { MessageEnvelope } from './message/envelope';
export type { SendOptions } from './message/envelope.factory';
export { encodeEnvelope, decodeEnvelope, CLOUDEVENTS_CONTENT_TYPE } from './message/cloudevents.codec';
export { uuidv7, uuidv7Time } from './message/uuid-v7';
export type { UpcasterDefinition } from './message/upcaster.registry';

export { MessageContext } from './context/message-context.service';
export type {
  MessagingEntityManager,
  MessagingRepository,
  MessagingEntityTarget,
  MessagingDeepPartial,
  MessagingWhere,
  MessagingFindOptions,
  MessagingSaveOptions,
  MessagingInsertResult,
  MessagingWriteResult,
  MessagingCriteria,
} from './context/messaging-entity-manager.interface';
export {
  currentMessageContext,
  runInMessageContext,
  type MessageContextState,
  type MessageKind,
} from './context/message-context';
export { CorrelationIdMiddleware, CORRELATION_ID_HEADER } from './context/correlation.middleware';

export type { RetryPolicyOptions } from './consumer/retry.policy';
export type { SubscriberUnitOfWork, RetryScheduler } from './consumer/unit-of-work.interface';

export { DeadLetterService } from './dead-letter/dead-letter.service';
export type { DeadLetter, DeadLetterFilter, DeadLetterStore } from './dead-letter/dead-letter.interface';

export type {
  MessageTransport,
  OutboundMessage,
  InboundMessage,
  DeliveryOutcome,
  DeliveryHandler,
  ErrorInfo,
  SubscriberDescriptor,
  QueueStats,
  TransportCapabilities,
  TransportContext,
} from './transport/transport.interface';
export { InMemoryTransport } from './transport/in-memory/in-memory.transport';
export { InMemoryBroker } from './transport/in-memory/in-memory.broker';
export * from './transport/rabbitmq';

export { createMessagingEntities } from './outbox/messaging-entities';
export type { MessagingEntitiesOptions } from './outbox/outbox.entities';
export { createMessagingMigration, type MessagingMigrationClass } from './outbox/outbox.migration';
export {
  DEFAULT_OUTBOX_TABLE,
  DEFAULT_INBOX_TABLE,
  type OutboxOptions,
  type OutboxBackoffOptions,
  type OutboxRetentionOptions,
} from './outbox/outbox-options.interface';
export { OutboxIntegration, type OutboxStatsSnapshot } from './outbox/outbox-integration';
export type { OutboxFeature, OutboxStats } from './outbox/outbox.feature';
export { validateOutboxOptions } from './outbox/outbox-options.validator';
export type { MessagingTableNames, OutboxDatabase } from './outbox/outbox.ddl';

export {
  SubscriberStats,
  type SubscriberStatsSnapshot,
  type ConsumerObserver,
  type SubscriberObserver,
} from './monitoring/subscriber-stats';
export * from './monitoring';
export {
  normalizeErrorMessage,
  topApplicationFrame,
  failureKeyOf,
  failureGroupId,
  type FailureKey,
} from './monitoring/dead-letters/failure-key';
export { groupFailures } from './monitoring/dead-letters/failure-groups';
/** Failure groups, dry runs, journeys (issue 16); its helpers (`FailureGroupAdmin`, `DryRunner`, …) stay internal. */
export { MessagingOperationsService } from './operations/messaging-operations.service';
export type {
  MessagingOperations,
  FailureGroup,
  FailureGroupScan,
  DryRunResult,
  Journey,
  JourneyMessage,
} from './console/console-api.interface';
export type {
  DeadLetterRecord,
  DeadLetterRecordQuery,
  DeadLetterRecordStatus,
  DeadLetterRecords,
} from './dead-letter/dead-letter-records';
export { createDeadLetterMigration } from './outbox/dead-letter.migration';
export { createDeadLetterEntities } from './outbox/messaging-entities';
export { DEFAULT_DEAD_LETTER_TABLE } from './outbox/dead-letter.ddl';
export * from './tracing';

export * from './errors';

/** The operations console page (MessagingConsoleModule). */
export * from './console';
