import { InvalidConfigurationError } from '../errors/invalid-configuration.error';
import type { MessagingModuleOptions } from './messaging-options.interface';
import { parseEndpointPrefixes } from '../remote/remote-endpoints';

/** Environment variables read by `messagingOptionsFromEnv`, with what each sets. */
export const MESSAGING_ENV_VARIABLES = {
  MESSAGING_SERVICE_NAME: 'serviceName (required)',
  MESSAGING_TRANSPORT: 'transport: memory | rabbitmq (default memory)',
  MESSAGING_AMQP_URL: 'rabbitmq.url, e.g. amqp://user:password@host:5672/vhost',
  MESSAGING_AMQP_EXCHANGE: 'rabbitmq.exchange (default messaging.events)',
  MESSAGING_AMQP_PREFETCH: 'rabbitmq.prefetch',
  MESSAGING_AMQP_QUEUE_TYPE: 'rabbitmq.queueType: classic | quorum',
  MESSAGING_AMQP_QUEUE_PREFIX: 'rabbitmq.queuePrefix (default: the service name)',
  MESSAGING_AMQP_PUBLISH_CONFIRM_TIMEOUT_MS: 'rabbitmq.publishConfirmTimeoutMs (default 10000)',
  MESSAGING_AMQP_STARTUP_TIMEOUT_MS: 'rabbitmq.startupTimeoutMs (default 60000)',
  MESSAGING_RETRY_MAX: 'retry.maxRetries (default 3)',
  MESSAGING_RETRY_INITIAL_DELAY_MS: 'retry.initialDelayMs (default 1000)',
  MESSAGING_RETRY_MULTIPLIER: 'retry.multiplier (default 2)',
  MESSAGING_RETRY_MAX_DELAY_MS: 'retry.maxDelayMs (default 60000)',
  MESSAGING_CONCURRENCY: 'concurrency (default 10)',
  MESSAGING_HANDLER_TIMEOUT_MS: 'handlerTimeoutMs (default 30000)',
  MESSAGING_SHUTDOWN_TIMEOUT_MS: 'shutdownTimeoutMs (default 10000)',
  MESSAGING_OUTBOX: 'outbox.enabled: true | false (default false)',
  MESSAGING_OUTBOX_POLL_INTERVAL_MS: 'outbox.pollIntervalMs',
  MESSAGING_OUTBOX_TABLE: 'outbox.outboxTable (default messaging_outbox)',
  MESSAGING_OUTBOX_REQUIRE_TRANSACTION: 'outbox.requireTransaction: true | false (default false)',
  MESSAGING_REMOTE_ENDPOINTS:
    'remote.endpoints: <endpoint>=<queue prefix> pairs separated by commas, e.g. shipping=staging-shipping,billing=staging-billing',
} as const;

type Env = Record<string, string | undefined>;

function num(env: Env, name: keyof typeof MESSAGING_ENV_VARIABLES): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new InvalidConfigurationError(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

function bool(env: Env, name: keyof typeof MESSAGING_ENV_VARIABLES): boolean | undefined {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new InvalidConfigurationError(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

function defined<T extends object>(o: T): T | undefined {
  const entries = Object.entries(o).filter(([, v]) => v !== undefined);
  return entries.length ? (Object.fromEntries(entries) as T) : undefined;
}

/**
 * Builds module options from environment variables (see `MESSAGING_ENV_VARIABLES`), merged
 * under `overrides`: an option in `overrides` wins; the nested `rabbitmq`, `retry`, `outbox` and
 * `remote` objects merge key by key, so `{ outbox: { enabled: true } }` keeps `MESSAGING_OUTBOX_TABLE`,
 * `{ rabbitmq: { prefetch: 50 } }` keeps `MESSAGING_AMQP_URL` and `{ remote: { routes } }` keeps
 * `MESSAGING_REMOTE_ENDPOINTS`. Do not spread the result under your
 * own nested objects instead: `{ ...fromEnv, outbox: {...} }` replaces the outbox settings read
 * from the environment. Values are checked when the module starts.
 *
 * @example
 * ```ts
 * MessagingModule.forRootAsync({
 *   useFactory: () => messagingOptionsFromEnv(process.env, { outbox: { enabled: true } }),
 * })
 * ```
 */
export function messagingOptionsFromEnv(
  env: Env = process.env,
  overrides: Partial<MessagingModuleOptions> = {},
): MessagingModuleOptions {
  const transport = env.MESSAGING_TRANSPORT || undefined;
  if (transport !== undefined && transport !== 'memory' && transport !== 'rabbitmq') {
    throw new InvalidConfigurationError(
      `MESSAGING_TRANSPORT must be "memory" or "rabbitmq", got ${JSON.stringify(transport)}`,
    );
  }
  const queueType = env.MESSAGING_AMQP_QUEUE_TYPE || undefined;
  if (queueType !== undefined && queueType !== 'classic' && queueType !== 'quorum') {
    throw new InvalidConfigurationError(
      `MESSAGING_AMQP_QUEUE_TYPE must be "classic" or "quorum", got ${JSON.stringify(queueType)}`,
    );
  }
  const serviceName = overrides.serviceName ?? env.MESSAGING_SERVICE_NAME;
  if (!serviceName) {
    throw new InvalidConfigurationError(
      'MESSAGING_SERVICE_NAME is not set: name this service, e.g. MESSAGING_SERVICE_NAME=orders',
    );
  }
  const outboxEnabled = bool(env, 'MESSAGING_OUTBOX');
  // the outbox's settings from the environment apply whether the outbox is switched on there or
  // by `overrides.outbox` (they alone never switch it on)
  const outboxSettings = defined({
    pollIntervalMs: num(env, 'MESSAGING_OUTBOX_POLL_INTERVAL_MS'),
    outboxTable: env.MESSAGING_OUTBOX_TABLE || undefined,
    requireTransaction: bool(env, 'MESSAGING_OUTBOX_REQUIRE_TRANSACTION'),
  });
  const endpoints = env.MESSAGING_REMOTE_ENDPOINTS
    ? parseEndpointPrefixes(env.MESSAGING_REMOTE_ENDPOINTS, 'MESSAGING_REMOTE_ENDPOINTS')
    : undefined;
  const fromEnv: MessagingModuleOptions = {
    serviceName,
    transport: transport as 'memory' | 'rabbitmq' | undefined,
    rabbitmq: defined({
      url: env.MESSAGING_AMQP_URL || undefined,
      exchange: env.MESSAGING_AMQP_EXCHANGE || undefined,
      prefetch: num(env, 'MESSAGING_AMQP_PREFETCH'),
      queueType: queueType as 'classic' | 'quorum' | undefined,
      queuePrefix: env.MESSAGING_AMQP_QUEUE_PREFIX || undefined,
      publishConfirmTimeoutMs: num(env, 'MESSAGING_AMQP_PUBLISH_CONFIRM_TIMEOUT_MS'),
      startupTimeoutMs: num(env, 'MESSAGING_AMQP_STARTUP_TIMEOUT_MS'),
    }) as MessagingModuleOptions['rabbitmq'],
    retry: defined({
      maxRetries: num(env, 'MESSAGING_RETRY_MAX'),
      initialDelayMs: num(env, 'MESSAGING_RETRY_INITIAL_DELAY_MS'),
      multiplier: num(env, 'MESSAGING_RETRY_MULTIPLIER'),
      maxDelayMs: num(env, 'MESSAGING_RETRY_MAX_DELAY_MS'),
    }),
    concurrency: num(env, 'MESSAGING_CONCURRENCY'),
    handlerTimeoutMs: num(env, 'MESSAGING_HANDLER_TIMEOUT_MS'),
    shutdownTimeoutMs: num(env, 'MESSAGING_SHUTDOWN_TIMEOUT_MS'),
    outbox: outboxEnabled ? ({ enabled: true, ...outboxSettings } as MessagingModuleOptions['outbox']) : undefined,
    remote: endpoints ? { endpoints } : undefined,
  };
  // nested objects merge key by key: overrides.rabbitmq = { prefetch } keeps the URL from the environment
  const merged = { ...fromEnv, ...overrides } as MessagingModuleOptions;
  for (const key of ['rabbitmq', 'retry', 'outbox', 'remote'] as const) {
    const base = key === 'outbox' ? { ...outboxSettings, ...fromEnv.outbox } : fromEnv[key];
    if (base && overrides[key]) {
      (merged as unknown as Record<string, unknown>)[key] = { ...base, ...defined(overrides[key] as object) };
    }
  }
  for (const key of Object.keys(merged) as Array<keyof MessagingModuleOptions>) {
    if (merged[key] === undefined) delete merged[key];
  }
  return merged;
}
