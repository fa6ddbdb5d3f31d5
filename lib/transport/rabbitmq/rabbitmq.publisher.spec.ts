import { EventEmitter } from 'node:events';
import { RabbitMqPublisher } from './rabbitmq.publisher';
import type { RabbitMqConnection } from './rabbitmq.connection';
import type { ResolvedRabbitMqOptions } from './rabbitmq-options.interface';

// The publisher's bookkeeping against a scripted confirm channel: the events a real broker sends are
// covered by the RabbitMQ suites; here, an order of events they cannot force.

type ConfirmCallback = (err: Error | null) => void;

class FakeConfirmChannel extends EventEmitter {
  readonly callbacks: ConfirmCallback[] = [];
  constructor(private readonly confirms: boolean) {
    super();
  }
  publish(_exchange: string, _key: string, _content: Buffer, _props: object, cb: ConfirmCallback): boolean {
    this.callbacks.push(cb);
    if (this.confirms) setImmediate(() => cb(null));
    return true;
  }
  async close(): Promise<void> {
    this.emit('close');
  }
}

class FakeRaw extends EventEmitter {
  readonly created: FakeConfirmChannel[] = [];
  createConfirmChannel(): Promise<FakeConfirmChannel> {
    // the first channel never confirms; the ones after it confirm at once
    const ch = new FakeConfirmChannel(this.created.length > 0);
    this.created.push(ch);
    return Promise.resolve(ch);
  }
}

const quiet = { log: () => undefined, error: () => undefined, warn: () => undefined };

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('RabbitMqPublisher', () => {
  it('publishes again on the next channel what a closing channel left unconfirmed without calling back', async () => {
    const raw = new FakeRaw();
    const connection = {
      get raw() {
        return raw;
      },
      isConnected: () => true,
      onConnect: () => () => undefined,
      scrub: (text: string) => text,
      openTimeoutMs: 500,
    } as unknown as RabbitMqConnection;
    const options = {
      reconnectDelayMs: 20,
      publishConfirmTimeoutMs: 3_000,
      unroutableEvents: 'warn',
    } as unknown as ResolvedRabbitMqOptions;
    const publisher = new RabbitMqPublisher(connection, options, quiet);
    await publisher.start();
    try {
      const started = Date.now();
      const published = publisher.publish({
        exchange: 'events',
        routingKey: 'Flow',
        content: Buffer.from('{}'),
        properties: { messageId: 'm1' },
        targeted: false,
      });
      await until(() => raw.created[0]?.callbacks.length === 1, 1_000);
      // amqplib past an out-of-order confirm: the channel closes and this publish's callback is never called
      raw.created[0].emit('close');
      await expect(published).resolves.toBeUndefined();
      expect(Date.now() - started).toBeLessThan(2_000); // not at the 3 s deadline, as a PublishTimeoutError
      expect(raw.created).toHaveLength(2);
      expect(raw.created[1].callbacks).toHaveLength(1);
    } finally {
      await publisher.stop();
    }
  });
});
