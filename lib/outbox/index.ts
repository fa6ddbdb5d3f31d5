export * from './outbox-options.interface';
export { validateOutboxOptions, isValidTableName } from './outbox-options.validator';
export { createMessagingEntities, type MessagingEntitiesOptions } from './outbox.entities';
export {
  createMessagingMigration,
  MessagingTables1764230400000,
  type MessagingMigrationClass,
} from './outbox.migration';
export type { MessagingTableNames, OutboxDatabase } from './outbox.ddl';
export { OutboxFeature, outboxDataSourceToken, type OutboxStats } from './outbox.feature';
export { OutboxRelay } from './outbox.relay';
export { OutboxPublisher } from './outbox.publisher';
export { OutboxRetryScheduler } from './outbox.retry-scheduler';
export { OutboxTransactionRunner } from './outbox-transaction.runner';
export { OutboxRetentionJob, type RetentionResult } from './outbox-retention.job';
export type { OutboxTableStats } from './outbox.store';
