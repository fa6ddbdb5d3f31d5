import type { ConsumerObserver } from '../subscriber-stats';
import type { CounterChild, CounterFamily, HistogramChild, HistogramFamily } from './local-metrics';

/** The consumer-side metric families (shared by every app instance on one registry). */
export interface ConsumerMetricFamilies {
  handled: CounterFamily;
  duplicates: CounterFamily;
  retried: CounterFamily;
  deadLettered: CounterFamily;
  duration: HistogramFamily;
  lag: HistogramFamily;
}

interface Children {
  handled: CounterChild;
  duplicates: CounterChild;
  retried: CounterChild;
  deadLettered: CounterChild;
  duration: HistogramChild;
  lag: HistogramChild;
}

/**
 * A `ConsumerObserver` (pushed into `SubscriberStats.observers`) that updates the Prometheus
 * counters and histograms. Children are bound once per subscriber, so the hot path is a map lookup
 * and a few additions; values are rendered at scrape time.
 */
export class PrometheusConsumerObserver implements ConsumerObserver {
  private readonly children = new Map<string, Children>();

  constructor(
    private readonly service: string,
    private readonly families: ConsumerMetricFamilies,
  ) {}

  private lastSubscriber?: string;
  private lastChildren?: Children;

  private of(subscriber: string): Children {
    if (subscriber === this.lastSubscriber) return this.lastChildren!;
    const c = this.childrenOf(subscriber);
    this.lastSubscriber = subscriber;
    this.lastChildren = c;
    return c;
  }

  private childrenOf(subscriber: string): Children {
    let c = this.children.get(subscriber);
    if (!c) {
      const f = this.families;
      const labels = { service: this.service, subscriber };
      c = {
        handled: f.handled.child(labels),
        duplicates: f.duplicates.child(labels),
        retried: f.retried.child(labels),
        deadLettered: f.deadLettered.child(labels),
        duration: f.duration.child(labels),
        lag: f.lag.child(labels),
      };
      this.children.set(subscriber, c);
    }
    return c;
  }

  /** Registers a subscriber's series at zero (so they exist before its first message). */
  register(subscriber: string): void {
    this.of(subscriber);
  }

  /** Counts one handled message and records its duration and lag. */
  handled(subscriber: string, durationMs: number, lagMs: number, duplicate: boolean): void {
    const c = this.of(subscriber);
    c.handled.value++;
    if (duplicate) c.duplicates.value++;
    c.duration.observe(durationMs / 1000);
    c.lag.observe(lagMs / 1000);
  }

  /** Counts one failed attempt scheduled for a retry. */
  retried(subscriber: string): void {
    this.of(subscriber).retried.value++;
  }

  /** Counts one dead-lettered message. */
  deadLettered(subscriber: string): void {
    this.of(subscriber).deadLettered.value++;
  }
}
