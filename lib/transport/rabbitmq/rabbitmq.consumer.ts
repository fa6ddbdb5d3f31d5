import { toErrorInfo } from '../../errors/error-info';
import type { LoggerService } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import type {
  DeliveryHandler,
  DeliveryOutcome,
  InboundMessage,
  SubscriberDescriptor,
  TransportContext,
} from '../transport.interface';
import { UnroutableMessageError } from './errors/unroutable-message.error';
import { ManagedChannel } from './managed-channel';
import type { RabbitMqConnection } from './rabbitmq.connection';
import { sleep } from './rabbitmq.connection';
import {
  deadLetterProperties,
  readAttempt,
  readFirstFailureAt,
  retryProperties,
  stackHead,
  toDeadLetter,
  type DeadLetterFacts,
} from './rabbitmq.message';
import type { RabbitMqNaming } from './rabbitmq.naming';
import type { RabbitMqPublisher } from './rabbitmq.publisher';
import type { RabbitMqTopology } from './rabbitmq.topology';

/** What a subscriber consumer needs from the transport. */
export interface SubscriberConsumerDeps {
  connection: RabbitMqConnection;
  publisher: RabbitMqPublisher;
  topology: RabbitMqTopology;
  naming: RabbitMqNaming;
  context: TransportContext;
  logger: LoggerService;
  /** `prefetch` option (raised to the subscriber's concurrency). */
  prefetch?: number;
  reconnectDelayMs: number;
  /** New dead-letter record id. */
  newId: () => string;
}

interface Delivery {
  ch: Channel;
  msg: ConsumeMessage;
}

/**
 * Consumes one subscriber's queue on its own channel (prefetch per channel), runs at most
 * `concurrency` handlers at once, and carries out each outcome before acknowledging:
 * `ack` → ack; `retry` → confirmed publish to the delay level's queue (attempt header = next
 * attempt) then ack; `dead-letter` → confirmed publish of the unchanged body to the dead-letter
 * queue with the reason headers, ack, then `context.onDeadLetter`. Nothing is ever nacked with
 * requeue while running, so a poison message cannot loop or block the queue.
 */
export class SubscriberConsumer {
  /** The subscriber's queue. */
  readonly queue: string;
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly open = new WeakSet<Channel>();
  private readonly waiting: Delivery[] = [];
  private idle?: () => void;
  private channel?: ManagedChannel<Channel>;
  private consumer?: { ch: Channel; tag: string };
  private active = 0;
  private stopping = false;

  constructor(
    readonly descriptor: SubscriberDescriptor,
    private readonly handler: DeliveryHandler,
    private readonly deps: SubscriberConsumerDeps,
  ) {
    this.queue = deps.naming.subscriberQueue(descriptor.name);
    this.concurrency = Math.max(1, Math.floor(descriptor.concurrency) || 1);
    this.prefetch = Math.max(this.concurrency, deps.prefetch ?? this.concurrency);
  }

  /** Declares the topology (a mismatch throws here, readably) and starts consuming. */
  async start(): Promise<void> {
    await this.deps.topology.declareSubscriber(this.descriptor);
    this.channel = new ManagedChannel<Channel>(
      this.deps.connection,
      {
        name: `consumer ${this.queue}`,
        confirm: false,
        reopenDelayMs: this.deps.reconnectDelayMs,
        setup: (ch) => this.setup(ch),
      },
      this.deps.logger,
    );
    await this.channel.start();
  }

  /** Deliveries being handled or waiting for a handler slot. */
  get pending(): number {
    return this.active + this.waiting.length;
  }

  /** Cancels the consumer; deliveries not yet started go back to the queue. */
  async stopConsuming(): Promise<void> {
    this.stopping = true;
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer && this.open.has(consumer.ch)) await consumer.ch.cancel(consumer.tag).catch(() => undefined);
    for (const { ch, msg } of this.waiting.splice(0)) this.settle(ch, () => ch.nack(msg, false, true));
  }

  /** Waits for in-flight handlers until `deadline` (epoch ms). */
  async drain(deadline: number): Promise<void> {
    if (this.active > 0) {
      const idle = new Promise<void>((resolve) => (this.idle = resolve));
      await Promise.race([idle, sleep(Math.max(1, deadline - Date.now()))]);
    }
    if (this.active > 0) {
      this.deps.logger.warn?.(
        `${this.active} handler(s) of ${this.queue} still running at shutdown: their messages will be redelivered`,
      );
    }
  }

  /** Closes the channel (unacknowledged deliveries return to the queue). */
  async close(): Promise<void> {
    this.stopping = true;
    await this.channel?.stop();
  }

  private async setup(ch: Channel): Promise<void> {
    this.open.add(ch);
    ch.once('close', () => this.open.delete(ch));
    await this.deps.topology.declareSubscriber(this.descriptor, ch);
    if (this.stopping) return;
    await ch.prefetch(this.prefetch);
    const { consumerTag } = await ch.consume(this.queue, (msg) => this.onDelivery(ch, msg), { noAck: false });
    this.consumer = { ch, tag: consumerTag };
  }

  private onDelivery(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // cancelled by the broker (queue deleted, or a quorum leader moved): consume again on a fresh channel
      this.deps.logger.warn?.(`RabbitMQ cancelled the consumer of ${this.queue}; re-subscribing`);
      if (!this.stopping) this.channel?.recycle();
      return;
    }
    if (this.stopping) {
      this.settle(ch, () => ch.nack(msg, false, true));
      return;
    }
    if (this.active < this.concurrency) this.run({ ch, msg });
    else this.waiting.push({ ch, msg });
  }

  private run(delivery: Delivery): void {
    this.active++;
    this.handle(delivery).then(this.settled, this.failed);
  }

  private readonly settled = (): void => {
    this.active--;
    if (this.waiting.length > 0) this.next();
    if (this.active === 0 && this.idle) this.idle();
  };

  private readonly failed = (err: unknown): void => {
    this.deps.logger.error?.(`Unexpected failure handling a delivery of ${this.queue}: ${(err as Error).message}`);
    this.settled();
  };

  private next(): void {
    while (this.active < this.concurrency && this.waiting.length > 0) {
      const delivery = this.waiting.shift()!;
      if (this.open.has(delivery.ch)) this.run(delivery);
    }
  }

  private async handle({ ch, msg }: Delivery): Promise<void> {
    const headers = (msg.properties.headers ?? {}) as Record<string, unknown>;
    const inbound: InboundMessage = {
      body: msg.content,
      attempt: readAttempt(headers),
      firstFailureAt: readFirstFailureAt(headers),
      headers,
      source: this.queue,
    };
    let outcome: DeliveryOutcome;
    try {
      outcome = await this.handler(inbound);
    } catch (err) {
      // the pipeline promises never to reject; if it does, park the message rather than loop on it
      const now = new Date().toISOString();
      this.deps.logger.error?.(
        `Delivery handler of ${this.queue} rejected (${(err as Error).message}); dead-lettering`,
      );
      outcome = {
        status: 'dead-letter',
        error: toErrorInfo(err),
        attempts: inbound.attempt,
        firstFailureAt: inbound.firstFailureAt ?? now,
        lastFailureAt: now,
      };
    }
    if (outcome.status === 'ack') {
      this.settle(ch, () => ch.ack(msg));
      return;
    }
    // the channel is gone: the broker redelivers the original, so scheduling a copy would duplicate it
    if (!this.open.has(ch)) return;
    if (outcome.status === 'retry') {
      const retry = outcome;
      if (await this.untilPublished(ch, () => this.publishRetry(msg, retry))) this.settle(ch, () => ch.ack(msg));
      return;
    }
    const facts: DeadLetterFacts = {
      id: this.deps.newId(),
      subscriber: this.descriptor.name,
      sourceQueue: this.queue,
      error: { ...outcome.error, stack: stackHead(outcome.error.stack) },
      attempts: outcome.attempts,
      firstFailureAt: outcome.firstFailureAt,
      lastFailureAt: outcome.lastFailureAt,
      deadLetteredAt: new Date().toISOString(),
    };
    const published = await this.untilPublished(ch, () =>
      this.deps.publisher
        .publish({
          exchange: '',
          routingKey: this.deps.naming.deadLetterQueue,
          content: msg.content,
          properties: deadLetterProperties(msg, facts),
          targeted: true,
        })
        .catch(async (err) => {
          // the dead-letter queue was deleted under us: declare it again before the next try
          if (err instanceof UnroutableMessageError) await this.deps.topology.declareService().catch(() => undefined);
          throw err;
        }),
    );
    if (!published) return;
    this.settle(ch, () => ch.ack(msg));
    try {
      this.deps.context.onDeadLetter(toDeadLetter(msg.content, facts, outcome.envelope, msg.properties));
    } catch (err) {
      this.deps.logger.error?.(`onDeadLetter hook failed: ${(err as Error).message}`);
    }
  }

  private async publishRetry(
    msg: ConsumeMessage,
    outcome: Extract<DeliveryOutcome, { status: 'retry' }>,
  ): Promise<void> {
    const level = await this.deps.topology.levelFor(outcome.delayMs);
    try {
      await this.deps.publisher.publish({
        exchange: level > 0 ? this.deps.naming.retryExchange : '',
        routingKey: this.queue, // kept when the delay queue dead-letters it to the default exchange
        content: msg.content,
        properties: retryProperties(msg, outcome, level),
        targeted: true,
      });
    } catch (err) {
      if (err instanceof UnroutableMessageError && level > 0) this.deps.topology.forgetDelayLevel(level);
      throw err;
    }
  }

  /**
   * Retries a confirmed publish (retry or dead letter) with backoff until it succeeds; gives up,
   * leaving the original unacknowledged for redelivery, when its channel closed or on shutdown.
   */
  private async untilPublished(ch: Channel, publish: () => Promise<void>): Promise<boolean> {
    for (let failures = 0; ; failures++) {
      try {
        await publish();
        return true;
      } catch (err) {
        if (this.deps.connection.isClosed() || !this.open.has(ch)) return false;
        if (failures % 10 === 0) {
          this.deps.logger.warn?.(
            `Could not publish a retry/dead letter for ${this.queue} (${(err as Error).message}); trying again`,
          );
        }
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
        if (!this.open.has(ch)) return false;
      }
    }
  }

  /** Acks/nacks, ignoring a channel that closed meanwhile (the broker redelivers then). */
  private settle(ch: Channel, action: () => void): void {
    if (!this.open.has(ch)) return;
    try {
      action();
    } catch {
      /* channel closed under us */
    }
  }
}
