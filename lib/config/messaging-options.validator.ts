import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import { assertKnownKeys } from './known-keys';
import { DEFAULT_RETRY_POLICY, resolveRetryPolicy } from '../consumer/retry.policy';
import type { MessagingModuleOptions, ResolvedMessagingOptions } from './messaging-options.interface';
import { validateOutboxOptions } from '../outbox/outbox-options.validator';
import { resolveMonitoringOptions } from '../monitoring/monitoring-options.validator';
import { resolveRemoteOptions } from '../remote/remote-options';

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const KNOWN_OPTIONS = new Set([
  'serviceName',
  'transport',
  'rabbitmq',
  'inMemory',
  'outbox',
  'retry',
  'concurrency',
  'handlerTimeoutMs',
  'maxMessageBytes',
  'shutdownTimeoutMs',
  'validate',
  'upcasters',
  'onDeadLetter',
  'bridgeCqrsEventBus',
  'monitoring',
  'remote',
]);

function intOption(value: unknown, name: string, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigurationError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Fills defaults and checks every option; throws `InvalidConfigurationError` naming the option
 * and the accepted values. Called once at startup.
 */
export function resolveMessagingOptions(options: MessagingModuleOptions | undefined): ResolvedMessagingOptions {
  if (!options || typeof options !== 'object') {
    throw new InvalidConfigurationError('options are missing: MessagingModule.forRoot({ serviceName: "orders" })');
  }
  assertKnownKeys(options, [...KNOWN_OPTIONS, 'isGlobal'], '');
  if (typeof options.serviceName !== 'string' || !SERVICE_NAME.test(options.serviceName)) {
    throw new InvalidConfigurationError(
      `serviceName must be 1-100 letters, digits, ".", "_" or "-" (starting with a letter or digit), got ${JSON.stringify(options.serviceName)}`,
    );
  }
  const transport = options.transport ?? 'memory';
  if (transport !== 'memory' && transport !== 'rabbitmq') {
    const t = transport as unknown as Record<string, unknown>;
    if (typeof t !== 'object' || typeof t.publish !== 'function' || typeof t.subscribe !== 'function') {
      throw new InvalidConfigurationError(
        `transport must be "memory", "rabbitmq" or a MessageTransport instance, got ${JSON.stringify(transport)}`,
      );
    }
  }
  if (transport === 'rabbitmq' && !options.rabbitmq?.url) {
    throw new InvalidConfigurationError(
      'transport "rabbitmq" needs rabbitmq.url (e.g. amqp://user:password@host:5672), or MESSAGING_AMQP_URL',
    );
  }
  if (options.validate !== undefined && typeof options.validate !== 'boolean') {
    throw new InvalidConfigurationError('validate must be true or false');
  }
  if (options.onDeadLetter !== undefined && typeof options.onDeadLetter !== 'function') {
    throw new InvalidConfigurationError('onDeadLetter must be a function (deadLetter) => void');
  }
  if (options.monitoring !== undefined) resolveMonitoringOptions(options.monitoring); // fail fast on bad values
  if (options.upcasters !== undefined && !Array.isArray(options.upcasters)) {
    throw new InvalidConfigurationError('upcasters must be an array of { type, fromVersion, upcast }');
  }
  const outbox = options.outbox !== undefined ? validateOutboxOptions(options.outbox) : undefined;
  const maxMessageBytes = intOption(options.maxMessageBytes, 'maxMessageBytes', 1024 * 1024, 256, 128 * 1024 * 1024);
  return {
    serviceName: options.serviceName,
    transport,
    rabbitmq: options.rabbitmq,
    inMemory: options.inMemory ?? {},
    outbox: options.outbox,
    retry: resolveRetryPolicy(DEFAULT_RETRY_POLICY, options.retry ?? {}, 'retry'),
    concurrency: intOption(options.concurrency, 'concurrency', 10, 1, 10_000),
    handlerTimeoutMs: intOption(options.handlerTimeoutMs, 'handlerTimeoutMs', 30_000, 1, 24 * 3600_000),
    maxMessageBytes,
    shutdownTimeoutMs: intOption(options.shutdownTimeoutMs, 'shutdownTimeoutMs', 10_000, 0, 3600_000),
    validate: options.validate ?? true,
    upcasters: options.upcasters ?? [],
    onDeadLetter: options.onDeadLetter,
    monitoring: options.monitoring,
    bridgeCqrsEventBus: options.bridgeCqrsEventBus ?? true,
    inboxByDefault: outbox !== undefined && outbox.enabled && outbox.inbox,
    inboxGroupSize: outbox?.groupCommit ?? 1,
    remote: resolveRemoteOptions(options.remote, maxMessageBytes),
  };
}
