import { assertKnownKeys } from '../../config/known-keys';
import { InvalidConfigurationError } from '../../errors/invalid-configuration.error';
import { maskAmqpUrl } from './amqp-url.util';
import {
  RABBITMQ_DEFAULTS,
  type RabbitMqTransportOptions,
  type ResolvedRabbitMqOptions,
} from './rabbitmq-options.interface';

const NAME = /^[A-Za-z0-9_.:-]{1,200}$/;

function integer(options: object, name: string, min: number, max: number): void {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigurationError(
      `rabbitmq option "${name}" must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`,
    );
  }
}

function oneOf(options: object, name: string, accepted: readonly string[]): void {
  const value = (options as Record<string, unknown>)[name];
  if (value !== undefined && !accepted.includes(value as string)) {
    throw new InvalidConfigurationError(
      `rabbitmq option "${name}" must be one of ${accepted.map((a) => `'${a}'`).join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
}

function name(options: object, option: string): void {
  const value = (options as Record<string, unknown>)[option];
  if (value !== undefined && (typeof value !== 'string' || !NAME.test(value) || value.startsWith('amq.'))) {
    throw new InvalidConfigurationError(
      `rabbitmq option "${option}" must be 1 to 200 characters among letters, digits, "_", ".", ":", "-" ` +
        `and must not start with "amq." (got ${JSON.stringify(value)})`,
    );
  }
}

/** Every key of `RabbitMqTransportOptions`. */
const RABBITMQ_OPTION_KEYS = [
  'url',
  'socketOptions',
  'exchange',
  'queuePrefix',
  'prefetch',
  'queueType',
  'publishConfirmTimeoutMs',
  'connectTimeoutMs',
  'startupTimeoutMs',
  'heartbeatSeconds',
  'reconnectDelayMs',
  'unroutableEvents',
  'deadLetterLockTimeoutMs',
  'redeliveryLimit',
  'connectionName',
  'logger',
];

/**
 * Checks RabbitMQ transport options; throws `InvalidConfigurationError` naming the option and the
 * accepted values. The URL's password never appears in the message.
 */
export function validateRabbitMqOptions(options: RabbitMqTransportOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidConfigurationError('rabbitmq options must be an object with at least "url"');
  }
  assertKnownKeys(options, RABBITMQ_OPTION_KEYS, 'rabbitmq');
  const url: unknown = options.url;
  if (typeof url !== 'string' || url.length === 0) {
    throw new InvalidConfigurationError(
      'rabbitmq option "url" is required: an amqp:// or amqps:// URL, e.g. amqp://user:password@localhost:5672 (env MESSAGING_AMQP_URL)',
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidConfigurationError(
      'rabbitmq option "url" is not a valid URL (value not shown, it may hold a password); expected amqp://user:password@host:5672/vhost',
    );
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new InvalidConfigurationError(
      `rabbitmq option "url" must start with amqp:// or amqps:// (got ${JSON.stringify(parsed.protocol)} in ${maskAmqpUrl(url)})`,
    );
  }
  if (
    options.socketOptions !== undefined &&
    (options.socketOptions === null || typeof options.socketOptions !== 'object')
  ) {
    throw new InvalidConfigurationError('rabbitmq option "socketOptions" must be an object of net/tls socket options');
  }
  name(options, 'exchange');
  name(options, 'queuePrefix');
  oneOf(options, 'queueType', ['classic', 'quorum']);
  oneOf(options, 'unroutableEvents', ['warn', 'reject']);
  integer(options, 'prefetch', 1, 65_535);
  integer(options, 'publishConfirmTimeoutMs', 100, 3_600_000);
  integer(options, 'connectTimeoutMs', 100, 3_600_000);
  integer(options, 'startupTimeoutMs', 100, 3_600_000);
  integer(options, 'heartbeatSeconds', 0, 3_600);
  integer(options, 'reconnectDelayMs', 10, 3_600_000);
  integer(options, 'deadLetterLockTimeoutMs', 0, 3_600_000);
  integer(options, 'redeliveryLimit', 1, 1_000);
  if (
    options.connectionName !== undefined &&
    (typeof options.connectionName !== 'string' || options.connectionName.length > 200)
  ) {
    throw new InvalidConfigurationError('rabbitmq option "connectionName" must be a string of at most 200 characters');
  }
}

/** Validates and applies the defaults. */
export function resolveRabbitMqOptions(options: RabbitMqTransportOptions): ResolvedRabbitMqOptions {
  validateRabbitMqOptions(options);
  return {
    ...RABBITMQ_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    socketOptions: options.socketOptions ?? {},
  } as ResolvedRabbitMqOptions;
}
