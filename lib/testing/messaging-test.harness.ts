import type { DeadLetter } from '../dead-letter/dead-letter.interface';
import { decodeEnvelope } from '../message/cloudevents.codec';
import type { MessageEnvelope } from '../message/envelope';
import { getMessageInfo, type MessageClass } from '../message/message-type';
import { InMemoryTransport } from '../transport/in-memory/in-memory.transport';
import type {
  DeliveryHandler,
  DeliveryOutcome,
  InboundMessage,
  OutboundMessage,
  SubscriberDescriptor,
} from '../transport/transport.interface';

/** A message as a test sees it: its metadata and its payload in JSON form (a `Date` is a string). */
export interface RecordedMessage<T = unknown> {
  /** Message id. */
  id: string;
  /** Message type name. */
  type: string;
  /** Correlation id (shared by everything one request caused). */
  correlationId: string;
  /** Id of the message that caused this one, if any. */
  causationId?: string;
  /** The payload, as a subscriber receives it. */
  data: T;
  /** The whole envelope. */
  envelope: MessageEnvelope<T>;
}

/** One delivery to a subscriber and what came of it. */
export interface RecordedDelivery<T = unknown> extends RecordedMessage<T> {
  /** The subscriber (its name, as in `@Subscribe(..., { name })`). */
  subscriber: string;
  /** 1 for the first delivery, 2 for the first retry… */
  attempt: number;
  /** `handled` (acknowledged), `retried` (failed, will be tried again) or `dead-lettered`. */
  outcome: 'handled' | 'retried' | 'dead-lettered';
}

/** Which messages a query selects: a `@Message` class, a type name, or all (undefined). */
export type MessageSelector<T> = MessageClass<T> | string | undefined;

function typeOf(selector: MessageSelector<unknown>): string | undefined {
  if (selector === undefined || typeof selector === 'string') return selector;
  const info = getMessageInfo(selector);
  if (!info) throw new TypeError(`${selector.name} has no @Message type`);
  return info.type;
}

function recorded<T>(envelope: MessageEnvelope): RecordedMessage<T> {
  return {
    id: envelope.id,
    type: envelope.type,
    correlationId: envelope.correlationId,
    causationId: envelope.causationId,
    data: envelope.data as T,
    envelope: envelope as MessageEnvelope<T>,
  };
}

/**
 * The in-memory transport of `MessagingTestingModule`: records what is published and what each
 * subscriber did with each delivery, and retries at once instead of after the back-off delay
 * (attempt numbers, retry limits and dead letters stay as in production).
 */
export class RecordingTransport extends InMemoryTransport {
  /** @internal */
  readonly publishedLog: MessageEnvelope[] = [];
  /** @internal */
  readonly deliveryLog: RecordedDelivery[] = [];

  constructor(private readonly immediateRetries = true) {
    super();
  }

  override publish(message: OutboundMessage): Promise<void> {
    this.publishedLog.push(message.envelope);
    return super.publish(message);
  }

  override subscribe(subscriber: SubscriberDescriptor, handler: DeliveryHandler): Promise<void> {
    const recording: DeliveryHandler = async (delivery: InboundMessage) => {
      const outcome = await handler(delivery);
      this.record(subscriber.name, delivery, outcome);
      if (outcome.status === 'retry' && this.immediateRetries) return { ...outcome, delayMs: 0 };
      return outcome;
    };
    return super.subscribe(subscriber, recording);
  }

  private record(subscriber: string, delivery: InboundMessage, outcome: DeliveryOutcome): void {
    if (outcome.status === 'not-started') return; // given back unhandled: it is delivered again
    let envelope: MessageEnvelope | undefined = outcome.status === 'dead-letter' ? outcome.envelope : undefined;
    if (!envelope) {
      try {
        envelope = decodeEnvelope(delivery.body);
      } catch {
        return; // not a message at all: it shows among the dead letters
      }
    }
    this.deliveryLog.push({
      ...recorded(envelope),
      subscriber,
      attempt: delivery.attempt,
      outcome: outcome.status === 'ack' ? 'handled' : outcome.status === 'retry' ? 'retried' : 'dead-lettered',
    });
  }
}

/**
 * What a test asks of the messaging of the app under test (from `MessagingTestingModule`):
 * wait until every published message has been dealt with, then look at what was published,
 * handled and dead-lettered.
 *
 * @example
 * ```ts
 * await commands.execute(new PlaceOrder('sku-1'));
 * await harness.whenIdle();
 * expect(harness.published(OrderPlaced)).toHaveLength(1);
 * expect(harness.handled(OrderPlaced, 'shipping')[0].data.orderId).toBe('o-1');
 * ```
 */
export class MessagingTestHarness {
  constructor(
    private readonly transport: RecordingTransport,
    /** Outbox rows not yet published (0 without the outbox). @internal */
    private readonly outboxPending: () => Promise<number> = async () => 0,
  ) {}

  /**
   * Resolves when no subscriber has anything left to do: nothing queued, being handled or
   * waiting for a retry (messages that handlers publish meanwhile included). Rejects after
   * `timeoutMs` saying how many are still pending (a handler that never finishes, typically).
   * With the outbox on, rows not yet relayed count as pending too (retries scheduled in the outbox
   * included: those wait their real delay).
   */
  async whenIdle(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let quietRounds = 0;
    // two quiet checks in a row, a macrotask apart: a handler's publish lands in between
    while (quietRounds < 2) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const pending = this.transport.pending() + (await this.outboxPending());
      quietRounds = pending === 0 ? quietRounds + 1 : 0;
      if (pending > 0 && Date.now() >= deadline) {
        throw new Error(
          `messaging is not idle after ${timeoutMs} ms: ${pending} message(s) still queued, in a handler, waiting for a retry or in the outbox`,
        );
      }
      if (pending > 0) await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Messages published (events, with or without a subscriber), oldest first. */
  published<T>(selector?: MessageSelector<T>): Array<RecordedMessage<T>> {
    const type = typeOf(selector);
    return this.transport.publishedLog.filter((e) => type === undefined || e.type === type).map((e) => recorded<T>(e));
  }

  /** Deliveries a subscriber acknowledged (handled successfully), oldest first. */
  handled<T>(selector?: MessageSelector<T>, subscriber?: string): Array<RecordedDelivery<T>> {
    return this.deliveries(selector, subscriber).filter((d) => d.outcome === 'handled');
  }

  /** Every delivery with its outcome (handled, retried, dead-lettered), oldest first. */
  deliveries<T>(selector?: MessageSelector<T>, subscriber?: string): Array<RecordedDelivery<T>> {
    const type = typeOf(selector);
    return this.transport.deliveryLog.filter(
      (d) => (type === undefined || d.type === type) && (subscriber === undefined || d.subscriber === subscriber),
    ) as Array<RecordedDelivery<T>>;
  }

  /** Dead letters (with their reason), oldest first. */
  deadLettered(selector?: MessageSelector<unknown>, subscriber?: string): DeadLetter[] {
    const type = typeOf(selector);
    return this.transport.broker.deadLetters.filter(
      (d) => (type === undefined || d.type === type) && (subscriber === undefined || d.subscriber === subscriber),
    );
  }

  /** Forgets what was recorded so far (dead letters included), e.g. between two steps of a test. */
  clear(): void {
    this.transport.publishedLog.length = 0;
    this.transport.deliveryLog.length = 0;
    this.transport.broker.deadLetters.length = 0;
  }
}
