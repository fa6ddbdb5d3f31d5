import type { Counter, Histogram } from 'prom-client';
import type { ConsumerObserver } from '../subscriber-stats';

/** The consumer-side metric families (shared by every app instance on one registry). */
export interface ConsumerMetricFamilies {
  handled: Counter<'service' | 'subscriber'>;
  duplicates: Counter<'service' | 'subscriber'>;
  retried: Counter<'service' | 'subscriber'>;
  deadLettered: Counter<'service' | 'subscriber'>;
  duration: Histogram<'service' | 'subscriber'>;
  lag: Histogram<'service' | 'subscriber'>;
}

interface Children {
  handled: { inc(v?: number): void };
  duplicates: { inc(v?: number): void };
  retried: { inc(v?: number): void };
  deadLettered: { inc(v?: number): void };
  duration: { observe(v: number): void };
  lag: { observe(v: number): void };
}

/**
 * A `ConsumerObserver` (pushed into `SubscriberStats.observers`) that updates the Prometheus
 * counters and histograms. Label children are bound once per subscriber: the hot path is a map
 * lookup and a few additions.
 */
export class PrometheusConsumerObserver implements ConsumerObserver {
  private readonly children = new Map<string, Children>();

  constructor(
    private readonly service: string,
    private readonly families: ConsumerMetricFamilies,
  ) {}

  private of(subscriber: string): Children {
    let c = this.children.get(subscriber);
    if (!c) {
      const f = this.families;
      const l = [this.service, subscriber];
      c = {
        handled: f.handled.labels(...l),
        duplicates: f.duplicates.labels(...l),
        retried: f.retried.labels(...l),
        deadLettered: f.deadLettered.labels(...l),
        duration: f.duration.labels(...l),
        lag: f.lag.labels(...l),
      };
      // series exist at zero from the start, so rate() and absent() behave
      c.handled.inc(0);
      c.duplicates.inc(0);
      c.retried.inc(0);
      c.deadLettered.inc(0);
      f.duration.zero({ service: this.service, subscriber });
      f.lag.zero({ service: this.service, subscriber });
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
    c.handled.inc();
    if (duplicate) c.duplicates.inc();
    c.duration.observe(durationMs / 1000);
    c.lag.observe(lagMs / 1000);
  }

  /** Counts one failed attempt scheduled for a retry. */
  retried(subscriber: string): void {
    this.of(subscriber).retried.inc();
  }

  /** Counts one dead-lettered message. */
  deadLettered(subscriber: string): void {
    this.of(subscriber).deadLettered.inc();
  }
}
