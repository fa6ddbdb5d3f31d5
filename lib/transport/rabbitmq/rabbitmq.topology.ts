import type { Channel, Options } from 'amqplib';
import type { SubscriberDescriptor } from '../transport.interface';
import { TopologyMismatchError } from './errors/topology-mismatch.error';
import { closeChannel } from './amqp-settle.util';
import type { RabbitMqConnection } from './rabbitmq.connection';
import { RABBITMQ_HEADERS, type RabbitMqNaming } from './rabbitmq.naming';
import type { RabbitMqQueueType } from './rabbitmq-options.interface';

const PRECONDITION_FAILED = 406;

/** Extracts the broker's explanation from an amqplib channel error. */
function brokerReason(err: Error): string {
  const match = /PRECONDITION_FAILED - (.*?)"?$/.exec(err.message);
  return match ? match[1] : err.message;
}

/** Rounds a delay up to two significant digits, to bound the number of on-demand delay levels. */
export function roundDelayLevel(delayMs: number): number {
  if (delayMs <= 100) return Math.ceil(delayMs);
  const magnitude = 10 ** (Math.floor(Math.log10(delayMs)) - 1);
  return Math.ceil(delayMs / magnitude) * magnitude;
}

/**
 * Declares the service's topology, idempotently, and never deletes anything:
 * - the events topic exchange (shared by all services);
 * - `<prefix>.<subscriber>`: one durable queue per subscriber, bound to each of its types;
 * - `<prefix>.retry`: a headers exchange routing a retry by its `messaging-delay-ms` header to
 *   `<prefix>.retry.<ms>ms`, one queue per delay level with a queue-level `x-message-ttl` (never a
 *   per-message TTL, which would block the head of the queue) dead-lettering to the default exchange,
 *   which routes it by its original routing key — the failed subscriber's queue — back to that
 *   one subscriber;
 * - `<prefix>.dead-letter`: the service's dead-letter queue, and `<prefix>.dead-letter.lock`, an
 *   always-empty classic queue whose exclusive consumer serialises dead-letter operations.
 * A resource that exists with other arguments gives a {@link TopologyMismatchError}.
 */
export class RabbitMqTopology {
  private readonly levels = new Map<number, Promise<void>>();

  constructor(
    private readonly connection: RabbitMqConnection,
    private readonly naming: RabbitMqNaming,
    private readonly queueType: RabbitMqQueueType,
  ) {}

  /** Arguments of a subscriber or dead-letter queue. */
  queueOptions(): Options.AssertQueue {
    return this.queueType === 'quorum' ? { durable: true, arguments: { 'x-queue-type': 'quorum' } } : { durable: true };
  }

  /** Arguments of one delay level's queue. */
  delayQueueOptions(delayMs: number): Options.AssertQueue {
    const args: Record<string, unknown> = {
      'x-message-ttl': delayMs,
      'x-dead-letter-exchange': '',
    };
    if (this.queueType === 'quorum') {
      Object.assign(args, {
        'x-queue-type': 'quorum',
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      });
    }
    return { durable: true, arguments: args };
  }

  /** Declares the exchanges and the dead-letter queue. */
  async declareService(): Promise<void> {
    await this.withChannel('declare topology', async (ch) => {
      await this.assertExchange(ch, this.naming.eventsExchange, 'topic');
      await this.assertExchange(ch, this.naming.retryExchange, 'headers');
      await this.assertQueue(ch, this.naming.deadLetterQueue, this.queueOptions());
      await this.assertQueue(ch, this.naming.deadLetterLock, { durable: true });
    });
  }

  /**
   * Declares a subscriber's queue, its bindings and the delay levels its policy may ask for.
   * On `channel` when given (consumer setup), else on a short-lived channel.
   */
  async declareSubscriber(descriptor: SubscriberDescriptor, channel?: Channel): Promise<string> {
    const queue = this.naming.subscriberQueue(descriptor.name);
    const run = async (ch: Channel): Promise<void> => {
      await this.assertExchange(ch, this.naming.eventsExchange, 'topic');
      await this.assertQueue(ch, queue, this.queueOptions());
      for (const type of new Set(descriptor.types)) await ch.bindQueue(queue, this.naming.eventsExchange, type);
    };
    if (channel) await run(channel);
    else await this.withChannel(`declare ${queue}`, run);
    for (const delay of new Set(descriptor.retryDelaysMs)) {
      if (delay > 0) await this.ensureDelayLevel(roundDelayLevel(delay));
    }
    return queue;
  }

  /**
   * The delay level a requested delay maps to: the smallest declared level ≥ it; a new level
   * (rounded up to two significant digits) is declared on demand when none is large enough.
   * `0` means "no delay" (straight back to the subscriber's queue).
   */
  async levelFor(delayMs: number): Promise<number> {
    if (!(delayMs > 0)) return 0;
    let best: number | undefined;
    for (const level of this.levels.keys()) if (level >= delayMs && (best === undefined || level < best)) best = level;
    const level = best ?? roundDelayLevel(delayMs);
    await this.ensureDelayLevel(level);
    return level;
  }

  /** Declares one delay level (once per process, again after {@link forgetDelayLevel}). */
  ensureDelayLevel(delayMs: number): Promise<void> {
    let declared = this.levels.get(delayMs);
    if (!declared) {
      declared = this.withChannel(`declare delay level ${delayMs}ms`, async (ch) => {
        const queue = this.naming.delayQueue(delayMs);
        await this.assertQueue(ch, queue, this.delayQueueOptions(delayMs));
        await ch.bindQueue(queue, this.naming.retryExchange, '', {
          'x-match': 'all',
          [RABBITMQ_HEADERS.delay]: String(delayMs),
        });
      });
      this.levels.set(delayMs, declared);
      declared.catch(() => this.levels.delete(delayMs));
    }
    return declared;
  }

  /** Forgets a level so the next use declares it again (e.g. after its queue was found missing). */
  forgetDelayLevel(delayMs: number): void {
    this.levels.delete(delayMs);
  }

  /** The delay levels declared so far. */
  declaredLevels(): number[] {
    return [...this.levels.keys()].sort((a, b) => a - b);
  }

  private async withChannel<T>(operation: string, fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await this.connection.openChannel(operation);
    try {
      return await fn(ch);
    } finally {
      await closeChannel(ch);
    }
  }

  private async assertExchange(ch: Channel, name: string, type: 'topic' | 'headers'): Promise<void> {
    try {
      await ch.assertExchange(name, type, { durable: true });
    } catch (err) {
      if ((err as { code?: number }).code === PRECONDITION_FAILED) {
        throw new TopologyMismatchError('exchange', name, { type, durable: true }, brokerReason(err as Error));
      }
      throw err;
    }
  }

  private async assertQueue(ch: Channel, name: string, options: Options.AssertQueue): Promise<void> {
    try {
      await ch.assertQueue(name, options);
    } catch (err) {
      if ((err as { code?: number }).code === PRECONDITION_FAILED) {
        throw new TopologyMismatchError(
          'queue',
          name,
          { durable: options.durable, arguments: options.arguments ?? {} },
          brokerReason(err as Error),
        );
      }
      throw err;
    }
  }
}
