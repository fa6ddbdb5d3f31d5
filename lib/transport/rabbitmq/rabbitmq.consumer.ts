import { setMaxListeners } from 'node:events';
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
import { ManagedChannel } from './managed.channel';
import { FailurePublisher, type DeadLetterReason, type Settling } from './rabbitmq-failure.publisher';
import type { RabbitMqConnection } from './rabbitmq.connection';
import { sleep } from './amqp-settle.util';
import { carriedHeaders, readAttempt, readFirstFailureAt, readRedeliveries, trustedHeaders } from './rabbitmq.message';
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
  /** `redeliveryLimit` option: redeliveries in a row after which a message is dead-lettered unhandled. */
  redeliveryLimit: number;
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
 * `ack` → ack; `retry` / `dead-letter` → {@link FailurePublisher} (confirmed publish, then ack).
 * Nothing is ever nacked with requeue while running, so a poison message cannot loop or block the
 * queue; a delivery marked `redelivered` counts as a further attempt (see `redelivered`).
 *
 * Shutdown (`stopConsuming`): deliveries whose handler has not started — waiting in the prefetch
 * buffer, arriving before the cancel took effect, or queued for a commit group (the pipeline
 * answers `not-started` once `stopping` aborts) — are given back uncounted: published again to the
 * queue as they were, then acked (`FailurePublisher.giveBack`), since a requeue would mark them
 * `redelivered`. Handlers already running are drained; what is still unsettled when the channel
 * closes comes back `redelivered` and counted, as a crash would (the inbox absorbs what committed).
 */
export class SubscriberConsumer {
  /** The subscriber's queue. */
  readonly queue: string;
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly redeliveryLimit: number;
  private readonly failures: FailurePublisher;
  private readonly open = new WeakSet<Channel>();
  private readonly waiting: Delivery[] = [];
  private idle?: () => void;
  private channel?: ManagedChannel<Channel>;
  private consumer?: { ch: Channel; tag: string };
  private active = 0;
  private stopping = false;
  /** Aborted by `stopConsuming`: deliveries not started by then are given back (`InboundMessage.stopping`). */
  private readonly stop = new AbortController();

  constructor(
    readonly descriptor: SubscriberDescriptor,
    private readonly handler: DeliveryHandler,
    private readonly deps: SubscriberConsumerDeps,
  ) {
    this.queue = deps.naming.subscriberQueue(descriptor.name);
    this.concurrency = Math.max(1, Math.floor(descriptor.concurrency) || 1);
    this.prefetch = Math.max(this.concurrency, deps.prefetch ?? this.concurrency);
    this.redeliveryLimit = Math.max(1, deps.redeliveryLimit);
    this.failures = new FailurePublisher(this.queue, descriptor.name, deps);
    // every delivery queued for a commit group listens to it until it is taken: up to `prefetch`
    // listeners at once by design, not a leak (Node warns past 10)
    setMaxListeners(0, this.stop.signal);
  }

  /** Declares the topology (a mismatch throws here, readably) and starts consuming. */
  async start(until?: number): Promise<void> {
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
    await this.channel.start(until);
  }

  /** Deliveries being handled or waiting for a handler slot. */
  get pending(): number {
    return this.active + this.waiting.length;
  }

  /**
   * Cancels the consumer; deliveries not yet started go back to the queue uncounted (those still
   * waiting for a commit group settle `not-started` through the pipeline): `drain` waits for them.
   */
  async stopConsuming(): Promise<void> {
    this.stopping = true;
    this.stop.abort();
    const consumer = this.consumer;
    this.consumer = undefined;
    const waiting = this.waiting.splice(0);
    for (const delivery of waiting) this.giveBack(delivery);
    if (consumer && this.open.has(consumer.ch)) await consumer.ch.cancel(consumer.tag).catch(() => undefined);
  }

  /**
   * Waits for in-flight handlers until `deadline` (epoch ms), then for give-backs still unconfirmed
   * (`FailurePublisher.givenBack`).
   */
  async drain(deadline: number): Promise<void> {
    if (this.active > 0) {
      const idle = new Promise<void>((resolve) => (this.idle = resolve));
      await Promise.race([idle, sleep(Math.max(1, deadline - Date.now()))]);
    }
    await this.failures.givenBack();
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
    if (this.stopping) return this.giveBack({ ch, msg });
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

  /**
   * Returns a delivery that never reached its handler to the queue. Uncounted: published again as it
   * was, then acked (a requeue would come back `redelivered`, i.e. counted). One already marked
   * `redelivered` ended a previous life unsettled, which is counted once whatever happens now: it is
   * simply requeued (it comes back `redelivered` and is counted then).
   */
  private giveBack({ ch, msg }: Delivery): void {
    if (!this.open.has(ch)) return; // its channel closed: the broker has it back already
    if (msg.fields.redelivered) return this.settle(ch, () => ch.nack(msg, false, true));
    this.active++;
    const headers = trustedHeaders(msg, this.deps.naming.eventsExchange);
    this.failures.giveBack(this.settling(ch, msg), headers).then(this.settled, this.failed);
  }

  private settling(ch: Channel, msg: ConsumeMessage): Settling {
    return { msg, stillOpen: () => this.open.has(ch), ack: () => this.settle(ch, () => ch.ack(msg)) };
  }

  private async handle({ ch, msg }: Delivery): Promise<void> {
    const headers = trustedHeaders(msg, this.deps.naming.eventsExchange);
    const settling = this.settling(ch, msg);
    if (msg.fields.redelivered) return this.redelivered(settling, headers);
    const inbound: InboundMessage = {
      body: msg.content,
      attempt: readAttempt(headers),
      firstFailureAt: readFirstFailureAt(headers),
      headers,
      carriedHeaders: () => carriedHeaders(msg.properties),
      contentType: msg.properties.contentType as string | undefined,
      contentEncoding: msg.properties.contentEncoding as string | undefined,
      source: this.queue,
      stopping: this.stop.signal,
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
    if (outcome.status === 'ack') return settling.ack();
    // the channel is gone: the broker redelivers the original, so scheduling a copy would duplicate it
    if (!settling.stillOpen()) return;
    if (outcome.status === 'not-started') return this.failures.giveBack(settling, headers);
    if (outcome.status === 'retry') return this.failures.retry(settling, outcome);
    return this.failures.deadLetter(settling, outcome);
  }

  /**
   * A delivery marked `redelivered` was handed out before and not settled: its consumer died (OOM,
   * process exit), its channel or connection closed, `consumer_timeout` hit, or it was waiting in the
   * prefetch buffer at a shutdown. That counts as one more attempt, made durable by publishing the
   * message again to its own queue with `x-messaging-attempt` + 1 and `x-messaging-redeliveries` + 1
   * (confirmed, then the original is acked; the copy goes to the back of the queue) — so the retry
   * policy sees it, and a message that kills its consumer every time is dead-lettered, without
   * running the handler again, once it came back `redeliveryLimit` times in a row. Not exact:
   * `redelivered` is a boolean, so a delivery that never reached its handler is counted too when its
   * channel or connection was lost, or its process died (a clean shutdown gives those back uncounted,
   * see `giveBack`), and a crash between the republish and the ack leaves two copies (at-least-once,
   * consumers dedupe by id); a handled retry resets the redelivery count.
   */
  private async redelivered(settling: Settling, headers: Record<string, unknown>): Promise<void> {
    const attempt = readAttempt(headers) + 1;
    const redeliveries = readRedeliveries(headers) + 1;
    const now = new Date().toISOString();
    const reason: DeadLetterReason = {
      error: {
        name: 'RedeliveryLimitError',
        message:
          `delivery came back unsettled ${redeliveries} time(s) in a row (consumer process died, channel ` +
          `closed or consumer_timeout hit while it was being handled)`,
      },
      attempts: attempt - 1,
      firstFailureAt: readFirstFailureAt(headers) ?? now,
      lastFailureAt: now,
    };
    if (redeliveries >= this.redeliveryLimit) {
      this.deps.logger.error?.(`${reason.error.message} in ${this.queue}: dead-lettering it without handling it again`);
      return this.failures.deadLetter(settling, reason);
    }
    return this.failures.redeliver(settling, attempt, redeliveries, reason);
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
