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

  constructor(readonly broker: InMemoryBroker = new InMemoryBroker()) {
    this.deadLetters = new InMemoryDeadLetterStore(broker, () => this.prefix());
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

  async publish(message: OutboundMessage): Promise<void> {
    if (!this.connected) throw new Error('InMemoryTransport is closed');
    const queued: QueuedMessage = { body: message.body, attempt: message.attempt ?? 1, firstFailureAt: message.firstFailureAt };
    if (message.destination !== undefined) {
      this.broker.queue(`${this.prefix()}.${message.destination}`).push(queued);
    } else {
      this.broker.route(message.envelope.type, queued);
    }
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
        if (outcome.status === 'retry') {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            queue.push({ body: message.body, attempt: outcome.nextAttempt, firstFailureAt: outcome.firstFailureAt });
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
      },
    };
    queue.consumers.push(consumer);
    this.subscriptions.push({ queue, consumer, name: subscriber.name });
    queue.schedule();
  }

  async stats(): Promise<QueueStats[]> {
    const out: QueueStats[] = this.subscriptions.map(({ queue, name }) => ({
      subscriber: name,
      queue: queue.name,
      depth: queue.depth,
      consumers: queue.consumers.length,
    }));
    out.push({ subscriber: 'dead-letter', queue: `${this.prefix()}.dead-letter`, depth: await this.deadLetters.count(), consumers: 0 });
    return out;
  }

  async close(drainTimeoutMs: number): Promise<void> {
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
    await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeoutMs)))]);
    clearTimeout(timer);
    // retries scheduled by this instance go back to the shared broker's queues when due
    this.subscriptions.length = 0;
    this.connected = false;
  }
}
