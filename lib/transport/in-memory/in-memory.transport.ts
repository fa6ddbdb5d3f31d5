import type {
  DeliveryHandler,
  MessageTransport,
  OutboundMessage,
  QueueStats,
  SubscriberDescriptor,
  TransportContext,
} from '../transport.interface';
import type { DeadLetter } from '../../dead-letter/dead-letter.interface';
import { InMemoryBroker, type InMemoryQueue, type QueueConsumer, type QueuedMessage } from './in-memory.broker';
import { InMemoryDeadLetterStore } from './in-memory-dead-letter.store';
import { UnroutableMessageError } from '../rabbitmq/errors/unroutable-message.error';
import { Logger } from '@nestjs/common';

const RESOLVED = Promise.resolve();

/**
 * The embedded default transport: everything in process, with the semantics of the RabbitMQ
 * transport — one queue per subscriber, competing consumers, retries scheduled for the failed
 * subscriber only, dead letters with the reason. Not durable: a process exit loses queued messages
 * (use the outbox and RabbitMQ in production).
 */
export class InMemoryTransport implements MessageTransport {
  readonly name = 'memory';
  readonly capabilities = { competingConsumers: true, durable: false };
  readonly deadLetters: InMemoryDeadLetterStore;
  private context?: TransportContext;
  private readonly subscriptions: Array<{ queue: InMemoryQueue; consumer: QueueConsumer; name: string }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private connected = false;
  private readonly logger = new Logger('InMemoryTransport');

  /** The broker: its own, or one shared by several app instances in this process. */
  readonly broker: InMemoryBroker;
  /** Whether the broker is this transport's own (not shared with other app instances). */
  private readonly ownsBroker: boolean;

  constructor(broker?: InMemoryBroker) {
    this.broker = broker ?? new InMemoryBroker();
    this.ownsBroker = broker === undefined;
    this.deadLetters = new InMemoryDeadLetterStore(this.broker, () => this.prefix());
  }

  private prefix(): string {
    if (!this.context) throw new Error('InMemoryTransport: connect() first');
    return this.context.serviceName;
  }

  async connect(context: TransportContext): Promise<void> {
    this.context = context;
    this.connected = true;
  }

  isConnected(): boolean {
    return this.connected;
  }

  publish(message: OutboundMessage): Promise<void> {
    if (!this.connected) return Promise.reject(new Error('InMemoryTransport is closed'));
    try {
      return this.enqueue(message);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private enqueue(message: OutboundMessage): Promise<void> {
    const queued: QueuedMessage = {
      body: message.body,
      attempt: message.attempt ?? 1,
      firstFailureAt: message.firstFailureAt,
    };
    let destination: InMemoryQueue | undefined;
    if (message.destination !== undefined) {
      const name = `${message.endpoint ?? this.prefix()}.${message.destination}`;
      // another service's queue exists once that service subscribed (as on RabbitMQ, where the
      // default exchange returns a message for a queue nobody declared)
      if (message.endpoint !== undefined && !this.broker.queues.has(name)) {
        throw new UnroutableMessageError(message.envelope.id, '', name);
      }
      destination = this.broker.queue(name);
    }
    if (!message.awaitHandling) {
      if (destination !== undefined) destination.push(queued);
      else this.broker.route(message.envelope.type, queued);
      return RESOLVED;
    }
    const targets = destination !== undefined ? [destination] : [...this.broker.bound(message.envelope.type)];
    // wait for every queue consumed in this process to settle its copy (see `awaitHandling`)
    return new Promise<void>((resolve, reject) => {
      let pending = targets.filter((q) => q.consumers.length > 0).length;
      const onSettled = (settled: boolean) => {
        if (!settled)
          reject(new Error(`in-memory message ${message.envelope.id} was dropped unhandled: the transport closed`));
        else if (--pending === 0) resolve();
      };
      for (const q of targets) q.push(q.consumers.length > 0 ? { ...queued, onSettled } : { ...queued });
      if (message.destination === undefined && targets.length === 0) this.broker.unroutable++;
      if (pending === 0) resolve();
    });
  }

  async subscribe(subscriber: SubscriberDescriptor, handler: DeliveryHandler): Promise<void> {
    const queueName = `${this.prefix()}.${subscriber.name}`;
    const queue = this.broker.queue(queueName, subscriber.types);
    const consumer: QueueConsumer = {
      handler,
      concurrency: subscriber.concurrency,
      inFlight: 0,
      idle: [],
      settle: (message, outcome) => {
        // never started (a pipeline given a `stopping` signal): back to the queue as it was, uncounted
        if (outcome.status === 'not-started') return queue.push(message);
        if (outcome.status === 'retry') {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            // the retry carries the settlement: a relay waiting on it waits for the final outcome
            queue.push({
              body: message.body,
              attempt: outcome.nextAttempt,
              firstFailureAt: outcome.firstFailureAt,
              onSettled: message.onSettled,
            });
          }, outcome.delayMs);
          timer.unref?.();
          this.timers.add(timer);
        } else if (outcome.status === 'dead-letter') {
          const dl: DeadLetter = {
            id: this.broker.nextDeadLetterId(),
            messageId: outcome.envelope?.id,
            type: outcome.envelope?.type,
            envelope: outcome.envelope,
            body: message.body,
            subscriber: subscriber.name,
            sourceQueue: queueName,
            error: outcome.error,
            attempts: outcome.attempts,
            firstFailureAt: outcome.firstFailureAt,
            lastFailureAt: outcome.lastFailureAt,
            deadLetteredAt: new Date().toISOString(),
          };
          this.broker.deadLetters.push(dl);
          this.context?.onDeadLetter(dl);
        }
        if (outcome.status !== 'retry') message.onSettled?.(true);
      },
    };
    queue.consumers.push(consumer);
    this.subscriptions.push({ queue, consumer, name: subscriber.name });
    queue.schedule();
  }

  /**
   * Messages this transport's subscribers still have to deal with: waiting in their queues, being
   * handled, or waiting for a retry. 0 means idle (as far as this transport knows).
   */
  pending(): number {
    let n = this.timers.size;
    for (const { queue, consumer } of this.subscriptions) n += queue.depth + consumer.inFlight;
    return n;
  }

  async stats(): Promise<QueueStats[]> {
    const out: QueueStats[] = this.subscriptions.map(({ queue, name }) => ({
      subscriber: name,
      queue: queue.name,
      depth: queue.depth,
      consumers: queue.consumers.length,
    }));
    out.push({
      subscriber: 'dead-letter',
      queue: `${this.prefix()}.dead-letter`,
      depth: await this.deadLetters.count(),
      consumers: 0,
    });
    return out;
  }

  async close(drainTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + drainTimeoutMs;
    // the messages waiting in a queue only this instance consumes have nowhere else to go: work them
    // off first (within the timeout), then stop taking new ones and wait for those in flight
    const sole = this.subscriptions.filter(({ queue }) => queue.consumers.length === 1);
    while (sole.some(({ queue }) => queue.depth > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const { queue, consumer } of this.subscriptions) {
      const i = queue.consumers.indexOf(consumer);
      if (i >= 0) queue.consumers.splice(i, 1);
      queue.schedule(); // hand waiting messages to the remaining consumers
    }
    const drained = Promise.all(
      this.subscriptions.map(({ consumer }) =>
        consumer.inFlight === 0 ? undefined : new Promise<void>((resolve) => consumer.idle.push(resolve)),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      drained,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    let dropped = 0;
    for (const { queue } of this.subscriptions) {
      // a shared broker keeps its queues for the other instances; a private one ends with us
      if (!this.ownsBroker || queue.consumers.length > 0) continue;
      for (const m of queue.drain()) {
        dropped++;
        m.onSettled?.(false); // an outbox row stays pending and is delivered after a restart
      }
    }
    if (dropped > 0)
      this.logger.warn(
        `closed with ${dropped} message(s) not handled within the drain timeout; those not from the outbox are lost`,
      );
    // retries scheduled by this instance go back to the shared broker's queues when due
    this.subscriptions.length = 0;
    this.connected = false;
  }
}
