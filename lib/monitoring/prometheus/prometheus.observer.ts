import type { ConsumerObserver, SubscriberObserver } from '../subscriber-stats';
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

/** One subscriber's series: the hot path is a few additions, values are rendered at scrape time. */
class Children implements SubscriberObserver {
  readonly handledTotal: CounterChild;
  readonly duplicates: CounterChild;
  readonly retriedTotal: CounterChild;
  readonly deadLetteredTotal: CounterChild;
  readonly duration: HistogramChild;
  readonly lag: HistogramChild;

  constructor(f: ConsumerMetricFamilies, labels: { service: string; subscriber: string }) {
    this.handledTotal = f.handled.child(labels);
    this.duplicates = f.duplicates.child(labels);
    this.retriedTotal = f.retried.child(labels);
    this.deadLetteredTotal = f.deadLettered.child(labels);
    this.duration = f.duration.child(labels);
    this.lag = f.lag.child(labels);
  }

  handled(durationMs: number, lagMs: number, duplicate: boolean): void {
    this.handledTotal.value++;
    if (duplicate) this.duplicates.value++;
    this.duration.observe(durationMs / 1000);
    this.lag.observe(lagMs / 1000);
  }

  retried(): void {
    this.retriedTotal.value++;
  }

  deadLettered(): void {
    this.deadLetteredTotal.value++;
  }
}

/**
 * A `ConsumerObserver` (pushed into `SubscriberStats.observers`) that updates the Prometheus
 * counters and histograms. `SubscriberStats` binds each subscriber's series once
 * (`forSubscriber`), so the hot path is a few additions; values are rendered at scrape time.
 */
export class PrometheusConsumerObserver implements ConsumerObserver {
  private readonly children = new Map<string, Children>();

  constructor(
    private readonly service: string,
    private readonly families: ConsumerMetricFamilies,
  ) {}

  private of(subscriber: string): Children {
    let c = this.children.get(subscriber);
    if (!c) this.children.set(subscriber, (c = new Children(this.families, { service: this.service, subscriber })));
    return c;
  }

  /** Registers a subscriber's series at zero (so they exist before its first message). */
  register(subscriber: string): void {
    this.of(subscriber);
  }

  /** The series of `subscriber`, bound once (what `SubscriberStats` calls per message). */
  forSubscriber(subscriber: string): SubscriberObserver {
    return this.of(subscriber);
  }

  /** Counts one handled message and records its duration and lag. */
  handled(subscriber: string, durationMs: number, lagMs: number, duplicate: boolean): void {
    this.of(subscriber).handled(durationMs, lagMs, duplicate);
  }

  /** Counts one failed attempt scheduled for a retry. */
  retried(subscriber: string): void {
    this.of(subscriber).retried();
  }

  /** Counts one dead-lettered message. */
  deadLettered(subscriber: string): void {
    this.of(subscriber).deadLettered();
  }
}
