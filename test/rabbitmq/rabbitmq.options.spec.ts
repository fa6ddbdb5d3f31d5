import { randomBytes } from 'node:crypto';
import { InvalidConfigurationError } from '../../lib/errors/invalid-configuration.error';
import { maskAmqpUrl } from '../../lib/transport/rabbitmq/amqp-url.util';
import { BrokerConnectionError } from '../../lib/transport/rabbitmq/errors/broker-connection.error';
import { RabbitMqTransport } from '../../lib/transport/rabbitmq/rabbitmq.transport';
import { validateRabbitMqOptions } from '../../lib/transport/rabbitmq/rabbitmq-options.validator';
import type { RabbitMqTransportOptions } from '../../lib/transport/rabbitmq/rabbitmq-options.interface';
import { CapturingLogger, makeContext } from './rabbitmq-test.helpers';

const canary = `Canary${randomBytes(6).toString('hex')}`;

function everything(err: unknown, logger: CapturingLogger): string {
  const e = err as Error;
  return [e.message, e.stack, JSON.stringify(e), String(e), ...logger.lines].join('\n');
}

describe('RabbitMQ options and credentials', () => {
  it('rejects a wrong password quickly with a readable error that never contains the password', async () => {
    const logger = new CapturingLogger();
    const transport = new RabbitMqTransport({
      url: `amqp://guest:${canary}@127.0.0.1:5672`,
      logger,
      connectTimeoutMs: 8_000,
    });
    const started = Date.now();
    const error = await transport.connect(makeContext('canary')).catch((e) => e);
    expect(error).toBeInstanceOf(BrokerConnectionError);
    expect(Date.now() - started).toBeLessThan(5_000); // fails fast on ACCESS_REFUSED, no waiting for the timeout
    expect(error.message).toContain('amqp://guest:***@127.0.0.1:5672');
    expect(error.message).toMatch(/ACCESS.REFUSED/);
    expect(everything(error, logger)).not.toContain(canary);
    expect(transport.isConnected()).toBe(false);
  });

  it('does not leak a percent-encoded password either, nor when the broker is unreachable', async () => {
    const logger = new CapturingLogger();
    const secret = `p@ss:${canary}`;
    const url = `amqp://guest:${encodeURIComponent(secret)}@127.0.0.1:5999`;
    const transport = new RabbitMqTransport({ url, logger, connectTimeoutMs: 1_000, reconnectDelayMs: 100 });
    const error = await transport.connect(makeContext('canary')).catch((e) => e);
    expect(error).toBeInstanceOf(BrokerConnectionError);
    expect(error.message).toContain('127.0.0.1:5999');
    expect(error.message).toMatch(/ECONNREFUSED|gave up/);
    const text = everything(error, logger);
    expect(text).not.toContain(canary);
    expect(text).not.toContain(encodeURIComponent(secret));
  });

  it('masks URLs, including unparsable ones', () => {
    expect(maskAmqpUrl(`amqps://u:${canary}@host:5671/vh`)).toBe('amqps://u:***@host:5671/vh');
    expect(maskAmqpUrl(`amqp//u:${canary}@host`)).not.toContain(canary);
    expect(maskAmqpUrl('amqp://host')).toBe('amqp://host');
  });

  const base: RabbitMqTransportOptions = { url: 'amqp://guest:guest@localhost:5672' };
  it.each<[string, Partial<RabbitMqTransportOptions> | Record<string, unknown>, RegExp]>([
    ['missing url', { url: undefined }, /"url" is required/],
    ['http url', { url: `http://u:${canary}@host` }, /"url" must start with amqp:\/\/ or amqps:\/\//],
    ['garbage url', { url: `::${canary}` }, /"url" is not a valid URL/],
    ['queueType', { queueType: 'stream' }, /"queueType" must be one of 'classic', 'quorum'/],
    ['unroutableEvents', { unroutableEvents: 'drop' }, /"unroutableEvents" must be one of 'warn', 'reject'/],
    ['prefetch', { prefetch: 0 }, /"prefetch" must be an integer from 1 to 65535/],
    ['publishConfirmTimeoutMs', { publishConfirmTimeoutMs: 1.5 }, /"publishConfirmTimeoutMs" must be an integer/],
    ['heartbeatSeconds', { heartbeatSeconds: -1 }, /"heartbeatSeconds" must be an integer from 0/],
    ['reconnectDelayMs', { reconnectDelayMs: 'soon' }, /"reconnectDelayMs" must be an integer/],
    ['exchange', { exchange: 'amq.topic' }, /"exchange" must be .* not start with "amq\."/],
    ['queuePrefix', { queuePrefix: 'has space' }, /"queuePrefix" must be 1 to 200 characters/],
    ['socketOptions', { socketOptions: 'tls' }, /"socketOptions" must be an object/],
    ['redeliveryLimit', { redeliveryLimit: 0 }, /"redeliveryLimit" must be an integer from 1 to 1000/],
  ])('names the option and the accepted values: %s', (_name, patch, pattern) => {
    let error: unknown;
    try {
      validateRabbitMqOptions({ ...base, ...patch } as RabbitMqTransportOptions);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidConfigurationError);
    expect((error as Error).message).toMatch(pattern);
    expect((error as Error).message).not.toContain(canary);
  });

  it('accepts a complete valid configuration, and the constructor validates', () => {
    expect(() =>
      validateRabbitMqOptions({
        url: 'amqps://user:pw@broker.example:5671/prod',
        socketOptions: { servername: 'broker.example', rejectUnauthorized: true },
        exchange: 'messaging.events',
        queuePrefix: 'orders',
        prefetch: 50,
        queueType: 'quorum',
        publishConfirmTimeoutMs: 5_000,
        connectTimeoutMs: 5_000,
        heartbeatSeconds: 0,
        reconnectDelayMs: 500,
        unroutableEvents: 'reject',
        deadLetterLockTimeoutMs: 1_000,
        redeliveryLimit: 3,
      }),
    ).not.toThrow();
    expect(() => new RabbitMqTransport({ url: 'redis://x' })).toThrow(InvalidConfigurationError);
  });
});
