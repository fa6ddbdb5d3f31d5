import type { DeadLetter } from '../../dead-letter/dead-letter.interface';
import type { DeliveryHandler, DeliveryOutcome, InboundMessage } from '../transport.interface';
import { toErrorInfo } from '../../errors/error-info';

/** A message waiting in an in-memory queue. */
export interface QueuedMessage {
  /** The CloudEvents body, as a broker would carry it: each delivery decodes its own copy. */
  body: string;
  attempt: number;
  firstFailureAt?: string;
  /** Told once the message is settled (true) or dropped unhandled (false); see `awaitHandling`. */
  onSettled?: (settled: boolean) => void;
}

const RESOLVED = Promise.resolve();

const NO_HEADERS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * A delivery as the consumer pipeline sees it. A class, not an object literal with a getter: a
 * literal with an accessor costs a new hidden class per delivery (several times slower, and it
 * drags short-lived objects into the old generation).
 */
class QueueDelivery implements InboundMessage {
  readonly attempt: number;
  readonly firstFailureAt: string | undefined;
  readonly headers = NO_HEADERS;

  constructor(
    private readonly message: QueuedMessage,
    readonly source: string,
  ) {
    this.attempt = message.attempt;
    this.firstFailureAt = message.firstFailureAt;
  }

  get body(): string {
    return this.message.body;
  }
}

/** One consumer of a queue: an app instance's subscriber. */
export interface QueueConsumer {
  handler: DeliveryHandler;
  concurrency: number;
  inFlight: number;
  /** Carries out the outcome of one delivery. */
  settle: (message: QueuedMessage, outcome: Awaited<ReturnType<DeliveryHandler>>) => void;
  /** Resolves waiters when `inFlight` reaches 0. */
  idle: Array<() => void>;
}

/** A durable-for-the-process FIFO queue with competing consumers. */
export class InMemoryQueue {
  private items: QueuedMessage[] = [];
  private head = 0;
  private scheduled = false;
  private rr = 0;
  readonly consumers: QueueConsumer[] = [];

  constructor(readonly name: string) {}

  get depth(): number {
    return this.items.length - this.head;
  }

  push(message: QueuedMessage): void {
    this.items.push(message);
    this.schedule();
  }

  /** Removes and returns every waiting message (used when the last consumer of a private queue leaves). */
  drain(): QueuedMessage[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }

  /** Runs the dispatch loop soon (once per tick however many pushes). */
  schedule(): void {
    if (this.scheduled || this.consumers.length === 0) return;
    this.scheduled = true;
    void RESOLVED.then(this.runPump);
  }

  private readonly runPump = (): void => {
    this.scheduled = false;
    this.pump();
  };

  private take(): QueuedMessage | undefined {
    if (this.head >= this.items.length) return undefined;
    const m = this.items[this.head];
    // let go of it now: a reference left in the array would keep it alive past young-generation GCs
    this.items[this.head++] = undefined as unknown as QueuedMessage;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return m;
  }

  private pump(): void {
    const consumers = this.consumers;
    while (this.depth > 0 && consumers.length > 0) {
      let consumer: QueueConsumer | undefined;
      for (let i = 0; i < consumers.length; i++) {
        const c = consumers[(this.rr + i) % consumers.length];
        if (c.inFlight < c.concurrency) {
          consumer = c;
          this.rr = (this.rr + i + 1) % consumers.length;
          break;
        }
      }
      if (!consumer) return;
      this.deliver(consumer, this.take()!);
    }
  }

  private deliver(consumer: QueueConsumer, message: QueuedMessage): void {
    consumer.inFlight++;
    const delivery = new QueueDelivery(message, this.name);
    let outcome: Promise<DeliveryOutcome>;
    try {
      outcome = consumer.handler(delivery);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome.then(
      (settled) => this.settled(consumer, message, settled),
      (error: unknown) => this.settled(consumer, message, undefined, error),
    );
  }

  /** Carries out a delivery's outcome; a handler that failed (`outcome` undefined) dead-letters, never loops. */
  private settled(consumer: QueueConsumer, message: QueuedMessage, outcome?: DeliveryOutcome, error?: unknown): void {
    try {
      if (outcome !== undefined) {
        consumer.settle(message, outcome);
      } else {
        const now = new Date().toISOString();
        consumer.settle(message, {
          status: 'dead-letter',
          error: toErrorInfo(error),
          attempts: message.attempt,
          firstFailureAt: message.firstFailureAt ?? now,
          lastFailureAt: now,
        });
      }
    } finally {
      consumer.inFlight--;
      if (consumer.inFlight === 0 && consumer.idle.length) consumer.idle.splice(0).forEach((r) => r());
      if (this.items.length > this.head) this.schedule(); // a consumer was full: go on
    }
  }
}

/**
 * The in-memory "broker": topic bindings, subscriber queues and dead letters. One per module by
 * default; pass the same instance to several app instances in one process (option
 * `inMemory.broker`) to get competing consumers and cross-service delivery, as on RabbitMQ.
 */
export class InMemoryBroker {
  /** Queues by name (`<service>.<subscriber>`). */
  readonly queues = new Map<string, InMemoryQueue>();
  /** Queue names bound to each message type. */
  readonly bindings = new Map<string, Set<InMemoryQueue>>();
  /** Dead letters of every service, oldest first. */
  deadLetters: DeadLetter[] = [];
  /** Messages published with no queue bound to their type. */
  unroutable = 0;
  private seq = 0;

  /** Declares (or finds) a queue and binds it to `types`. */
  queue(name: string, types: string[] = []): InMemoryQueue {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new InMemoryQueue(name)));
    for (const t of types) {
      let set = this.bindings.get(t);
      if (!set) this.bindings.set(t, (set = new Set()));
      set.add(q);
    }
    return q;
  }

  /** Routes a message to every queue bound to `type`; returns the queues it went to. */
  route(type: string, message: QueuedMessage): number {
    const bound = this.bindings.get(type);
    if (!bound || bound.size === 0) {
      this.unroutable++;
      return 0;
    }
    for (const q of bound) q.push(bound.size === 1 ? message : { ...message });
    return bound.size;
  }

  /** The queues a message of `type` would go to. */
  bound(type: string): Iterable<InMemoryQueue> {
    return this.bindings.get(type) ?? [];
  }

  /** A new dead-letter id. */
  nextDeadLetterId(): string {
    return `dl-${++this.seq}`;
  }
}
