import { assertKnownKeys } from '../config/known-keys';
import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import {
  DEFAULT_INBOX_TABLE,
  DEFAULT_OUTBOX_TABLE,
  type OutboxBackoffOptions,
  type OutboxOptions,
  type OutboxRetentionOptions,
  type ResolvedOutboxOptions,
} from './outbox-options.interface';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const HOUR = 3_600_000;

/** Whether `name` is `table` or `schema.table`, each part a plain SQL identifier (letters, digits, `_`; max 63). */
export function isValidTableName(name: unknown): name is string {
  if (typeof name !== 'string') return false;
  const parts = name.split('.');
  return parts.length <= 2 && parts.every((p) => IDENTIFIER.test(p));
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigurationError(
      `outbox.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidConfigurationError(`outbox.${name} must be true or false, got ${JSON.stringify(value)}`);
  }
  return value;
}

function table(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (!isValidTableName(value)) {
    throw new InvalidConfigurationError(
      `outbox.${name} must be a table name (letters, digits and "_", not starting with a digit, at most 63 ` +
        `characters, optionally "schema.table"), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function backoffOf(value: OutboxBackoffOptions | undefined): Required<OutboxBackoffOptions> {
  const b = value ?? {};
  if (typeof b !== 'object') throw new InvalidConfigurationError('outbox.backoff must be an object');
  const jitter = b.jitter ?? 0.2;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw new InvalidConfigurationError(
      `outbox.backoff.jitter must be a number from 0 to 1, got ${JSON.stringify(jitter)}`,
    );
  }
  const multiplier = b.multiplier ?? 2;
  if (typeof multiplier !== 'number' || !(multiplier >= 1 && multiplier <= 100)) {
    throw new InvalidConfigurationError(
      `outbox.backoff.multiplier must be a number from 1 to 100, got ${JSON.stringify(multiplier)}`,
    );
  }
  const initialDelayMs = integer('backoff.initialDelayMs', b.initialDelayMs, 1000, 1, 86_400_000);
  const maxDelayMs = integer('backoff.maxDelayMs', b.maxDelayMs, 300_000, 1, 7 * 86_400_000);
  if (maxDelayMs < initialDelayMs) {
    throw new InvalidConfigurationError(
      'outbox.backoff.maxDelayMs must not be smaller than outbox.backoff.initialDelayMs',
    );
  }
  return { initialDelayMs, multiplier, maxDelayMs, jitter };
}

function retentionOf(value: OutboxRetentionOptions | undefined): Required<OutboxRetentionOptions> {
  const r = value ?? {};
  if (typeof r !== 'object') throw new InvalidConfigurationError('outbox.retention must be an object');
  const sentMs = integer('retention.sentMs', r.sentMs, 86_400_000, 0, 3650 * 86_400_000);
  const inboxMs = integer('retention.inboxMs', r.inboxMs, 7 * 86_400_000, HOUR, 3650 * 86_400_000);
  return {
    enabled: bool('retention.enabled', r.enabled, true),
    sentMs,
    inboxMs,
    intervalMs: integer('retention.intervalMs', r.intervalMs, 60_000, 100, 86_400_000),
    batchSize: integer('retention.batchSize', r.batchSize, 1000, 1, 100_000),
  };
}

/**
 * Checks the options and applies the defaults. Throws `InvalidConfigurationError` naming the
 * option and what it accepts.
 */
export function validateOutboxOptions(options: OutboxOptions = {}): ResolvedOutboxOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidConfigurationError('outbox must be an options object');
  }
  assertKnownKeys(
    options,
    [
      'enabled',
      'dataSource',
      'outboxTable',
      'inboxTable',
      'relay',
      'pollIntervalMs',
      'batchSize',
      'relayConcurrency',
      'maxAttempts',
      'backoff',
      'listenNotify',
      'preparedStatements',
      'inbox',
      'groupCommit',
      'requireTransaction',
      'transactionalCommands',
      'retention',
      'deadLetterTable',
    ],
    'outbox',
  );
  if (options.backoff)
    assertKnownKeys(options.backoff, ['initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter'], 'outbox.backoff');
  if (options.retention)
    assertKnownKeys(options.retention, ['enabled', 'sentMs', 'inboxMs', 'intervalMs', 'batchSize'], 'outbox.retention');
  const ds = options.dataSource;
  if (ds !== undefined && !(typeof ds === 'string' && ds.length > 0) && (ds === null || typeof ds !== 'object')) {
    throw new InvalidConfigurationError('outbox.dataSource must be a TypeORM DataSource or the name of one');
  }
  const outboxTable = table('outboxTable', options.outboxTable, DEFAULT_OUTBOX_TABLE);
  const inboxTable = table('inboxTable', options.inboxTable, DEFAULT_INBOX_TABLE);
  if (outboxTable === inboxTable) {
    throw new InvalidConfigurationError('outbox.outboxTable and outbox.inboxTable must differ');
  }
  const deadLetterTable =
    options.deadLetterTable === undefined || options.deadLetterTable === false
      ? undefined
      : table('deadLetterTable', options.deadLetterTable, '');
  if (deadLetterTable !== undefined && (deadLetterTable === outboxTable || deadLetterTable === inboxTable)) {
    throw new InvalidConfigurationError('outbox.deadLetterTable must differ from the outbox and inbox tables');
  }
  return {
    enabled: bool('enabled', options.enabled, true),
    dataSource: ds,
    outboxTable,
    inboxTable,
    relay: bool('relay', options.relay, true),
    pollIntervalMs: integer('pollIntervalMs', options.pollIntervalMs, 1000, 5, 3_600_000),
    batchSize: integer('batchSize', options.batchSize, 100, 1, 5000),
    relayConcurrency: integer('relayConcurrency', options.relayConcurrency, 2, 1, 16),
    maxAttempts: integer('maxAttempts', options.maxAttempts, 10, 1, 1000),
    backoff: backoffOf(options.backoff),
    listenNotify: bool('listenNotify', options.listenNotify, true),
    preparedStatements: bool('preparedStatements', options.preparedStatements, true),
    inbox: bool('inbox', options.inbox, true),
    groupCommit: integer('groupCommit', options.groupCommit, 10, 1, 1000),
    requireTransaction: bool('requireTransaction', options.requireTransaction, false),
    transactionalCommands: bool('transactionalCommands', options.transactionalCommands, false),
    retention: retentionOf(options.retention),
    ...(deadLetterTable !== undefined ? { deadLetterTable } : {}),
  };
}

/** Delay before the next publish attempt of a row that failed `attempts` times. */
export function backoffDelayMs(backoff: Required<OutboxBackoffOptions>, attempts: number): number {
  const base = Math.min(
    backoff.maxDelayMs,
    backoff.initialDelayMs * Math.pow(backoff.multiplier, Math.max(0, attempts - 1)),
  );
  return Math.round(base * (1 + backoff.jitter * Math.random()));
}

/** Quotes a validated (`schema.`)table name for SQL. */
export function quoteTable(name: string): string {
  if (!isValidTableName(name)) throw new InvalidConfigurationError(`invalid table name ${JSON.stringify(name)}`);
  return name
    .split('.')
    .map((p) => `"${p}"`)
    .join('.');
}
