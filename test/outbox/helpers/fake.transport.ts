import type { DeadLetterStore } from '../../../lib/dead-letter/dead-letter.interface';
import type {
  DeliveryHandler,
  MessageTransport,
  OutboundMessage,
  QueueStats,
  SubscriberDescriptor,
  TransportContext,
} from '../../../lib/transport/transport.interface';

const NO_DEAD_LETTERS: DeadLetterStore = {
  list: async () => [],
  count: async () => 0,
  replay: async () => 0,
  purge: async () => 0,
};

/** An in-process transport for outbox tests: records every publish; failures can be injected. */
export class FakeTransport implements MessageTransport {
  readonly name = 'fake';
  readonly capabilities = { competingConsumers: true, durable: false };
  readonly deadLetters = NO_DEAD_LETTERS;
  /** Every message confirmed, in confirm order. */
  readonly published: OutboundMessage[] = [];
  /** Rejects the publish when it returns an error (or true). */
  failWhen?: (message: OutboundMessage) => Error | boolean | undefined;
  /** Called after each confirmed publish (e.g. to deliver to a subscriber). */
  onPublish?: (message: OutboundMessage) => void;
  /** Called when a publish starts (before its latency). */
  onPublishStart?: (message: OutboundMessage) => void;
  /** Delay of each publish, ms (simulates a broker confirm round trip). */
  latencyMs = 0;
  connected = true;
  private waiters: { n: number; resolve: () => void }[] = [];

  async connect(_context: TransportContext): Promise<void> {
    this.connected = true;
  }

  async publish(message: OutboundMessage): Promise<void> {
    this.onPublishStart?.(message);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const failure = this.failWhen?.(message);
    if (failure) throw failure instanceof Error ? failure : new Error(`injected failure for ${message.envelope.id}`);
    this.published.push(message);
    this.onPublish?.(message);
    this.waiters = this.waiters.filter((w) => {
      if (this.published.length >= w.n) w.resolve();
      return this.published.length < w.n;
    });
  }

  /** Resolves once `n` messages in total were published; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs = 10_000): Promise<void> {
    if (this.published.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${n} publishes (got ${this.published.length})`)),
        timeoutMs,
      );
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async subscribe(_subscriber: SubscriberDescriptor, _handler: DeliveryHandler): Promise<void> {}
  async stats(): Promise<QueueStats[]> {
    return [];
  }
  isConnected(): boolean {
    return this.connected;
  }
  async close(): Promise<void> {
    this.connected = false;
  }
}
